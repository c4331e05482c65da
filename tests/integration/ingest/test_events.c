/* test_events.c — POST /v1/events: single JSON, NDJSON batches, validation, idempotency. */
#include "fixture.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

TEST_MAIN()

#define EVENT(id)                                                                                  \
    "{\"id\": \"" id "\", \"type\": \"order.discharge\", \"tenant\": \"acme\", \"facility\": "     \
    "\"F1\", \"unit\": \"4W\", \"patient\": \"MRN123\", \"encounter\": \"ENC9\", "                 \
    "\"occurred_at\": \"2026-11-21T10:00:00Z\", \"attributes\": {\"disposition\": \"snf\", "       \
    "\"patient_class\": \"inpatient\"}}"

TEST(ingest_events_single_accepted)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    fx_resp_t r;
    const char *hs[] = {"Authorization: Bearer " FX_KEY_ALL, "Content-Type: application/json",
                        "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                        NULL};
    const char *body = EVENT("evt-2026-0001");
    fx_http(&f, "POST", "/v1/events", hs, body, strlen(body), &r);
    ASSERT_EQ_INT(r.status, 202);
    ASSERT_EQ_STR(r.body, "{\"event_id\":\"evt-2026-0001\"}");
    fx_resp_free(&r);
    char key[128], type[64];
    Baton__V1__Envelope *e = fx_reader_next(rd, 10000, key, sizeof key, type, sizeof type);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_STR(key, "acme/ENC9");
    ASSERT_EQ_STR(type, "order.discharge");
    ASSERT_EQ_STR(e->id, "evt-2026-0001");
    ASSERT_EQ_STR(e->tenant, "acme");
    ASSERT_EQ_STR(e->facility, "F1");
    ASSERT_EQ_STR(e->unit, "4W");
    ASSERT_EQ_STR(e->producer, "ingest");
    ASSERT_EQ_STR(e->traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    ASSERT_EQ_INT(e->schema_version, 1);
    ASSERT_EQ_INT(e->body_case, BATON__V1__ENVELOPE__BODY_CLINICAL);
    ASSERT_EQ_STR(e->clinical->source, "json");
    ASSERT_EQ_STR(e->clinical->encounter, "ENC9");
    ASSERT_EQ_INT(e->clinical->n_attributes, 2);
    baton_kafka_envelope_free(e);
    ASSERT_EQ_INT(fx_reader_drain(rd, 500), 0);
    fx_reader_free(rd);
}

TEST(ingest_events_id_minted_when_absent)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    fx_post(&f, "/v1/events", FX_KEY_EVENTS, "application/json",
            "{\"type\":\"adt.admit\",\"tenant\":\"acme\",\"patient\":\"P1\","
            "\"occurred_at\":\"2026-11-21T10:00:00Z\"}",
            &r);
    ASSERT_EQ_INT(r.status, 202);
    json_t *j = fx_json(&r);
    const char *id = fx_jstr(j, "event_id");
    ASSERT_NOT_NULL(id);
    ASSERT_EQ_INT(strlen(id), 36);
    ASSERT_EQ_INT(id[14], '7'); /* UUIDv7 */
    json_decref(j);
    fx_resp_free(&r);
}

TEST(ingest_events_validation_errors)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    /* bad type, missing occurred_at, unknown member, attribute of the wrong kind */
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json",
            "{\"type\":\"Discharge\",\"tenant\":\"acme\",\"patient\":\"P1\",\"bogus\":1,"
            "\"attributes\":{\"x\":[1]}}",
            &r);
    fx_assert_problem(&r, 422, "invalid-event", "/type");
    fx_assert_problem(&r, 422, "invalid-event", "/occurred_at");
    fx_assert_problem(&r, 422, "invalid-event", "/bogus");
    fx_assert_problem(&r, 422, "invalid-event", "/attributes/x");
    json_t *j = fx_json(&r);
    ASSERT_EQ_STR(fx_jstr(j, "title"), "Invalid event");
    json_decref(j);
    /* nothing echoes the value */
    ASSERT_TRUE(strstr(r.body, "Discharge") == NULL);
    fx_resp_free(&r);
    /* neither patient nor encounter */
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json",
            "{\"type\":\"adt.admit\",\"tenant\":\"acme\",\"occurred_at\":\"2026-11-21T10:00:00Z\"}",
            &r);
    fx_assert_problem(&r, 422, "invalid-event", "/patient");
    fx_resp_free(&r);
    /* Idempotency-Key and body id disagree */
    const char *hs[] = {"Authorization: Bearer " FX_KEY_ALL, "Content-Type: application/json",
                        "Idempotency-Key: other-key", NULL};
    const char *b = EVENT("evt-a");
    fx_http(&f, "POST", "/v1/events", hs, b, strlen(b), &r);
    fx_assert_problem(&r, 422, "invalid-event", "/id");
    fx_resp_free(&r);
}

TEST(ingest_events_malformed_and_media_type)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", "{\"type\": ", &r);
    fx_assert_problem(&r, 400, "malformed-json", "");
    fx_resp_free(&r);
    fx_post(&f, "/v1/events", FX_KEY_ALL, "text/xml", "<event/>", &r);
    fx_assert_problem(&r, 415, "unsupported-media-type", NULL);
    fx_resp_free(&r);
}

TEST(ingest_events_too_large)
{
    fx_t f;
    const char *extra[] = {"BATON_HTTP_MAX_BODY=200000", NULL};
    fx_start(&f, extra);
    fx_resp_t r;
    /* over the 64 KiB canonical limit but under the server's */
    size_t n = 70000;
    char *big = baton_xmalloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"type\":\"a.b\"", 13);
    big[n - 1] = '}';
    big[n] = '\0';
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", big, &r);
    fx_assert_problem(&r, 413, "too-large", NULL);
    fx_resp_free(&r);
    free(big);
    /* over the server's limit */
    n = 300000;
    big = baton_xmalloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", big, &r);
    ASSERT_EQ_INT(r.status, 413);
    fx_resp_free(&r);
    free(big);
}

TEST(ingest_events_tenant_mismatch_403)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    fx_resp_t r;
    fx_post(&f, "/v1/events", FX_KEY_OTHER, "application/json", EVENT("evt-x"), &r);
    fx_assert_problem(&r, 403, "tenant-forbidden", "/tenant");
    fx_resp_free(&r);
    ASSERT_EQ_INT(fx_reader_drain(rd, 500), 0);
    fx_reader_free(rd);
}

TEST(ingest_events_idempotent_same_id)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    fx_resp_t a, b;
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", EVENT("evt-dup-1"), &a);
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", EVENT("evt-dup-1"), &b);
    ASSERT_EQ_INT(a.status, 202);
    ASSERT_EQ_INT(b.status, a.status);
    ASSERT_EQ_STR(b.body, a.body);
    ASSERT_EQ_STR(fx_header(&b, "Idempotent-Replayed"), "true");
    fx_resp_free(&a);
    fx_resp_free(&b);
    /* Idempotency-Key header with a body without id */
    const char *hs[] = {"Authorization: Bearer " FX_KEY_ALL, "Content-Type: application/json",
                        "Idempotency-Key: key-77", NULL};
    const char *body = "{\"type\":\"adt.admit\",\"tenant\":\"acme\",\"patient\":\"P1\","
                       "\"occurred_at\":\"2026-11-21T10:00:00Z\"}";
    fx_http(&f, "POST", "/v1/events", hs, body, strlen(body), &a);
    fx_http(&f, "POST", "/v1/events", hs, body, strlen(body), &b);
    ASSERT_EQ_INT(a.status, 202);
    ASSERT_EQ_STR(a.body, "{\"event_id\":\"key-77\"}");
    ASSERT_EQ_STR(b.body, a.body);
    fx_resp_free(&a);
    fx_resp_free(&b);
    ASSERT_EQ_INT(fx_reader_drain(rd, 1500), 2);
    fx_reader_free(rd);
}

typedef struct {
    fx_t *f;
    fx_resp_t r;
} conc_t;

static void *conc_post(void *arg)
{
    conc_t *c = arg;
    fx_post(c->f, "/v1/events", FX_KEY_ALL, "application/json", EVENT("evt-race-1"), &c->r);
    return NULL;
}

TEST(ingest_events_idempotent_concurrent)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    enum { N = 8 };
    conc_t c[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        c[i].f = &f;
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, conc_post, &c[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ_INT(c[i].r.status, 202);
        ASSERT_EQ_STR(c[i].r.body, "{\"event_id\":\"evt-race-1\"}");
        fx_resp_free(&c[i].r);
    }
    ASSERT_EQ_INT(fx_reader_drain(rd, 1500), 1);
    fx_reader_free(rd);
}

TEST(ingest_events_ndjson_batch)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    fx_resp_t r;
    const char *body =
        EVENT("b-1") "\n"
                     "\n" EVENT("b-2") "\r\n"
                                       "{\"type\":\"BAD\",\"tenant\":\"acme\",\"patient\":\"p\","
                                       "\"occurred_at\":\"2026-11-21T10:00:00Z\"}\n"
                                       "{not json\n" EVENT("b-1") "\n";
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/x-ndjson", body, &r);
    ASSERT_EQ_INT(r.status, 207);
    json_t *j = fx_json(&r);
    ASSERT_EQ_INT(fx_jint(j, "accepted"), 3);
    ASSERT_EQ_INT(fx_jint(j, "rejected"), 2);
    ASSERT_EQ_INT(fx_jint(j, "results/0/line"), 1);
    ASSERT_EQ_INT(fx_jint(j, "results/0/status"), 202);
    ASSERT_EQ_STR(fx_jstr(j, "results/0/event_id"), "b-1");
    ASSERT_EQ_INT(fx_jint(j, "results/1/line"), 3); /* blank line 2 skipped, numbers kept */
    ASSERT_EQ_STR(fx_jstr(j, "results/1/event_id"), "b-2");
    ASSERT_EQ_INT(fx_jint(j, "results/2/line"), 4);
    ASSERT_EQ_INT(fx_jint(j, "results/2/status"), 422);
    ASSERT_EQ_STR(fx_jstr(j, "results/2/type"), "urn:baton:problem:invalid-event");
    ASSERT_EQ_STR(fx_jstr(j, "results/2/errors/0/pointer"), "/type");
    ASSERT_EQ_INT(fx_jint(j, "results/3/status"), 400);
    ASSERT_EQ_STR(fx_jstr(j, "results/3/type"), "urn:baton:problem:malformed-json");
    ASSERT_EQ_INT(fx_jint(j, "results/4/status"), 202); /* b-1 again: same answer */
    ASSERT_EQ_STR(fx_jstr(j, "results/4/event_id"), "b-1");
    json_decref(j);
    fx_resp_free(&r);
    ASSERT_EQ_INT(fx_reader_drain(rd, 1500), 2);
    /* all valid: 202; already-known ids answered alike and not written again */
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/x-ndjson",
            EVENT("b-3") "\n" EVENT("b-2") "\n", &r);
    ASSERT_EQ_INT(r.status, 202);
    j = fx_json(&r);
    ASSERT_EQ_INT(fx_jint(j, "accepted"), 2);
    ASSERT_EQ_STR(fx_jstr(j, "results/1/event_id"), "b-2");
    json_decref(j);
    fx_resp_free(&r);
    ASSERT_EQ_INT(fx_reader_drain(rd, 1500), 1);
    fx_reader_free(rd);
}

TEST(ingest_events_ndjson_limits)
{
    fx_t f;
    const char *extra[] = {"BATON_NDJSON_MAX_LINES=3", NULL};
    fx_start(&f, extra);
    fx_resp_t r;
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/x-ndjson",
            EVENT("l-1") "\n" EVENT("l-2") "\n" EVENT("l-3") "\n" EVENT("l-4") "\n", &r);
    fx_assert_problem(&r, 413, "too-many-lines", NULL);
    fx_resp_free(&r);
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/x-ndjson", "\n  \n", &r);
    fx_assert_problem(&r, 400, "empty-batch", NULL);
    fx_resp_free(&r);
    const char *hs[] = {"Authorization: Bearer " FX_KEY_ALL, "Content-Type: application/x-ndjson",
                        "Idempotency-Key: k1", NULL};
    const char *b = EVENT("l-1") "\n";
    fx_http(&f, "POST", "/v1/events", hs, b, strlen(b), &r);
    fx_assert_problem(&r, 400, "idempotency-key-not-allowed", NULL);
    fx_resp_free(&r);
}
