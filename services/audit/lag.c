/* lag.c — consumer lag per topic: every interval, for each assigned partition, the high
 * watermark minus our position (the next offset after the last written batch, else the
 * group's committed offset). Measured on a thread with its own librdkafka handle (never
 * subscribed, so it does not join the group), because the kafka lib does not expose its
 * handle and broker round trips must not stall the write loop.
 * Hand-written on librdkafka: no maintained library does this for a C consumer. */
#include "audit_svc.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *topic;
    int32_t partition;
    int64_t next; /* -1 unknown */
    bool assigned;
} lag_part_t;

struct audit_lag {
    rd_kafka_t *rk;
    baton_metric_t *fam;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    pthread_t thread;
    int interval_ms;
    lag_part_t *parts;
    size_t nparts;
};

static lag_part_t *find(audit_lag_t *l, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < l->nparts; i++)
        if (l->parts[i].partition == partition && strcmp(l->parts[i].topic, topic) == 0)
            return &l->parts[i];
    l->parts = baton_xrealloc(l->parts, (l->nparts + 1) * sizeof *l->parts);
    lag_part_t *p = &l->parts[l->nparts++];
    *p = (lag_part_t){baton_xstrdup(topic), partition, -1, false};
    return p;
}

void audit_lag_assigned(audit_lag_t *l, const baton_kafka_partition_t *parts, size_t n,
                        bool assigned)
{
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        lag_part_t *p = find(l, parts[i].topic, parts[i].partition);
        p->assigned = assigned;
        p->next = -1;
    }
    pthread_mutex_unlock(&l->mu);
}

void audit_lag_position(audit_lag_t *l, const char *topic, int32_t partition, int64_t next)
{
    pthread_mutex_lock(&l->mu);
    lag_part_t *p = find(l, topic, partition);
    if (next > p->next)
        p->next = next;
    pthread_mutex_unlock(&l->mu);
}

/* One measurement round: a snapshot of the partitions, then broker queries unlocked. */
static void measure(audit_lag_t *l)
{
    pthread_mutex_lock(&l->mu);
    size_t n = l->nparts;
    lag_part_t *snap = baton_xcalloc(n ? n : 1, sizeof *snap);
    for (size_t i = 0; i < n; i++) {
        snap[i] = l->parts[i];
        snap[i].topic = baton_xstrdup(l->parts[i].topic);
    }
    pthread_mutex_unlock(&l->mu);

    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_new((int)n + 1);
    for (size_t i = 0; i < n; i++)
        if (snap[i].assigned && snap[i].next < 0)
            rd_kafka_topic_partition_list_add(committed, snap[i].topic, snap[i].partition);
    if (committed->cnt > 0 &&
        rd_kafka_committed(l->rk, committed, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int k = 0; k < committed->cnt; k++)
            for (size_t i = 0; i < n; i++)
                if (snap[i].partition == committed->elems[k].partition &&
                    strcmp(snap[i].topic, committed->elems[k].topic) == 0)
                    snap[i].next = committed->elems[k].offset;

    /* sum per topic, in first-seen order */
    for (size_t i = 0; i < n; i++) {
        if (!snap[i].topic)
            continue;
        double sum = 0;
        bool failed = false; /* an assigned partition not measured: keep the last value */
        for (size_t j = i; j < n; j++) {
            if (!snap[j].topic || strcmp(snap[j].topic, snap[i].topic) != 0)
                continue;
            int64_t lo = 0, hi = 0;
            if (snap[j].assigned &&
                rd_kafka_query_watermark_offsets(l->rk, snap[j].topic, snap[j].partition, &lo, &hi,
                                                 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                int64_t pos = snap[j].next >= 0 ? snap[j].next : lo;
                sum += hi > pos ? (double)(hi - pos) : 0;
            } else if (snap[j].assigned) {
                failed = true;
            }
            if (j != i) {
                free(snap[j].topic);
                snap[j].topic = NULL;
            }
        }
        /* a partition that could not be measured would undercount the lag (a busy broker
         * looks like a caught-up audit): the gauge keeps its last value instead */
        if (!failed)
            baton_gauge_set(baton_metrics_gauge_child(l->fam, snap[i].topic), sum);
        free(snap[i].topic);
        snap[i].topic = NULL;
    }
    rd_kafka_topic_partition_list_destroy(committed);
    free(snap);
}

static void *lag_thread(void *arg)
{
    audit_lag_t *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += l->interval_ms / 1000;
        ts.tv_nsec += (long)(l->interval_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        if (l->stop)
            break;
        pthread_mutex_unlock(&l->mu);
        measure(l);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf; /* the main consumer reports broker trouble */
}

typedef struct {
    rd_kafka_conf_t *conf;
    char *err;
    size_t errlen;
    int rc;
} pass_t;

static void pass_prop(const char *name, const char *value, void *ud)
{
    pass_t *p = ud;
    char why[256];
    if (p->rc == 0 &&
        rd_kafka_conf_set(p->conf, name, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        baton_seterr(p->err, p->errlen, "%s: %s", name, why);
        p->rc = BATON_EINVAL;
    }
}

audit_lag_t *audit_lag_start(const char *bootstrap, const char *group_id, baton_metrics_t *reg,
                             int interval_ms, char *err, size_t errlen)
{
    char why[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    static const char *const skip[] = {"bootstrap", NULL};
    pass_t p = {conf, err, errlen, 0};
    baton_config_env_passthrough("BATON_KAFKA_", skip, pass_prop, &p);
    if (p.rc != 0 ||
        rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap ? bootstrap : "", why, sizeof why) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", group_id, why, sizeof why) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", why, sizeof why) !=
            RD_KAFKA_CONF_OK) {
        if (p.rc == 0)
            baton_seterr(err, errlen, "%s", why);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        baton_seterr(err, errlen, "%s", why);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    audit_lag_t *l = baton_xcalloc(1, sizeof *l);
    l->rk = rk;
    l->interval_ms = interval_ms;
    l->fam = baton_metrics_gauge(reg, "baton_audit_consumer_lag",
                                 "Messages not yet written, per topic (high watermark minus "
                                 "position, summed over the assigned partitions)",
                                 "topic", NULL);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (pthread_create(&l->thread, NULL, lag_thread, l) != 0) {
        baton_seterr(err, errlen, "cannot start the lag thread");
        rd_kafka_destroy(rk);
        free(l);
        return NULL;
    }
    return l;
}

void audit_lag_stop(audit_lag_t *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    rd_kafka_destroy(l->rk);
    for (size_t i = 0; i < l->nparts; i++)
        free(l->parts[i].topic);
    free(l->parts);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}
