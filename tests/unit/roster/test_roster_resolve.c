/* The resolution rule over in-memory shifts, and the GET /v1/oncall answer. */
#include "roster_test_util.h"

TEST_MAIN()

static baton_roster_shift_t shift(const char *id, const char *unit, const char *person,
                                  const char *start, const char *end, int tier)
{
    baton_roster_shift_t s;
    memset(&s, 0, sizeof s);
    baton_strlcpy(s.id, id, sizeof s.id);
    baton_strlcpy(s.tenant, "acme", sizeof s.tenant);
    baton_strlcpy(s.facility, "F1", sizeof s.facility);
    baton_strlcpy(s.unit, unit, sizeof s.unit);
    baton_strlcpy(s.role, "nurse", sizeof s.role);
    baton_strlcpy(s.person, person, sizeof s.person);
    s.start_ms = ts(start);
    s.end_ms = ts(end);
    s.tier = tier;
    return s;
}

#define DAY "2030-01-01T08:00:00Z", "2030-01-01T20:00:00Z"
#define NIGHT "2030-01-01T20:00:00Z", "2030-01-02T08:00:00Z"

static baton_roster_query_t query(const char *unit, const char *at)
{
    return (baton_roster_query_t){"acme", "F1", unit, "nurse", ts(at), NULL, 0};
}

static baton_roster_resolution_t resolve(const baton_roster_query_t *q,
                                         const baton_roster_shift_t *v, size_t n)
{
    baton_roster_resolution_t r;
    ASSERT_EQ_INT(baton_roster_resolve_in(q, v, n, &r), 0);
    return r;
}

TEST(roster_resolve_unit_beats_facility)
{
    baton_roster_shift_t v[] = {
        shift("f1", "", "fac-day", DAY, 1),
        shift("u1", "4W", "unit-day", DAY, 2), /* a worse tier, but the unit's own */
        shift("u2", "5E", "other-unit", DAY, 1),
    };
    baton_roster_query_t q = query("4W", "2030-01-01T12:00:00Z");
    baton_roster_resolution_t r = resolve(&q, v, 3);
    ASSERT_EQ_STR(r.person, "unit-day");
    ASSERT_EQ_INT(r.why, BATON_ROSTER_UNIT_SHIFT);
    ASSERT_EQ_STR(baton_roster_why_name(r.why), "unit_shift");
    ASSERT_EQ_STR(r.shift_id, "u1");
    ASSERT_EQ_INT(r.tier, 2);
    ASSERT_EQ_INT(r.start_ms, ts("2030-01-01T08:00:00Z"));
    ASSERT_EQ_INT(r.end_ms, ts("2030-01-01T20:00:00Z"));
    /* a unit without its own shift falls back to the facility-wide one */
    q = query("6N", "2030-01-01T12:00:00Z");
    r = resolve(&q, v, 3);
    ASSERT_EQ_STR(r.person, "fac-day");
    ASSERT_EQ_STR(baton_roster_why_name(r.why), "facility_shift");
    /* facility scope (no unit) sees only facility-wide shifts */
    q = query(NULL, "2030-01-01T12:00:00Z");
    r = resolve(&q, v, 3);
    ASSERT_EQ_STR(r.person, "fac-day");
    q = query("", "2030-01-01T12:00:00Z");
    r = resolve(&q, v, 3);
    ASSERT_EQ_STR(r.shift_id, "f1");
}

TEST(roster_resolve_tier_and_tiebreak)
{
    baton_roster_shift_t v[] = {
        shift("a", "4W", "zed", DAY, 2),
        shift("b", "4W", "yan", "2030-01-01T06:00:00Z", "2030-01-01T14:00:00Z", 1),
        shift("c", "4W", "xia", "2030-01-01T07:00:00Z", "2030-01-01T19:00:00Z", 1),
        shift("d", "4W", "abe", "2030-01-01T07:00:00Z", "2030-01-01T19:00:00Z", 1),
    };
    baton_roster_query_t q = query("4W", "2030-01-01T12:00:00Z");
    /* tier 1 first; among tier 1 the earliest start */
    ASSERT_EQ_STR(resolve(&q, v, 4).person, "yan");
    /* b has ended: c and d start together, the person id decides */
    q.at_ms = ts("2030-01-01T15:00:00Z");
    ASSERT_EQ_STR(resolve(&q, v, 4).person, "abe");
    baton_roster_shift_t *ranked;
    baton_roster_why_t *whys;
    size_t n;
    ASSERT_EQ_INT(baton_roster_rank(&q, v, 4, &ranked, &whys, &n), 0);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_STR(ranked[0].id, "d");
    ASSERT_EQ_STR(ranked[1].id, "c");
    ASSERT_EQ_STR(ranked[2].id, "a");
    ASSERT_EQ_INT(whys[2], BATON_ROSTER_UNIT_SHIFT);
    free(ranked);
    free(whys);
    /* the input order does not matter */
    baton_roster_shift_t w[] = {v[3], v[0], v[2], v[1]};
    ASSERT_EQ_STR(resolve(&q, w, 4).person, "abe");
}

TEST(roster_resolve_boundaries)
{
    baton_roster_shift_t v[] = {shift("day", "4W", "p-day", DAY, 1),
                                shift("night", "4W", "p-night", NIGHT, 1)};
    baton_roster_query_t q = query("4W", "2030-01-01T08:00:00Z");
    ASSERT_EQ_STR(resolve(&q, v, 2).person, "p-day"); /* start is inclusive */
    q.at_ms = ts("2030-01-01T07:59:59.999Z");
    ASSERT_EQ_INT(resolve(&q, v, 2).why, BATON_ROSTER_NONE);
    q.at_ms = ts("2030-01-01T19:59:59.999Z");
    ASSERT_EQ_STR(resolve(&q, v, 2).person, "p-day");
    q.at_ms = ts("2030-01-01T20:00:00Z"); /* end is exclusive: the night shift has it */
    ASSERT_EQ_STR(resolve(&q, v, 2).person, "p-night");
    q.at_ms = ts("2030-01-02T08:00:00Z");
    baton_roster_resolution_t r = resolve(&q, v, 2);
    ASSERT_EQ_INT(r.why, BATON_ROSTER_NONE);
    ASSERT_EQ_STR(r.person, "");
    ASSERT_EQ_STR(r.shift_id, "");
    ASSERT_EQ_STR(baton_roster_why_name(r.why), "none");
}

TEST(roster_resolve_exclude)
{
    baton_roster_shift_t v[] = {
        shift("u1", "4W", "p1", DAY, 1),
        shift("u2", "4W", "p2", DAY, 2),
        shift("f1", "", "p3", DAY, 1),
    };
    const char *declined[] = {"p1", "p2", "p3"};
    baton_roster_query_t q = query("4W", "2030-01-01T12:00:00Z");
    q.exclude = declined;
    q.nexclude = 1;
    baton_roster_resolution_t r = resolve(&q, v, 3);
    ASSERT_EQ_STR(r.person, "p2");
    ASSERT_EQ_INT(r.tier, 2);
    q.nexclude = 2; /* the unit is exhausted: the facility-wide shift */
    r = resolve(&q, v, 3);
    ASSERT_EQ_STR(r.person, "p3");
    ASSERT_EQ_INT(r.why, BATON_ROSTER_FACILITY_SHIFT);
    q.nexclude = 3; /* everyone declined: a coverage gap */
    r = resolve(&q, v, 3);
    ASSERT_EQ_INT(r.why, BATON_ROSTER_NONE);
    ASSERT_EQ_STR(r.person, "");
}

TEST(roster_resolve_scoping)
{
    baton_roster_shift_t v[] = {shift("u1", "4W", "p1", DAY, 1)};
    baton_roster_query_t q = query("4W", "2030-01-01T12:00:00Z");
    q.tenant = "globex"; /* another tenant's shift is never a candidate */
    ASSERT_EQ_INT(resolve(&q, v, 1).why, BATON_ROSTER_NONE);
    q = query("4W", "2030-01-01T12:00:00Z");
    q.role = "doctor";
    ASSERT_EQ_INT(resolve(&q, v, 1).why, BATON_ROSTER_NONE);
    q = query("4W", "2030-01-01T12:00:00Z");
    q.facility = "F2";
    ASSERT_EQ_INT(resolve(&q, v, 1).why, BATON_ROSTER_NONE);
    ASSERT_EQ_INT(resolve(&q, NULL, 0).why, BATON_ROSTER_NONE);
    /* names that could never be stored: nobody covers them */
    baton_roster_resolution_t r;
    q = query("4W", "2030-01-01T12:00:00Z");
    q.tenant = "acme}:x";
    ASSERT_EQ_INT(baton_roster_resolve_in(&q, v, 1, &r), 0);
    ASSERT_EQ_INT(r.why, BATON_ROSTER_NONE);
    /* a query without tenant, facility or role is a programming error */
    q.tenant = NULL;
    ASSERT_EQ_INT(baton_roster_resolve_in(&q, v, 1, &r), BATON_EINVAL);
    q.tenant = "acme";
    q.role = "";
    ASSERT_EQ_INT(baton_roster_resolve_in(&q, v, 1, &r), BATON_EINVAL);
}

TEST(roster_identifiers)
{
    ASSERT_EQ_INT(baton_roster_ident_ok("4W"), 1);
    ASSERT_EQ_INT(baton_roster_ident_ok("ward:4-W.a_b@x"), 1);
    ASSERT_EQ_INT(baton_roster_ident_ok(""), 0);
    ASSERT_EQ_INT(baton_roster_ident_ok(NULL), 0);
    ASSERT_EQ_INT(baton_roster_ident_ok("4 W"), 0);
    ASSERT_EQ_INT(baton_roster_ident_ok("a|b"), 0);
    ASSERT_EQ_INT(baton_roster_ident_ok("a%3A"), 0);
    ASSERT_EQ_INT(baton_roster_ident_ok("\xc3\xa9"), 0);
    char long_id[66];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    ASSERT_EQ_INT(baton_roster_ident_ok(long_id), 0);
    long_id[64] = '\0';
    ASSERT_EQ_INT(baton_roster_ident_ok(long_id), 1);
    ASSERT_EQ_INT(baton_roster_tenant_ok("acme-2.x_y"), 1);
    ASSERT_EQ_INT(baton_roster_tenant_ok("acme:x"), 0);
    ASSERT_EQ_INT(baton_roster_tenant_ok("a}b"), 0);
    ASSERT_EQ_INT(baton_roster_tenant_ok("a@b"), 0);
}

TEST(roster_oncall_json_answer)
{
    baton_roster_shift_t v[] = {shift("u1", "4W", "p1", DAY, 1), shift("f1", "", "p2", DAY, 1)};
    baton_roster_person_t p = {.tenant = "acme", .id = "p2", .name = "Bo Chen"};
    const char *declined[] = {"p1"};
    baton_roster_query_t q = query("4W", "2030-01-01T12:00:00Z");
    q.exclude = declined;
    q.nexclude = 1;
    char *json = baton_roster_oncall_json(&q, v, 2, &p);
    ASSERT_EQ_STR(json,
                  "{\"tenant\":\"acme\",\"facility\":\"F1\",\"unit\":\"4W\",\"role\":\"nurse\","
                  "\"at\":\"2030-01-01T12:00:00.000Z\",\"person\":\"p2\",\"name\":\"Bo Chen\","
                  "\"resolved_by\":\"facility_shift\",\"shift\":{\"id\":\"f1\",\"tenant\":"
                  "\"acme\",\"facility\":\"F1\",\"role\":\"nurse\",\"person\":\"p2\",\"start\":"
                  "\"2030-01-01T08:00:00.000Z\",\"end\":\"2030-01-01T20:00:00.000Z\",\"tier\":1},"
                  "\"candidates\":[{\"person\":\"p1\",\"resolved_by\":\"unit_shift\","
                  "\"shift_id\":\"u1\",\"tier\":1,\"start\":\"2030-01-01T08:00:00.000Z\","
                  "\"end\":\"2030-01-01T20:00:00.000Z\",\"excluded\":true},{\"person\":\"p2\","
                  "\"resolved_by\":\"facility_shift\",\"shift_id\":\"f1\",\"tier\":1,"
                  "\"start\":\"2030-01-01T08:00:00.000Z\",\"end\":\"2030-01-01T20:00:00.000Z\","
                  "\"excluded\":false}]}");
    free(json);
    q.at_ms = ts("2030-01-01T21:00:00Z");
    json = baton_roster_oncall_json(&q, v, 2, NULL);
    ASSERT_EQ_STR(json, "{\"tenant\":\"acme\",\"facility\":\"F1\",\"unit\":\"4W\",\"role\":"
                        "\"nurse\",\"at\":\"2030-01-01T21:00:00.000Z\",\"person\":null,"
                        "\"resolved_by\":\"none\",\"shift\":null,\"candidates\":[]}");
    free(json);
}
