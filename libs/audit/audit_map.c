/* audit_map.c — open-addressing string → index map for the keys of one batch (task ids,
 * instance ids), and the COPY row helpers. */
#include "audit_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void grow(audit_map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    const char **keys = baton_xcalloc(cap, sizeof *keys);
    size_t *vals = baton_xcalloc(cap, sizeof *vals);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = hash_str(m->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
}

size_t audit__map_get(const audit_map_t *m, const char *key)
{
    if (!m->cap)
        return (size_t)-1;
    for (size_t j = hash_str(key) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1))
        if (strcmp(m->keys[j], key) == 0)
            return m->vals[j];
    return (size_t)-1;
}

void audit__map_put(audit_map_t *m, const char *key, size_t val)
{
    if ((m->n + 1) * 2 > m->cap)
        grow(m);
    size_t j = hash_str(key) & (m->cap - 1);
    for (; m->keys[j]; j = (j + 1) & (m->cap - 1)) {
        if (strcmp(m->keys[j], key) == 0) {
            m->vals[j] = val;
            return;
        }
    }
    m->keys[j] = key;
    m->vals[j] = val;
    m->n++;
}

void audit__map_clear(audit_map_t *m)
{
    if (m->cap)
        memset(m->keys, 0, m->cap * sizeof *m->keys);
    m->n = 0;
}

void audit__map_free(audit_map_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

void audit__row_str(audit_copy_row_t *r, const char *s)
{
    r->v[r->n++] = s;
}

void audit__row_int(audit_copy_row_t *r, long long v)
{
    char *p = r->num[r->n] + sizeof r->num[0];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    *--p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    r->v[r->n++] = p;
}

void audit__row_opt_int(audit_copy_row_t *r, long long v, long long absent)
{
    if (v == absent)
        r->v[r->n++] = NULL;
    else
        audit__row_int(r, v);
}

void audit__row_bool(audit_copy_row_t *r, int v)
{
    r->v[r->n++] = v ? "t" : "f";
}

void audit__row_clear(audit_copy_row_t *r)
{
    r->n = 0;
}
