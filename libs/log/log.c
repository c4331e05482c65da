/* JSON-lines logging to stdout. One write(2)-sized fputs per line under the stdio lock, so
 * lines from several threads never interleave. */
#include "baton/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

baton_log_level_t baton_log_min_level = BATON_LOG_INFO;
static char log_service[64] = "baton";

static const char *level_name(baton_log_level_t l)
{
    static const char *names[] = {"debug", "info", "warn", "error", "fatal"};
    return (unsigned)l <= BATON_LOG_FATAL ? names[l] : "info";
}

void baton_log_init(const char *service, baton_log_level_t min_level)
{
    baton_strlcpy(log_service, service, sizeof log_service);
    baton_log_min_level = min_level;
}

int baton_log_level_parse(const char *s, baton_log_level_t *out)
{
    for (int l = BATON_LOG_DEBUG; l <= BATON_LOG_FATAL; l++) {
        if (strcasecmp(s, level_name((baton_log_level_t)l)) == 0) {
            *out = (baton_log_level_t)l;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = BATON_LOG_WARN;
        return 0;
    }
    return BATON_EINVAL;
}

void baton_json_escape(baton_buf_t *buf, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            baton_buf_puts(buf, "\\\"");
            break;
        case '\\':
            baton_buf_puts(buf, "\\\\");
            break;
        case '\n':
            baton_buf_puts(buf, "\\n");
            break;
        case '\r':
            baton_buf_puts(buf, "\\r");
            break;
        case '\t':
            baton_buf_puts(buf, "\\t");
            break;
        default:
            if (*p < 0x20)
                baton_buf_appendf(buf, "\\u%04x", *p);
            else
                baton_buf_putc(buf, (char)*p);
        }
    }
}

void baton_log_kv(baton_buf_t *buf, const char *key, const char *value)
{
    if (buf->len)
        baton_buf_putc(buf, ',');
    baton_buf_putc(buf, '"');
    baton_json_escape(buf, key);
    baton_buf_puts(buf, "\":\"");
    baton_json_escape(buf, value ? value : "");
    baton_buf_putc(buf, '"');
}

void baton_log_kv_int(baton_buf_t *buf, const char *key, long long value)
{
    if (buf->len)
        baton_buf_putc(buf, ',');
    baton_buf_putc(buf, '"');
    baton_json_escape(buf, key);
    baton_buf_appendf(buf, "\":%lld", value);
}

void baton_log_write(baton_log_level_t level, const char *fields, const char *fmt, ...)
{
    char ts[BATON_RFC3339_LEN];
    baton_time_format(baton_now_ms(), ts, sizeof ts);
    baton_buf_t msg = BATON_BUF_INIT, line = BATON_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    baton_buf_vappendf(&msg, fmt, ap);
    va_end(ap);
    baton_buf_appendf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"svc\":\"", ts, level_name(level));
    baton_json_escape(&line, log_service);
    baton_buf_puts(&line, "\",\"msg\":\"");
    baton_json_escape(&line, msg.data ? msg.data : "");
    baton_buf_putc(&line, '"');
    if (fields && *fields) {
        baton_buf_putc(&line, ',');
        baton_buf_puts(&line, fields);
    }
    baton_buf_puts(&line, "}\n");
    flockfile(stdout);
    fputs(line.data, stdout);
    fflush(stdout);
    funlockfile(stdout);
    baton_buf_free(&msg);
    baton_buf_free(&line);
}
