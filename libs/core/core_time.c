/* Clocks, RFC 3339 timestamps and pathway durations. */
#include "baton/core.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t baton_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t baton_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t baton_mono_ms(void)
{
    return baton_mono_ns() / 1000000;
}

int baton_time_format(int64_t ms, char *buf, size_t len)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int millis = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return BATON_ERANGE;
    int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return (n < 0 || (size_t)n >= len) ? BATON_ERANGE : 0;
}

/* Reads exactly `digits` decimal digits at *p. */
static int read_num(const char **p, int digits, int *out)
{
    int v = 0;
    for (int i = 0; i < digits; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += digits;
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

int baton_time_parse(const char *s, int64_t *ms_out)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, millis = 0;
    if (!s || read_num(&p, 4, &y) || *p++ != '-' || read_num(&p, 2, &mo) || *p++ != '-' ||
        read_num(&p, 2, &d))
        return BATON_EPARSE;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return BATON_EPARSE;
    p++;
    if (read_num(&p, 2, &h) || *p++ != ':' || read_num(&p, 2, &mi) || *p++ != ':' ||
        read_num(&p, 2, &sec))
        return BATON_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return BATON_EPARSE;
    if (*p == '.') {
        p++;
        int scale = 100, ndig = 0;
        while (isdigit((unsigned char)*p)) {
            millis += (*p - '0') * scale;
            scale /= 10;
            p++;
            ndig++;
        }
        if (ndig == 0)
            return BATON_EPARSE;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (read_num(&p, 2, &oh) || *p++ != ':' || read_num(&p, 2, &om) || oh > 23 || om > 59)
            return BATON_EPARSE;
        offset_min = sign * (oh * 60 + om);
    } else {
        return BATON_EPARSE;
    }
    if (*p != '\0')
        return BATON_EPARSE;
    /* days from civil (Howard Hinnant's algorithm) */
    int yy = y - (mo <= 2);
    int era = (yy >= 0 ? yy : yy - 399) / 400;
    int yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
    *ms_out = secs * 1000 + millis;
    return 0;
}

int baton_duration_parse(const char *s, int64_t *ms_out)
{
    if (!s || !isdigit((unsigned char)*s))
        return BATON_EPARSE;
    int64_t v = 0;
    const char *p = s;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (*p - '0');
        if (v > 100000000)
            return BATON_EPARSE;
        p++;
    }
    int64_t unit;
    switch (*p) {
    case 's':
        unit = 1000;
        break;
    case 'm':
        unit = 60 * 1000;
        break;
    case 'h':
        unit = 3600 * 1000;
        break;
    case 'd':
        unit = 86400 * 1000;
        break;
    default:
        return BATON_EPARSE;
    }
    if (p[1] != '\0' || v == 0)
        return BATON_EPARSE;
    *ms_out = v * unit;
    return 0;
}

int baton_duration_format(int64_t ms, char *buf, size_t len)
{
    static const struct {
        int64_t ms;
        char unit;
    } units[] = {{86400000, 'd'}, {3600000, 'h'}, {60000, 'm'}, {1000, 's'}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms % units[i].ms == 0) {
            int n = snprintf(buf, len, "%lld%c", (long long)(ms / units[i].ms), units[i].unit);
            return (n < 0 || (size_t)n >= len) ? BATON_ERANGE : 0;
        }
    }
    int n = snprintf(buf, len, "%lldms", (long long)ms);
    return (n < 0 || (size_t)n >= len) ? BATON_ERANGE : 0;
}
