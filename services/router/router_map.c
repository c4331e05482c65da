/* router_map.c — a small open-addressing string map for the batch caches (FNV-1a, linear
 * probing, grown at half full; no deletion: caches are rebuilt when evicted). */
#include <stdlib.h>
#include <string.h>

#include "router.h"

void router_map_init(router_map_t *m)
{
    memset(m, 0, sizeof(*m));
}

void router_map_free(router_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static size_t slot(const router_map_t *m, const char *key)
{
    size_t i = hash(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *router_map_get(const router_map_t *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t i = slot(m, key);
    return m->keys[i] ? m->vals[i] : NULL;
}

static void grow(router_map_t *m)
{
    router_map_t g = {baton_xcalloc(m->cap ? m->cap * 2 : 64, sizeof(char *)), NULL,
                      m->cap ? m->cap * 2 : 64, m->n};
    g.vals = baton_xcalloc(g.cap, sizeof(void *));
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = slot(&g, m->keys[i]);
        g.keys[j] = m->keys[i];
        g.vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    *m = g;
}

/* Insert or replace; `owned` (optional) is a copy of key the map may keep (freed otherwise). */
static void *put(router_map_t *m, const char *key, char *owned, void *val)
{
    if ((m->n + 1) * 2 > m->cap)
        grow(m);
    size_t i = slot(m, key);
    void *old = m->vals[i];
    if (!m->keys[i]) {
        m->keys[i] = owned ? owned : baton_xstrdup(key);
        m->n++;
        old = NULL;
    } else {
        free(owned);
    }
    m->vals[i] = val;
    return old;
}

void *router_map_put(router_map_t *m, const char *key, void *val)
{
    return put(m, key, NULL, val);
}

void *router_map_put_owned(router_map_t *m, char *key, void *val)
{
    return put(m, key, key, val);
}

void *router_grow(void *p, size_t n, size_t size)
{
    if (n == 0)
        return baton_xrealloc(p, 16 * size);
    if (n >= 16 && (n & (n - 1)) == 0)
        return baton_xrealloc(p, 2 * n * size);
    return p;
}
