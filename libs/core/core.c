/* Error strings, checked allocation and the growable buffer. */
#include "baton/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *baton_strerror(int err)
{
    switch (err) {
    case BATON_OK:
        return "success";
    case BATON_EINVAL:
        return "invalid argument";
    case BATON_ENOMEM:
        return "out of memory";
    case BATON_EIO:
        return "input/output error";
    case BATON_ENOENT:
        return "not found";
    case BATON_EEXIST:
        return "already exists";
    case BATON_ETIMEDOUT:
        return "timed out";
    case BATON_EAGAIN:
        return "temporarily unavailable";
    case BATON_EPERM:
        return "not permitted";
    case BATON_ECONFLICT:
        return "conflict";
    case BATON_EPARSE:
        return "parse error";
    case BATON_EUNAVAIL:
        return "dependency unavailable";
    case BATON_ERANGE:
        return "out of range";
    case BATON_EAUTH:
        return "not authenticated";
    case BATON_ETOOBIG:
        return "too large";
    default:
        return "unknown error";
    }
}

static void oom(size_t n)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory\",\"bytes\":%zu}\n", n);
    abort();
}

void *baton_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *baton_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *baton_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *baton_xstrdup(const char *s)
{
    return baton_xstrndup(s, strlen(s));
}

char *baton_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = baton_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *baton_xasprintf(const char *fmt, ...)
{
    baton_buf_t b = BATON_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    baton_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    if (!b.data)
        baton_buf_append(&b, "", 0);
    return baton_buf_steal(&b);
}

size_t baton_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t len = strlen(src);
    if (cap > 0) {
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

void baton_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void buf_reserve(baton_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = baton_xrealloc(b->data, cap);
    b->cap = cap;
}

void baton_buf_append(baton_buf_t *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void baton_buf_puts(baton_buf_t *b, const char *s)
{
    baton_buf_append(b, s, strlen(s));
}

void baton_buf_putc(baton_buf_t *b, char c)
{
    if (b->len + 2 > b->cap)
        buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void baton_buf_put_int(baton_buf_t *b, long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[sizeof tmp - 1 - n++] = '-';
    baton_buf_append(b, tmp + sizeof tmp - n, n);
}

void baton_buf_vappendf(baton_buf_t *b, const char *fmt, va_list ap)
{
    /* format straight into the spare room; only when it does not fit, grow and format again */
    va_list ap2;
    va_copy(ap2, ap);
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        if (b->data)
            b->data[b->len] = '\0';
        return;
    }
    if ((size_t)n >= room) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
}

void baton_buf_appendf(baton_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    baton_buf_vappendf(b, fmt, ap);
    va_end(ap);
}

void baton_buf_reset(baton_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void baton_buf_free(baton_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *baton_buf_steal(baton_buf_t *b)
{
    if (!b->data)
        baton_buf_append(b, "", 0);
    char *s = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void baton_json_pointer_append(baton_buf_t *b, const char *token)
{
    baton_buf_putc(b, '/');
    for (const char *p = token; *p; p++) {
        if (*p == '~')
            baton_buf_puts(b, "~0");
        else if (*p == '/')
            baton_buf_puts(b, "~1");
        else
            baton_buf_putc(b, *p);
    }
}
