/* test_notifier_it — baton-notifier against real redis-server, baton-devkafka and local
 * receivers: webhook deliveries, retries, dead letters, replays, crashes and shutdown.
 * Requests go in on baton.notify.v1; what the receivers got, the receipts on
 * baton.lifecycle.v1 and the dead letters on baton.dlq.v1 are checked exactly.
 * (Channels, bundling and quiet hours: test_notifier_it_channels.c, same executable.) */
#include "nit_util.h"
#include "test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static nit_recs_t recs; /* big: not on the stack */
static nit_sink_t sink;

#define url(path) nit_webhook_contact(&sink, path)
#define person_webhook(e, id, path) nit_person_webhook(e, &sink, id, path)
#define hit_for(id, nth) nit_hit_for(&sink, id, nth)
#define hits_for(id) nit_hits_for(&sink, id)
#define hmac_hex nit_hmac_hex
#define expect_receipt_id nit_expect_receipt_id

TEST(notifier_it_webhook_exact_body_signature_receipt)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    nit_svc_start(&e, &s, "notifier", NULL);
    person_webhook(&e, "p1", "/ok/1");
    const int64_t created = 1795000000123LL;
    nit_req_t r = {.id = "n-exact-1", .person = "p1", .created_at_ms = created, .key = "t1/enc-9"};
    nit_request(&e, &r, 1);
    memset(&recs, 0, sizeof recs);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-exact-1", DELIVERED, 10000), 0);
    ASSERT_EQ_INT(nit_sink_count(&sink, "/ok/", NULL), 1);
    const nit_hit_t *h = hit_for("n-exact-1", 0);
    ASSERT_NOT_NULL(h);
    char ts[BATON_RFC3339_LEN];
    ASSERT_EQ_INT(baton_time_format(created, ts, sizeof ts), 0);
    char *want = baton_xasprintf(
        "{\"id\":\"n-exact-1\",\"kind\":\"assigned\",\"person\":\"p1\",\"task_id\":\"task-42\","
        "\"instance_id\":\"inst-7\",\"pathway\":\"discharge\",\"stage\":\"med_rec\",\"level\":0,"
        "\"text\":\"New task: Medication reconciliation (Discharge). Task task-42.\","
        "\"created_at\":\"%s\"}",
        ts);
    ASSERT_EQ_STR(h->body, want);
    char sig[96];
    hmac_hex(want, sig, sizeof sig);
    ASSERT_EQ_STR(h->signature, sig);
    ASSERT_EQ_STR(h->content_type, "application/json");
    ASSERT_TRUE(strstr(h->body, "Dr Person") == NULL); /* no names in the text */
    free(want);
    const nit_rec_t *rc = nit_find(&recs, "n-exact-1", DELIVERED, 1);
    ASSERT_NOT_NULL(rc);
    expect_receipt_id(rc, "n-exact-1", "delivered", 1);
    ASSERT_EQ_STR(rc->key, "t1/enc-9");
    ASSERT_EQ_STR(rc->channel, "webhook");
    ASSERT_EQ_STR(rc->instance_id, "inst-7"); /* the audit files the receipt under both */
    ASSERT_EQ_STR(rc->task_id, "task-42");
    ASSERT_EQ_STR(rc->bundle_id, "");
    ASSERT_TRUE(rc->latency_ms > 0);

    /* a replay of the same request (same notification id) is not sent again */
    nit_request(&e, &r, 1);
    /* a malformed value and an unknown person are dead-lettered with their reason */
    nit_produce_raw(&e, "t1/enc-x", "\xff\xfe not protobuf", 15);
    nit_req_t ghost = {.id = "n-ghost-1", .person = "nobody"};
    nit_request(&e, &ghost, 1);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-ghost-1", DEAD, 10000), 0);
    ASSERT_EQ_INT(nit_wait_dlq(&e, &recs, "n-ghost-1", 5000), 0);
    nit_read(&e, &recs, 1000);
    ASSERT_EQ_INT(hits_for("n-exact-1"), 1);
    ASSERT_EQ_INT(nit_count(&recs, "n-exact-1", DELIVERED), 1);
    ASSERT_EQ_INT(nit_metric(&s, "baton_notifier_requests_total{result=\"duplicate\"}"), 1);
    ASSERT_EQ_INT(nit_count_dlq(&recs, "n-ghost-1"), 1);
    int malformed = 0;
    for (int i = 0; i < recs.n; i++)
        if (recs.r[i].dlq && strncmp(recs.r[i].reason, "malformed: ", 11) == 0) {
            malformed++;
            ASSERT_EQ_INT(recs.r[i].payload_len, 15);
            ASSERT_EQ_STR(recs.r[i].key, "t1/enc-x");
        }
    ASSERT_EQ_INT(malformed, 1);
    for (int i = 0; i < recs.n; i++)
        if (recs.r[i].dlq && strcmp(recs.r[i].notification_id, "n-ghost-1") == 0)
            ASSERT_EQ_STR(recs.r[i].reason, "unknown person");
    ASSERT_EQ_INT(nit_metric(&s, "baton_notifier_deliveries_total{channel=\"webhook\","
                                 "outcome=\"delivered\"}"),
                  1);
    nit_svc_stop_clean(&s);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

TEST(notifier_it_webhook_fails_twice_then_delivered)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    nit_svc_start(&e, &s, "notifier", NULL);
    person_webhook(&e, "p1", "/fail/2");
    nit_req_t r = {.id = "n-retry-1", .person = "p1"};
    nit_request(&e, &r, 1);
    memset(&recs, 0, sizeof recs);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-retry-1", DELIVERED, 15000), 0);
    nit_read(&e, &recs, 300);
    ASSERT_EQ_INT(hits_for("n-retry-1"), 3);
    ASSERT_EQ_INT(nit_count(&recs, "n-retry-1", FAILED), 2);
    for (int a = 1; a <= 2; a++) {
        const nit_rec_t *f = nit_find(&recs, "n-retry-1", FAILED, a);
        ASSERT_NOT_NULL(f);
        ASSERT_EQ_STR(f->error, "http 503");
        expect_receipt_id(f, "n-retry-1", "failed", a);
    }
    const nit_rec_t *d = nit_find(&recs, "n-retry-1", DELIVERED, 3);
    ASSERT_NOT_NULL(d);
    ASSERT_EQ_INT(nit_count(&recs, "n-retry-1", DELIVERED), 1);
    ASSERT_EQ_INT(nit_count_dlq(&recs, "n-retry-1"), 0);
    /* backoff: base 100 ms, equal jitter → the retries are at least 50 + 100 ms apart */
    const nit_hit_t *h0 = hit_for("n-retry-1", 0), *h2 = hit_for("n-retry-1", 2);
    ASSERT_TRUE(h2->at_ms - h0->at_ms >= 150);
    /* ... and retried when due, not later (backoff max 400 ms: two retries well under 2 s) */
    if (h2->at_ms - h0->at_ms > 2000)
        TEST_FAIL("retries took %lld ms", (long long)(h2->at_ms - h0->at_ms));
    ASSERT_EQ_INT(nit_metric(&s, "baton_notifier_attempts_total{channel=\"webhook\"}"), 3);
    nit_svc_stop_clean(&s);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

TEST(notifier_it_webhook_500_forever_dead_lettered)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    nit_svc_start(&e, &s, "notifier", NULL);
    person_webhook(&e, "p1", "/status/1");
    nit_req_t r = {.id = "n-500-1", .person = "p1", .key = "t1/enc-5"};
    nit_request(&e, &r, 1);
    memset(&recs, 0, sizeof recs);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-500-1", DEAD, 15000), 0);
    ASSERT_EQ_INT(nit_wait_dlq(&e, &recs, "n-500-1", 5000), 0);
    nit_read(&e, &recs, 800);
    ASSERT_EQ_INT(hits_for("n-500-1"), 4); /* BATON_NOTIFIER_MAX_ATTEMPTS=4 */
    ASSERT_EQ_INT(nit_count(&recs, "n-500-1", FAILED), 3);
    const nit_rec_t *d = nit_find(&recs, "n-500-1", DEAD, 4);
    ASSERT_NOT_NULL(d);
    ASSERT_EQ_STR(d->error, "http 500");
    ASSERT_EQ_INT(nit_count_dlq(&recs, "n-500-1"), 1);
    for (int i = 0; i < recs.n; i++) {
        const nit_rec_t *x = &recs.r[i];
        if (!x->dlq)
            continue;
        ASSERT_EQ_STR(x->reason, "webhook delivery failed after 4 attempts: http 500");
        ASSERT_EQ_INT(x->attempts, 4);
        ASSERT_EQ_STR(x->key, "t1/enc-5");
        char want[BATON_ID_LEN];
        baton_derived_id("n-500-1", "request-envelope", want);
        ASSERT_EQ_STR(x->original_event_id, want);
        ASSERT_TRUE(x->payload_len > 0);
    }
    ASSERT_EQ_INT(nit_metric(&s, "baton_notifier_dlq_total{reason=\"max_attempts\"}"), 1);
    /* finished: nothing left in the schedule; a replay is dropped */
    redisReply *rep = NULL;
    ASSERT_EQ_INT(baton_redis_command(e.r, &rep, "ZCARD baton:notify:{q}:due"), 0);
    ASSERT_EQ_INT(rep->integer, 0);
    freeReplyObject(rep);
    ASSERT_EQ_INT(baton_redis_command(e.r, &rep, "GET baton:notify:{q}:done:n-500-1"), 0);
    ASSERT_EQ_STR(rep->str, "dead_lettered");
    freeReplyObject(rep);
    nit_svc_stop_clean(&s);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

TEST(notifier_it_webhook_hang_times_out_dead_lettered)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    char *extra[] = {"BATON_NOTIFIER_MAX_ATTEMPTS=2", NULL};
    nit_svc_start(&e, &s, "notifier", extra);
    person_webhook(&e, "p1", "/hang/1");
    person_webhook(&e, "p2", "/ok/2");
    nit_req_t r[] = {{.id = "n-hang-1", .person = "p1"}, {.id = "n-ok-2", .person = "p2"}};
    nit_request(&e, r, 2);
    memset(&recs, 0, sizeof recs);
    /* a hanging receiver blocks nothing else */
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-ok-2", DELIVERED, 5000), 0);
    ASSERT_EQ_INT(nit_count(&recs, "n-hang-1", -1), 0);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-hang-1", DEAD, 15000), 0);
    ASSERT_EQ_INT(nit_wait_dlq(&e, &recs, "n-hang-1", 5000), 0);
    nit_read(&e, &recs, 300);
    ASSERT_EQ_INT(nit_count_dlq(&recs, "n-hang-1"), 1);
    const nit_rec_t *f = nit_find(&recs, "n-hang-1", FAILED, 1);
    ASSERT_NOT_NULL(f);
    ASSERT_EQ_STR(f->error, "timeout");
    const nit_rec_t *d = nit_find(&recs, "n-hang-1", DEAD, 2);
    ASSERT_NOT_NULL(d);
    ASSERT_EQ_STR(d->error, "timeout");
    ASSERT_EQ_INT(hits_for("n-hang-1"), 2);
    nit_svc_stop_clean(&s);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

TEST(notifier_it_sigkill_mid_delivery_nothing_lost_no_second_delivery)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    char *extra[] = {"BATON_NOTIFIER_ENDPOINT_CONCURRENCY=4", "BATON_NOTIFIER_LEASE=2000", NULL};
    nit_svc_start(&e, &s, "notifier-1", extra);
    person_webhook(&e, "p1", "/slow/1");
    enum { N = 40 };
    static char ids[N][32];
    nit_req_t r[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "n-kill-%02d", i);
        r[i] = (nit_req_t){.id = ids[i], .person = "p1"};
    }
    nit_request(&e, r, N);
    memset(&recs, 0, sizeof recs);
    int64_t end = baton_mono_ms() + 15000;
    int delivered = 0;
    while (delivered < 8 && baton_mono_ms() < end) {
        nit_read(&e, &recs, 20);
        delivered = 0;
        for (int i = 0; i < N; i++)
            delivered += nit_count(&recs, ids[i], DELIVERED) > 0;
    }
    ASSERT_TRUE(delivered >= 8);
    ASSERT_EQ_INT(harness_kill(s.pid, SIGKILL), 0);
    ASSERT_EQ_INT(harness_wait_exit(s.pid, 5000, NULL), 0);
    bool receipted[N];
    for (int i = 0; i < N; i++)
        receipted[i] = nit_count(&recs, ids[i], DELIVERED) > 0;
    ASSERT_TRUE(delivered < N); /* killed mid-way */
    nit_svc_start(&e, &s, "notifier-2", extra);
    end = baton_mono_ms() + 30000;
    int all = 0;
    while (all < N && baton_mono_ms() < end) {
        nit_read(&e, &recs, 50);
        all = 0;
        for (int i = 0; i < N; i++)
            all += nit_count(&recs, ids[i], DELIVERED) > 0;
    }
    ASSERT_EQ_INT(all, N); /* nothing lost */
    nit_read(&e, &recs, 500);
    int twice = 0;
    for (int i = 0; i < N; i++) {
        int h = hits_for(ids[i]);
        if (h < 1)
            TEST_FAIL("%s never reached the receiver", ids[i]);
        if (receipted[i] && h != 1)
            TEST_FAIL("%s had a DELIVERED receipt before the crash and was sent %d times", ids[i],
                      h);
        twice += h > 1;
    }
    ASSERT_TRUE(twice <= 4); /* at most what was in flight at the crash (concurrency 4) */
    nit_svc_stop_clean(&s);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

TEST(notifier_it_sigterm_lets_in_flight_deliveries_finish)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    nit_svc_start(&e, &s, "notifier", NULL);
    person_webhook(&e, "p1", "/slow/1");
    nit_req_t r[] = {{.id = "n-term-1", .person = "p1"},
                     {.id = "n-term-2", .person = "p1"},
                     {.id = "n-term-3", .person = "p1"}};
    nit_request(&e, r, 3);
    /* the receiver has them (it answers after 300 ms): stop the service now */
    ASSERT_EQ_INT(nit_sink_wait(&sink, "/slow/", NULL, 3, 10000), 0);
    nit_svc_stop_clean(&s);
    memset(&recs, 0, sizeof recs);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, r[i].id, DELIVERED, 10000), 0);
        ASSERT_EQ_INT(hits_for(r[i].id), 1);
    }
    redisReply *rep = NULL;
    ASSERT_EQ_INT(baton_redis_command(e.r, &rep, "ZCARD baton:notify:{q}:due"), 0);
    ASSERT_EQ_INT(rep->integer, 0);
    freeReplyObject(rep);
    ASSERT_EQ_INT(baton_redis_command(e.r, &rep, "HLEN baton:notify:{q}:outbox"), 0);
    ASSERT_EQ_INT(rep->integer, 0);
    freeReplyObject(rep);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

TEST(notifier_it_outbox_left_by_a_crash_is_sent_at_start)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    /* what a crash between writing an outcome and Kafka's ack leaves behind */
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    Baton__V1__NotificationReceipt rc = BATON__V1__NOTIFICATION_RECEIPT__INIT;
    char id[BATON_ID_LEN];
    baton_derived_id("n-left-1", "receipt:delivered:1", id);
    env.id = id;
    env.type = "notification.receipt";
    env.tenant = NIT_TENANT;
    env.correlation_key = "t1/enc-3";
    env.producer = "notifier";
    env.schema_version = 1;
    rc.notification_id = "n-left-1";
    rc.person = "p1";
    rc.channel = "webhook";
    rc.outcome = DELIVERED;
    rc.attempts = 1;
    env.body_case = BATON__V1__ENVELOPE__BODY_NOTIFICATION_RECEIPT;
    env.notification_receipt = &rc;
    uint8_t *packed = NULL;
    size_t len = 0;
    ASSERT_EQ_INT(baton_kafka_envelope_pack(&env, &packed, &len), 0);
    baton_buf_t val = BATON_BUF_INIT;
    baton_buf_append(&val, BATON_TOPIC_LIFECYCLE, strlen(BATON_TOPIC_LIFECYCLE) + 1);
    baton_buf_append(&val, packed, len);
    redisReply *rep = NULL;
    ASSERT_EQ_INT(
        baton_redis_command(e.r, &rep, "HSET baton:notify:{q}:outbox %s %b", id, val.data, val.len),
        0);
    freeReplyObject(rep);
    nit_svc_start(&e, &s, "notifier", NULL);
    memset(&recs, 0, sizeof recs);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-left-1", DELIVERED, 10000), 0);
    const nit_rec_t *r = nit_find(&recs, "n-left-1", DELIVERED, 1);
    ASSERT_EQ_STR(r->env_id, id);
    ASSERT_EQ_STR(r->key, "t1/enc-3");
    int64_t end = baton_mono_ms() + 5000;
    long long left = -1;
    while (baton_mono_ms() < end && left != 0) {
        ASSERT_EQ_INT(baton_redis_command(e.r, &rep, "HLEN baton:notify:{q}:outbox"), 0);
        left = rep->integer;
        freeReplyObject(rep);
        usleep(50000);
    }
    ASSERT_EQ_INT(left, 0);
    free(packed);
    baton_buf_free(&val);
    nit_svc_stop_clean(&s);
    nit_env_stop(&e);
}

/* Every id gets its DELIVERED receipt, and exactly one webhook and one such receipt each. */
static void each_delivered_once(nit_env_t *e, char (*ids)[32], int n)
{
    memset(&recs, 0, sizeof recs);
    for (int i = 0; i < n; i++)
        ASSERT_EQ_INT(nit_wait_receipt(e, &recs, ids[i], DELIVERED, 20000), 0);
    nit_read(e, &recs, 500);
    for (int i = 0; i < n; i++) {
        ASSERT_EQ_INT(hits_for(ids[i]), 1);
        ASSERT_EQ_INT(nit_count(&recs, ids[i], DELIVERED), 1);
    }
}

TEST(notifier_it_two_instances_share_the_queue_exactly_once)
{
    nit_env_t e;
    nit_svc_t a, b;
    nit_env_start(&e);
    nit_sink_start(&sink);
    char *extra[] = {"BATON_NOTIFIER_ENDPOINT_CONCURRENCY=4", NULL};
    nit_svc_start(&e, &a, "notifier-a", extra);
    nit_svc_start(&e, &b, "notifier-b", extra);
    person_webhook(&e, "p1", "/slow/1");
    enum { N = 24 };
    static char ids[N][32], keys[N][32];
    nit_req_t r[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "n-two-%02d", i);
        snprintf(keys[i], sizeof keys[i], "t1/enc-%d", i);
        r[i] = (nit_req_t){.id = ids[i], .person = "p1", .key = keys[i]};
    }
    nit_request(&e, r, N);
    each_delivered_once(&e, ids, N);
    const char *series =
        "baton_notifier_deliveries_total{channel=\"webhook\",outcome=\"delivered\"}";
    ASSERT_EQ_INT(nit_metric(&a, series) + nit_metric(&b, series), N);
    nit_svc_stop_clean(&a);
    nit_svc_stop_clean(&b);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

/* Many requests in one consumed batch (one accept script call), each id twice in a row: the
 * second of each is a duplicate; every one is delivered once, and the outcomes written
 * together (one MULTI/EXEC) each get their receipt. */
TEST(notifier_it_batch_with_repeated_ids_each_delivered_once)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    nit_svc_start(&e, &s, "notifier", NULL);
    person_webhook(&e, "p1", "/ok/batch");
    enum { N = 40 };
    static char ids[N][32];
    nit_req_t r[2 * N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "n-batch-%02d", i);
        r[2 * i] = r[2 * i + 1] = (nit_req_t){.id = ids[i], .person = "p1"}; /* one partition */
    }
    nit_request(&e, r, 2 * N);
    each_delivered_once(&e, ids, N);
    ASSERT_EQ_INT(nit_metric(&s, "baton_notifier_requests_total{result=\"accepted\"}"), N);
    ASSERT_EQ_INT(nit_metric(&s, "baton_notifier_requests_total{result=\"duplicate\"}"), N);
    nit_svc_stop_clean(&s);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

TEST_MAIN()
