/* The roster in a real redis-server (started through the harness; LABELS integration). */
#include "roster_test_util.h"

#include "harness.h"

static harness_redis_t server;

static baton_redis_t *start(void)
{
    ASSERT_EQ_INT(harness_redis_start(&server), 0);
    char err[256] = "";
    baton_redis_t *r = baton_redis_new(server.url, NULL, err, sizeof err);
    if (!r)
        TEST_FAIL("connect: %s", err);
    return r;
}

static long long integer(baton_redis_t *r, const char *fmt, const char *arg)
{
    redisReply *reply = NULL;
    ASSERT_EQ_INT(baton_redis_command(r, &reply, fmt, arg), 0);
    ASSERT_EQ_INT(reply->type, REDIS_REPLY_INTEGER);
    long long v = reply->integer;
    freeReplyObject(reply);
    return v;
}

static long long dbsize(baton_redis_t *r)
{
    return integer(r, "DBSIZE", NULL);
}

/* Parse a CSV roster (must be valid) and write it. */
static void import(baton_redis_t *r, const char *csv)
{
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    int rc = baton_roster_shifts_parse_csv(csv, strlen(csv), NULL, &s, &e);
    if (rc)
        TEST_FAIL("roster does not parse: %s", errs_text(&e));
    char err[256] = "";
    rc = baton_roster_shifts_put(r, &s, baton_now_ms(), err, sizeof err);
    if (rc)
        TEST_FAIL("shifts_put: %d %s", rc, err);
    baton_roster_shifts_free(&s);
}

static baton_roster_resolution_t resolve(baton_redis_t *r, const char *tenant, const char *unit,
                                         const char *at, const char *const *exclude, size_t nex)
{
    baton_roster_query_t q = {tenant, "F1", unit, "nurse", ts(at), exclude, nex};
    baton_roster_resolution_t res;
    char err[256] = "";
    int rc = baton_roster_resolve(r, &q, &res, err, sizeof err);
    if (rc)
        TEST_FAIL("resolve: %d %s", rc, err);
    return res;
}

#define ROSTER                                                                                     \
    "tenant,facility,unit,role,person,start,end,tier\n"                                            \
    "acme,F1,4W,nurse,u-day,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n"                         \
    "acme,F1,4W,nurse,u-backup,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,2\n"                      \
    "acme,F1,4W,nurse,u-night,2030-01-01T20:00:00Z,2030-01-02T08:00:00Z,1\n"                       \
    "acme,F1,,nurse,f-day,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n"                           \
    "acme,F1,,nurse,f-late,2030-01-01T20:00:00Z,2030-01-02T12:00:00Z,1\n"

TEST(roster_redis_resolve)
{
    baton_redis_t *r = start();
    import(r, ROSTER);
    baton_roster_resolution_t x = resolve(r, "acme", "4W", "2030-01-01T12:00:00Z", NULL, 0);
    ASSERT_EQ_STR(x.person, "u-day");
    ASSERT_EQ_INT(x.why, BATON_ROSTER_UNIT_SHIFT);
    ASSERT_EQ_INT(x.tier, 1);
    ASSERT_EQ_INT(x.start_ms, ts("2030-01-01T08:00:00Z"));
    ASSERT_EQ_INT(x.end_ms, ts("2030-01-01T20:00:00Z"));
    ASSERT_EQ_INT(strlen(x.shift_id), 36);
    /* boundaries: start inclusive, end exclusive */
    ASSERT_EQ_STR(resolve(r, "acme", "4W", "2030-01-01T08:00:00Z", NULL, 0).person, "u-day");
    ASSERT_EQ_STR(resolve(r, "acme", "4W", "2030-01-01T19:59:59.999Z", NULL, 0).person, "u-day");
    ASSERT_EQ_STR(resolve(r, "acme", "4W", "2030-01-01T20:00:00Z", NULL, 0).person, "u-night");
    /* the unit's night ended at 08:00; the facility-wide shift still runs */
    x = resolve(r, "acme", "4W", "2030-01-02T08:00:00Z", NULL, 0);
    ASSERT_EQ_STR(x.person, "f-late");
    ASSERT_EQ_INT(x.why, BATON_ROSTER_FACILITY_SHIFT);
    /* another unit, and facility scope */
    ASSERT_EQ_STR(resolve(r, "acme", "5E", "2030-01-01T12:00:00Z", NULL, 0).person, "f-day");
    ASSERT_EQ_STR(resolve(r, "acme", NULL, "2030-01-01T12:00:00Z", NULL, 0).person, "f-day");
    /* declines: the next tier, then the facility, then a gap */
    const char *declined[] = {"u-day", "u-backup", "f-day"};
    x = resolve(r, "acme", "4W", "2030-01-01T12:00:00Z", declined, 1);
    ASSERT_EQ_STR(x.person, "u-backup");
    ASSERT_EQ_INT(x.tier, 2);
    ASSERT_EQ_STR(resolve(r, "acme", "4W", "2030-01-01T12:00:00Z", declined, 2).person, "f-day");
    x = resolve(r, "acme", "4W", "2030-01-01T12:00:00Z", declined, 3);
    ASSERT_EQ_INT(x.why, BATON_ROSTER_NONE);
    ASSERT_EQ_STR(x.person, "");
    /* nobody at all */
    x = resolve(r, "acme", "4W", "2030-01-03T12:00:00Z", NULL, 0);
    ASSERT_EQ_INT(x.why, BATON_ROSTER_NONE);
    x = resolve(r, "acme", "4W", "2029-12-31T12:00:00Z", NULL, 0);
    ASSERT_EQ_INT(x.why, BATON_ROSTER_NONE);
    baton_redis_free(r);
}

TEST(roster_redis_reimport_idempotent)
{
    baton_redis_t *r = start();
    import(r, ROSTER);
    long long keys = dbsize(r);
    long long shifts = integer(r, "HLEN %s", "baton:roster:{acme}:shifts");
    long long unit = integer(r, "ZCARD %s", "baton:roster:{acme}:unit:F1:4W:nurse");
    ASSERT_EQ_INT(shifts, 5);
    ASSERT_EQ_INT(unit, 3);
    ASSERT_EQ_INT(integer(r, "ZCARD %s", "baton:roster:{acme}:fac:F1:nurse"), 2);
    ASSERT_EQ_INT(integer(r, "ZCARD %s", "baton:roster:{acme}:ends"), 5);
    ASSERT_EQ_INT(keys, 4);
    import(r, ROSTER);
    ASSERT_EQ_INT(dbsize(r), keys);
    ASSERT_EQ_INT(integer(r, "HLEN %s", "baton:roster:{acme}:shifts"), shifts);
    ASSERT_EQ_INT(integer(r, "ZCARD %s", "baton:roster:{acme}:unit:F1:4W:nurse"), unit);
    /* the same shift with another tier replaces it in place */
    import(r, "tenant,facility,unit,role,person,start,end,tier\n"
              "acme,F1,4W,nurse,u-day,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,3\n");
    ASSERT_EQ_INT(integer(r, "HLEN %s", "baton:roster:{acme}:shifts"), shifts);
    baton_roster_resolution_t x = resolve(r, "acme", "4W", "2030-01-01T12:00:00Z", NULL, 0);
    ASSERT_EQ_STR(x.person, "u-backup");
    ASSERT_EQ_INT(x.tier, 2);
    baton_redis_free(r);
}

TEST(roster_redis_given_id_moves)
{
    baton_redis_t *r = start();
    import(r, "shift_id,tenant,facility,unit,role,person,start,end\n"
              "s-1,acme,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z\n");
    ASSERT_EQ_STR(resolve(r, "acme", "4W", "2030-01-01T12:00:00Z", NULL, 0).person, "p1");
    /* the same id, now on another unit and person: the old entry is gone */
    import(r, "shift_id,tenant,facility,unit,role,person,start,end\n"
              "s-1,acme,F1,5E,nurse,p2,2030-01-01T09:00:00Z,2030-01-01T20:00:00Z\n");
    ASSERT_EQ_INT(resolve(r, "acme", "4W", "2030-01-01T12:00:00Z", NULL, 0).why, BATON_ROSTER_NONE);
    baton_roster_resolution_t x = resolve(r, "acme", "5E", "2030-01-01T12:00:00Z", NULL, 0);
    ASSERT_EQ_STR(x.person, "p2");
    ASSERT_EQ_STR(x.shift_id, "s-1");
    ASSERT_EQ_INT(integer(r, "EXISTS %s", "baton:roster:{acme}:unit:F1:4W:nurse"), 0);
    baton_roster_shift_t s;
    char err[256] = "";
    ASSERT_EQ_INT(baton_roster_shift_get(r, "acme", "s-1", &s, err, sizeof err), 0);
    ASSERT_EQ_STR(s.unit, "5E");
    ASSERT_EQ_STR(s.person, "p2");
    ASSERT_EQ_INT(s.start_ms, ts("2030-01-01T09:00:00Z"));
    ASSERT_EQ_INT(s.tier, 1);
    ASSERT_EQ_INT(baton_roster_shift_get(r, "globex", "s-1", &s, err, sizeof err), BATON_ENOENT);
    ASSERT_EQ_INT(baton_roster_shift_delete(r, "acme", "s-1", err, sizeof err), 0);
    ASSERT_EQ_INT(baton_roster_shift_delete(r, "acme", "s-1", err, sizeof err), BATON_ENOENT);
    ASSERT_EQ_INT(baton_roster_shift_get(r, "acme", "s-1", &s, err, sizeof err), BATON_ENOENT);
    ASSERT_EQ_INT(resolve(r, "acme", "5E", "2030-01-01T12:00:00Z", NULL, 0).why, BATON_ROSTER_NONE);
    ASSERT_EQ_INT(dbsize(r), 0);
    baton_redis_free(r);
}

TEST(roster_redis_all_or_nothing)
{
    baton_redis_t *r = start();
    /* one bad line: nothing is parsed, so nothing can be written */
    const char *csv = ROSTER "acme,F1,4W,nurse,p9,2030-01-01T20:00:00Z,2030-01-01T08:00:00Z,1\n";
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(csv, strlen(csv), NULL, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 7: end before start");
    baton_roster_errors_free(&e);
    char err[256] = "";
    ASSERT_EQ_INT(baton_roster_shifts_put(r, &s, baton_now_ms(), err, sizeof err), 0);
    ASSERT_EQ_INT(dbsize(r), 0);
    /* a hand-built batch mixing tenants is refused before anything is sent */
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(ROSTER, strlen(ROSTER), NULL, &s, &e), 0);
    baton_strlcpy(s.v[4].tenant, "globex", sizeof s.v[4].tenant);
    ASSERT_EQ_INT(baton_roster_shifts_put(r, &s, baton_now_ms(), err, sizeof err), BATON_EINVAL);
    ASSERT_EQ_INT(dbsize(r), 0);
    baton_roster_shifts_free(&s);
    baton_redis_free(r);
}

TEST(roster_redis_tenant_isolation)
{
    baton_redis_t *r = start();
    import(r, ROSTER);
    import(r, "tenant,facility,unit,role,person,start,end\n"
              "globex,F1,4W,nurse,g1,2030-01-01T10:00:00Z,2030-01-01T14:00:00Z\n");
    ASSERT_EQ_STR(resolve(r, "globex", "4W", "2030-01-01T12:00:00Z", NULL, 0).person, "g1");
    ASSERT_EQ_STR(resolve(r, "acme", "4W", "2030-01-01T12:00:00Z", NULL, 0).person, "u-day");
    ASSERT_EQ_INT(resolve(r, "globex", "4W", "2030-01-01T16:00:00Z", NULL, 0).why,
                  BATON_ROSTER_NONE);
    ASSERT_EQ_INT(resolve(r, "initech", "4W", "2030-01-01T12:00:00Z", NULL, 0).why,
                  BATON_ROSTER_NONE);
    /* people too */
    baton_roster_person_t *p = NULL;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    const char *body = "{\"tenant\":\"acme\",\"name\":\"Ana\",\"contacts\":[{\"channel\":"
                       "\"pager\",\"address\":\"4711\"}]}";
    ASSERT_EQ_INT(baton_roster_person_parse("u-day", body, strlen(body), &p, &e), 0);
    char err[256] = "";
    ASSERT_EQ_INT(baton_roster_person_put(r, p, err, sizeof err), 0);
    baton_roster_person_free(p);
    ASSERT_EQ_INT(baton_roster_person_get(r, "globex", "u-day", &p, err, sizeof err), BATON_ENOENT);
    ASSERT_NULL(p);
    ASSERT_EQ_INT(baton_roster_person_get(r, "acme}:person:u-day", "x", &p, err, sizeof err),
                  BATON_ENOENT);
    /* every key carries its tenant's hash tag */
    redisReply *reply = NULL;
    ASSERT_EQ_INT(baton_redis_command(r, &reply, "KEYS *"), 0);
    ASSERT_EQ_INT(reply->elements, 8);
    for (size_t i = 0; i < reply->elements; i++) {
        const char *k = reply->element[i]->str;
        ASSERT_TRUE(strncmp(k, "baton:roster:{acme}:", 20) == 0 ||
                    strncmp(k, "baton:roster:{globex}:", 22) == 0);
    }
    freeReplyObject(reply);
    baton_redis_free(r);
}

TEST(roster_redis_colons_in_names)
{
    /* (facility "F:1", unit "4W") and (facility "F", unit "1:4W") must not share an index */
    baton_redis_t *r = start();
    import(r, "tenant,facility,unit,role,person,start,end\n"
              "acme,F:1,4W,nurse,p-a,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z\n"
              "acme,F,1:4W,nurse,p-b,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z\n");
    baton_roster_query_t q = {"acme", "F:1", "4W", "nurse", ts("2030-01-01T12:00:00Z"), NULL, 0};
    baton_roster_resolution_t x;
    char err[256] = "";
    ASSERT_EQ_INT(baton_roster_resolve(r, &q, &x, err, sizeof err), 0);
    ASSERT_EQ_STR(x.person, "p-a");
    const char *declined[] = {"p-a"};
    q.exclude = declined;
    q.nexclude = 1;
    ASSERT_EQ_INT(baton_roster_resolve(r, &q, &x, err, sizeof err), 0);
    ASSERT_EQ_INT(x.why, BATON_ROSTER_NONE);
    q = (baton_roster_query_t){"acme", "F", "1:4W", "nurse", ts("2030-01-01T12:00:00Z"), NULL, 0};
    ASSERT_EQ_INT(baton_roster_resolve(r, &q, &x, err, sizeof err), 0);
    ASSERT_EQ_STR(x.person, "p-b");
    ASSERT_EQ_INT(integer(r, "EXISTS %s", "baton:roster:{acme}:unit:F%3A1:4W:nurse"), 1);
    ASSERT_EQ_INT(integer(r, "EXISTS %s", "baton:roster:{acme}:unit:F:1%3A4W:nurse"), 1);
    baton_redis_free(r);
}

TEST(roster_redis_fetch_index)
{
    /* one read per index, then any number of queries in memory (the router's batches) */
    baton_redis_t *r = start();
    import(r, ROSTER);
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    char err[256] = "";
    int64_t from = ts("2030-01-01T10:00:00Z"), to = ts("2030-01-01T21:00:00Z");
    ASSERT_EQ_INT(
        baton_roster_fetch_index(r, "acme", "F1", "4W", "nurse", from, to, &s, err, sizeof err), 0);
    ASSERT_EQ_INT(s.n, 3);
    ASSERT_EQ_STR(s.v[0].unit, "4W");
    ASSERT_EQ_INT(s.v[0].start_ms, ts("2030-01-01T08:00:00Z"));
    ASSERT_EQ_INT(
        baton_roster_fetch_index(r, "acme", "F1", NULL, "nurse", from, to, &s, err, sizeof err), 0);
    ASSERT_EQ_INT(s.n, 5); /* appended */
    ASSERT_EQ_STR(s.v[4].unit, "");
    /* a window that ends before the night shifts start leaves them out */
    baton_roster_shifts_t early = BATON_ROSTER_SHIFTS_INIT;
    ASSERT_EQ_INT(baton_roster_fetch_index(r, "acme", "F1", "4W", "nurse", from, from, &early, err,
                                           sizeof err),
                  0);
    ASSERT_EQ_INT(early.n, 2);
    baton_roster_shifts_free(&early);
    /* names that cannot exist read nothing and are no error */
    ASSERT_EQ_INT(
        baton_roster_fetch_index(r, "ac}me", "F1", "4W", "nurse", from, to, &s, err, sizeof err),
        0);
    ASSERT_EQ_INT(s.n, 5);
    const char *times[] = {"2030-01-01T12:00:00Z", "2030-01-01T20:30:00Z"};
    const char *expect[] = {"u-day", "u-night"};
    for (int i = 0; i < 2; i++) {
        baton_roster_query_t q = {"acme", "F1", "4W", "nurse", ts(times[i]), NULL, 0};
        baton_roster_resolution_t x;
        ASSERT_EQ_INT(baton_roster_resolve_in(&q, s.v, s.n, &x), 0);
        ASSERT_EQ_STR(x.person, expect[i]);
    }
    baton_roster_shifts_free(&s);
    baton_redis_free(r);
}

TEST(roster_redis_people)
{
    baton_redis_t *r = start();
    const char *body = "{\"tenant\":\"acme\",\"name\":\"Ana Lima\",\"contacts\":["
                       "{\"channel\":\"webhook\",\"address\":\"http://127.0.0.1:9/hook\"},"
                       "{\"channel\":\"sms\",\"address\":\"+15551234567\"}],"
                       "\"quiet_hours\":{\"start\":\"22:00\",\"end\":\"07:00\"}}";
    baton_roster_person_t *p = NULL, *got = NULL;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(baton_roster_person_parse("p-ana", body, strlen(body), &p, &e), 0);
    char err[256] = "";
    ASSERT_EQ_INT(baton_roster_person_put(r, p, err, sizeof err), 0);
    ASSERT_EQ_INT(baton_roster_person_get(r, "acme", "p-ana", &got, err, sizeof err), 0);
    ASSERT_EQ_STR(got->name, "Ana Lima");
    ASSERT_EQ_INT(got->ncontacts, 2);
    ASSERT_EQ_INT(got->contacts[0].channel, BATON_ROSTER_WEBHOOK);
    ASSERT_EQ_STR(got->contacts[0].address, "http://127.0.0.1:9/hook");
    ASSERT_EQ_INT(got->contacts[1].channel, BATON_ROSTER_SMS);
    ASSERT_EQ_INT(got->quiet_start_min, 22 * 60);
    ASSERT_EQ_INT(got->quiet_end_min, 7 * 60);
    char *a = baton_roster_person_to_json(p), *b = baton_roster_person_to_json(got);
    ASSERT_EQ_STR(a, b);
    free(a);
    free(b);
    baton_roster_person_free(got);
    baton_roster_person_free(p);
    ASSERT_EQ_INT(baton_roster_person_get(r, "acme", "nobody", &got, err, sizeof err),
                  BATON_ENOENT);
    /* a corrupt record is reported, not trusted */
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "SET %s %s", "baton:roster:{acme}:person:bad",
                                      "{\"tenant\":\"acme\"}"),
                  0);
    ASSERT_EQ_INT(baton_roster_person_get(r, "acme", "bad", &got, err, sizeof err), BATON_EPARSE);
    ASSERT_EQ_INT(baton_roster_person_delete(r, "acme", "p-ana", err, sizeof err), 0);
    ASSERT_EQ_INT(baton_roster_person_delete(r, "acme", "p-ana", err, sizeof err), BATON_ENOENT);
    ASSERT_EQ_INT(baton_roster_person_get(r, "acme", "p-ana", &got, err, sizeof err), BATON_ENOENT);
    baton_redis_free(r);
}

TEST(roster_redis_oncall)
{
    baton_redis_t *r = start();
    import(r, ROSTER);
    const char *body = "{\"tenant\":\"acme\",\"name\":\"Una Day\",\"contacts\":[{\"channel\":"
                       "\"pager\",\"address\":\"1\"}]}";
    baton_roster_person_t *p = NULL;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(baton_roster_person_parse("u-day", body, strlen(body), &p, &e), 0);
    char err[256] = "";
    ASSERT_EQ_INT(baton_roster_person_put(r, p, err, sizeof err), 0);
    baton_roster_person_free(p);
    baton_roster_query_t q = {"acme", "F1", "4W", "nurse", ts("2030-01-01T12:00:00Z"), NULL, 0};
    char *json = NULL;
    ASSERT_EQ_INT(baton_roster_oncall(r, &q, &json, err, sizeof err), 0);
    ASSERT_CONTAINS(json,
                    "\"person\":\"u-day\",\"name\":\"Una Day\",\"resolved_by\":\"unit_shift\"");
    ASSERT_CONTAINS(json, "\"candidates\":[{\"person\":\"u-day\"");
    ASSERT_CONTAINS(json, "{\"person\":\"u-backup\",\"resolved_by\":\"unit_shift\"");
    ASSERT_CONTAINS(json, "{\"person\":\"f-day\",\"resolved_by\":\"facility_shift\"");
    free(json);
    /* a name that cannot be stored: a gap, without building a key from it */
    q.tenant = "bad tenant";
    ASSERT_EQ_INT(baton_roster_oncall(r, &q, &json, err, sizeof err), 0);
    ASSERT_CONTAINS(json, "\"person\":null,\"resolved_by\":\"none\",\"shift\":null");
    free(json);
    q.role = NULL;
    json = NULL;
    ASSERT_EQ_INT(baton_roster_oncall(r, &q, &json, err, sizeof err), BATON_EINVAL);
    ASSERT_NULL(json);
    baton_redis_free(r);
}

TEST(roster_redis_prune)
{
    baton_redis_t *r = start();
    import(r, ROSTER);
    char err[256] = "";
    size_t removed = 99;
    /* nothing has ended by the first start */
    ASSERT_EQ_INT(
        baton_roster_prune(r, "acme", ts("2030-01-01T08:00:00Z"), &removed, err, sizeof err), 0);
    ASSERT_EQ_INT(removed, 0);
    /* the three day shifts ended at 20:00 (end inclusive for pruning) */
    ASSERT_EQ_INT(
        baton_roster_prune(r, "acme", ts("2030-01-01T20:00:00Z"), &removed, err, sizeof err), 0);
    ASSERT_EQ_INT(removed, 3);
    ASSERT_EQ_INT(integer(r, "HLEN %s", "baton:roster:{acme}:shifts"), 2);
    ASSERT_EQ_INT(integer(r, "ZCARD %s", "baton:roster:{acme}:unit:F1:4W:nurse"), 1);
    ASSERT_EQ_INT(integer(r, "ZCARD %s", "baton:roster:{acme}:fac:F1:nurse"), 1);
    ASSERT_EQ_STR(resolve(r, "acme", "4W", "2030-01-01T21:00:00Z", NULL, 0).person, "u-night");
    /* writing prunes too: shifts that ended over a day before "now" go on every write */
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    const char *more = "tenant,facility,role,person,start,end\n"
                       "acme,F1,nurse,later,2030-01-05T08:00:00Z,2030-01-05T20:00:00Z\n";
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(more, strlen(more), NULL, &s, &e), 0);
    ASSERT_EQ_INT(baton_roster_shifts_put(r, &s, ts("2030-01-03T12:00:01Z"), err, sizeof err), 0);
    baton_roster_shifts_free(&s);
    ASSERT_EQ_INT(integer(r, "HLEN %s", "baton:roster:{acme}:shifts"), 1);
    ASSERT_EQ_INT(dbsize(r), 3); /* shifts, ends, fac index */
    baton_redis_free(r);
}

TEST(roster_redis_large_import)
{
    /* the largest request allowed goes through in one script call, and again idempotently */
    baton_redis_t *r = start();
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "tenant,facility,unit,role,person,start,end,tier\n");
    for (int i = 0; i < BATON_ROSTER_MAX_SHIFTS; i++)
        baton_buf_appendf(&b,
                          "acme,F1,U%d,nurse,p%d,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,%d\n",
                          i % 50, i, 1 + i % 5);
    int64_t t0 = baton_mono_ms();
    import(r, b.data);
    import(r, b.data);
    int64_t took = baton_mono_ms() - t0;
    ASSERT_EQ_INT(integer(r, "HLEN %s", "baton:roster:{acme}:shifts"), BATON_ROSTER_MAX_SHIFTS);
    ASSERT_EQ_INT(integer(r, "ZCARD %s", "baton:roster:{acme}:unit:F1:U7:nurse"), 200);
    /* U7 holds p7, p57, p107, ..., all tier 3 and starting together: the person id decides */
    baton_roster_resolution_t x = resolve(r, "acme", "U7", "2030-01-01T12:00:00Z", NULL, 0);
    ASSERT_EQ_INT(x.tier, 3);
    ASSERT_EQ_STR(x.person, "p1007");
    fprintf(stderr, "two imports of %d shifts: %lld ms\n", BATON_ROSTER_MAX_SHIFTS,
            (long long)took);
    ASSERT_TRUE(took < 15000);
    baton_buf_free(&b);
    baton_redis_free(r);
}

TEST(roster_redis_server_down)
{
    baton_redis_t *r = start();
    ASSERT_EQ_INT(harness_redis_kill(&server), 0);
    baton_roster_query_t q = {"acme", "F1", "4W", "nurse", ts("2030-01-01T12:00:00Z"), NULL, 0};
    baton_roster_resolution_t x;
    char err[256] = "";
    int rc = baton_roster_resolve(r, &q, &x, err, sizeof err);
    ASSERT_EQ_INT(rc, BATON_EUNAVAIL);
    ASSERT_CONTAINS(err, "roster: redis:");
    baton_redis_free(r);
}
