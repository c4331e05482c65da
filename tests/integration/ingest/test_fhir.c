/* test_fhir.c — FHIR R4: the spec examples, wrong types, bundles, subscription notifications,
 * OperationOutcome errors. */
#include "fixture.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define FHIR_DIR BATON_SHARED_DIR "/testdata/fhir/hl7-fhir-r4-spec-examples"
#define SUBS_DIR BATON_SHARED_DIR "/testdata/fhir/inferno-subscriptions-test-kit"
#define FHIR_CT "application/fhir+json"

/* Examples without a Patient subject or an encounter: Baton cannot correlate them. */
static const char *const uncorrelated[] = {"servicerequest-example-appendectomy.json",
                                           "servicerequest-example-edu.json",
                                           "servicerequest-example-ob.json",
                                           "task-example-fm-cancel.json",
                                           "task-example-fm-poll.json",
                                           "task-example-fm-release.json",
                                           "task-example-fm-reprocess.json",
                                           "task-example-fm-status-resp.json",
                                           "task-example-fm-status.json",
                                           NULL};

static int is_uncorrelated(const char *n)
{
    for (int i = 0; uncorrelated[i]; i++)
        if (strcmp(uncorrelated[i], n) == 0)
            return 1;
    return 0;
}

TEST(ingest_fhir_spec_examples)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    DIR *d = opendir(FHIR_DIR);
    ASSERT_NOT_NULL(d);
    struct dirent *de;
    int accepted = 0, refused = 0;
    while ((de = readdir(d))) {
        const char *type = strncmp(de->d_name, "encounter-", 10) == 0        ? "Encounter"
                           : strncmp(de->d_name, "servicerequest-", 15) == 0 ? "ServiceRequest"
                           : strncmp(de->d_name, "task-", 5) == 0            ? "Task"
                                                                             : NULL;
        if (!type)
            continue;
        char *path = baton_xasprintf("%s/%s", FHIR_DIR, de->d_name);
        char *body = fx_read_file(path, NULL);
        char *ep = baton_xasprintf("/fhir/r4/%s", type);
        fx_resp_t r;
        fx_post(&f, ep, FX_KEY_ALL, FHIR_CT, body, &r);
        ASSERT_CONTAINS(fx_header(&r, "Content-Type"), "application/fhir+json");
        json_t *j = fx_json(&r);
        ASSERT_EQ_STR(fx_jstr(j, "resourceType"), "OperationOutcome");
        if (is_uncorrelated(de->d_name)) {
            if (r.status != 400)
                TEST_FAIL("%s: %ld %s", de->d_name, r.status, r.body);
            ASSERT_EQ_STR(fx_jstr(j, "issue/0/code"), "required");
            refused++;
        } else {
            if (r.status != 201)
                TEST_FAIL("%s: %ld %s", de->d_name, r.status, r.body);
            ASSERT_EQ_STR(fx_jstr(j, "issue/0/severity"), "information");
            Baton__V1__Envelope *e = fx_reader_next(rd, 10000, NULL, 0, NULL, 0);
            ASSERT_NOT_NULL(e);
            ASSERT_EQ_STR(e->clinical->source, "fhir");
            ASSERT_TRUE(strncmp(e->clinical->source_message_id, type, strlen(type)) == 0);
            ASSERT_CONTAINS(fx_jstr(j, "issue/0/diagnostics"), e->id);
            baton_kafka_envelope_free(e);
            accepted++;
            /* the same resource again: 200, same event, nothing written */
            fx_resp_t again;
            fx_post(&f, ep, FX_KEY_ALL, FHIR_CT, body, &again);
            ASSERT_EQ_INT(again.status, 200);
            json_t *j2 = fx_json(&again);
            ASSERT_CONTAINS(fx_jstr(j2, "issue/0/diagnostics"), "already accepted");
            json_decref(j2);
            fx_resp_free(&again);
        }
        json_decref(j);
        fx_resp_free(&r);
        free(ep);
        free(body);
        free(path);
    }
    closedir(d);
    ASSERT_EQ_INT(accepted, 32);
    ASSERT_EQ_INT(refused, 9);
    ASSERT_EQ_INT(fx_reader_drain(rd, 500), 0);
    fx_reader_free(rd);
}

TEST(ingest_fhir_errors)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    /* a Patient posted to /Encounter: invalid */
    char *pat = fx_read_file(FHIR_DIR "/patient-example.json", NULL);
    fx_post(&f, "/fhir/r4/Encounter", FX_KEY_ALL, FHIR_CT, pat, &r);
    ASSERT_EQ_INT(r.status, 422);
    json_t *j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "issue/0/code"), "invalid");
    json_decref(j);
    fx_resp_free(&r);
    /* a Patient on its own posted to the base: only Bundles go there */
    fx_post(&f, "/fhir/r4", FX_KEY_ALL, FHIR_CT, pat, &r);
    ASSERT_EQ_INT(r.status, 422);
    fx_resp_free(&r);
    free(pat);
    /* not JSON: structure */
    fx_post(&f, "/fhir/r4/Task", FX_KEY_ALL, FHIR_CT, "{oops", &r);
    ASSERT_EQ_INT(r.status, 400);
    j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "issue/0/code"), "structure");
    json_decref(j);
    fx_resp_free(&r);
    /* a bad status code: value, with an expression */
    fx_post(&f, "/fhir/r4/Encounter", FX_KEY_ALL, FHIR_CT,
            "{\"resourceType\":\"Encounter\",\"id\":\"e1\",\"status\":\"bogus\","
            "\"subject\":{\"reference\":\"Patient/p1\"}}",
            &r);
    ASSERT_TRUE(r.status == 400 || r.status == 422);
    j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "resourceType"), "OperationOutcome");
    ASSERT_EQ_STR(fx_jstr(j, "issue/0/expression/0"), "Encounter.status");
    json_decref(j);
    fx_resp_free(&r);
}

#define ENC(id, status)                                                                            \
    "{\"resourceType\":\"Encounter\",\"id\":\"" id "\",\"status\":\"" status "\","                 \
    "\"class\":{\"code\":\"IMP\"},\"subject\":{\"reference\":\"Patient/p1\"},"                     \
    "\"period\":{\"start\":\"2025-11-20T08:00:00Z\",\"end\":\"2025-11-21T08:00:00Z\"}}"

TEST(ingest_fhir_bundles)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    fx_resp_t r;
    fx_post(
        &f, "/fhir/r4", FX_KEY_ALL, FHIR_CT,
        "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
        "{\"resource\":" ENC(
            "b1",
            "finished") ",\"request\":{\"method\":\"POST\",\"url\":\"Encounter\"}},"
                        "{\"resource\":" ENC(
                            "b2",
                            "bogus") ",\"request\":{\"method\":\"POST\",\"url\":\"Encounter\"}},"
                                     "{\"resource\":" ENC(
                                         "b3", "in-progress") ",\"request\":{\"method\":\"PUT\","
                                                              "\"url\":\"Encounter/b3\"}}]}",
        &r);
    ASSERT_EQ_INT(r.status, 200);
    json_t *j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "type"), "batch-response");
    ASSERT_EQ_STR(fx_jstr(j, "entry/0/response/status"), "201 Created");
    ASSERT_TRUE(strncmp(fx_jstr(j, "entry/1/response/status"), "4", 1) == 0);
    ASSERT_EQ_STR(fx_jstr(j, "entry/1/response/outcome/resourceType"), "OperationOutcome");
    ASSERT_EQ_STR(fx_jstr(j, "entry/2/response/status"), "201 Created");
    json_decref(j);
    fx_resp_free(&r);
    char type[64];
    int got = 0;
    Baton__V1__Envelope *e;
    while ((e = fx_reader_next(rd, 1500, NULL, 0, type, sizeof type)) != NULL) {
        ASSERT_TRUE(strcmp(type, "adt.discharge") == 0 || strcmp(type, "adt.admit") == 0);
        baton_kafka_envelope_free(e);
        got++;
    }
    ASSERT_EQ_INT(got, 2);
    /* a transaction with a failing entry writes nothing */
    fx_post(
        &f, "/fhir/r4", FX_KEY_ALL, FHIR_CT,
        "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
        "{\"resource\":" ENC(
            "t1",
            "finished") ",\"request\":{\"method\":\"POST\",\"url\":\"Encounter\"}},"
                        "{\"resource\":" ENC(
                            "t2",
                            "bogus") ",\"request\":{\"method\":\"POST\",\"url\":\"Encounter\"}}]}",
        &r);
    ASSERT_TRUE(r.status == 400 || r.status == 422);
    j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "resourceType"), "OperationOutcome");
    ASSERT_CONTAINS(fx_jstr(j, "issue/0/expression/0"), "Bundle.entry[1]");
    json_decref(j);
    fx_resp_free(&r);
    ASSERT_EQ_INT(fx_reader_drain(rd, 500), 0);
    /* a good transaction */
    fx_post(&f, "/fhir/r4", FX_KEY_ALL, FHIR_CT,
            "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
            "{\"resource\":" ENC(
                "t3", "finished") ",\"request\":{\"method\":\"POST\",\"url\":\"Encounter\"}}]}",
            &r);
    ASSERT_EQ_INT(r.status, 200);
    j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "type"), "transaction-response");
    ASSERT_EQ_STR(fx_jstr(j, "entry/0/response/status"), "201 Created");
    json_decref(j);
    fx_resp_free(&r);
    ASSERT_EQ_INT(fx_reader_drain(rd, 1500), 1);
    fx_reader_free(rd);
}

TEST(ingest_fhir_subscription_notifications)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    static const char *const files[] = {"handshake_bundle_example.json",
                                        "heartbeat_bundle_example.json",
                                        "empty_notification_bundle_example.json",
                                        "id_only_notification_bundle_example.json",
                                        "full_resource_notification_bundle_example.json",
                                        NULL};
    for (int i = 0; files[i]; i++) {
        char *path = baton_xasprintf("%s/%s", SUBS_DIR, files[i]);
        char *body = fx_read_file(path, NULL);
        fx_resp_t r;
        fx_post(&f, "/fhir/r4", FX_KEY_ALL, FHIR_CT, body, &r);
        if (r.status != 200)
            TEST_FAIL("%s: %ld %s", files[i], r.status, r.body);
        json_t *j = fx_json(&r);
        ASSERT_EQ_STR(fx_jstr(j, "resourceType"), "OperationOutcome");
        ASSERT_CONTAINS(fx_jstr(j, "issue/0/diagnostics"), "notification");
        json_decref(j);
        fx_resp_free(&r);
        free(body);
        free(path);
    }
    /* only the full-resource notification carries a resource Baton takes */
    int n = fx_reader_drain(rd, 1500);
    ASSERT_TRUE(n >= 1);
    fx_reader_free(rd);
}
