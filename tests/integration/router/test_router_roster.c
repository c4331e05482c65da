/* test_router_roster.c — the router's per-batch roster snapshot answers every query exactly as
 * baton_roster_resolve does (same person, same unit/facility reason, same gaps), over random
 * rosters: tiers, unit and facility shifts, shifts that end or start around the query time,
 * people excluded after declining. */
#include <stdlib.h>
#include <string.h>

#include "../../../services/router/router.h"
#include "baton/roster.h"
#include "harness.h"
#include "test.h"

#define H (3600 * 1000LL)
#define BASE 1800000000000LL

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

TEST(router_roster_snapshot_matches_roster_lib)
{
    harness_redis_t hr;
    ASSERT_EQ_INT(harness_redis_start(&hr), 0);
    char err[256];
    baton_redis_t *r = baton_redis_new(hr.url, NULL, err, sizeof err);
    ASSERT_NOT_NULL(r);
    const char *units[] = {"", "4W", "5E"}, *roles[] = {"nurse", "pharmacist"};
    const char *people[] = {"p1", "p2", "p3", "p4", "p5", "p6"};
    unsigned seed = 42;
    baton_roster_shifts_t s = {baton_xcalloc(120, sizeof(baton_roster_shift_t)), 0};
    for (int i = 0; i < 120; i++) {
        baton_roster_shift_t *x = &s.v[s.n++];
        snprintf(x->id, sizeof x->id, "s%d", i);
        baton_strlcpy(x->tenant, "acme", sizeof x->tenant);
        baton_strlcpy(x->facility, "F1", sizeof x->facility);
        baton_strlcpy(x->unit, units[rnd(&seed) % 3], sizeof x->unit);
        baton_strlcpy(x->role, roles[rnd(&seed) % 2], sizeof x->role);
        baton_strlcpy(x->person, people[rnd(&seed) % 6], sizeof x->person);
        x->start_ms = BASE + (int64_t)(rnd(&seed) % 48) * H - 24 * H;
        x->end_ms = x->start_ms + (1 + rnd(&seed) % 12) * H;
        x->tier = 1 + (int)(rnd(&seed) % 3);
    }
    ASSERT_EQ_INT(baton_roster_shifts_put(r, &s, 0, err, sizeof err), 0);

    router_roster_t ro;
    router_roster_init(&ro, r, true);
    baton_resolver_t res = router_roster_resolver(&ro);
    int gaps = 0, units_won = 0, checked = 0;
    for (int batch = 0; batch < 20; batch++) {
        int64_t lo = BASE - 20 * H + (int64_t)(rnd(&seed) % 40) * H;
        int64_t hi = lo + (int64_t)(rnd(&seed) % 4) * H;
        router_roster_reset(&ro, lo, hi);
        for (int q = 0; q < 30; q++) {
            int64_t at = lo + (hi > lo ? (int64_t)(rnd(&seed) % (uint64_t)(hi - lo + 1)) : 0);
            const char *unit = units[rnd(&seed) % 3];
            const char *role = roles[rnd(&seed) % 2];
            baton_scope_t scope = *unit ? BATON_SCOPE_UNIT : BATON_SCOPE_FACILITY;
            const char *ex[2] = {people[rnd(&seed) % 6], people[rnd(&seed) % 6]};
            size_t nex = rnd(&seed) % 3;
            char person[BATON_PERSON_MAX] = "", why[64] = "";
            int rc = res.resolve(res.ctx, "acme", role, scope, "F1", unit, at, ex, nex, person,
                                 sizeof person, why, sizeof why);
            baton_roster_query_t rq = {"acme", "F1", *unit ? unit : NULL, role, at, ex, nex};
            baton_roster_resolution_t want;
            ASSERT_EQ_INT(baton_roster_resolve(r, &rq, &want, err, sizeof err), 0);
            if (want.why == BATON_ROSTER_NONE) {
                ASSERT_EQ_INT(rc, BATON_ENOENT);
                gaps++;
            } else {
                ASSERT_EQ_INT(rc, 0);
                ASSERT_EQ_STR(person, want.person);
                ASSERT_EQ_STR(why, baton_roster_why_name(want.why));
                units_won += want.why == BATON_ROSTER_UNIT_SHIFT;
            }
            checked++;
        }
    }
    /* the random rosters exercised every outcome */
    ASSERT_TRUE(gaps > 0);
    ASSERT_TRUE(units_won > 0);
    ASSERT_TRUE(checked - gaps - units_won > 0);
    /* a query the roster lib calls invalid is a gap, never an error */
    char person[BATON_PERSON_MAX], why[64];
    ASSERT_EQ_INT(res.resolve(res.ctx, "acme", "nurse", BATON_SCOPE_FACILITY, "", "", BASE, NULL, 0,
                              person, sizeof person, why, sizeof why),
                  BATON_ENOENT);
    ASSERT_EQ_INT(ro.io_failed, 0);
    /* Redis down: an I/O failure, not a gap */
    harness_redis_kill(&hr);
    router_roster_reset(&ro, BASE, BASE);
    int rc = res.resolve(res.ctx, "acme", "nurse", BATON_SCOPE_UNIT, "F1", "4W", BASE, NULL, 0,
                         person, sizeof person, why, sizeof why);
    ASSERT_TRUE(rc != 0 && rc != BATON_ENOENT);
    ASSERT_EQ_INT(ro.io_failed, rc);
    router_roster_free(&ro);
    baton_roster_shifts_free(&s);
    baton_redis_free(r);
}
