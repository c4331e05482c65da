/* test_kafka — the pure parts of libs/kafka: configuration passthrough, standard headers,
 * envelope round trip, and the producer's errors with no broker at all. */
#include "baton/kafka.h"
#include "test.h"
#include "test_kafka_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

TEST(kafka_conf_env_passthrough)
{
    setenv("BATON_KAFKA_SECURITY_PROTOCOL", "plaintext", 1);
    setenv("BATON_KAFKA_LINGER_MS", "7", 1);
    setenv("BATON_KAFKA_BOOTSTRAP", "elsewhere:1", 1);
    baton_kafka_conf_t *conf = baton_kafka_conf_new("127.0.0.1:9092");
    char err[256] = "";
    ASSERT_EQ_INT(baton_kafka_conf_set_from_env(conf, err, sizeof err), 0);
    ASSERT_EQ_STR(baton_kafka_conf_get(conf, "security.protocol"), "plaintext");
    ASSERT_EQ_STR(baton_kafka_conf_get(conf, "linger.ms"), "7");
    /* BATON_KAFKA_BOOTSTRAP is the service's bootstrap option, not a property */
    ASSERT_EQ_STR(baton_kafka_conf_get(conf, "bootstrap.servers"), "127.0.0.1:9092");
    ASSERT_NULL(baton_kafka_conf_get(conf, "bootstrap"));
    baton_kafka_conf_free(conf);
    unsetenv("BATON_KAFKA_SECURITY_PROTOCOL");
    unsetenv("BATON_KAFKA_LINGER_MS");
    unsetenv("BATON_KAFKA_BOOTSTRAP");
}

TEST(kafka_conf_env_unknown_property_names_variable)
{
    setenv("BATON_KAFKA_NO_SUCH_THING", "1", 1);
    baton_kafka_conf_t *conf = baton_kafka_conf_new("127.0.0.1:9092");
    char err[256] = "";
    ASSERT_EQ_INT(baton_kafka_conf_set_from_env(conf, err, sizeof err), BATON_EINVAL);
    ASSERT_CONTAINS(err, "BATON_KAFKA_NO_SUCH_THING");
    ASSERT_CONTAINS(err, "no.such.thing");
    baton_kafka_conf_free(conf);
    unsetenv("BATON_KAFKA_NO_SUCH_THING");
}

TEST(kafka_conf_set_checks_and_replaces)
{
    baton_kafka_conf_t *conf = baton_kafka_conf_new(NULL);
    ASSERT_NULL(baton_kafka_conf_get(conf, "bootstrap.servers"));
    ASSERT_EQ_INT(baton_kafka_conf_set(conf, "linger.ms", "not-a-number"), BATON_EINVAL);
    ASSERT_EQ_INT(baton_kafka_conf_set(conf, "no.such.property", "1"), BATON_EINVAL);
    ASSERT_NULL(baton_kafka_conf_get(conf, "linger.ms"));
    ASSERT_EQ_INT(baton_kafka_conf_set(conf, "linger.ms", "5"), 0);
    ASSERT_EQ_INT(baton_kafka_conf_set(conf, "linger.ms", "6"), 0);
    ASSERT_EQ_STR(baton_kafka_conf_get(conf, "linger.ms"), "6");
    ASSERT_EQ_INT(baton_kafka_conf_set(conf, "bootstrap.servers", "h:1"), 0);
    ASSERT_EQ_STR(baton_kafka_conf_get(conf, "bootstrap.servers"), "h:1");
    baton_kafka_conf_free(conf);
}

static const char *hval(const baton_kafka_std_headers_t *h, const char *name, char *buf)
{
    for (size_t i = 0; i < h->count; i++) {
        if (strcmp(h->h[i].name, name) == 0) {
            memcpy(buf, h->h[i].value, h->h[i].len);
            buf[h->h[i].len] = '\0';
            return buf;
        }
    }
    return NULL;
}

TEST(kafka_std_headers)
{
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    env.type = "task.assigned";
    env.schema_version = 1;
    env.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    baton_kafka_std_headers_t h;
    char buf[128];
    baton_kafka_std_headers(&env, &h);
    ASSERT_EQ_INT(h.count, 4);
    ASSERT_EQ_STR(h.h[0].name, "content-type");
    ASSERT_EQ_STR(hval(&h, "content-type", buf), "application/x-protobuf");
    ASSERT_EQ_STR(hval(&h, "event-type", buf), "task.assigned");
    ASSERT_EQ_STR(hval(&h, "schema-version", buf), "1");
    ASSERT_EQ_STR(hval(&h, "traceparent", buf), env.traceparent);

    env.traceparent = ""; /* not set: no header at all */
    env.schema_version = 12;
    baton_kafka_std_headers(&env, &h);
    ASSERT_EQ_INT(h.count, 3);
    ASSERT_NULL(hval(&h, "traceparent", buf));
    ASSERT_EQ_STR(hval(&h, "schema-version", buf), "12");
}

TEST(kafka_envelope_round_trip)
{
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    Baton__V1__ClinicalEvent ce = BATON__V1__CLINICAL_EVENT__INIT;
    Baton__V1__ClinicalEvent__AttributesEntry a1 =
        BATON__V1__CLINICAL_EVENT__ATTRIBUTES_ENTRY__INIT;
    Baton__V1__ClinicalEvent__AttributesEntry *attrs[] = {&a1};
    a1.key = "disposition";
    a1.value = "snf";
    ce.event_type = "order.discharge";
    ce.encounter = "ENC9";
    ce.n_attributes = 1;
    ce.attributes = attrs;
    env.id = "evt-1";
    env.type = "order.discharge";
    env.tenant = "acme";
    env.correlation_key = "acme/ENC9";
    env.occurred_at_ms = 1795000000123;
    env.schema_version = 1;
    env.body_case = BATON__V1__ENVELOPE__BODY_CLINICAL;
    env.clinical = &ce;

    uint8_t *buf;
    size_t len;
    ASSERT_EQ_INT(baton_kafka_envelope_pack(&env, &buf, &len), 0);
    ASSERT_TRUE(len > 20);
    char err[128] = "";
    Baton__V1__Envelope *back = baton_kafka_envelope_unpack(buf, len, err, sizeof err);
    ASSERT_NOT_NULL(back);
    ASSERT_EQ_STR(back->id, "evt-1");
    ASSERT_EQ_STR(back->correlation_key, "acme/ENC9");
    ASSERT_EQ_INT(back->occurred_at_ms, 1795000000123LL);
    ASSERT_EQ_INT(back->body_case, BATON__V1__ENVELOPE__BODY_CLINICAL);
    ASSERT_EQ_STR(back->clinical->event_type, "order.discharge");
    ASSERT_EQ_INT(back->clinical->n_attributes, 1);
    ASSERT_EQ_STR(back->clinical->attributes[0]->value, "snf");
    baton_kafka_envelope_free(back);
    free(buf);

    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    ASSERT_NULL(baton_kafka_envelope_unpack(junk, sizeof junk, err, sizeof err));
    ASSERT_CONTAINS(err, "not a baton.v1.Envelope");
}

TEST(kafka_producer_needs_bootstrap)
{
    baton_kafka_conf_t *conf = baton_kafka_conf_new(NULL);
    char err[256] = "";
    ASSERT_NULL(baton_kafka_producer_new(conf, err, sizeof err));
    ASSERT_CONTAINS(err, "bootstrap");
    ASSERT_NULL(baton_kafka_consumer_new(conf, "g", err, sizeof err));
    baton_kafka_conf_free(conf);
}

/* A loopback port nobody listens on (bound, never listened, kept open while the test runs). */
static int dead_port(int *fd_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ_INT(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *fd_out = fd;
    return ntohs(a.sin_port);
}

TEST(kafka_producer_no_broker_unavailable_and_queue_full)
{
    int fd, port = dead_port(&fd);
    char bs[64], err[256] = "";
    snprintf(bs, sizeof bs, "127.0.0.1:%d", port);
    baton_kafka_conf_t *conf = baton_kafka_conf_new(bs);
    ASSERT_EQ_INT(baton_kafka_conf_set(conf, "queue.buffering.max.messages", "1"), 0);
    tk_logs_t logs;
    tk_logs_init(&logs);
    baton_kafka_conf_set_log_cb(conf, tk_log_cb, &logs);
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    ASSERT_NOT_NULL(p);

    baton_kafka_record_t rec = {
        .topic = "baton.inbound.v1", .key = "k", .key_len = 1, .value = "v", .value_len = 1};
    int64_t t0 = baton_mono_ms();
    int rc = baton_kafka_produce_sync(p, &rec, 2500, err, sizeof err);
    int64_t took = baton_mono_ms() - t0;
    ASSERT_EQ_INT(rc, BATON_EUNAVAIL); /* statistics / errors have shown no broker up */
    ASSERT_TRUE(took >= 2400 && took < 4000);

    /* that message is still queued (timeout 30 s): the queue of 1 is full */
    t0 = baton_mono_ms();
    ASSERT_EQ_INT(baton_kafka_produce_sync(p, &rec, 2000, err, sizeof err), BATON_EAGAIN);
    ASSERT_TRUE(baton_mono_ms() - t0 < 500);
    ASSERT_CONTAINS(err, "full");

    baton_kafka_health_t h;
    baton_kafka_producer_health(p, &h);
    ASSERT_EQ_INT(h.brokers_up, 0);
    ASSERT_EQ_INT(h.queued, 1);
    ASSERT_NE_INT(h.last_error, 0);
    ASSERT_TRUE(h.last_error_ms > 0);

    t0 = baton_mono_ms();
    baton_kafka_producer_free(p, 500); /* purges the stuck message: bounded */
    ASSERT_TRUE(baton_mono_ms() - t0 < 3000);
    /* librdkafka's complaints reached the callback, on this thread only */
    ASSERT_TRUE(tk_logs_count(&logs) > 0);
    ASSERT_EQ_INT(tk_logs_foreign(&logs), 0);
    baton_kafka_conf_free(conf);
    close(fd);
}

TEST_MAIN()
