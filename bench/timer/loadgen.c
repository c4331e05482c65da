/* loadgen — the baton-timer benchmark's load generator (built by bench/timer/run with cc, on
 * librdkafka, protobuf-c and hiredis directly so it needs nothing of the tree but the
 * generated events.pb-c.c).
 *
 *   loadgen produce BOOTSTRAP N DUE_MIN_MS DUE_SPREAD_MS
 *       N TimerSchedule envelopes into baton.timers.v1 (due now + DUE_MIN + random spread),
 *       as fast as the producer goes. Prints {"produced":N,"seconds":s,"per_s":r}.
 *   loadgen wait-pending REDIS_HOST REDIS_PORT PARTITIONS TARGET TIMEOUT_S
 *       Polls ZCARD of every partition's due set until the total reaches TARGET. Prints the
 *       store rate from the first stored timer to the last: {"stored":..,"seconds":..,"per_s":..}
 *   loadgen probe BOOTSTRAP RATE COUNT LEAD_MS
 *       Schedules COUNT probe timers, RATE per second, each due LEAD_MS after it is sent, and
 *       reads baton.inbound.v1 (assigned, from the end): lateness = time received - due_at_ms.
 *       Prints {"sent":..,"received":..,"early":..,"dups":..,"p50_ms":..,"p99_ms":..,
 *       "max_ms":..,"fired_p99_ms":..} (fired_*: fired_at_ms - due_at_ms, from the event). */
#include <baton/v1/events.pb-c.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fake_uuid(char out[37], uint64_t a, uint64_t b)
{
    snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-8%03" PRIx64 "-%012" PRIx64,
             a & 0xffffffffu, (a >> 32) & 0xffff, b & 0xfff, (b >> 12) & 0xfff,
             (uint64_t)((b >> 24) & 0xffffffffffffULL));
}

static long dr_failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err && dr_failed++ == 0)
        fprintf(stderr, "loadgen: delivery failed: %s\n", rd_kafka_err2str(m->err));
}

static rd_kafka_t *producer(const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *props[][2] = {{"bootstrap.servers", bootstrap},
                              {"linger.ms", "5"},
                              {"batch.num.messages", "10000"},
                              {"queue.buffering.max.messages", "1000000"},
                              {"queue.buffering.max.kbytes", "1048576"},
                              {"partitioner", "murmur2_random"},
                              {"acks", "all"}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (rd_kafka_conf_set(c, props[i][0], props[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "loadgen: %s\n", err);
            exit(2);
        }
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "loadgen: %s\n", err);
        exit(2);
    }
    return rk;
}

/* Pack one TimerSchedule envelope (as the router would send it) into buf; returns its length. */
static size_t schedule(uint8_t *buf, const char *timer_id, int64_t due, const char *key, uint64_t i)
{
    char id[37], inst[37], task[37];
    fake_uuid(id, i * 7 + 1, i * 13 + 5);
    fake_uuid(inst, i / 3 + 11, i / 3 + 17);
    fake_uuid(task, i / 3 + 23, i + 29);
    Baton__V1__TimerFired f = BATON__V1__TIMER_FIRED__INIT;
    f.instance_id = inst;
    f.task_id = task;
    f.purpose = "escalation";
    f.step = 1;
    Baton__V1__TimerSchedule ts = BATON__V1__TIMER_SCHEDULE__INIT;
    ts.timer_id = (char *)timer_id;
    ts.due_at_ms = due;
    ts.fire = &f;
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    env.id = id;
    env.type = "timer.schedule";
    env.tenant = "t1";
    env.facility = "f1";
    env.unit = "u1";
    env.correlation_key = (char *)key;
    env.occurred_at_ms = now_ms();
    env.recorded_at_ms = env.occurred_at_ms;
    env.producer = "router";
    env.schema_version = 1;
    env.body_case = BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE;
    env.timer_schedule = &ts;
    return baton__v1__envelope__pack(&env, buf);
}

static void produce_one(rd_kafka_t *rk, const uint8_t *buf, size_t len, const char *key)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC("baton.timers.v1"), RD_KAFKA_V_VALUE((void *)buf, len),
            RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("event-type", "timer.schedule", -1), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "loadgen: produce: %s\n", rd_kafka_err2str(e));
            exit(1);
        }
        rd_kafka_poll(rk, 10);
    }
}

static int partition_count(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = 0;
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    if (n <= 0) {
        fprintf(stderr, "loadgen: no metadata for %s\n", topic);
        exit(1);
    }
    return n;
}

static int cmd_produce(const char *bootstrap, long n, int64_t due_min, int64_t spread)
{
    rd_kafka_t *rk = producer(bootstrap);
    uint8_t buf[1024];
    double t0 = now_s();
    int64_t base = now_ms() + due_min;
    srand(42);
    for (long i = 0; i < n; i++) {
        char tid[37], key[32];
        fake_uuid(tid, (uint64_t)i + 1000003, (uint64_t)i * 2654435761u);
        snprintf(key, sizeof key, "t1/enc-%ld", i % 20000);
        int64_t due = base + (spread > 0 ? (int64_t)((double)rand() / RAND_MAX * spread) : 0);
        produce_one(rk, buf, schedule(buf, tid, due, key, (uint64_t)i), key);
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "loadgen: flush timed out\n");
        return 1;
    }
    if (dr_failed) {
        fprintf(stderr, "loadgen: %ld of %ld deliveries failed\n", dr_failed, n);
        return 1;
    }
    double dt = now_s() - t0;
    /* librdkafka's mock broker keeps ~5 MB per partition and drops the oldest beyond that:
     * make sure everything produced is still there for the service to consume */
    long long kept = 0;
    int parts = partition_count(rk, "baton.timers.v1");
    for (int p = 0; p < parts; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, "baton.timers.v1", p, &lo, &hi, 5000) == 0)
            kept += hi - lo;
    }
    if (kept < n) {
        fprintf(stderr,
                "loadgen: the broker retained %lld of %ld messages (%d partitions): use "
                "more partitions\n",
                kept, n, parts);
        return 1;
    }
    printf("{\"produced\":%ld,\"seconds\":%.3f,\"per_s\":%.0f}\n", n, dt, n / dt);
    rd_kafka_destroy(rk);
    return 0;
}

static long long pending(redisContext *c, int parts)
{
    long long total = 0;
    for (int p = 0; p < parts; p++) {
        redisReply *r = redisCommand(c, "ZCARD baton:timer:{baton.timers.v1:%d}:due", p);
        if (!r) {
            fprintf(stderr, "loadgen: redis: %s\n", c->errstr);
            exit(1);
        }
        total += r->integer;
        freeReplyObject(r);
    }
    return total;
}

static int cmd_wait_pending(const char *host, int port, int parts, long long target, int timeout)
{
    redisContext *c = redisConnect(host, port);
    if (!c || c->err) {
        fprintf(stderr, "loadgen: cannot connect to redis\n");
        return 1;
    }
    double start = now_s(), first = 0, last = 0;
    long long base = pending(c, parts), n = base, at_first = 0;
    while (n < target && now_s() - start < timeout) {
        usleep(10000);
        n = pending(c, parts);
        if (!first && n > base) {
            first = now_s();
            at_first = n;
        }
    }
    last = now_s();
    redisFree(c);
    if (n < target) {
        fprintf(stderr, "loadgen: only %lld of %lld stored after %d s\n", n, target, timeout);
        return 1;
    }
    double dt = last - first;
    printf("{\"stored\":%lld,\"seconds\":%.3f,\"per_s\":%.0f}\n", n - base, dt,
           (double)(n - at_first) / dt);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t pct(int64_t *v, long n, double p)
{
    if (n == 0)
        return -1;
    long i = (long)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static rd_kafka_t *reader(const char *bootstrap, rd_kafka_t *prod)
{
    int parts = partition_count(prod, "baton.inbound.v1");
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *props[][2] = {{"bootstrap.servers", bootstrap},
                              {"group.id", "bench-timer-probe"},
                              {"enable.auto.commit", "false"},
                              {"fetch.wait.max.ms", "5"},
                              {"fetch.error.backoff.ms", "5"}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        rd_kafka_conf_set(c, props[i][0], props[i][1], err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, "baton.inbound.v1", p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static int cmd_probe(const char *bootstrap, int rate, long count, int64_t lead)
{
    rd_kafka_t *rk = producer(bootstrap), *rc = reader(bootstrap, rk);
    /* let the reader reach the end offsets before the first probe is sent */
    for (double t = now_s(); now_s() - t < 1.5;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rc, 50);
        if (m)
            rd_kafka_message_destroy(m);
    }
    int64_t *late = calloc((size_t)count, sizeof *late),
            *fired = calloc((size_t)count, sizeof *fired);
    char *seen = calloc((size_t)count, 1);
    long sent = 0, recv = 0, early = 0, dups = 0;
    uint8_t buf[1024];
    double t0 = now_s(), deadline = t0 + (double)count / rate + lead / 1000.0 + 15;
    while (recv < count && now_s() < deadline) {
        long want = (long)((now_s() - t0) * rate);
        for (; sent < count && sent < want; sent++) {
            char tid[48], key[32];
            snprintf(tid, sizeof tid, "probe-%ld", sent);
            snprintf(key, sizeof key, "t1/probe-%ld", sent % 997);
            produce_one(rk, buf, schedule(buf, tid, now_ms() + lead, key, (uint64_t)sent), key);
        }
        rd_kafka_poll(rk, 0);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rc, 1);
        if (!m)
            continue;
        int64_t at = now_ms();
        if (!m->err) {
            Baton__V1__Envelope *env = baton__v1__envelope__unpack(NULL, m->len, m->payload);
            if (env && env->body_case == BATON__V1__ENVELOPE__BODY_TIMER_FIRED &&
                strncmp(env->timer_fired->timer_id, "probe-", 6) == 0) {
                long i = atol(env->timer_fired->timer_id + 6);
                if (i >= 0 && i < count) {
                    if (seen[i])
                        dups++;
                    else {
                        seen[i] = 1;
                        late[recv] = at - env->timer_fired->due_at_ms;
                        fired[recv] = env->timer_fired->fired_at_ms - env->timer_fired->due_at_ms;
                        early += late[recv] < 0 || fired[recv] < 0;
                        recv++;
                    }
                }
            }
            if (env)
                baton__v1__envelope__free_unpacked(env, NULL);
        }
        rd_kafka_message_destroy(m);
    }
    qsort(late, (size_t)recv, sizeof *late, cmp_i64);
    qsort(fired, (size_t)recv, sizeof *fired, cmp_i64);
    printf("{\"sent\":%ld,\"received\":%ld,\"early\":%ld,\"dups\":%ld,\"p50_ms\":%" PRId64
           ",\"p99_ms\":%" PRId64 ",\"max_ms\":%" PRId64 ",\"fired_p50_ms\":%" PRId64
           ",\"fired_p99_ms\":%" PRId64 "}\n",
           sent, recv, early, dups, pct(late, recv, 0.5), pct(late, recv, 0.99),
           recv ? late[recv - 1] : -1, pct(fired, recv, 0.5), pct(fired, recv, 0.99));
    rd_kafka_consumer_close(rc);
    rd_kafka_destroy(rc);
    rd_kafka_flush(rk, 5000);
    rd_kafka_destroy(rk);
    free(late);
    free(fired);
    free(seen);
    return recv == count ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "produce") == 0)
        return cmd_produce(argv[2], atol(argv[3]), atoll(argv[4]), atoll(argv[5]));
    if (argc == 7 && strcmp(argv[1], "wait-pending") == 0)
        return cmd_wait_pending(argv[2], atoi(argv[3]), atoi(argv[4]), atoll(argv[5]),
                                atoi(argv[6]));
    if (argc == 6 && strcmp(argv[1], "probe") == 0)
        return cmd_probe(argv[2], atoi(argv[3]), atol(argv[4]), atoll(argv[5]));
    fprintf(stderr, "usage: see the comment at the top of bench/timer/loadgen.c\n");
    return 2;
}
