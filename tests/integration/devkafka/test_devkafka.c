/* test_devkafka.c — baton-devkafka answers a fetch at any offset with the right messages: from
 * the oldest, from the middle of a message set, from the newest and at the end of the log, and
 * after retention dropped the oldest sets (services/devkafka/mock_lookup.c indexes the mock's
 * offset lookup; these cases read every position of logs of hundreds of message sets per
 * partition and compare each message with what the broker acknowledged at that offset). */
#include "harness.h"
#include "test.h"

#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC "baton.dlq.v1" /* pre-created by devkafka with BATON_DEVKAFKA_PARTITIONS */
#define PARTS 4
#define ROUNDS 300 /* one flush per round: about one message set per partition per round */
#define PER_SET 3
#define NMSG (ROUNDS * PER_SET) /* per partition */
#define BIG_TOPIC "baton.timers.v1"
#define BIG_SIZE (100 * 1024)
#define BIG_N 120 /* 12 MB into one partition: the mock keeps about 5 MB of it */

/* expected[p][offset]: the payload the broker acknowledged at that offset */
static char *expected[PARTS][NMSG];
static int dr_errors;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (strcmp(rd_kafka_topic_name(m->rkt), BIG_TOPIC) == 0) { /* "big-<offset>" */
        char want[32];
        int n = snprintf(want, sizeof want, "big-%lld", (long long)m->offset);
        if (m->err || m->len != BIG_SIZE || memcmp(m->payload, want, (size_t)n + 1) != 0)
            dr_errors++;
        return;
    }
    if (m->err || m->partition < 0 || m->partition >= PARTS || m->offset < 0 || m->offset >= NMSG ||
        expected[m->partition][m->offset]) {
        dr_errors++;
        return;
    }
    expected[m->partition][m->offset] = strndup(m->payload, m->len);
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", bootstrap},  {"linger.ms", "0"},
                           {"group.id", "devkafka-test"},     {"enable.auto.commit", "false"},
                           {"enable.partition.eof", "true"},  {"fetch.wait.max.ms", "10"},
                           {"auto.offset.reset", "earliest"}, {NULL, NULL}};
    for (int i = 0; kv[i][0]; i++) {
        if (type == RD_KAFKA_PRODUCER && i >= 2)
            break;
        if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "conf %s: %s\n", kv[i][0], err);
            return NULL;
        }
    }
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof err);
    if (!rk)
        fprintf(stderr, "rd_kafka_new: %s\n", err);
    return rk;
}

static int produce_all(const char *bootstrap)
{
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bootstrap);
    if (!p)
        return -1;
    for (int r = 0; r < ROUNDS; r++) {
        for (int part = 0; part < PARTS; part++)
            for (int k = 0; k < PER_SET; k++) {
                char v[64];
                int n = snprintf(v, sizeof v, "p%d-r%d-k%d", part, r, k);
                if (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(part),
                                      RD_KAFKA_V_VALUE(v, (size_t)n),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END))
                    return -1;
            }
        if (rd_kafka_flush(p, 10000))
            return -1;
    }
    rd_kafka_destroy(p);
    return dr_errors ? -1 : 0;
}

/* Read partition part from offset `from` to the end of its log; every message must be the one
 * acknowledged at its offset, without gaps. Returns how many were read, or -1. */
static int read_from(rd_kafka_t *c, int part, int64_t from)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC, part)->offset = from;
    rd_kafka_resp_err_t e = rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return -1;
    int64_t next = from;
    int n = 0;
    for (int idle = 0; idle < 200;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 50);
        if (!m) {
            idle++;
            continue;
        }
        int done = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
        int bad = 0;
        if (!m->err) {
            const char *want = m->offset < NMSG ? expected[part][m->offset] : NULL;
            bad = m->partition != part || m->offset != next || !want || strlen(want) != m->len ||
                  memcmp(want, m->payload, m->len) != 0;
            if (bad)
                fprintf(stderr, "partition %d from %lld: offset %lld (want %lld) holds %.*s\n",
                        part, (long long)from, (long long)m->offset, (long long)next, (int)m->len,
                        (const char *)m->payload);
            next = m->offset + 1;
            n++;
        } else if (!done) {
            fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
            bad = 1;
        }
        rd_kafka_message_destroy(m);
        if (bad)
            return -1;
        if (done && next == NMSG)
            break;
    }
    rd_kafka_assign(c, NULL);
    return next == NMSG ? n : -1;
}

/* The broker used its index and it never disagreed with librdkafka's own lookup; stop it. */
static void stop_clean(harness_devkafka_t *k)
{
    char *log = harness_read_file(k->log);
    ASSERT_NOT_NULL(log);
#ifdef DEVKAFKA_LOOKUP
    ASSERT_CONTAINS(log, "mock broker offset lookup: indexed");
#endif
    ASSERT_TRUE(strstr(log, "disagrees") == NULL);
    free(log);
    ASSERT_EQ_INT(harness_devkafka_stop(k), 0);
}

/* Produce big messages i = from .. to-1 into BIG_TOPIC partition 0, one set each. */
static int produce_big(rd_kafka_t *p, int from, int to)
{
    char *v = malloc(BIG_SIZE);
    for (int i = from; i < to; i++) {
        memset(v, 'a' + i % 26, BIG_SIZE);
        snprintf(v, 32, "big-%d", i); /* offset i: the partition is fresh */
        if (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(BIG_TOPIC), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_VALUE(v, (size_t)BIG_SIZE),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) ||
            rd_kafka_flush(p, 10000)) {
            free(v);
            return -1;
        }
    }
    free(v);
    return dr_errors ? -1 : 0;
}

/* Read BIG_TOPIC partition 0 from `from` (an offset or RD_KAFKA_OFFSET_BEGINNING) to offset
 * end-1: every message "big-<its offset>", no gaps. Returns the first offset read, or -1. */
static int64_t read_big(rd_kafka_t *c, int64_t from, int64_t end)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, BIG_TOPIC, 0)->offset = from;
    rd_kafka_resp_err_t e = rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return -1;
    int64_t first = -1, next = -1;
    for (int idle = 0; idle < 200 && next != end;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 50);
        if (!m) {
            idle++;
            continue;
        }
        if (!m->err) {
            char want[32];
            int n = snprintf(want, sizeof want, "big-%lld", (long long)m->offset);
            if ((next >= 0 && m->offset != next) || m->len != BIG_SIZE ||
                memcmp(m->payload, want, (size_t)n + 1) != 0) {
                fprintf(stderr, "offset %lld (want %lld): wrong message\n", (long long)m->offset,
                        (long long)next);
                rd_kafka_message_destroy(m);
                return -1;
            }
            if (first < 0)
                first = m->offset;
            next = m->offset + 1;
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(c, NULL);
    return next == end ? first : -1;
}

/* With a 5 MiB retention (librdkafka's own limit) older sets are dropped while the index holds
 * them. */
TEST(devkafka_fetch_after_retention)
{
    harness_devkafka_t k;
    char *env[] = {"BATON_DEVKAFKA_RETENTION_MB=5", NULL};
    ASSERT_EQ_INT(harness_devkafka_start_env(&k, env), 0);
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, k.bootstrap);
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, k.bootstrap);
    ASSERT_TRUE(p && c);
    ASSERT_EQ_INT(produce_big(p, 0, BIG_N / 4), 0);
    ASSERT_EQ_INT((int)read_big(c, RD_KAFKA_OFFSET_BEGINNING, BIG_N / 4), 0);
    ASSERT_EQ_INT(produce_big(p, BIG_N / 4, BIG_N), 0);
    int64_t oldest = read_big(c, RD_KAFKA_OFFSET_BEGINNING, BIG_N);
    ASSERT_TRUE(oldest > BIG_N / 4 && oldest < BIG_N - 10); /* some dropped, most kept */
    ASSERT_EQ_INT((int)read_big(c, BIG_N - 5, BIG_N), BIG_N - 5);
    ASSERT_EQ_INT((int)read_big(c, oldest + 1, BIG_N), (int)oldest + 1);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
    stop_clean(&k);
}

#ifdef DEVKAFKA_LOOKUP /* built with librdkafka.a: mock_retention.c raises the limit */
/* By default a partition keeps far more than librdkafka's 5 MB: a consumer 12 MB behind reads
 * everything from the first offset (with the mock's own limit it would find the oldest
 * messages gone and skip them). */
TEST(devkafka_keeps_a_backlog)
{
    harness_devkafka_t k;
    ASSERT_EQ_INT(harness_devkafka_start(&k), 0);
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, k.bootstrap);
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, k.bootstrap);
    ASSERT_TRUE(p && c);
    ASSERT_EQ_INT(produce_big(p, 0, BIG_N), 0);
    ASSERT_EQ_INT((int)read_big(c, RD_KAFKA_OFFSET_BEGINNING, BIG_N), 0);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
    char *log = harness_read_file(k.log);
    ASSERT_NOT_NULL(log);
    ASSERT_CONTAINS(log, "mock broker retention: 1073741824 bytes per partition");
    free(log);
    stop_clean(&k);
}
#endif

TEST(devkafka_fetch_at_every_position)
{
    harness_devkafka_t k;
    ASSERT_EQ_INT(harness_devkafka_start(&k), 0);
    ASSERT_EQ_INT(produce_all(k.bootstrap), 0);
    for (int p = 0; p < PARTS; p++)
        for (int o = 0; o < NMSG; o++)
            ASSERT_NOT_NULL(expected[p][o]);

    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, k.bootstrap);
    ASSERT_NOT_NULL(c);
    /* oldest set; inside a set near the middle; the newest set's last message */
    const int64_t starts[] = {0, NMSG / 2 + 1, NMSG - 1};
    for (int p = 0; p < PARTS; p++)
        for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
            ASSERT_EQ_INT(read_from(c, p, starts[i]), (int)(NMSG - starts[i]));
    /* at the end of the log: nothing, and no error */
    ASSERT_EQ_INT(read_from(c, 0, NMSG), 0);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);

    stop_clean(&k);
    for (int p = 0; p < PARTS; p++)
        for (int o = 0; o < NMSG; o++)
            free(expected[p][o]);
}

TEST_MAIN()
