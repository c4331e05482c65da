/* The event table and the instance id → seq map of the e2e driver (see e2e.h). */
#include "e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void e2e_init(e2e_t *e, size_t cap)
{
    e->cap = cap;
    e->evs = baton_xcalloc(cap, sizeof *e->evs);
    e->ids = baton_xcalloc(cap, sizeof *e->ids);
    size_t n = 1;
    while (n < 2 * cap)
        n <<= 1;
    e->nslots = n;
    e->slots = baton_xcalloc(n, sizeof *e->slots);
    atomic_store(&e->next, 0);
    atomic_store(&e->running, 1);
}

void e2e_free(e2e_t *e)
{
    free(e->evs);
    free(e->ids);
    free((void *)e->slots);
}

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void e2e_event_id(const e2e_t *e, size_t seq, char *out, size_t len)
{
    snprintf(out, len, "%s-%zu", e->prefix, seq);
}

void e2e_map_put(e2e_t *e, size_t seq)
{
    char evid[128], purpose[128];
    e2e_event_id(e, seq, evid, sizeof evid);
    snprintf(purpose, sizeof purpose, "instance:%s", e->pathway);
    baton_derived_id(evid, purpose, e->ids[seq]);
    size_t mask = e->nslots - 1;
    for (size_t i = hash_id(e->ids[seq]) & mask;; i = (i + 1) & mask) {
        uint32_t want = 0;
        if (atomic_compare_exchange_strong(&e->slots[i], &want, (uint32_t)(seq + 1)))
            return;
        if (want == seq + 1)
            return;
    }
}

long e2e_map_get(const e2e_t *e, const char *instance_id)
{
    size_t mask = e->nslots - 1;
    for (size_t i = hash_id(instance_id) & mask;; i = (i + 1) & mask) {
        uint32_t v = atomic_load(&e->slots[i]);
        if (v == 0)
            return -1;
        if (strcmp(e->ids[v - 1], instance_id) == 0)
            return (long)(v - 1);
    }
}
