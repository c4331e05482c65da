/* baton/core.h — the base every Baton lib and service stands on: error codes, checked
 * allocation, time, ids and a growable string buffer.
 *
 * Conventions (see shared STYLE.md): functions return 0 or a negative BATON_E* code;
 * constructors that can fail take (char *err, size_t errlen) and return NULL with the
 * reason written there. Out of memory is fatal, in baton_xmalloc and friends only. */
#ifndef BATON_CORE_H
#define BATON_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* Error codes: 0 is success, every failure is one of these negatives. */
enum {
    BATON_OK = 0,
    BATON_EINVAL = -1,    /* bad argument or malformed input */
    BATON_ENOMEM = -2,    /* reserved: allocation failure is fatal, never returned */
    BATON_EIO = -3,       /* I/O or remote failure */
    BATON_ENOENT = -4,    /* no such thing */
    BATON_EEXIST = -5,    /* already exists / duplicate */
    BATON_ETIMEDOUT = -6, /* a wait ran out */
    BATON_EAGAIN = -7,    /* try again later (back-pressure, queue full) */
    BATON_EPERM = -8,     /* not allowed (authorization) */
    BATON_ECONFLICT = -9, /* illegal state transition */
    BATON_EPARSE = -10,   /* input does not parse */
    BATON_EUNAVAIL = -11, /* dependency unreachable */
    BATON_ERANGE = -12,   /* value out of bounds */
    BATON_EAUTH = -13,    /* not authenticated */
    BATON_ETOOBIG = -14,  /* input larger than the limit */
};

/* Static, never NULL description of an error code. */
const char *baton_strerror(int err);

/* Checked allocation: abort with a message on out-of-memory. Free with free(). */
void *baton_xmalloc(size_t n);
void *baton_xcalloc(size_t count, size_t size);
void *baton_xrealloc(void *p, size_t n);
char *baton_xstrdup(const char *s);
char *baton_xstrndup(const char *s, size_t n);
/* vasprintf into a fresh string (caller frees). */
char *baton_xasprintf(const char *fmt, ...) BATON_PRINTF(1, 2);

/* Bounded copy that always NUL-terminates (when cap > 0); returns strlen(src). */
size_t baton_strlcpy(char *dst, const char *src, size_t cap);
/* snprintf into an err buffer of errlen bytes; NULL or 0-length buffers are ignored. */
void baton_seterr(char *err, size_t errlen, const char *fmt, ...) BATON_PRINTF(3, 4);

/* ---- time ---- */
int64_t baton_now_ms(void);  /* wall clock, ms since the Unix epoch (UTC) */
int64_t baton_mono_ns(void); /* monotonic, ns; only differences mean anything */
int64_t baton_mono_ms(void);

#define BATON_RFC3339_LEN 32 /* "2026-11-21T10:00:00.123Z" plus room */
/* Format ms since epoch as RFC 3339 UTC with milliseconds ("...T10:00:00.123Z").
 * Returns 0, or BATON_ERANGE when buf is too small. */
int baton_time_format(int64_t ms, char *buf, size_t len);
/* Parse RFC 3339 ("2026-11-21T10:00:00Z", fractional seconds and ±hh:mm offsets accepted)
 * into ms since epoch. Returns 0 or BATON_EPARSE. */
int baton_time_parse(const char *s, int64_t *ms_out);
/* Parse a pathway duration: an integer followed by s, m, h or d ("30s", "15m", "2h", "1d").
 * Returns 0 or BATON_EPARSE (also for zero, negative or overflowing values). */
int baton_duration_parse(const char *s, int64_t *ms_out);
/* Format a duration in ms back into the shortest exact unit form ("90s", "15m"). */
int baton_duration_format(int64_t ms, char *buf, size_t len);

/* ---- ids ---- */
#define BATON_ID_LEN 37 /* 36 characters of a UUID plus NUL */
/* A fresh UUIDv7 (time-ordered, random tail), lower-case hex with dashes. */
void baton_uuidv7(char out[BATON_ID_LEN]);
/* A deterministic id derived from a parent id and a purpose (e.g. "task:med_rec:assign"):
 * a UUIDv8 built from SHA-256(parent || 0x00 || purpose). The same inputs always give the
 * same id, which is what makes replays drop their duplicates. */
void baton_derived_id(const char *parent, const char *purpose, char out[BATON_ID_LEN]);
/* Lower-case hex SHA-256 of data (out: 65 bytes). */
void baton_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- growable buffer ---- */
typedef struct {
    char *data; /* NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
} baton_buf_t;

#define BATON_BUF_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }
void baton_buf_append(baton_buf_t *b, const void *data, size_t n);
void baton_buf_puts(baton_buf_t *b, const char *s);
void baton_buf_putc(baton_buf_t *b, char c);
void baton_buf_put_int(baton_buf_t *b, long long v); /* decimal, without printf */
void baton_buf_appendf(baton_buf_t *b, const char *fmt, ...) BATON_PRINTF(2, 3);
void baton_buf_vappendf(baton_buf_t *b, const char *fmt, va_list ap);
void baton_buf_reset(baton_buf_t *b); /* len = 0, keeps memory */
void baton_buf_free(baton_buf_t *b);
/* Hand the string over to the caller (who frees it); the buffer is left empty. */
char *baton_buf_steal(baton_buf_t *b);
/* Append "/" + token to an RFC 6901 JSON pointer in b, escaping '~' as "~0" and '/' as "~1". */
void baton_json_pointer_append(baton_buf_t *b, const char *token);

#ifdef __cplusplus
}
#endif
#endif
