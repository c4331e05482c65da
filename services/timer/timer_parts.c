/* timer_parts.c — which partitions this instance owns (the rebalance callback), the metrics
 * and readiness. */
#include "timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lateness buckets in seconds: on-time firing lives in the first few, restarts in the last. */
static const double lateness_buckets[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5,
                                          1,     2.5,   5,     10,   30,   60,   300, 3600};

void timer_metrics_init(timer_svc_t *t, baton_metrics_t *reg)
{
    timer_metrics_t *m = &t->m;
    m->schedules = baton_metrics_counter_child(
        baton_metrics_counter(reg, "baton_timer_schedules_total",
                              "Timer schedules stored (replacements included)", NULL));
    m->cancels = baton_metrics_counter_child(
        baton_metrics_counter(reg, "baton_timer_cancels_total", "Timer cancels applied", NULL));
    m->invalid = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_timer_invalid_total", "baton.timers.v1 messages skipped as malformed", NULL));
    baton_metric_t *fired = baton_metrics_counter(
        reg, "baton_timer_fired_total",
        "Timers fired (TimerFired acknowledged by Kafka), by whether past the lateness threshold",
        "late", NULL);
    m->fired_on_time = baton_metrics_counter_child(fired, "false");
    m->fired_late = baton_metrics_counter_child(fired, "true");
    m->lateness = baton_metrics_histogram_child(baton_metrics_histogram(
        reg, "baton_timer_lateness_seconds",
        "Time from a timer's due time until its TimerFired was acknowledged by Kafka",
        lateness_buckets, sizeof lateness_buckets / sizeof lateness_buckets[0], NULL));
    m->pending_fam = baton_metrics_gauge(reg, "baton_timer_pending",
                                         "Timers pending in Redis per owned partition of "
                                         "baton.timers.v1 (0 when not owned)",
                                         "partition", NULL);
    m->errors_fam = baton_metrics_counter(reg, "baton_timer_errors_total",
                                          "Failed operations (retried)", "op", NULL);
    m->err_store = baton_metrics_counter_child(m->errors_fam, "store");
    m->err_fire = baton_metrics_counter_child(m->errors_fam, "fire");
    m->err_ack = baton_metrics_counter_child(m->errors_fam, "delete");
    m->err_commit = baton_metrics_counter_child(m->errors_fam, "commit");
}

timer_part_t *timer_part(timer_svc_t *t, int32_t partition)
{
    if (partition < 0)
        partition = 0; /* librdkafka never hands out negative partitions here */
    if ((size_t)partition >= t->nparts) {
        size_t n = (size_t)partition + 1;
        t->parts = baton_xrealloc(t->parts, n * sizeof *t->parts);
        memset(t->parts + t->nparts, 0, (n - t->nparts) * sizeof *t->parts);
        t->nparts = n;
    }
    timer_part_t *p = &t->parts[partition];
    if (!p->due_key) {
        char label[16];
        snprintf(label, sizeof label, "%d", (int)partition);
        p->due_key = baton_xasprintf("%s:{%s:%d}:due", t->cfg->key_prefix, BATON_TOPIC_TIMERS,
                                     (int)partition);
        p->fire_key = baton_xasprintf("%s:{%s:%d}:fire", t->cfg->key_prefix, BATON_TOPIC_TIMERS,
                                      (int)partition);
        p->pending = baton_metrics_gauge_child(t->m.pending_fam, label);
        p->next_due = TIMER_NO_DUE;
    }
    return p;
}

static void log_parts(const char *what, const baton_kafka_partition_t *parts, size_t n)
{
    baton_buf_t f = BATON_BUF_INIT, list = BATON_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        baton_buf_appendf(&list, "%s%d", i ? "," : "", (int)parts[i].partition);
    baton_log_kv(&f, "partitions", list.data ? list.data : "");
    BATON_LOG(BATON_LOG_INFO, f.data, "partitions %s", what);
    baton_buf_free(&f);
    baton_buf_free(&list);
}

/* On the polling thread, inside baton_kafka_consumer_poll / _close. REVOKED / LOST: those
 * partitions are not fired again from the moment this returns (firing runs on this thread,
 * so none is in flight). ASSIGNED: their pending count is loaded, and next_due = 0 makes the
 * next fire round look at them at once (overdue timers fire immediately, marked late). */
void timer_on_rebalance(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                        baton_kafka_partition_t *parts, size_t n, void *opaque)
{
    timer_svc_t *t = opaque;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(parts[i].topic, BATON_TOPIC_TIMERS) != 0)
            continue;
        timer_part_t *p = timer_part(t, parts[i].partition);
        if (ev == BATON_KAFKA_ASSIGNED) {
            p->owned = true;
            p->next_due = 0;
            if (timer_store_count(t, parts[i].partition) != 0)
                LOG_WARN("redis: cannot count pending timers: %s", baton_redis_errstr(t->redis));
        } else {
            p->owned = false;
            p->next_due = TIMER_NO_DUE;
            baton_gauge_set(p->pending, 0);
        }
    }
    log_parts(ev == BATON_KAFKA_ASSIGNED  ? "assigned"
              : ev == BATON_KAFKA_REVOKED ? "revoked"
                                          : "lost",
              parts, n);
}

int64_t timer_next_due(const timer_svc_t *t)
{
    int64_t next = TIMER_NO_DUE;
    for (size_t i = 0; i < t->nparts; i++)
        if (t->parts[i].owned && t->parts[i].next_due < next)
            next = t->parts[i].next_due;
    return next;
}

void timer_update_ready(timer_svc_t *t)
{
    baton_kafka_health_t h;
    baton_kafka_consumer_health(t->consumer, &h);
    if (h.fatal)
        baton_svc_set_ready(t->svc, false, "kafka consumer failed");
    else if (h.brokers_up == 0)
        baton_svc_set_ready(t->svc, false, "kafka unreachable");
    else if (!t->redis_ok)
        baton_svc_set_ready(t->svc, false, "redis unreachable");
    else
        baton_svc_set_ready(t->svc, true, NULL);
}

void timer_parts_free(timer_svc_t *t)
{
    for (size_t i = 0; i < t->nparts; i++) {
        free(t->parts[i].due_key);
        free(t->parts[i].fire_key);
    }
    free(t->parts);
    t->parts = NULL;
    t->nparts = 0;
}
