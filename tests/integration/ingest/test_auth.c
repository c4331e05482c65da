/* test_auth.c — API keys: 401 with WWW-Authenticate, 403 without the scope, tenant isolation. */
#include "fixture.h"

#include <string.h>

TEST(ingest_auth_missing_key_401)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    fx_post(&f, "/v1/events", NULL, "application/json", "{}", &r);
    fx_assert_problem(&r, 401, "unauthorized", NULL);
    ASSERT_EQ_STR(fx_header(&r, "WWW-Authenticate"), "Bearer realm=\"baton\"");
    fx_resp_free(&r);
    const char *hs[] = {"Authorization: Basic dXNlcjpwYXNz", "Content-Type: application/json",
                        NULL};
    fx_http(&f, "POST", "/v1/events", hs, "{}", 2, &r);
    fx_assert_problem(&r, 401, "unauthorized", NULL);
    fx_resp_free(&r);
}

TEST(ingest_auth_wrong_key_401)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    fx_post(&f, "/v1/events", "bk_acme_all_0123456788", "application/json", "{}", &r);
    fx_assert_problem(&r, 401, "unauthorized", NULL);
    ASSERT_EQ_STR(fx_header(&r, "WWW-Authenticate"),
                  "Bearer realm=\"baton\", error=\"invalid_token\"");
    fx_resp_free(&r);
    /* FHIR endpoints answer with an OperationOutcome */
    fx_post(&f, "/fhir/r4/Encounter", "nope", "application/fhir+json", "{}", &r);
    ASSERT_EQ_INT(r.status, 401);
    json_t *j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "resourceType"), "OperationOutcome");
    ASSERT_EQ_STR(fx_jstr(j, "issue/0/code"), "login");
    json_decref(j);
    fx_resp_free(&r);
}

TEST(ingest_auth_scopes_403)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    /* read-only key cannot write events */
    fx_post(&f, "/v1/events", FX_KEY_READ, "application/json", "{}", &r);
    fx_assert_problem(&r, 403, "forbidden", NULL);
    json_t *j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "detail"), "the API key lacks the events scope");
    json_decref(j);
    fx_resp_free(&r);
    /* events-only key cannot write rosters or read on-call */
    const char *hs[] = {"Authorization: Bearer " FX_KEY_EVENTS, "Content-Type: application/json",
                        NULL};
    fx_http(&f, "PUT", "/v1/shifts", hs, "[]", 2, &r);
    fx_assert_problem(&r, 403, "forbidden", NULL);
    fx_resp_free(&r);
    fx_http(&f, "GET", "/v1/oncall?facility=F1&role=nurse", hs, NULL, 0, &r);
    fx_assert_problem(&r, 403, "forbidden", NULL);
    fx_resp_free(&r);
    /* read key may read */
    const char *hr[] = {"Authorization: Bearer " FX_KEY_READ, NULL};
    fx_http(&f, "GET", "/v1/oncall?facility=F1&role=nurse", hr, NULL, 0, &r);
    ASSERT_EQ_INT(r.status, 200);
    fx_resp_free(&r);
    /* an HL7 post with a read key */
    fx_post(&f, "/v1/hl7v2", FX_KEY_READ, "x-application/hl7-v2+er7", "MSH|^~\\&|A", &r);
    fx_assert_problem(&r, 403, "forbidden", NULL);
    fx_resp_free(&r);
}

TEST(ingest_auth_unknown_route_404)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    const char *hs[] = {"Authorization: Bearer " FX_KEY_ALL, NULL};
    fx_http(&f, "GET", "/v1/nothing-here", hs, NULL, 0, &r);
    ASSERT_EQ_INT(r.status, 404);
    fx_resp_free(&r);
    fx_http(&f, "GET", "/v1/events", hs, NULL, 0, &r);
    ASSERT_EQ_INT(r.status, 405);
    fx_resp_free(&r);
}
