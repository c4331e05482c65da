/* test_rosters.c — people, shifts (JSON and CSV import), on-call resolution, tenant isolation. */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

static void put(fx_t *f, const char *path, const char *key, const char *body, fx_resp_t *r)
{
    char *auth = baton_xasprintf("Authorization: Bearer %s", key);
    const char *hs[] = {auth, "Content-Type: application/json", NULL};
    fx_http(f, "PUT", path, hs, body, strlen(body), r);
    free(auth);
}

static void get(fx_t *f, const char *path, const char *key, fx_resp_t *r)
{
    char *auth = baton_xasprintf("Authorization: Bearer %s", key);
    const char *hs[] = {auth, NULL};
    fx_http(f, "GET", path, hs, NULL, 0, r);
    free(auth);
}

#define SHIFTS                                                                                     \
    "[{\"tenant\":\"acme\",\"facility\":\"F1\",\"unit\":\"4W\",\"role\":\"nurse\","                \
    "\"person\":\"p1\",\"start\":\"2027-01-01T07:00:00Z\",\"end\":\"2027-01-01T19:00:00Z\"},"      \
    "{\"tenant\":\"acme\",\"facility\":\"F1\",\"role\":\"nurse\",\"person\":\"p2\","               \
    "\"start\":\"2027-01-01T00:00:00Z\",\"end\":\"2027-01-02T00:00:00Z\",\"tier\":2}]"

TEST(ingest_rosters_people)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    put(&f, "/v1/people/p1", FX_KEY_ALL,
        "{\"tenant\":\"acme\",\"name\":\"Pat One\",\"contacts\":[{\"channel\":\"webhook\","
        "\"address\":\"https://example.org/hook\"}]}",
        &r);
    ASSERT_EQ_INT(r.status, 200);
    json_t *j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "id"), "p1");
    ASSERT_EQ_STR(fx_jstr(j, "contacts/0/channel"), "webhook");
    json_decref(j);
    fx_resp_free(&r);
    /* invalid: a bad channel, pointed at */
    put(&f, "/v1/people/p1", FX_KEY_ALL,
        "{\"tenant\":\"acme\",\"name\":\"Pat\",\"contacts\":[{\"channel\":\"fax\",\"address\":"
        "\"1\"}]}",
        &r);
    fx_assert_problem(&r, 422, "invalid-roster", "/contacts/0/channel");
    fx_resp_free(&r);
    /* another tenant in the body: 403 */
    put(&f, "/v1/people/p9", FX_KEY_ALL,
        "{\"tenant\":\"globex\",\"name\":\"X\",\"contacts\":[{\"channel\":\"sms\","
        "\"address\":\"+15555550100\"}]}",
        &r);
    fx_assert_problem(&r, 403, "tenant-forbidden", NULL);
    fx_resp_free(&r);
    /* an events-only key may not write people */
    put(&f, "/v1/people/p1", FX_KEY_EVENTS, "{}", &r);
    fx_assert_problem(&r, 403, "forbidden", NULL);
    fx_resp_free(&r);
}

TEST(ingest_rosters_shifts_and_oncall)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    put(&f, "/v1/people/p1", FX_KEY_ALL,
        "{\"tenant\":\"acme\",\"name\":\"Pat One\",\"contacts\":[{\"channel\":\"sms\","
        "\"address\":\"+15555550100\"}]}",
        &r);
    ASSERT_EQ_INT(r.status, 200);
    fx_resp_free(&r);
    put(&f, "/v1/shifts", FX_KEY_ALL, SHIFTS, &r);
    ASSERT_EQ_INT(r.status, 200);
    json_t *j = fx_json(&r);
    ASSERT_EQ_INT(fx_jint(j, "count"), 2);
    json_decref(j);
    fx_resp_free(&r);
    get(&f, "/v1/oncall?facility=F1&unit=4W&role=nurse&at=2027-01-01T08:00:00Z", FX_KEY_READ, &r);
    ASSERT_EQ_INT(r.status, 200);
    j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "person"), "p1");
    ASSERT_EQ_STR(fx_jstr(j, "resolved_by"), "unit_shift");
    ASSERT_EQ_STR(fx_jstr(j, "name"), "Pat One");
    json_decref(j);
    fx_resp_free(&r);
    /* a staff token of the tenant may read on-call too */
    char *tok = fx_jwt_hs256(FX_JWT_SECRET, "p-nurse", "acme", "nurse", 600);
    get(&f, "/v1/oncall?facility=F1&unit=4W&role=nurse&at=2027-01-01T08:00:00Z", tok, &r);
    ASSERT_EQ_INT(r.status, 200);
    j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "person"), "p1");
    json_decref(j);
    fx_resp_free(&r);
    free(tok);
    /* after the unit shift: the facility-wide one */
    get(&f, "/v1/oncall?facility=F1&unit=4W&role=nurse&at=2027-01-01T20:00:00Z", FX_KEY_ALL, &r);
    j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "person"), "p2");
    ASSERT_EQ_STR(fx_jstr(j, "resolved_by"), "facility_shift");
    json_decref(j);
    fx_resp_free(&r);
    /* another tenant sees none of it */
    get(&f, "/v1/oncall?facility=F1&unit=4W&role=nurse&at=2027-01-01T08:00:00Z", FX_KEY_OTHER, &r);
    ASSERT_EQ_INT(r.status, 200);
    j = fx_json(&r);
    ASSERT_TRUE(json_is_null(json_object_get(j, "person")));
    ASSERT_EQ_STR(fx_jstr(j, "resolved_by"), "none");
    ASSERT_EQ_STR(fx_jstr(j, "tenant"), "globex");
    json_decref(j);
    fx_resp_free(&r);
    /* query errors */
    get(&f, "/v1/oncall?unit=4W&at=yesterday", FX_KEY_ALL, &r);
    ASSERT_EQ_INT(r.status, 400);
    j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "type"), "urn:baton:problem:invalid-query");
    ASSERT_EQ_STR(fx_jstr(j, "errors/0/parameter"), "facility");
    ASSERT_EQ_STR(fx_jstr(j, "errors/1/parameter"), "role");
    ASSERT_EQ_STR(fx_jstr(j, "errors/2/parameter"), "at");
    json_decref(j);
    fx_resp_free(&r);
    /* shifts of another tenant than the key's */
    put(&f, "/v1/shifts", FX_KEY_OTHER, SHIFTS, &r);
    fx_assert_problem(&r, 403, "tenant-forbidden", NULL);
    fx_resp_free(&r);
}

TEST(ingest_rosters_csv_import)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    const char *csv = "tenant,facility,unit,role,person,start,end,tier\r\n"
                      "acme,F1,4W,charge_nurse,c1,2027-01-01T07:00:00Z,2027-01-01T19:00:00Z,1\r\n"
                      "acme,F1,,charge_nurse,c2,2027-01-01T00:00:00Z,2027-01-02T00:00:00Z,2\r\n";
    fx_post(&f, "/v1/shifts:import", FX_KEY_ALL, "text/csv", csv, &r);
    ASSERT_EQ_INT(r.status, 200);
    json_t *j = fx_json(&r);
    ASSERT_EQ_INT(fx_jint(j, "count"), 2);
    json_decref(j);
    fx_resp_free(&r);
    /* the same file again: the same ids, nothing duplicated */
    fx_post(&f, "/v1/shifts:import", FX_KEY_ALL, "text/csv", csv, &r);
    ASSERT_EQ_INT(r.status, 200);
    fx_resp_free(&r);
    get(&f, "/v1/oncall?facility=F1&unit=4W&role=charge_nurse&at=2027-01-01T08:00:00Z", FX_KEY_ALL,
        &r);
    j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "person"), "c1");
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "candidates")), 2);
    json_decref(j);
    fx_resp_free(&r);
    /* errors, line-numbered; all or nothing (the good line 2 is not written) */
    const char *bad = "tenant,facility,unit,role,person,start,end\n"
                      "acme,F2,5E,nurse,n1,2027-01-01T07:00:00Z,2027-01-01T19:00:00Z\n"
                      "acme,F2,5E,nurse,n2,2027-01-01T19:00:00Z,2027-01-01T07:00:00Z\n"
                      "acme,F2,5E,nurse,n3,not-a-time,2027-01-01T07:00:00Z\n";
    fx_post(&f, "/v1/shifts:import", FX_KEY_ALL, "text/csv", bad, &r);
    ASSERT_EQ_INT(r.status, 422);
    j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "type"), "urn:baton:problem:invalid-roster");
    ASSERT_EQ_INT(fx_jint(j, "errors/0/line"), 3);
    ASSERT_CONTAINS(fx_jstr(j, "errors/0/detail"), "line 3");
    ASSERT_EQ_INT(fx_jint(j, "errors/1/line"), 4);
    json_decref(j);
    fx_resp_free(&r);
    get(&f, "/v1/oncall?facility=F2&unit=5E&role=nurse&at=2027-01-01T08:00:00Z", FX_KEY_ALL, &r);
    j = fx_json(&r);
    ASSERT_TRUE(json_is_null(json_object_get(j, "person")));
    json_decref(j);
    fx_resp_free(&r);
    /* another tenant's rows */
    fx_post(&f, "/v1/shifts:import", FX_KEY_OTHER, "text/csv", csv, &r);
    fx_assert_problem(&r, 403, "tenant-forbidden", NULL);
    fx_resp_free(&r);
}
