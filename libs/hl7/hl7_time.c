/* hl7_time.c — HL7 DTM ("YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]") to epoch ms. */
#include "hl7_internal.h"

#include <ctype.h>
#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*s)[i]))
            return -1;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int baton_hl7_dtm_parse(const char *s, int tz_offset_min, int64_t *ms_out)
{
    int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0;
    if (!s || digits(&s, 4, &y))
        return BATON_EPARSE;
    int *parts[] = {&mo, &d, &h, &mi, &sec};
    int got = 0;
    while (got < 5 && isdigit((unsigned char)*s)) {
        if (digits(&s, 2, parts[got]))
            return BATON_EPARSE;
        got++;
    }
    if (*s == '.' && got == 5) {
        s++;
        int nd = 0, frac = 0;
        while (isdigit((unsigned char)*s) && nd < 4) {
            frac = frac * 10 + (*s++ - '0');
            nd++;
        }
        if (nd == 0)
            return BATON_EPARSE;
        for (int i = nd; i < 3; i++)
            frac *= 10;
        ms = nd == 4 ? frac / 10 : frac;
    }
    int off = tz_offset_min;
    if (*s == '+' || *s == '-') {
        int sign = *s == '-' ? -1 : 1, oh, om;
        s++;
        if (digits(&s, 2, &oh) || digits(&s, 2, &om) || oh > 23 || om > 59)
            return BATON_EPARSE;
        off = sign * (oh * 60 + om);
    }
    if (*s != '\0')
        return BATON_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return BATON_EPARSE;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    *ms_out = t * 1000 + ms;
    return 0;
}
