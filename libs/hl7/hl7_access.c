/* hl7_access.c — reading values out of a parsed message: raw spans, decoded strings, paths. */
#include "hl7_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The k-th (1-based) piece of p[0..n) split at delim; delim '\0' means "not split". */
static int nth(const char **p, size_t *n, char delim, int k)
{
    if (k == 0)
        return 0;
    if (k < 0)
        return BATON_ENOENT;
    const char *s = *p, *end = *p + *n;
    for (int i = 1; i < k; i++) {
        const char *d = delim ? memchr(s, delim, (size_t)(end - s)) : NULL;
        if (!d)
            return BATON_ENOENT;
        s = d + 1;
    }
    const char *d = delim ? memchr(s, delim, (size_t)(end - s)) : NULL;
    *p = s;
    *n = (size_t)((d ? d : end) - s);
    return 0;
}

/* The span of field `field` of segment index si, or -1 (also for MSH-1). */
static long field_span(const baton_hl7_msg_t *msg, long si, int field)
{
    const hl7__seg_t *s = &msg->segs[si];
    long k = hl7__is_header(s->id) ? field - 1 : field;
    if (field < 1 || k < 1 || k >= (long)s->nspans)
        return -1;
    return (long)s->first + k;
}

int baton_hl7_raw(const baton_hl7_msg_t *msg, const char *seg, int seg_rep, int field, int rep,
                  int comp, int sub, const char **p, size_t *n)
{
    long si = hl7__find_seg(msg, seg, seg_rep);
    if (si < 0 || field < 1 || rep < 0 || comp < 0 || sub < 0)
        return BATON_ENOENT;
    if (hl7__is_header(msg->segs[si].id) && field <= 2) {
        if (rep > 1 || comp > 1 || sub > 1)
            return BATON_ENOENT;
        if (field == 1) {
            *p = msg->buf + msg->spans[msg->segs[si].first].off + 3;
            *n = 1;
            return 0;
        }
    }
    long k = field_span(msg, si, field);
    if (k < 0)
        return BATON_ENOENT;
    const char *s = msg->buf + msg->spans[k].off;
    size_t len = msg->spans[k].len;
    if (hl7__is_header(msg->segs[si].id) && field == 2) {
        *p = s;
        *n = len;
        return 0;
    }
    if (nth(&s, &len, msg->d.rep, rep) || nth(&s, &len, msg->d.comp, comp) ||
        nth(&s, &len, msg->d.sub, sub))
        return BATON_ENOENT;
    *p = s;
    *n = len;
    return 0;
}

static char *arena_alloc(baton_hl7_msg_t *msg, size_t n)
{
    hl7__chunk_t *c = msg->arena;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 4000 ? n : 4000;
        c = baton_xmalloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        c->next = msg->arena;
        msg->arena = c;
    }
    char *p = c->data + c->used;
    c->used += n;
    return p;
}

const char *baton_hl7_get(baton_hl7_msg_t *msg, const char *seg, int seg_rep, int field, int rep,
                          int comp, int sub)
{
    const char *p;
    size_t n;
    if (baton_hl7_raw(msg, seg, seg_rep, field, rep, comp, sub, &p, &n) != 0)
        return NULL;
    char *out = arena_alloc(msg, n + 1);
    size_t k;
    if (hl7__is_header(seg) && field <= 2) {
        memcpy(out, p, n);
        k = n;
    } else {
        k = hl7__unescape_to(&msg->d, p, n, out);
    }
    out[k] = '\0';
    return out;
}

/* Parse a decimal index at *s, optionally wrapped in [] or (). */
static int parse_index(const char **s, int *out)
{
    const char *p = *s;
    char close = 0;
    if (*p == '[' || *p == '(') {
        close = *p == '[' ? ']' : ')';
        p++;
    }
    if (!isdigit((unsigned char)*p))
        return -1;
    long v = 0;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (*p++ - '0');
        if (v > 100000)
            return -1;
    }
    if (close && *p++ != close)
        return -1;
    *out = (int)v;
    *s = p;
    return 0;
}

const char *baton_hl7_get_path(baton_hl7_msg_t *msg, const char *path)
{
    if (!msg || !path || strlen(path) < 5)
        return NULL;
    char seg[4] = {path[0], path[1], path[2], 0};
    const char *p = path + 3;
    int seg_rep = 1, field = 0, rep = 1, comp = 0, sub = 0;
    if ((*p == '[' || *p == '(') && parse_index(&p, &seg_rep))
        return NULL;
    if (*p != '-' && *p != '.')
        return NULL;
    p++;
    if (parse_index(&p, &field))
        return NULL;
    if ((*p == '[' || *p == '(') && parse_index(&p, &rep))
        return NULL;
    if (*p == '.' || *p == '-') {
        p++;
        if (parse_index(&p, &comp))
            return NULL;
        if (*p == '.' || *p == '-') {
            p++;
            if (parse_index(&p, &sub))
                return NULL;
        }
    }
    if (*p)
        return NULL;
    return baton_hl7_get(msg, seg, seg_rep, field, rep, comp, sub);
}

int baton_hl7_field_count(const baton_hl7_msg_t *msg, const char *seg, int seg_rep)
{
    long si = hl7__find_seg(msg, seg, seg_rep);
    if (si < 0)
        return 0;
    const hl7__seg_t *s = &msg->segs[si];
    return hl7__is_header(s->id) ? (int)s->nspans : (int)s->nspans - 1;
}

int baton_hl7_rep_count(const baton_hl7_msg_t *msg, const char *seg, int seg_rep, int field)
{
    const char *p;
    size_t n;
    if (baton_hl7_raw(msg, seg, seg_rep, field, 0, 0, 0, &p, &n) != 0 || n == 0)
        return 0;
    long si = hl7__find_seg(msg, seg, seg_rep);
    if (hl7__is_header(msg->segs[si].id) && field <= 2)
        return 1;
    int count = 1;
    for (size_t i = 0; msg->d.rep && i < n; i++)
        count += p[i] == msg->d.rep;
    return count;
}

/* Split p[0..n) at delim and call back for each piece; the piece index is 1-based. */
typedef struct {
    const baton_hl7_msg_t *m;
    baton_hl7_visit_fn fn;
    void *ud;
    size_t si;
    int field, rep, comp;
} walk_t;

static int walk_subs(walk_t *w, const char *p, size_t n)
{
    int k = 1;
    const char *end = p + n;
    for (const char *s = p; s <= end; k++) {
        const char *d = w->m->d.sub ? memchr(s, w->m->d.sub, (size_t)(end - s)) : NULL;
        const char *e = d ? d : end;
        if (e > s) {
            int rc = w->fn(w->ud, w->si, w->m->segs[w->si].id, w->field, w->rep, w->comp, k, s,
                           (size_t)(e - s));
            if (rc)
                return rc;
        }
        s = e + 1;
    }
    return 0;
}

static int walk_comps(walk_t *w, const char *p, size_t n)
{
    const char *end = p + n;
    w->comp = 1;
    for (const char *s = p; s <= end; w->comp++) {
        const char *d = memchr(s, w->m->d.comp, (size_t)(end - s));
        const char *e = d ? d : end;
        int rc = e > s ? walk_subs(w, s, (size_t)(e - s)) : 0;
        if (rc)
            return rc;
        s = e + 1;
    }
    return 0;
}

static int walk_field(walk_t *w, const char *p, size_t n)
{
    const char *end = p + n;
    w->rep = 1;
    for (const char *s = p; s <= end; w->rep++) {
        const char *d = w->m->d.rep ? memchr(s, w->m->d.rep, (size_t)(end - s)) : NULL;
        const char *e = d ? d : end;
        int rc = e > s ? walk_comps(w, s, (size_t)(e - s)) : 0;
        if (rc)
            return rc;
        s = e + 1;
    }
    return 0;
}

int baton_hl7_walk(const baton_hl7_msg_t *msg, baton_hl7_visit_fn fn, void *ud)
{
    walk_t w = {msg, fn, ud, 0, 0, 0, 0};
    for (w.si = 0; w.si < msg->nsegs; w.si++) {
        const hl7__seg_t *s = &msg->segs[w.si];
        int header = hl7__is_header(s->id);
        for (uint32_t k = 1; k < s->nspans; k++) {
            const char *p = msg->buf + msg->spans[s->first + k].off;
            size_t n = msg->spans[s->first + k].len;
            w.field = header ? (int)k + 1 : (int)k;
            int rc;
            if (header && k == 1) {
                rc = fn(ud, w.si, s->id, 1, 1, 1, 1, msg->buf + msg->spans[s->first].off + 3, 1);
                if (!rc && n)
                    rc = fn(ud, w.si, s->id, 2, 1, 1, 1, p, n);
            } else {
                rc = n ? walk_field(&w, p, n) : 0;
            }
            if (rc)
                return rc;
        }
    }
    return 0;
}
