/* hl7_escape.c — HL7 v2 escape sequences (decode and encode). */
#include "hl7_internal.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode one escape body (the text between the two escape characters) into out.
 * Returns the number of bytes written, or -1 when the sequence is not one we decode. */
static long decode_one(const baton_hl7_delims_t *d, const char *s, size_t n, char *out)
{
    if (n == 1) {
        switch (s[0]) {
        case 'F':
            *out = d->field;
            return 1;
        case 'S':
            *out = d->comp;
            return 1;
        case 'T':
            *out = d->sub;
            return 1;
        case 'R':
            *out = d->rep;
            return 1;
        case 'E':
            *out = d->esc;
            return 1;
        case 'P':
            if (!d->trunc)
                return -1;
            *out = d->trunc;
            return 1;
        default:
            return -1;
        }
    }
    if (n == 3 && memcmp(s, ".br", 3) == 0) {
        *out = '\n';
        return 1;
    }
    if (n >= 3 && s[0] == 'X' && (n - 1) % 2 == 0) {
        for (size_t i = 1; i < n; i++)
            if (hexval(s[i]) < 0)
                return -1;
        size_t k = 0;
        for (size_t i = 1; i < n; i += 2)
            out[k++] = (char)(hexval(s[i]) << 4 | hexval(s[i + 1]));
        return (long)k;
    }
    return -1;
}

/* Decode raw[0..n) into out (room for n bytes is enough: decoding never grows the text).
 * Returns the decoded length. */
size_t hl7__unescape_to(const baton_hl7_delims_t *d, const char *raw, size_t n, char *out)
{
    size_t o = 0;
    if (!d->esc) {
        memcpy(out, raw, n);
        return n;
    }
    for (size_t i = 0; i < n;) {
        const char *e = memchr(raw + i, d->esc, n - i);
        if (!e) {
            memcpy(out + o, raw + i, n - i);
            o += n - i;
            break;
        }
        size_t at = (size_t)(e - raw);
        memcpy(out + o, raw + i, at - i);
        o += at - i;
        const char *close = memchr(raw + at + 1, d->esc, n - at - 1);
        if (!close) { /* unterminated: literal */
            memcpy(out + o, raw + at, n - at);
            o += n - at;
            break;
        }
        size_t body = (size_t)(close - (raw + at + 1));
        long w = decode_one(d, raw + at + 1, body, out + o);
        if (w >= 0) {
            o += (size_t)w;
        } else { /* unknown escape: keep it as it came, both escape characters included */
            memcpy(out + o, raw + at, body + 2);
            o += body + 2;
        }
        i = at + body + 2;
    }
    return o;
}

void baton_hl7_unescape(const baton_hl7_delims_t *d, const char *raw, size_t n, baton_buf_t *out)
{
    char *tmp = baton_xmalloc(n + 1);
    size_t k = hl7__unescape_to(d, raw, n, tmp);
    baton_buf_append(out, tmp, k);
    free(tmp);
}

void baton_hl7_escape(const baton_hl7_delims_t *d, const char *text, baton_buf_t *out)
{
    for (const char *p = text; *p; p++) {
        char c = *p, code = 0;
        if (c == d->field)
            code = 'F';
        else if (d->comp && c == d->comp)
            code = 'S';
        else if (d->sub && c == d->sub)
            code = 'T';
        else if (d->rep && c == d->rep)
            code = 'R';
        else if (d->esc && c == d->esc)
            code = 'E';
        else if (d->trunc && c == d->trunc)
            code = 'P';
        if (c == '\r' || c == '\n') {
            if (d->esc)
                baton_buf_appendf(out, "%c.br%c", d->esc, d->esc);
            else
                baton_buf_putc(out, ' ');
        } else if (code && d->esc) {
            baton_buf_putc(out, d->esc);
            baton_buf_putc(out, code);
            baton_buf_putc(out, d->esc);
        } else if (code) {
            baton_buf_putc(out, ' '); /* no escape character: a delimiter cannot be written */
        } else {
            baton_buf_putc(out, c);
        }
    }
}
