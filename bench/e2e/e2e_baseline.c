/* The e2e benchmark's baseline: raw librdkafka produce → consume through the same broker, in
 * the same run. The producer is configured as the services' (enable.idempotence, acks=all,
 * murmur2_random, and every BATON_KAFKA_<PROP> of the environment, as libs/kafka applies them);
 * a consumer thread reads every partition back (assigned, no group join). Per round a new topic
 * of n messages (the mock broker keeps only ~5 MB per partition, so a round stays below that);
 * msgs/s = messages / the sum over rounds of (last message consumed - first produced). */
#include "e2e.h"

#include <ctype.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

static void apply_env(rd_kafka_conf_t *conf)
{
    for (char **ep = environ; *ep; ep++) {
        if (strncmp(*ep, "BATON_KAFKA_", 12) != 0 ||
            strncmp(*ep, "BATON_KAFKA_BOOTSTRAP=", 22) == 0)
            continue;
        const char *eq = strchr(*ep, '=');
        if (!eq)
            continue;
        char name[128];
        size_t n = (size_t)(eq - (*ep + 12));
        if (n >= sizeof name)
            continue;
        for (size_t i = 0; i < n; i++) {
            char ch = (*ep)[12 + i];
            name[i] = ch == '_' ? '.' : (char)tolower((unsigned char)ch);
        }
        name[n] = 0;
        char errstr[256];
        rd_kafka_conf_set(conf, name, eq + 1, errstr, sizeof errstr); /* wrong-side: ignored */
    }
}

static rd_kafka_conf_t *base_conf(const char *bootstrap)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    apply_env(conf);
    return conf;
}

typedef struct {
    rd_kafka_t *c;
    _Atomic size_t got;
    _Atomic int64_t last_ns;
    _Atomic int stop;
    _Atomic int latency_mode; /* values start with the producer's baton_mono_ns() */
    int64_t *lat;             /* latency_mode: one per message, up to nlat */
    size_t nlat;
} cons_t;

static void *consume_thread(void *arg)
{
    cons_t *cs = arg;
    while (!atomic_load(&cs->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cs->c, 50);
        if (!m)
            continue;
        if (!m->err) {
            int64_t now = baton_mono_ns();
            size_t i = atomic_fetch_add(&cs->got, 1);
            atomic_store(&cs->last_ns, now);
            if (atomic_load(&cs->latency_mode) && i < cs->nlat && m->len >= 8) {
                int64_t t;
                memcpy(&t, m->payload, 8);
                cs->lat[i] = now - t;
            }
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* A new topic (auto-created by a first message: the mock cluster does not answer
 * CreateTopics) and its partition count, or 0. */
static int new_topic(rd_kafka_t *p, const char *topic)
{
    int partitions = 0;
    rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE("warm", 4), RD_KAFKA_V_END);
    rd_kafka_flush(p, 10000);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(p, topic, NULL);
    if (rd_kafka_metadata(p, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1)
        partitions = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return partitions;
}

int e2e_baseline(const char *bootstrap, const char *prefix, size_t n, size_t size, int rounds)
{
    char errstr[512];
    rd_kafka_conf_t *pc = base_conf(bootstrap);
    rd_kafka_conf_set(pc, "partitioner", "murmur2_random", errstr, sizeof errstr);
    rd_kafka_conf_set(pc, "enable.idempotence", "true", errstr, sizeof errstr);
    rd_kafka_conf_set(pc, "acks", "all", errstr, sizeof errstr);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr);
    rd_kafka_conf_t *cc = base_conf(bootstrap);
    char group[128];
    snprintf(group, sizeof group, "%s-group", prefix);
    rd_kafka_conf_set(cc, "group.id", group, errstr, sizeof errstr);
    rd_kafka_conf_set(cc, "enable.auto.commit", "false", errstr, sizeof errstr);
    rd_kafka_t *c = p ? rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof errstr) : NULL;
    if (!p || !c) {
        fprintf(stderr, "baseline: %s\n", errstr);
        return 1;
    }
    rd_kafka_poll_set_consumer(c);
    cons_t cs = {.c = c};
    pthread_t th;
    pthread_create(&th, NULL, consume_thread, &cs);
    char *val = baton_xmalloc(size);
    memset(val, 'x', size);
    double prod_s = 0, all_s = 0;
    size_t total = 0, consumed = 0;
    int partitions = 0, ok = 1;
    for (int r = 0; r < rounds && ok; r++) {
        char topic[128];
        snprintf(topic, sizeof topic, "%s.%d", prefix, r);
        partitions = new_topic(p, topic);
        if (partitions < 1) {
            fprintf(stderr, "baseline: no metadata for %s\n", topic);
            ok = 0;
            break;
        }
        /* every partition from the beginning (the warm-up message included): no group join
         * to wait for (a mock-cluster rebalance waits out its timeouts) */
        rd_kafka_topic_partition_list_t *asg = rd_kafka_topic_partition_list_new(partitions);
        for (int i = 0; i < partitions; i++)
            rd_kafka_topic_partition_list_add(asg, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        atomic_store(&cs.got, 0);
        rd_kafka_assign(c, asg);
        rd_kafka_topic_partition_list_destroy(asg);
        int64_t w = baton_mono_ns() + 10 * 1000000000LL;
        while (atomic_load(&cs.got) < 1 && baton_mono_ns() < w) { /* the warm-up message */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        atomic_store(&cs.got, 0);
        int64_t t0 = baton_mono_ns();
        for (size_t i = 0; i < n; i++) {
            char key[32];
            int kl = snprintf(key, sizeof key, "acme/e%zu", i);
            for (;;) {
                rd_kafka_resp_err_t e =
                    rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)kl),
                                      RD_KAFKA_V_VALUE(val, size),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    rd_kafka_poll(p, 1);
                    continue;
                }
                if (e)
                    fprintf(stderr, "baseline: produce: %s\n", rd_kafka_err2str(e));
                break;
            }
            if ((i & 1023) == 0)
                rd_kafka_poll(p, 0);
        }
        rd_kafka_flush(p, 60000);
        int64_t t_prod = baton_mono_ns();
        int64_t deadline = t_prod + 30 * 1000000000LL;
        while (atomic_load(&cs.got) < n && baton_mono_ns() < deadline) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        size_t got = atomic_load(&cs.got);
        prod_s += (double)(t_prod - t0) / 1e9;
        all_s += (double)((got ? atomic_load(&cs.last_ns) : baton_mono_ns()) - t0) / 1e9;
        total += n;
        consumed += got;
        if (got < n)
            ok = 0;
    }
    /* latency: 2,000 msgs/s for 5 s on a new topic, produce → consume per message */
    double lp50 = -1, lp99 = -1, lp999 = -1;
    size_t lgot = 0, ln = 10000;
    if (ok) {
        char topic[128];
        snprintf(topic, sizeof topic, "%s.lat", prefix);
        int parts = new_topic(p, topic);
        rd_kafka_topic_partition_list_t *asg = rd_kafka_topic_partition_list_new(parts);
        for (int i = 0; i < parts; i++)
            rd_kafka_topic_partition_list_add(asg, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        atomic_store(&cs.latency_mode, 0);
        atomic_store(&cs.got, 0);
        rd_kafka_assign(c, asg);
        rd_kafka_topic_partition_list_destroy(asg);
        int64_t w = baton_mono_ns() + 10 * 1000000000LL;
        while (atomic_load(&cs.got) < 1 && baton_mono_ns() < w) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        cs.lat = baton_xcalloc(ln, sizeof *cs.lat);
        cs.nlat = ln;
        atomic_store(&cs.got, 0);
        atomic_store(&cs.latency_mode, 1);
        int64_t t0 = baton_mono_ns();
        for (size_t i = 0; i < ln; i++) {
            int64_t due = t0 + (int64_t)i * 500000; /* 2,000/s */
            struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            char key[32];
            int kl = snprintf(key, sizeof key, "acme/l%zu", i);
            int64_t now = baton_mono_ns();
            memcpy(val, &now, 8);
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)kl),
                              RD_KAFKA_V_VALUE(val, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_END);
            rd_kafka_poll(p, 0);
        }
        rd_kafka_flush(p, 10000);
        int64_t deadline = baton_mono_ns() + 10 * 1000000000LL;
        while (atomic_load(&cs.got) < ln && baton_mono_ns() < deadline) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        lgot = atomic_load(&cs.got);
        if (lgot > ln)
            lgot = ln;
        atomic_store(&cs.latency_mode, 0);
        qsort(cs.lat, lgot, sizeof *cs.lat, cmp_i64);
        if (lgot) {
            lp50 = (double)cs.lat[(size_t)(0.5 * (double)(lgot - 1))] / 1e6;
            lp99 = (double)cs.lat[(size_t)(0.99 * (double)(lgot - 1))] / 1e6;
            lp999 = (double)cs.lat[(size_t)(0.999 * (double)(lgot - 1))] / 1e6;
        }
    }
    atomic_store(&cs.stop, 1);
    pthread_join(th, NULL);
    free(cs.lat);
    printf("{\"latency_rate_per_s\": 2000, \"latency_messages\": %zu, \"latency_received\": %zu, "
           "\"latency_ms\": {\"p50\": %.2f, \"p99\": %.2f, \"p999\": %.2f}, ",
           ln, lgot, lp50, lp99, lp999);
    printf("\"messages\": %zu, \"consumed\": %zu, \"bytes\": %zu, \"rounds\": %d, "
           "\"partitions\": %d, \"produce_seconds\": %.3f, \"produce_msgs_per_s\": %.0f, "
           "\"seconds\": %.3f, \"msgs_per_s\": %.0f}\n",
           total, consumed, size, rounds, partitions, prod_s,
           prod_s > 0 ? (double)total / prod_s : 0, all_s,
           all_s > 0 ? (double)consumed / all_s : 0);
    free(val);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
    return ok ? 0 : 1;
}
