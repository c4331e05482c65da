/* test_kafka integration cases: each starts its own baton-devkafka (through the process
 * harness, which kills it at exit whatever happens) and talks to it with the kafka lib and,
 * when installed, kcat. */
#include "baton/kafka.h"
#include "harness.h"
#include "test.h"
#include "test_kafka_util.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Short group timers: librdkafka 2.0.2's mock coordinator finishes a multi-member rebalance
 * only when the rebalance timeout (max.poll.interval.ms) passes. */
#define IT_SESSION_MS "6000"
#define IT_MAX_POLL_MS "7000"

static void start_kafka(harness_devkafka_t *k, const char *brokers)
{
    char env[64];
    snprintf(env, sizeof env, "BATON_DEVKAFKA_BROKERS=%s", brokers);
    char *const envp[] = {env, NULL};
    int rc = harness_devkafka_start_env(k, envp);
    if (rc != 0)
        TEST_FAIL("baton-devkafka did not start: %s", baton_strerror(rc));
}

/* With BATON_TEST_VERBOSE set, print how long the test has been running at a step. */
static void it_mark(const char *what)
{
    static int64_t t0;
    if (!t0)
        t0 = baton_mono_ms();
    if (getenv("BATON_TEST_VERBOSE"))
        fprintf(stderr, "  [%6lld ms] %s\n", (long long)(baton_mono_ms() - t0), what);
}

/* Pause the broker and wait until it really refuses connections (devkafka acts on the
 * signal from its main loop, within ~100 ms). */
static void pause_kafka(harness_devkafka_t *k)
{
    ASSERT_EQ_INT(harness_devkafka_pause(k), 0);
    const char *colon = strchr(k->bootstrap, ':');
    ASSERT_NOT_NULL(colon);
    int port = atoi(colon + 1);
    int64_t deadline = baton_mono_ms() + 3000;
    while (harness_wait_port(port, 1) == 0) {
        if (baton_mono_ms() > deadline)
            TEST_FAIL("broker still accepts connections after SIGUSR1");
        usleep(20000);
    }
}

static baton_kafka_conf_t *it_conf(const harness_devkafka_t *k, tk_logs_t *logs)
{
    baton_kafka_conf_t *conf = baton_kafka_conf_new(k->bootstrap);
    ASSERT_EQ_INT(baton_kafka_conf_set(conf, "session.timeout.ms", IT_SESSION_MS), 0);
    ASSERT_EQ_INT(baton_kafka_conf_set(conf, "max.poll.interval.ms", IT_MAX_POLL_MS), 0);
    ASSERT_EQ_INT(baton_kafka_conf_set(conf, "heartbeat.interval.ms", "500"), 0);
    if (logs)
        baton_kafka_conf_set_log_cb(conf, tk_log_cb, logs);
    return conf;
}

/* What the rebalance callback saw, per consumer. */
typedef struct {
    int assigned_events, revoked_events;
    int owned; /* partitions currently held */
} rb_track_t;

static void rb_cb(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                  baton_kafka_partition_t *parts, size_t n, void *opaque)
{
    rb_track_t *t = opaque;
    if (ev == BATON_KAFKA_ASSIGNED) {
        t->assigned_events++;
        t->owned += (int)n;
    } else {
        t->revoked_events++;
        t->owned -= (int)n;
    }
}

static baton_kafka_consumer_t *it_consumer(baton_kafka_conf_t *conf, const char *group,
                                           const char *topic)
{
    char err[256] = "";
    baton_kafka_consumer_t *c = baton_kafka_consumer_new(conf, group, err, sizeof err);
    if (!c)
        TEST_FAIL("consumer: %s", err);
    const char *topics[] = {topic};
    ASSERT_EQ_INT(baton_kafka_consumer_subscribe(c, topics, 1, err, sizeof err), 0);
    return c;
}

/* Poll until want messages were collected (copied values as strings into vals) or timeout. */
#define IT_MAX 64
typedef struct {
    baton_kafka_message_t msgs[IT_MAX];
    int n;
} it_got_t;

static void consume_until(baton_kafka_consumer_t *c, it_got_t *got, int want, int timeout_ms)
{
    int64_t deadline = baton_mono_ms() + timeout_ms;
    while (got->n < want && baton_mono_ms() < deadline) {
        int r = baton_kafka_consumer_poll(c, got->msgs + got->n, (size_t)(IT_MAX - got->n), 200);
        ASSERT_TRUE(r >= 0);
        got->n += r;
    }
}

static int value_index(const baton_kafka_message_t *m)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.*s", (int)m->value_len, (const char *)m->value);
    return atoi(buf + 2); /* "v-<i>" */
}

static void produce_values(baton_kafka_producer_t *p, const char *topic, int from, int to)
{
    static char keys[IT_MAX][16], vals[IT_MAX][16];
    baton_kafka_record_t recs[IT_MAX];
    baton_kafka_header_t hdr[] = {{"content-type", "text/plain", 10}, {"x-test", "yes", 3}};
    int n = 0;
    for (int i = from; i < to; i++, n++) {
        snprintf(keys[n], sizeof keys[n], "k%d", i);
        snprintf(vals[n], sizeof vals[n], "v-%d", i);
        recs[n] = (baton_kafka_record_t){topic, keys[n], strlen(keys[n]), vals[n], strlen(vals[n]),
                                         hdr,   2};
    }
    char err[256] = "";
    int rc = baton_kafka_produce_batch(p, recs, (size_t)n, 10000, err, sizeof err);
    if (rc != 0)
        TEST_FAIL("produce_batch: %s (%s)", baton_strerror(rc), err);
}

TEST(kafka_it_kcat_lists_brokers_and_topics)
{
    if (system("command -v kcat >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: kcat is not installed (apt-get install kcat)\n");
        return;
    }
    harness_devkafka_t k;
    start_kafka(&k, "2");
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "kcat -L -m 5 -b '%s' 2>&1", k.bootstrap);
    FILE *f = popen(cmd, "r");
    ASSERT_NOT_NULL(f);
    baton_buf_t out = BATON_BUF_INIT;
    char line[512];
    while (fgets(line, sizeof line, f))
        baton_buf_puts(&out, line);
    ASSERT_EQ_INT(pclose(f), 0);
    ASSERT_CONTAINS(out.data, " 2 brokers:");
    ASSERT_CONTAINS(out.data, "broker 1 at 127.0.0.1:");
    ASSERT_CONTAINS(out.data, "broker 2 at 127.0.0.1:");
    static const char *topics[] = {"baton.inbound.v1", "baton.timers.v1", "baton.lifecycle.v1",
                                   "baton.notify.v1", "baton.dlq.v1"};
    for (int i = 0; i < 5; i++) {
        char want[96];
        snprintf(want, sizeof want, "topic \"%s\" with 4 partitions", topics[i]);
        ASSERT_CONTAINS(out.data, want);
    }
    baton_buf_free(&out);

    /* kcat as a producer and consumer of a topic nobody created: auto-created on demand */
    snprintf(cmd, sizeof cmd,
             "printf 'hello\\n' | kcat -P -b '%s' -t it.autocreated -k key1 && "
             "kcat -C -b '%s' -t it.autocreated -o beginning -c 1 -e -q -f '%%k=%%s\\n'",
             k.bootstrap, k.bootstrap);
    f = popen(cmd, "r");
    ASSERT_NOT_NULL(f);
    ASSERT_NOT_NULL(fgets(line, sizeof line, f));
    ASSERT_EQ_INT(pclose(f), 0);
    ASSERT_EQ_STR(line, "key1=hello\n");
    ASSERT_EQ_INT(harness_devkafka_stop(&k), 0);
}

static char *run_capture(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    ASSERT_NOT_NULL(f);
    baton_buf_t out = BATON_BUF_INIT;
    char line[512];
    while (fgets(line, sizeof line, f))
        baton_buf_puts(&out, line);
    *status = pclose(f);
    baton_buf_puts(&out, "");
    return baton_buf_steal(&out);
}

/* The broker process itself: --help, its config, the ready line, a clean SIGTERM. */
TEST(kafka_it_devkafka_process)
{
    char *bin = harness_bin_path("baton-devkafka");
    char cmd[1400];
    int status;
    snprintf(cmd, sizeof cmd, "'%s' --help", bin);
    char *help = run_capture(cmd, &status);
    ASSERT_EQ_INT(status, 0);
    ASSERT_CONTAINS(help, "BATON_DEVKAFKA_BROKERS");
    ASSERT_CONTAINS(help, "BATON_DEVKAFKA_PARTITIONS");
    ASSERT_CONTAINS(help, "BATON_DEVKAFKA_BOOTSTRAP_FILE");
    ASSERT_CONTAINS(help, "SIGUSR1");
    free(help);
    snprintf(cmd, sizeof cmd, "BATON_DEVKAFKA_BROKERS=0 '%s' >/dev/null 2>&1", bin);
    ASSERT_EQ_INT(WEXITSTATUS(system(cmd)), 2); /* out of bounds: refuses to start */
    free(bin);

    harness_devkafka_t k;
    char *const envp[] = {"BATON_DEVKAFKA_PARTITIONS=2", "BATON_DEVKAFKA_BROKERS=3", NULL};
    ASSERT_EQ_INT(harness_devkafka_start_env(&k, envp), 0);
    /* three brokers, all on loopback */
    int commas = 0;
    for (const char *c = k.bootstrap; *c; c++)
        commas += *c == ',';
    ASSERT_EQ_INT(commas, 2);
    ASSERT_EQ_INT(strncmp(k.bootstrap, "127.0.0.1:", 10), 0);
    /* the ready line on stdout carries the same list */
    char *log = harness_read_file(k.log);
    ASSERT_NOT_NULL(log);
    char want[600];
    snprintf(want, sizeof want, "\"bootstrap\":\"%s\"", k.bootstrap);
    ASSERT_CONTAINS(log, want);
    ASSERT_CONTAINS(log, "\"msg\":\"devkafka ready\"");
    free(log);
    if (system("command -v kcat >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "kcat -L -m 5 -b '%s' -t baton.timers.v1 2>&1", k.bootstrap);
        char *md = run_capture(cmd, &status);
        ASSERT_EQ_INT(status, 0);
        ASSERT_CONTAINS(md, "topic \"baton.timers.v1\" with 2 partitions");
        free(md);
    }
    ASSERT_EQ_INT(harness_kill(k.pid, SIGTERM), 0);
    ASSERT_EQ_INT(harness_wait_exit(k.pid, 5000, &status), 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
    ASSERT_TRUE(access(k.bootstrap_file, F_OK) != 0); /* no stale list left behind */
}

/* The ASSIGNED callback chooses where consumption starts (a service's applied offset + 1). */
static void rb_start_at_3(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                          baton_kafka_partition_t *parts, size_t n, void *opaque)
{
    if (ev != BATON_KAFKA_ASSIGNED)
        return;
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ_INT(parts[i].offset, BATON_KAFKA_OFFSET_STORED); /* nothing committed yet */
        parts[i].offset = 3;
    }
    *(int *)opaque += (int)n;
}

TEST(kafka_it_assign_callback_sets_start_offset)
{
    harness_devkafka_t k;
    start_kafka(&k, "1");
    baton_kafka_conf_t *conf = it_conf(&k, NULL);
    char err[256] = "";
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    ASSERT_NOT_NULL(p);
    baton_kafka_record_t recs[10];
    char vals[10][16];
    for (int i = 0; i < 10; i++) { /* one key: one partition, offsets 0..9 */
        snprintf(vals[i], sizeof vals[i], "v-%d", i);
        recs[i] =
            (baton_kafka_record_t){BATON_TOPIC_DLQ, "same", 4, vals[i], strlen(vals[i]), NULL, 0};
    }
    ASSERT_EQ_INT(baton_kafka_produce_batch(p, recs, 10, 10000, err, sizeof err), 0);
    int assigned = 0;
    baton_kafka_conf_set_rebalance_cb(conf, rb_start_at_3, &assigned);
    baton_kafka_consumer_t *c = it_consumer(conf, "it-start", BATON_TOPIC_DLQ);
    static it_got_t got;
    memset(&got, 0, sizeof got);
    consume_until(c, &got, 7, 15000);
    consume_until(c, &got, 8, 1000);
    ASSERT_EQ_INT(assigned, 4);
    ASSERT_EQ_INT(got.n, 7);
    for (int i = 0; i < got.n; i++) {
        ASSERT_EQ_INT(got.msgs[i].offset, i + 3);
        ASSERT_EQ_INT(value_index(&got.msgs[i]), i + 3);
    }
    baton_kafka_messages_release(got.msgs, (size_t)got.n);
    baton_kafka_consumer_free(c);
    baton_kafka_producer_free(p, 2000);
    baton_kafka_conf_free(conf);
    ASSERT_EQ_INT(harness_devkafka_stop(&k), 0);
}

TEST(kafka_it_batch_commit_resume)
{
    harness_devkafka_t k;
    start_kafka(&k, "1");
    tk_logs_t logs;
    tk_logs_init(&logs);
    baton_kafka_conf_t *conf = it_conf(&k, &logs);
    char err[256] = "";
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    ASSERT_NOT_NULL(p);
    it_mark("producer up");
    produce_values(p, BATON_TOPIC_INBOUND, 0, 10);
    it_mark("10 produced");

    baton_kafka_consumer_t *c = it_consumer(conf, "it-resume", BATON_TOPIC_INBOUND);
    static it_got_t got; /* large: off the stack */
    memset(&got, 0, sizeof got);
    consume_until(c, &got, 10, 15000);
    it_mark("10 consumed");
    ASSERT_EQ_INT(got.n, 10);
    int seen[10] = {0};
    for (int i = 0; i < got.n; i++) {
        baton_kafka_message_t *m = &got.msgs[i];
        int vi = value_index(m);
        ASSERT_TRUE(vi >= 0 && vi < 10);
        seen[vi]++;
        char key[16];
        snprintf(key, sizeof key, "k%d", vi);
        ASSERT_EQ_INT(m->key_len, strlen(key));
        ASSERT_TRUE(memcmp(m->key, key, m->key_len) == 0);
        ASSERT_EQ_STR(m->topic, BATON_TOPIC_INBOUND);
        const void *hv;
        size_t hl;
        ASSERT_EQ_INT(baton_kafka_message_header(m, "x-test", &hv, &hl), 0);
        ASSERT_EQ_INT(hl, 3);
        ASSERT_TRUE(memcmp(hv, "yes", 3) == 0);
        ASSERT_EQ_INT(baton_kafka_message_header(m, "content-type", &hv, &hl), 0);
        ASSERT_EQ_INT(hl, 10);
        ASSERT_EQ_INT(baton_kafka_message_header(m, "absent", &hv, &hl), BATON_ENOENT);
    }
    for (int i = 0; i < 10; i++)
        ASSERT_EQ_INT(seen[i], 1);

    /* "process" the first 6 received (a per-partition prefix: partitions arrive in order),
     * commit them, and leave the other 4 uncommitted */
    int committed[10] = {0};
    for (int i = 0; i < 6; i++)
        committed[value_index(&got.msgs[i])] = 1;
    ASSERT_EQ_INT(baton_kafka_consumer_commit_messages(c, got.msgs, 6, 5000, err, sizeof err), 0);
    baton_kafka_messages_release(got.msgs, (size_t)got.n);
    ASSERT_EQ_INT(baton_kafka_consumer_close(c, 5000), 0);
    baton_kafka_consumer_free(c);
    it_mark("first consumer closed");

    /* a new member of the group resumes after the committed offsets */
    c = it_consumer(conf, "it-resume", BATON_TOPIC_INBOUND);
    memset(&got, 0, sizeof got);
    consume_until(c, &got, 4, 15000);
    it_mark("4 consumed again");
    consume_until(c, &got, 5, 1500); /* and nothing more arrives */
    ASSERT_EQ_INT(got.n, 4);
    for (int i = 0; i < got.n; i++)
        ASSERT_EQ_INT(committed[value_index(&got.msgs[i])], 0);
    ASSERT_EQ_INT(baton_kafka_consumer_commit_messages(c, got.msgs, 4, 5000, err, sizeof err), 0);
    baton_kafka_messages_release(got.msgs, (size_t)got.n);
    baton_kafka_consumer_free(c);
    baton_kafka_producer_free(p, 2000);
    ASSERT_EQ_INT(tk_logs_foreign(&logs), 0);
    baton_kafka_conf_free(conf);
    ASSERT_EQ_INT(harness_devkafka_stop(&k), 0);
}

TEST(kafka_it_envelopes_with_headers)
{
    harness_devkafka_t k;
    start_kafka(&k, "1");
    baton_kafka_conf_t *conf = it_conf(&k, NULL);
    char err[256] = "";
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    ASSERT_NOT_NULL(p);
    Baton__V1__Envelope e[3];
    baton_kafka_envelope_out_t outs[3];
    char ids[3][16];
    for (int i = 0; i < 3; i++) {
        baton__v1__envelope__init(&e[i]);
        snprintf(ids[i], sizeof ids[i], "evt-%d", i);
        e[i].id = ids[i];
        e[i].type = "task.assigned";
        e[i].correlation_key = "acme/E1";
        e[i].schema_version = 1;
        e[i].traceparent = i == 0 ? "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" : "";
        outs[i] = (baton_kafka_envelope_out_t){BATON_TOPIC_LIFECYCLE, &e[i]};
    }
    ASSERT_EQ_INT(baton_kafka_produce_envelopes(p, outs, 3, 10000, err, sizeof err), 0);
    ASSERT_EQ_INT(baton_kafka_produce_envelope(p, "it.other.topic", &e[0], 10000, err, sizeof err),
                  0); /* an auto-created topic */

    baton_kafka_consumer_t *c = it_consumer(conf, "it-env", BATON_TOPIC_LIFECYCLE);
    static it_got_t got;
    memset(&got, 0, sizeof got);
    consume_until(c, &got, 3, 15000);
    ASSERT_EQ_INT(got.n, 3);
    int64_t last_offset = -1;
    for (int i = 0; i < 3; i++) {
        baton_kafka_message_t *m = &got.msgs[i];
        /* one key, one partition, in order */
        ASSERT_EQ_INT(m->partition, got.msgs[0].partition);
        ASSERT_TRUE(m->offset > last_offset);
        last_offset = m->offset;
        ASSERT_EQ_INT(m->key_len, 7);
        ASSERT_TRUE(memcmp(m->key, "acme/E1", 7) == 0);
        Baton__V1__Envelope *back =
            baton_kafka_envelope_unpack(m->value, m->value_len, err, sizeof err);
        ASSERT_NOT_NULL(back);
        ASSERT_EQ_STR(back->id, ids[i]);
        const void *hv;
        size_t hl;
        ASSERT_EQ_INT(baton_kafka_message_header(m, "event-type", &hv, &hl), 0);
        ASSERT_TRUE(hl == 13 && memcmp(hv, "task.assigned", 13) == 0);
        ASSERT_EQ_INT(baton_kafka_message_header(m, "content-type", &hv, &hl), 0);
        ASSERT_TRUE(hl == 22 && memcmp(hv, "application/x-protobuf", 22) == 0);
        ASSERT_EQ_INT(baton_kafka_message_header(m, "schema-version", &hv, &hl), 0);
        ASSERT_TRUE(hl == 1 && memcmp(hv, "1", 1) == 0);
        ASSERT_EQ_INT(baton_kafka_message_header(m, "traceparent", &hv, &hl),
                      i == 0 ? 0 : BATON_ENOENT);
        baton_kafka_envelope_free(back);
    }
    baton_kafka_messages_release(got.msgs, (size_t)got.n);
    baton_kafka_consumer_free(c);
    baton_kafka_producer_free(p, 2000);
    baton_kafka_conf_free(conf);
    ASSERT_EQ_INT(harness_devkafka_stop(&k), 0);
}

TEST(kafka_it_group_split_and_rebalance)
{
    harness_devkafka_t k;
    start_kafka(&k, "1");
    baton_kafka_conf_t *conf = it_conf(&k, NULL);
    char err[256] = "";
    rb_track_t ta = {0}, tb = {0};

    baton_kafka_conf_set_rebalance_cb(conf, rb_cb, &ta);
    baton_kafka_consumer_t *a = it_consumer(conf, "it-split", BATON_TOPIC_NOTIFY);
    baton_kafka_conf_set_rebalance_cb(conf, rb_cb, &tb);
    baton_kafka_consumer_t *b = it_consumer(conf, "it-split", BATON_TOPIC_NOTIFY);

    static it_got_t ga, gb;
    memset(&ga, 0, sizeof ga);
    memset(&gb, 0, sizeof gb);
    /* both poll (as two services would) until the 4 partitions are split between them */
    int64_t deadline = baton_mono_ms() + 18000;
    while (!(ta.owned == 2 && tb.owned == 2) && baton_mono_ms() < deadline) {
        ASSERT_TRUE(baton_kafka_consumer_poll(a, ga.msgs, IT_MAX, 100) >= 0);
        ASSERT_TRUE(baton_kafka_consumer_poll(b, gb.msgs, IT_MAX, 100) >= 0);
    }
    ASSERT_EQ_INT(ta.owned, 2);
    ASSERT_EQ_INT(tb.owned, 2);
    baton_kafka_partition_t *parts;
    size_t n;
    ASSERT_EQ_INT(baton_kafka_consumer_assignment(a, &parts, &n), 0);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(parts[0].topic, BATON_TOPIC_NOTIFY);
    baton_kafka_partitions_free(parts, n);

    /* b leaves: it sees its partitions revoked, and a ends up with all four */
    int b_revoked_before = tb.revoked_events;
    ASSERT_EQ_INT(baton_kafka_consumer_close(b, 5000), 0);
    ASSERT_TRUE(tb.revoked_events > b_revoked_before);
    ASSERT_EQ_INT(tb.owned, 0);
    baton_kafka_consumer_free(b);
    int a_assigned_before = ta.assigned_events;
    deadline = baton_mono_ms() + 18000;
    while (ta.owned != 4 && baton_mono_ms() < deadline)
        ASSERT_TRUE(baton_kafka_consumer_poll(a, ga.msgs, IT_MAX, 100) >= 0);
    ASSERT_EQ_INT(ta.owned, 4);
    ASSERT_TRUE(ta.assigned_events > a_assigned_before);
    ASSERT_TRUE(ta.revoked_events >= 1); /* eager: revoke all, then assign all */

    /* and now consumes what is produced to any partition */
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    ASSERT_NOT_NULL(p);
    produce_values(p, BATON_TOPIC_NOTIFY, 0, 12);
    memset(&ga, 0, sizeof ga);
    consume_until(a, &ga, 12, 10000);
    ASSERT_EQ_INT(ga.n, 12);
    baton_kafka_messages_release(ga.msgs, (size_t)ga.n);
    baton_kafka_consumer_free(a);
    baton_kafka_producer_free(p, 2000);
    baton_kafka_conf_free(conf);
    ASSERT_EQ_INT(harness_devkafka_stop(&k), 0);
}

#define MT_THREADS 8
#define MT_EACH 20

typedef struct {
    baton_kafka_producer_t *p;
    int id;
    int failures;
} mt_arg_t;

static void *mt_main(void *arg)
{
    mt_arg_t *a = arg;
    for (int i = 0; i < MT_EACH; i++) {
        char key[16], val[16], err[256];
        snprintf(key, sizeof key, "t%d", a->id);
        snprintf(val, sizeof val, "v-%d", a->id * MT_EACH + i);
        baton_kafka_record_t rec = {
            BATON_TOPIC_INBOUND, key, strlen(key), val, strlen(val), NULL, 0};
        if (baton_kafka_produce_sync(a->p, &rec, 10000, err, sizeof err) != 0)
            a->failures++;
    }
    return NULL;
}

/* ingest's pattern: many HTTP threads, each blocking on its own delivery report */
TEST(kafka_it_produce_sync_many_threads)
{
    harness_devkafka_t k;
    start_kafka(&k, "1");
    baton_kafka_conf_t *conf = it_conf(&k, NULL);
    char err[256] = "";
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    ASSERT_NOT_NULL(p);
    pthread_t th[MT_THREADS];
    mt_arg_t args[MT_THREADS];
    for (int i = 0; i < MT_THREADS; i++) {
        args[i] = (mt_arg_t){p, i, 0};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, mt_main, &args[i]), 0);
    }
    for (int i = 0; i < MT_THREADS; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ_INT(args[i].failures, 0);
    }
    baton_kafka_health_t h;
    baton_kafka_producer_health(p, &h);
    ASSERT_EQ_INT(h.queued, 0); /* every report was served */

    baton_kafka_consumer_t *c = it_consumer(conf, "it-mt", BATON_TOPIC_INBOUND);
    static char seen[MT_THREADS * MT_EACH];
    memset(seen, 0, sizeof seen);
    int total = 0;
    static baton_kafka_message_t msgs[IT_MAX];
    int64_t deadline = baton_mono_ms() + 15000;
    while (total < MT_THREADS * MT_EACH && baton_mono_ms() < deadline) {
        int r = baton_kafka_consumer_poll(c, msgs, IT_MAX, 200);
        ASSERT_TRUE(r >= 0);
        for (int i = 0; i < r; i++) {
            int vi = value_index(&msgs[i]);
            ASSERT_TRUE(vi >= 0 && vi < MT_THREADS * MT_EACH);
            ASSERT_EQ_INT(seen[vi], 0); /* idempotent producer: no duplicates */
            seen[vi] = 1;
        }
        total += r;
        baton_kafka_messages_release(msgs, (size_t)r);
    }
    ASSERT_EQ_INT(total, MT_THREADS * MT_EACH);
    baton_kafka_consumer_free(c);
    baton_kafka_producer_free(p, 2000);
    baton_kafka_conf_free(conf);
    ASSERT_EQ_INT(harness_devkafka_stop(&k), 0);
}

TEST(kafka_it_paused_broker_then_resumed)
{
    harness_devkafka_t k;
    start_kafka(&k, "1");
    tk_logs_t logs;
    tk_logs_init(&logs);
    baton_kafka_conf_t *conf = it_conf(&k, &logs);
    char err[256] = "";
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    ASSERT_NOT_NULL(p);
    baton_kafka_record_t rec = {
        .topic = BATON_TOPIC_INBOUND, .key = "k", .key_len = 1, .value = "v", .value_len = 1};
    ASSERT_EQ_INT(baton_kafka_produce_sync(p, &rec, 10000, err, sizeof err), 0);
    baton_kafka_health_t h;
    baton_kafka_producer_health(p, &h);
    ASSERT_TRUE(h.last_ok_ms > 0);

    pause_kafka(&k);
    int64_t t0 = baton_mono_ms();
    int rc = baton_kafka_produce_sync(p, &rec, 3000, err, sizeof err);
    int64_t took = baton_mono_ms() - t0;
    ASSERT_TRUE(rc == BATON_EUNAVAIL || rc == BATON_ETIMEDOUT);
    ASSERT_TRUE(took < 3600);
    /* the health notices within a statistics interval or two */
    int64_t deadline = baton_mono_ms() + 4000;
    do {
        baton_kafka_producer_poll(p, 100);
        baton_kafka_producer_health(p, &h);
    } while (h.brokers_up != 0 && baton_mono_ms() < deadline);
    ASSERT_EQ_INT(h.brokers_up, 0);

    ASSERT_EQ_INT(harness_devkafka_resume(&k), 0);
    t0 = baton_mono_ms();
    rc = baton_kafka_produce_sync(p, &rec, 10000, err, sizeof err);
    if (rc != 0)
        TEST_FAIL("after resume: %s (%s)", baton_strerror(rc), err);
    ASSERT_TRUE(baton_mono_ms() - t0 < 8000);
    deadline = baton_mono_ms() + 4000;
    do {
        baton_kafka_producer_poll(p, 100);
        baton_kafka_producer_health(p, &h);
    } while (h.brokers_up < 1 && baton_mono_ms() < deadline);
    ASSERT_EQ_INT(h.brokers_up, 1);
    ASSERT_EQ_INT(baton_kafka_producer_flush(p, 5000), 0);
    baton_kafka_producer_free(p, 2000);
    ASSERT_TRUE(tk_logs_count(&logs) > 0);
    ASSERT_EQ_INT(tk_logs_foreign(&logs), 0);
    baton_kafka_conf_free(conf);
    ASSERT_EQ_INT(harness_devkafka_stop(&k), 0);
}

TEST(kafka_it_close_bounded_with_broker_down)
{
    harness_devkafka_t k;
    start_kafka(&k, "1");
    rb_track_t t = {0};
    tk_logs_t logs;
    tk_logs_init(&logs);
    baton_kafka_conf_t *conf = it_conf(&k, &logs);
    baton_kafka_conf_set_rebalance_cb(conf, rb_cb, &t);
    baton_kafka_consumer_t *c = it_consumer(conf, "it-close", BATON_TOPIC_TIMERS);
    static it_got_t got;
    int64_t deadline = baton_mono_ms() + 15000;
    while (t.owned != 4 && baton_mono_ms() < deadline)
        ASSERT_TRUE(baton_kafka_consumer_poll(c, got.msgs, IT_MAX, 100) >= 0);
    ASSERT_EQ_INT(t.owned, 4);

    pause_kafka(&k);
    char err[256] = "";
    baton_kafka_partition_t off = {BATON_TOPIC_TIMERS, 0, 1};
    int64_t t0 = baton_mono_ms();
    int rc = baton_kafka_consumer_commit(c, &off, 1, 1500, err, sizeof err);
    ASSERT_TRUE(rc != 0);
    ASSERT_TRUE(baton_mono_ms() - t0 < 2500);

    t0 = baton_mono_ms();
    rc = baton_kafka_consumer_close(c, 2000);
    ASSERT_TRUE(rc == 0 || rc == BATON_ETIMEDOUT);
    ASSERT_TRUE(baton_mono_ms() - t0 < 3000);
    ASSERT_EQ_INT(t.owned, 0); /* the service was told to stop its partitions */
    t0 = baton_mono_ms();
    baton_kafka_consumer_free(c);
    ASSERT_TRUE(baton_mono_ms() - t0 < 3000);
    ASSERT_TRUE(tk_logs_count(&logs) > 0); /* e.g. the connection refusals */
    ASSERT_EQ_INT(tk_logs_foreign(&logs), 0);
    baton_kafka_conf_free(conf);
    ASSERT_EQ_INT(harness_devkafka_stop(&k), 0);
}
