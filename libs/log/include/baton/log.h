/* baton/log.h — JSON lines to stdout, one per event, level checked before the arguments are
 * evaluated. Services log; libraries never do (they return errors).
 *
 * No PHI: never pass a patient or encounter identifier, a name or free text from a clinical
 * message to an INFO (or higher) line. Use ids Baton minted (instance, task, event ids). */
#ifndef BATON_LOG_H
#define BATON_LOG_H

#include "baton/core.h"

typedef enum {
    BATON_LOG_DEBUG = 0,
    BATON_LOG_INFO = 1,
    BATON_LOG_WARN = 2,
    BATON_LOG_ERROR = 3,
    BATON_LOG_FATAL = 4,
} baton_log_level_t;

extern baton_log_level_t baton_log_min_level;

/* Set the process-wide service name (the "svc" field) and minimum level. */
void baton_log_init(const char *service, baton_log_level_t min_level);
/* "debug" | "info" | "warn" | "error" → level; returns 0 or BATON_EINVAL. */
int baton_log_level_parse(const char *s, baton_log_level_t *out);

/* Writes {"ts":..,"level":..,"svc":..,"msg":..<,fields>}. `fields` is either NULL or a
 * string of already-JSON-encoded members without braces, e.g. "\"topic\":\"x\",\"n\":3".
 * Use baton_log_kv*() below to build it safely. */
void baton_log_write(baton_log_level_t level, const char *fields, const char *fmt, ...)
    BATON_PRINTF(3, 4);

#define BATON_LOG(level, fields, ...)                                                              \
    do {                                                                                           \
        if ((level) >= baton_log_min_level)                                                        \
            baton_log_write((level), (fields), __VA_ARGS__);                                       \
    } while (0)

#define LOG_DEBUG(...) BATON_LOG(BATON_LOG_DEBUG, NULL, __VA_ARGS__)
#define LOG_INFO(...) BATON_LOG(BATON_LOG_INFO, NULL, __VA_ARGS__)
#define LOG_WARN(...) BATON_LOG(BATON_LOG_WARN, NULL, __VA_ARGS__)
#define LOG_ERROR(...) BATON_LOG(BATON_LOG_ERROR, NULL, __VA_ARGS__)
#define LOG_FATAL(...) BATON_LOG(BATON_LOG_FATAL, NULL, __VA_ARGS__)

/* Structured fields: append `"key":"json-escaped value"` (or a number) to buf, with a
 * leading comma when buf is not empty. */
void baton_log_kv(baton_buf_t *buf, const char *key, const char *value);
void baton_log_kv_int(baton_buf_t *buf, const char *key, long long value);

/* JSON-escape s into buf (without quotes). Shared with anything that writes JSON by hand. */
void baton_json_escape(baton_buf_t *buf, const char *s);

#endif
