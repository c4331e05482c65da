/* router_roster.c — role → person for the machine, over the Redis rosters.
 *
 * baton_roster_resolve costs one round trip per query, and a batch asks thousands. So each
 * roster index a batch needs (the unit's and the facility's shifts of a role) is read once with
 * baton_roster_fetch_index over the batch's time window, and every query of the batch is
 * answered in memory by baton_roster_resolve_in, the roster lib's own rule. */
#include <stdlib.h>
#include <string.h>

#include "baton/log.h"
#include "baton/roster.h"
#include "router.h"

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
        baton_roster_shifts_t *s = ro->idx.vals[i];
        baton_roster_shifts_free(s);
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

/* The shifts of one index over the batch window (cached per batch). NULL on a Redis failure
 * (ro->io_failed and ro->err say which). */
static baton_roster_shifts_t *index_shifts(router_roster_t *ro, const char *tenant,
                                           const char *facility, const char *unit, const char *role)
{
    char *key = baton_xasprintf("%s|%s|%s|%s", tenant, facility, unit ? unit : "", role);
    baton_roster_shifts_t *s = router_map_get(&ro->idx, key);
    if (!s) {
        s = baton_xcalloc(1, sizeof(*s));
        int rc = baton_roster_fetch_index(ro->redis, tenant, facility, unit, role, ro->lo_ms,
                                          ro->hi_ms, s, ro->err, sizeof ro->err);
        if (rc) {
            ro->io_failed = rc;
            free(s);
            s = NULL;
        } else {
            router_map_put(&ro->idx, key, s);
        }
    }
    free(key);
    return s;
}

static int resolve_snapshot(router_roster_t *ro, const baton_roster_query_t *q,
                            baton_roster_resolution_t *res)
{
    baton_roster_shifts_t *u = NULL, *f;
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
    if (!tenant || !facility || !role || !baton_roster_tenant_ok(tenant) ||
        !baton_roster_ident_ok(facility) || !baton_roster_ident_ok(role) ||
        (q.unit && !baton_roster_ident_ok(q.unit)))
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
