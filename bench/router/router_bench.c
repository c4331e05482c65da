/* router_bench — the load generator and meters of bench/router/run, on libs/kafka, libs/redis
 * and libs/roster (a target of the project; the run script builds it in its Release build).
 *
 *   router_bench prefill BOOTSTRAP REDIS_URL N [discharge|minimal]
 *       Writes the rosters, then puts N inputs on baton.inbound.v1: discharge (default): N/6
 *       discharges of pathways/discharge.yaml, each a trigger and five actions (ack, complete,
 *       complete, transport.completed, adt.discharge); minimal: N/3 instances of
 *       bench/router/pathways/bench_task.yaml, each a trigger, an ack and a complete. In waves
 *       (every encounter's step k before any step k+1), so a batch holds many keys and each
 *       key stays in order. Prints {"produced","seconds","per_s"}.
 *   router_bench baseline BOOTSTRAP N BATCH [ROUNDS]
 *       The same broker work without the router: consume baton.inbound.v1 (consumer group,
 *       manual commits), produce every message's bytes to baton.bench.v1 (idempotent,
 *       acks=all, waiting for the delivery reports), commit; from the first message consumed
 *       to the last commit. ROUNDS (3) rounds, each in a group of its own from the beginning;
 *       the best counts. Prints {"consumed","seconds","msgs_per_s","rounds_msgs_per_s"}.
 *   router_bench measure OPS_PORT REDIS_URL N PARTITIONS TIMEOUT_S
 *       Waits for baton-router's first input (its /metrics), then until the applied offsets
 *       of baton.inbound.v1 in Redis cover the N inputs and the clinical events the router
 *       copied back under the patient's key. Prints {"events","copies","seconds",
 *       "events_per_s"} (events: the N inputs; copies are work, not events). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "baton/kafka.h"
#include "baton/redis.h"
#include "baton/roster.h"
#include "bench_inputs.h"

#define T0 1800000000000LL
#define MIN 60000LL
#define STEPS 6
#define CHUNK 20000

static void die(const char *what, const char *err)
{
    fprintf(stderr, "router_bench: %s: %s\n", what, err);
    exit(1);
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

/* ---------------------------------------------------------------- prefill */

static void shift(baton_redis_t *r, const char *role, const char *unit, const char *person)
{
    char *json = baton_xasprintf(
        "[{\"tenant\":\"acme\",\"facility\":\"F1\",%s%s%s\"role\":\"%s\",\"person\":\"%s\","
        "\"start\":\"2027-01-15T00:00:00Z\",\"end\":\"2027-01-16T00:00:00Z\"}]",
        *unit ? "\"unit\":\"" : "", unit, *unit ? "\"," : "", role, person);
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    char err[256];
    if (baton_roster_shifts_parse_json(json, strlen(json), "acme", &s, &e))
        die("shift", e.n ? e.v[0].detail : "?");
    if (baton_roster_shifts_put(r, &s, 0, err, sizeof err))
        die("shift put", err);
    baton_roster_shifts_free(&s);
    baton_roster_errors_free(&e);
    free(json);
}

static const char *const trigger_attrs[] = {"patient_class", "inpatient", NULL};

static Baton__V1__Envelope *clinical(const char *id, const char *type, int64_t at, const char *enc,
                                     int trigger)
{
    return bench_clinical(id, type, at, enc, NULL, trigger ? trigger_attrs : NULL);
}

static Baton__V1__Envelope *staff(const char *id, int64_t at, const char *enc, const char *iid,
                                  const char *tid, Baton__V1__Action action, const char *actor,
                                  const char *role)
{
    return bench_staff(id, at, enc, NULL, iid, tid, action, actor, role, NULL, NULL);
}

static Baton__V1__Envelope *input(long enc_no, int step)
{
    char enc[24], trig[48], id[48], iid[BATON_ID_LEN], tid[BATON_ID_LEN];
    snprintf(enc, sizeof enc, "E%07ld", enc_no);
    snprintf(trig, sizeof trig, "bench-%07ld-0", enc_no);
    snprintf(id, sizeof id, "bench-%07ld-%d", enc_no, step);
    baton_derived_id(trig, "instance:discharge", iid);
    int64_t at = T0 + step * 10 * MIN + enc_no;
    switch (step) {
    case 0:
        return clinical(id, "order.discharge", at, enc, 1);
    case 1:
    case 2:
        baton_derived_id(iid, "task:med_rec", tid);
        return staff(id, at, enc, iid, tid,
                     step == 1 ? BATON__V1__ACTION__ACTION_ACK : BATON__V1__ACTION__ACTION_COMPLETE,
                     "ph1", "pharmacist");
    case 3:
        baton_derived_id(iid, "task:discharge_education", tid);
        return staff(id, at, enc, iid, tid, BATON__V1__ACTION__ACTION_COMPLETE, "rn1", "nurse");
    case 4:
        return clinical(id, "transport.completed", at, enc, 0);
    default:
        return clinical(id, "adt.discharge", at, enc, 0);
    }
}

/* bench_task.yaml: trigger, ack, complete. */
static Baton__V1__Envelope *input_minimal(long enc_no, int step)
{
    char enc[24], trig[48], id[48], iid[BATON_ID_LEN], tid[BATON_ID_LEN];
    snprintf(enc, sizeof enc, "E%07ld", enc_no);
    snprintf(trig, sizeof trig, "bench-%07ld-0", enc_no);
    snprintf(id, sizeof id, "bench-%07ld-%d", enc_no, step);
    baton_derived_id(trig, "instance:bench_task", iid);
    baton_derived_id(iid, "task:task", tid);
    int64_t at = T0 + step * 10 * MIN + enc_no;
    if (step == 0)
        return clinical(id, "order.discharge", at, enc, 1);
    return staff(id, at, enc, iid, tid,
                 step == 1 ? BATON__V1__ACTION__ACTION_ACK : BATON__V1__ACTION__ACTION_COMPLETE,
                 "ph1", "pharmacist");
}

static int prefill(const char *boot, const char *redis_url, long n, int minimal)
{
    int steps = minimal ? 3 : STEPS;
    char err[512];
    baton_redis_t *r = baton_redis_new(redis_url, NULL, err, sizeof err);
    if (!r)
        die("redis", err);
    shift(r, "pharmacist", "", "ph1");
    shift(r, "pharmacy_lead", "", "ld1");
    shift(r, "nurse", "4W", "rn1");
    shift(r, "charge_nurse", "4W", "cn1");
    shift(r, "transport", "", "tr1");
    shift(r, "evs", "4W", "ev1");
    baton_redis_free(r);

    baton_kafka_conf_t *conf = baton_kafka_conf_new(boot);
    baton_kafka_conf_set(conf, "linger.ms", "20");
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    if (!p)
        die("producer", err);
    long encs = n / steps, total = encs * steps, k = 0;
    Baton__V1__Envelope **chunk = baton_xcalloc(CHUNK, sizeof(*chunk));
    baton_kafka_envelope_out_t *outs = baton_xcalloc(CHUNK, sizeof(*outs));
    int64_t t0 = baton_mono_ns();
    for (int step = 0; step < steps; step++) {
        for (long e = 0; e < encs; e++) {
            chunk[k] = minimal ? input_minimal(e, step) : input(e, step);
            outs[k] = (baton_kafka_envelope_out_t){BATON_TOPIC_INBOUND, chunk[k]};
            if (++k == CHUNK || (step == steps - 1 && e == encs - 1)) {
                if (baton_kafka_produce_envelopes(p, outs, (size_t)k, 120000, err, sizeof err))
                    die("produce", err);
                for (long i = 0; i < k; i++)
                    baton_kafka_envelope_free(chunk[i]);
                k = 0;
            }
        }
    }
    double s = secs(baton_mono_ns() - t0);
    printf("{\"produced\":%ld,\"seconds\":%.3f,\"per_s\":%.0f}\n", total, s, total / s);
    free(chunk);
    free(outs);
    baton_kafka_producer_free(p, 10000);
    baton_kafka_conf_free(conf);
    return 0;
}

/* ---------------------------------------------------------------- baseline */

/* One round: a consumer of its own group reads the n inputs from the beginning; returns the
 * seconds from the first message consumed to the last commit (0 when it fell short). */
static double baseline_round(baton_kafka_conf_t *conf, baton_kafka_producer_t *p, const char *group,
                             long n, long batch)
{
    char err[512];
    baton_kafka_consumer_t *c = baton_kafka_consumer_new(conf, group, err, sizeof err);
    if (!c)
        die("kafka", err);
    const char *topics[] = {BATON_TOPIC_INBOUND};
    if (baton_kafka_consumer_subscribe(c, topics, 1, err, sizeof err))
        die("subscribe", err);
    baton_kafka_message_t *msgs = baton_xcalloc((size_t)batch, sizeof(*msgs));
    baton_kafka_record_t *recs = baton_xcalloc((size_t)batch, sizeof(*recs));
    long done = 0;
    int64_t t0 = 0, deadline = baton_mono_ms() + 300000;
    while (done < n && baton_mono_ms() < deadline) {
        int got = baton_kafka_consumer_poll(c, msgs, (size_t)batch, 200);
        if (got <= 0)
            continue;
        if (!t0)
            t0 = baton_mono_ns();
        for (int i = 0; i < got; i++)
            recs[i] = (baton_kafka_record_t){"baton.bench.v1",
                                             msgs[i].key,
                                             msgs[i].key_len,
                                             msgs[i].value,
                                             msgs[i].value_len,
                                             NULL,
                                             0};
        if (baton_kafka_produce_batch(p, recs, (size_t)got, 60000, err, sizeof err))
            die("produce", err);
        if (baton_kafka_consumer_commit_messages(c, msgs, (size_t)got, 10000, err, sizeof err))
            fprintf(stderr, "router_bench: commit: %s\n", err);
        done += got;
        baton_kafka_messages_release(msgs, (size_t)got);
        if (getenv("BENCH_VERBOSE"))
            fprintf(stderr, "baseline %s: %ld after %.3f s (batch %d)\n", group, done,
                    secs(baton_mono_ns() - t0), got);
    }
    double s = t0 ? secs(baton_mono_ns() - t0) : 0;
    free(msgs);
    free(recs);
    baton_kafka_consumer_free(c);
    return done == n ? s : 0;
}

/* The best of `rounds` rounds (one stall of the shared machine must not decide the ratio). */
static int baseline(const char *boot, long n, long batch, int rounds)
{
    char err[512];
    baton_kafka_conf_t *conf = baton_kafka_conf_new(boot);
    baton_kafka_conf_set_from_env(conf, err, sizeof err);
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    if (!p)
        die("kafka", err);
    /* warm up: the output topic exists and the producer has its id before the clock starts,
     * as the router's output topics and producer are before its first input */
    baton_kafka_record_t warm = {"baton.bench.v1", "warm", 4, "warm", 4, NULL, 0};
    if (baton_kafka_produce_sync(p, &warm, 30000, err, sizeof err))
        die("warm-up produce", err);
    double best = 0;
    baton_buf_t all = BATON_BUF_INIT;
    for (int r = 0; r < rounds; r++) {
        char group[32];
        snprintf(group, sizeof group, "bench-baseline-%d", r);
        double s = baseline_round(conf, p, group, n, batch);
        if (s <= 0) {
            fprintf(stderr, "router_bench: baseline round %d fell short\n", r);
            baton_buf_free(&all);
            return 1;
        }
        baton_buf_appendf(&all, "%s%.0f", r ? "," : "", n / s);
        if (best == 0 || s < best)
            best = s;
    }
    printf("{\"consumed\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.0f,\"rounds_msgs_per_s\":[%s]}\n",
           n, best, n / best, all.data ? all.data : "");
    baton_buf_free(&all);
    baton_kafka_producer_free(p, 10000);
    baton_kafka_conf_free(conf);
    return 0;
}

/* ---------------------------------------------------------------- measure */

/* Sum of the router's /metrics series whose line starts with prefix (e.g. a metric name and
 * "{"), or -1 when /metrics does not answer. */
static double metric_sum(int port, const char *prefix)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req, sizeof req - 1) < 0) {
        close(fd);
        return -1;
    }
    baton_buf_t b = BATON_BUF_INIT;
    char buf[8192];
    ssize_t k;
    while ((k = read(fd, buf, sizeof buf)) > 0)
        baton_buf_append(&b, buf, (size_t)k);
    close(fd);
    double sum = 0;
    for (char *line = b.data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            char *sp = strchr(line, ' ');
            if (sp)
                sum += strtod(sp + 1, NULL);
        }
        line = nl ? nl + 1 : NULL;
    }
    baton_buf_free(&b);
    return sum;
}

static long applied_total(baton_redis_t *r, int parts)
{
    long total = 0;
    for (int p = 0; p < parts; p++) {
        redisReply *rep = NULL;
        if (baton_redis_command(r, &rep, "GET baton:router:applied:%s:%d", BATON_TOPIC_INBOUND,
                                p) == 0 &&
            rep->type == REDIS_REPLY_STRING)
            total += strtol(rep->str, NULL, 10) + 1;
        if (rep)
            freeReplyObject(rep);
    }
    return total;
}

static int measure(int port, const char *redis_url, long n, int parts, int timeout_s)
{
    char err[512];
    baton_redis_t *r = baton_redis_new(redis_url, NULL, err, sizeof err);
    if (!r)
        die("redis", err);
    int64_t deadline = baton_mono_ms() + timeout_s * 1000LL;
    while (metric_sum(port, "baton_router_events_in_total{") <= 0 && baton_mono_ms() < deadline)
        usleep(2000);
    int64_t t0 = baton_mono_ns();
    /* Done when the applied offsets cover the n inputs and the clinical events the router
     * copied back onto the input topic under the patient's key (they follow the inputs on
     * their partitions): done >= n + copies means every input is applied (copies applied <=
     * copies produced), hence every copy produced, hence applied too. */
    long done = 0, copies = 0;
    while (baton_mono_ms() < deadline) {
        done = applied_total(r, parts);
        double c =
            metric_sum(port, "baton_router_outputs_total{topic=\"" BATON_TOPIC_INBOUND "\"}");
        copies = c > 0 ? (long)c : 0;
        if (done >= n + copies)
            break;
        usleep(5000);
    }
    double s = secs(baton_mono_ns() - t0);
    long events = done - copies < n ? done - copies : n;
    printf("{\"events\":%ld,\"copies\":%ld,\"seconds\":%.3f,\"events_per_s\":%.0f}\n", events,
           copies, s, events / s);
    baton_redis_free(r);
    return done >= n + copies ? 0 : 1;
}

int main(int argc, char **argv)
{
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "prefill") == 0)
        return prefill(argv[2], argv[3], atol(argv[4]), argc == 6 && !strcmp(argv[5], "minimal"));
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "baseline") == 0)
        return baseline(argv[2], atol(argv[3]), atol(argv[4]), argc == 6 ? atoi(argv[5]) : 3);
    if (argc == 7 && strcmp(argv[1], "measure") == 0)
        return measure(atoi(argv[2]), argv[3], atol(argv[4]), atoi(argv[5]), atoi(argv[6]));
    fprintf(stderr, "usage: router_bench prefill BOOTSTRAP REDIS_URL N [discharge|minimal]\n"
                    "       router_bench baseline BOOTSTRAP N BATCH [ROUNDS]\n"
                    "       router_bench measure OPS_PORT REDIS_URL N PARTITIONS TIMEOUT_S\n");
    return 2;
}
