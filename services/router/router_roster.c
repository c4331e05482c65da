/* router_roster.c — role → person for the machine, over the Redis rosters.
 *
 * baton_roster_resolve costs one round trip per query, and a batch asks thousands. So each
 * roster index a batch needs (the unit's and the facility's shifts of a role, keyed as
 * documented in baton/roster.h) is read once, over [first input time - longest shift, last
 * input time], and every query of the batch is answered in memory by baton_roster_resolve_in,
 * the roster lib's own rule. A shift that covers t started within [t - longest shift, t], so
 * the window holds every candidate of every input of the batch. */
#include <stdlib.h>
#include <string.h>

#include "baton/log.h"
#include "baton/roster.h"
#include "router.h"

typedef struct {
    baton_roster_shift_t *v;
    size_t n;
} router_shifts_t;

void router_roster_init(router_roster_t *ro, baton_redis_t *redis, bool snapshot)
{
    memset(ro, 0, sizeof(*ro));
    ro->redis = redis;
    ro->snapshot = snapshot;
    router_map_init(&ro->idx);
}

void router_roster_free(router_roster_t *ro)
{
    for (size_t i = 0; i < ro->idx.cap; i++) {
        if (!ro->idx.keys[i])
            continue;
        router_shifts_t *s = ro->idx.vals[i];
        free(s->v);
        free(s);
    }
    router_map_free(&ro->idx);
}

void router_roster_reset(router_roster_t *ro, int64_t lo_ms, int64_t hi_ms)
{
    router_roster_free(ro);
    router_map_init(&ro->idx);
    ro->lo_ms = lo_ms;
    ro->hi_ms = hi_ms;
    ro->io_failed = 0;
    ro->err[0] = '\0';
}

/* "end|tier|person|id" with score = start. 0 or -1. */
static int parse_member(const redisReply *m, const redisReply *score, baton_roster_shift_t *s)
{
    char buf[320], *save = NULL;
    if (m->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING || m->len >= sizeof buf)
        return -1;
    memcpy(buf, m->str, m->len);
    buf[m->len] = '\0';
    char *end = strtok_r(buf, "|", &save), *tier = strtok_r(NULL, "|", &save);
    char *person = strtok_r(NULL, "|", &save), *id = strtok_r(NULL, "|", &save);
    if (!end || !tier || !person || !id)
        return -1;
    s->start_ms = (int64_t)strtod(score->str, NULL);
    s->end_ms = strtoll(end, NULL, 10);
    s->tier = atoi(tier);
    baton_strlcpy(s->person, person, sizeof s->person);
    baton_strlcpy(s->id, id, sizeof s->id);
    return 0;
}

/* The shifts of one index over the batch window (cached). NULL on a Redis failure. */
static router_shifts_t *index_shifts(router_roster_t *ro, const char *tenant, const char *facility,
                                     const char *unit, const char *role)
{
    char *key =
        unit ? baton_xasprintf("baton:roster:{%s}:unit:%s:%s:%s", tenant, facility, unit, role)
             : baton_xasprintf("baton:roster:{%s}:fac:%s:%s", tenant, facility, role);
    router_shifts_t *s = router_map_get(&ro->idx, key);
    if (s) {
        free(key);
        return s;
    }
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%lld", (long long)(ro->lo_ms - BATON_ROSTER_MAX_SHIFT_MS));
    snprintf(hi, sizeof hi, "%lld", (long long)ro->hi_ms);
    const char *argv[] = {"ZRANGEBYSCORE", key, lo, hi, "WITHSCORES"};
    redisReply *rep = NULL;
    int rc = baton_redis_command_argv(ro->redis, &rep, 5, argv, NULL);
    if (rc || !rep || rep->type != REDIS_REPLY_ARRAY) {
        ro->io_failed = rc ? rc : BATON_EIO;
        snprintf(ro->err, sizeof ro->err, "roster read: %s", baton_redis_errstr(ro->redis));
        if (rep)
            freeReplyObject(rep);
        free(key);
        return NULL;
    }
    s = baton_xcalloc(1, sizeof(*s));
    s->v = baton_xcalloc(rep->elements / 2 + 1, sizeof(*s->v));
    for (size_t j = 0; j + 1 < rep->elements; j += 2) {
        baton_roster_shift_t *sh = &s->v[s->n];
        baton_strlcpy(sh->tenant, tenant, sizeof sh->tenant);
        baton_strlcpy(sh->facility, facility, sizeof sh->facility);
        baton_strlcpy(sh->unit, unit ? unit : "", sizeof sh->unit);
        baton_strlcpy(sh->role, role, sizeof sh->role);
        if (parse_member(rep->element[j], rep->element[j + 1], sh) == 0)
            s->n++; /* a corrupt entry is nobody (as the roster lib would not load it either) */
    }
    freeReplyObject(rep);
    router_map_put(&ro->idx, key, s);
    free(key);
    return s;
}

static int resolve_snapshot(router_roster_t *ro, const baton_roster_query_t *q,
                            baton_roster_resolution_t *res)
{
    router_shifts_t *u = NULL, *f;
    if (q->unit && !(u = index_shifts(ro, q->tenant, q->facility, q->unit, q->role)))
        return ro->io_failed;
    if (!(f = index_shifts(ro, q->tenant, q->facility, NULL, q->role)))
        return ro->io_failed;
    size_t n = (u ? u->n : 0) + f->n;
    baton_roster_shift_t *all = baton_xcalloc(n ? n : 1, sizeof(*all));
    if (u)
        memcpy(all, u->v, u->n * sizeof(*all));
    memcpy(all + (u ? u->n : 0), f->v, f->n * sizeof(*all));
    int rc = baton_roster_resolve_in(q, all, n, res);
    free(all);
    return rc;
}

static int resolve(void *ctx, const char *tenant, const char *role, baton_scope_t scope,
                   const char *facility, const char *unit, int64_t now_ms,
                   const char *const *exclude, size_t nexclude, char *person_out, size_t person_cap,
                   char *why_out, size_t why_cap)
{
    router_roster_t *ro = ctx;
    baton_roster_query_t q = {
        tenant,  facility, scope == BATON_SCOPE_UNIT && unit && *unit ? unit : NULL, role, now_ms,
        exclude, nexclude};
    baton_roster_resolution_t res;
    int rc;
    /* names that cannot be roster identifiers are nobody: a gap, not a failure */
    if (!tenant || !*tenant || !facility || !*facility || !role || !*role ||
        strpbrk(tenant, ":|{}\n") || strpbrk(facility, ":|{}\n") || strpbrk(role, ":|{}\n") ||
        (q.unit && strpbrk(q.unit, ":|{}\n")))
        return BATON_ENOENT;
    if (ro->snapshot && now_ms >= ro->lo_ms && now_ms <= ro->hi_ms) {
        rc = resolve_snapshot(ro, &q, &res);
    } else {
        char err[200];
        rc = baton_roster_resolve(ro->redis, &q, &res, err, sizeof err);
        if (rc == BATON_EPARSE) /* a corrupt index entry: retrying would not help */
            rc = BATON_EINVAL;
        if (rc && rc != BATON_EINVAL) {
            ro->io_failed = rc;
            snprintf(ro->err, sizeof ro->err, "%s", err);
        }
    }
    if (rc == BATON_EINVAL) /* the roster lib's "not a valid query": nobody covers it */
        return BATON_ENOENT;
    if (rc)
        return rc;
    if (res.why == BATON_ROSTER_NONE)
        return BATON_ENOENT;
    baton_strlcpy(person_out, res.person, person_cap);
    baton_strlcpy(why_out, baton_roster_why_name(res.why), why_cap);
    return 0;
}

baton_resolver_t router_roster_resolver(router_roster_t *ro)
{
    return (baton_resolver_t){resolve, ro};
}
