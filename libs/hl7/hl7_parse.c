/* hl7_parse.c — HL7 v2 message parsing: segment and field index over one copy of the input.
 * Written by hand: no maintained C library parses HL7 v2 with arbitrary encoding characters
 * and the zero-copy layout the ingest hot path wants. */
#include "hl7_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define HL7_MAX_LEN (64u * 1024 * 1024)

void hl7__seterr(baton_hl7_error_t *err, int code, const char *ack, int hl7_code, int segment,
                 const char *seg_id, int field, const char *fmt, ...)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->code = code;
    baton_strlcpy(err->ack, ack, sizeof err->ack);
    err->hl7_code = hl7_code;
    err->segment = segment;
    baton_strlcpy(err->seg_id, seg_id ? seg_id : "", sizeof err->seg_id);
    err->field = field;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

int hl7__is_header(const char *id)
{
    return strcmp(id, "MSH") == 0 || strcmp(id, "FHS") == 0 || strcmp(id, "BHS") == 0;
}

static void add_span(baton_hl7_msg_t *m, size_t off, size_t len)
{
    if (m->nspans == m->spancap) {
        m->spancap = m->spancap ? m->spancap * 2 : 64;
        m->spans = baton_xrealloc(m->spans, m->spancap * sizeof *m->spans);
    }
    m->spans[m->nspans++] = (hl7__span_t){(uint32_t)off, (uint32_t)len};
}

static hl7__seg_t *add_seg(baton_hl7_msg_t *m)
{
    if (m->nsegs == m->segcap) {
        m->segcap = m->segcap ? m->segcap * 2 : 16;
        m->segs = baton_xrealloc(m->segs, m->segcap * sizeof *m->segs);
    }
    hl7__seg_t *s = &m->segs[m->nsegs++];
    memset(s, 0, sizeof *s);
    s->first = (uint32_t)m->nspans;
    return s;
}

/* Read MSH-1/MSH-2 at p (which starts with "MSH"). Returns 0 or -1. */
static int read_delims(const char *p, size_t n, baton_hl7_delims_t *d)
{
    memset(d, 0, sizeof *d);
    if (n < 4)
        return -1;
    char fs = p[3];
    if (fs == '\r' || fs == '\n' || isalnum((unsigned char)fs) || fs == '\0' || fs == ' ')
        return -1;
    d->field = fs;
    char enc[5];
    size_t k = 0;
    for (size_t i = 4; i < n && p[i] != fs && p[i] != '\r' && p[i] != '\n'; i++) {
        char c = p[i];
        if (k == 5 || isalnum((unsigned char)c) || c == '\0' || c == ' ')
            return -1;
        for (size_t j = 0; j < k; j++)
            if (enc[j] == c)
                return -1;
        enc[k++] = c;
    }
    if (k < 1)
        return -1;
    d->comp = enc[0];
    d->rep = k > 1 ? enc[1] : 0;
    d->esc = k > 2 ? enc[2] : 0;
    d->sub = k > 3 ? enc[3] : 0;
    d->trunc = k > 4 ? enc[4] : 0;
    return 0;
}

static int blank_line(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\0')
            return 0;
    return 1;
}

/* Index one segment line [off, off+n). */
static int index_segment(baton_hl7_msg_t *m, size_t off, size_t n, baton_hl7_error_t *err)
{
    const char *p = m->buf + off;
    int segno = (int)m->nsegs + 1;
    if (n < 3 || (n > 3 && p[3] != m->d.field)) {
        hl7__seterr(err, BATON_EPARSE, "AE", BATON_HL7_ERR_SEGMENT_SEQUENCE, segno, "", 0,
                    "segment %d: invalid segment id", segno);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        if (!isupper((unsigned char)p[i]) && !isdigit((unsigned char)p[i])) {
            hl7__seterr(err, BATON_EPARSE, "AE", BATON_HL7_ERR_SEGMENT_SEQUENCE, segno, "", 0,
                        "segment %d: invalid segment id", segno);
            return -1;
        }
    }
    hl7__seg_t *s = add_seg(m);
    memcpy(s->id, p, 3);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == m->d.field) {
            add_span(m, off + start, i - start);
            start = i + 1;
        }
    }
    s->nspans = (uint32_t)(m->nspans - s->first);
    return 0;
}

static int require(baton_hl7_msg_t *m, int field, baton_hl7_error_t *err)
{
    const char *v = baton_hl7_get(m, "MSH", 1, field, 1, 1, 0);
    if (v && *v)
        return 0;
    hl7__seterr(err, BATON_EPARSE, "AE", BATON_HL7_ERR_REQUIRED_FIELD, 1, "MSH", field,
                "MSH-%d required", field);
    return -1;
}

static int check_structure(baton_hl7_msg_t *m, baton_hl7_error_t *err)
{
    for (size_t i = 1; i < m->nsegs; i++) {
        const char *id = m->segs[i].id;
        if (hl7__is_header(id) || !strcmp(id, "BTS") || !strcmp(id, "FTS")) {
            hl7__seterr(err, BATON_EPARSE, "AE", BATON_HL7_ERR_SEGMENT_SEQUENCE, (int)i + 1, id, 0,
                        "segment %zu: unexpected %s (a batch needs the batch parser)", i + 1, id);
            return -1;
        }
    }
    if (require(m, 9, err) || require(m, 10, err))
        return -1;
    return 0;
}

int hl7__parse(const char *data, size_t len, int strict, baton_hl7_msg_t **out,
               baton_hl7_error_t *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    if (len > HL7_MAX_LEN) {
        hl7__seterr(err, BATON_ETOOBIG, "AR", BATON_HL7_ERR_INTERNAL, 0, "", 0,
                    "message larger than %u bytes", HL7_MAX_LEN);
        return BATON_ETOOBIG;
    }
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    while (len > 0 && (*data == '\r' || *data == '\n' || *data == ' ' || *data == '\t')) {
        data++;
        len--;
    }
    baton_hl7_msg_t *m = baton_xcalloc(1, sizeof *m);
    m->buf = baton_xmalloc(len + 1);
    memcpy(m->buf, data, len);
    m->buf[len] = '\0';
    m->len = len;
    if (len < 3 || memcmp(m->buf, "MSH", 3) != 0) {
        hl7__seterr(err, BATON_EPARSE, "AE", BATON_HL7_ERR_SEGMENT_SEQUENCE, 1, "", 0,
                    "MSH must be the first segment");
        goto err;
    }
    if (read_delims(m->buf, len, &m->d) != 0) {
        hl7__seterr(err, BATON_EPARSE, "AE", BATON_HL7_ERR_DATA_TYPE, 1, "MSH", 2,
                    "MSH-1/MSH-2: invalid field separator or encoding characters");
        goto err;
    }
    for (size_t pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && m->buf[end] != '\r' && m->buf[end] != '\n')
            end++;
        if (end > pos && !blank_line(m->buf + pos, end - pos) &&
            index_segment(m, pos, end - pos, err) != 0) {
            if (strict)
                goto err;
            if (err) /* lenient: a bad segment is skipped */
                memset(err, 0, sizeof *err);
        }
        pos = end + 1;
    }
    if (strict && check_structure(m, err) != 0)
        goto err;
    *out = m;
    return 0;
err:
    baton_hl7_msg_free(m);
    return err && err->code ? err->code : BATON_EPARSE;
}

int baton_hl7_parse(const char *data, size_t len, baton_hl7_msg_t **out, baton_hl7_error_t *err)
{
    return hl7__parse(data, len, 1, out, err);
}

void baton_hl7_msg_free(baton_hl7_msg_t *msg)
{
    if (!msg)
        return;
    for (hl7__chunk_t *c = msg->arena, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(msg->segs);
    free(msg->spans);
    free(msg->buf);
    free(msg);
}

long hl7__find_seg(const baton_hl7_msg_t *msg, const char *seg, int seg_rep)
{
    if (!msg || !seg || strlen(seg) != 3 || seg_rep < 1)
        return -1;
    int seen = 0;
    for (size_t i = 0; i < msg->nsegs; i++) {
        if (memcmp(msg->segs[i].id, seg, 3) == 0 && ++seen == seg_rep)
            return (long)i;
    }
    return -1;
}

size_t baton_hl7_segment_count(const baton_hl7_msg_t *msg)
{
    return msg ? msg->nsegs : 0;
}

const char *baton_hl7_segment_id(const baton_hl7_msg_t *msg, size_t i)
{
    return msg && i < msg->nsegs ? msg->segs[i].id : NULL;
}

int baton_hl7_segment_reps(const baton_hl7_msg_t *msg, const char *seg)
{
    int n = 0;
    if (!msg || !seg || strlen(seg) != 3)
        return 0;
    for (size_t i = 0; i < msg->nsegs; i++)
        n += memcmp(msg->segs[i].id, seg, 3) == 0;
    return n;
}

baton_hl7_delims_t baton_hl7_delims(const baton_hl7_msg_t *msg)
{
    return msg->d;
}
