/* consume.c — one batch: poll until batch_max messages or batch_wait_ms after the first,
 * write them in one transaction (retrying while PostgreSQL is unavailable), then commit the
 * Kafka offsets. Committed to the database first, then to Kafka: a crash in between replays
 * the batch, which the writer drops (offsets at or below the chain heads). */
#include "audit_svc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const double batch_buckets[] = {1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 50000};

void audit_metrics_init(audit_svc_t *a, baton_metrics_t *reg)
{
    audit_metrics_t *m = &a->m;
    m->rows = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_audit_rows_written_total", "Audit rows written to PostgreSQL", NULL));
    baton_metric_t *skip = baton_metrics_counter(
        reg, "baton_audit_events_skipped_total",
        "Consumed events not written again (replay: offset already applied; duplicate: event id "
        "already logged)",
        "reason", NULL);
    m->replayed = baton_metrics_counter_child(skip, "replay");
    m->duplicates = baton_metrics_counter_child(skip, "duplicate");
    m->undecodable = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_audit_undecodable_total",
        "Messages that were not an Envelope (recorded with type \"undecodable\")", NULL));
    m->offset_gap = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_audit_offset_gap_total",
        "Kafka offsets never received (skipped over: deleted by retention before being audited)",
        NULL));
    m->batch_size = baton_metrics_histogram_child(
        baton_metrics_histogram(reg, "baton_audit_batch_size", "Messages per written batch",
                                batch_buckets, sizeof batch_buckets / sizeof *batch_buckets, NULL));
    m->commit_latency = baton_metrics_histogram_child(baton_metrics_histogram(
        reg, "baton_audit_commit_seconds",
        "Time to write and commit one batch's transaction (rows, heads, projections)", NULL, 0,
        NULL));
    baton_metric_t *ph = baton_metrics_histogram(
        reg, "baton_audit_phase_seconds",
        "Time per batch by phase: decode (unpack + canonical JSON), dedup (event ids), rows "
        "(chain + COPY + heads), project (projections), commit",
        NULL, 0, "phase", NULL);
    const char *names[BATON_AUDIT_PHASES] = {"decode", "dedup", "rows", "project", "commit"};
    for (int i = 0; i < BATON_AUDIT_PHASES; i++)
        m->phase[i] = baton_metrics_histogram_child(ph, names[i]);
    baton_metric_t *errs =
        baton_metrics_counter(reg, "baton_audit_errors_total", "Failures by kind", "kind", NULL);
    m->db_errors = baton_metrics_counter_child(errs, "database");
    m->commit_errors = baton_metrics_counter_child(errs, "kafka_commit");
}

void audit_on_rebalance(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                        baton_kafka_partition_t *parts, size_t n, void *opaque)
{
    audit_svc_t *a = opaque;
    if (a->lag)
        audit_lag_assigned(a->lag, parts, n, ev == BATON_KAFKA_ASSIGNED);
    LOG_INFO("partitions %s: %zu", ev == BATON_KAFKA_ASSIGNED ? "assigned" : "revoked", n);
}

void audit_update_ready(audit_svc_t *a)
{
    int64_t now = baton_mono_ms();
    if (now < a->next_health_ms)
        return;
    a->next_health_ms = now + 500;
    baton_kafka_health_t h;
    baton_kafka_consumer_health(a->consumer, &h);
    if (h.fatal)
        baton_svc_set_ready(a->svc, false, "kafka consumer failed");
    else if (h.brokers_up == 0)
        baton_svc_set_ready(a->svc, false, "kafka unreachable");
    else if (!a->db_ok)
        baton_svc_set_ready(a->svc, false, "postgres unavailable");
    else
        baton_svc_set_ready(a->svc, true, NULL);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Collect a batch into slot s: wait up to `wait` ms for the first message, then keep
 * collecting for up to `collect` ms; then split it among the writers. Returns the count or
 * BATON_EIO. */
static int poll_batch(audit_svc_t *a, audit_slot_t *s, int wait, int collect)
{
    size_t cap = (size_t)a->cfg->batch_max;
    if (!s->msgs) {
        s->msgs = baton_xcalloc(cap, sizeof *s->msgs);
        for (int k = 0; k < a->nwriters; k++)
            s->part[k].amsgs = baton_xcalloc(cap, sizeof *s->part[k].amsgs);
    }
    int n = baton_kafka_consumer_poll(a->consumer, s->msgs, cap, wait);
    if (n <= 0)
        return n;
    int64_t until = baton_mono_ms() + collect;
    while ((size_t)n < cap && baton_svc_running) {
        int64_t left = until - baton_mono_ms();
        if (left <= 0)
            break;
        int more = baton_kafka_consumer_poll(a->consumer, s->msgs + n, cap - (size_t)n, (int)left);
        if (more < 0) {
            baton_kafka_messages_release(s->msgs, (size_t)n);
            return more;
        }
        n += more;
    }
    s->n = (size_t)n;
    for (int k = 0; k < a->nwriters; k++)
        s->part[k].n = 0;
    /* A small batch goes to one writer whole: each transaction has a fixed cost (chain heads,
     * staging tables, commit) that a few hundred rows do not amortize. Batches are written one
     * after the other, so a partition may change writers between them. */
    int ways = (size_t)n < AUDIT_SPLIT_MIN ? 1 : a->nwriters;
    for (int i = 0; i < n; i++) { /* order within a partition is kept */
        const baton_kafka_message_t *m = &s->msgs[i];
        audit_part_t *p = &s->part[m->partition % ways];
        p->amsgs[p->n++] = (baton_audit_msg_t){m->topic,        m->partition, m->offset,
                                               m->timestamp_ms, m->value,     m->value_len};
    }
    return n;
}

static void decode_slot(audit_svc_t *a, audit_slot_t *s, int threads)
{
    for (int k = 0; k < a->nwriters; k++)
        s->part[k].batch = baton_audit_batch_decode(s->part[k].amsgs, s->part[k].n, threads);
}

/* One writer's share, retried while the database is unavailable (up to retry_ms). */
typedef struct {
    audit_svc_t *a;
    int k;
    audit_slot_t *s;
} write_job_t;

static void *write_part(void *arg)
{
    write_job_t *j = arg;
    audit_part_t *p = &j->s->part[j->k];
    int64_t deadline = baton_mono_ms() + j->a->cfg->retry_ms;
    for (int attempt = 0;; attempt++) {
        p->rc = baton_audit_write_batch(j->a->db[j->k].writer, p->batch, &p->res, p->err,
                                        sizeof p->err);
        if (p->rc == 0)
            return NULL;
        baton_counter_inc(j->a->m.db_errors);
        if (attempt == 0)
            LOG_ERROR("writing %zu audit rows failed (retrying): %s", p->n, p->err);
        if (!baton_svc_running || baton_mono_ms() > deadline)
            return NULL;
        sleep_ms(attempt < 5 ? 100 * (attempt + 1) : 1000);
    }
}

/* Every writer's share in parallel (the calling thread takes the first). 0 or the first
 * failure's code. */
static int write_slot(audit_svc_t *a, audit_slot_t *s)
{
    write_job_t jobs[AUDIT_MAX_WRITERS];
    pthread_t th[AUDIT_MAX_WRITERS];
    bool started[AUDIT_MAX_WRITERS] = {false};
    int64_t t0 = baton_mono_ns();
    for (int k = 0; k < a->nwriters; k++) {
        jobs[k] = (write_job_t){a, k, s};
        s->part[k].rc = 0;
        memset(&s->part[k].res, 0, sizeof s->part[k].res);
        if (k > 0 && s->part[k].n > 0)
            started[k] = pthread_create(&th[k], NULL, write_part, &jobs[k]) == 0;
    }
    for (int k = 0; k < a->nwriters; k++)
        if (!started[k] && s->part[k].n > 0)
            write_part(&jobs[k]);
    int rc = 0;
    for (int k = 0; k < a->nwriters; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        if (s->part[k].rc != 0 && rc == 0)
            rc = s->part[k].rc;
    }
    if (rc == 0) {
        baton_histogram_observe_since(a->m.commit_latency, t0);
        if (!a->db_ok)
            LOG_INFO("postgres writes work again");
    }
    a->db_ok = rc == 0;
    return rc;
}

static void note_positions(audit_svc_t *a, const audit_slot_t *s)
{
    if (!a->lag)
        return;
    for (size_t i = 0; i < s->n; i++) /* later messages of a partition overwrite earlier ones */
        audit_lag_position(a->lag, s->msgs[i].topic, s->msgs[i].partition, s->msgs[i].offset + 1);
}

static void slot_release(audit_svc_t *a, audit_slot_t *s)
{
    for (int k = 0; k < a->nwriters; k++) {
        baton_audit_batch_free(s->part[k].batch);
        s->part[k].batch = NULL;
        s->part[k].n = 0;
    }
    baton_kafka_messages_release(s->msgs, s->n);
    s->n = 0;
}

static void count(audit_svc_t *a, const audit_slot_t *s)
{
    baton_histogram_observe(a->m.batch_size, (double)s->n);
    size_t undecodable = 0, gap = 0;
    for (int k = 0; k < a->nwriters; k++) {
        const baton_audit_result_t *r = &s->part[k].res;
        baton_counter_add(a->m.rows, r->inserted);
        baton_counter_add(a->m.replayed, r->replayed);
        baton_counter_add(a->m.duplicates, r->duplicates);
        undecodable += r->undecodable;
        gap += r->offset_gap;
        if (s->part[k].n == 0)
            continue;
        for (int i = 0; i < BATON_AUDIT_PHASES; i++)
            baton_histogram_observe(a->m.phase[i], r->phase_s[i]);
    }
    baton_counter_add(a->m.undecodable, undecodable);
    baton_counter_add(a->m.offset_gap, gap);
    if (gap)
        LOG_WARN("%zu Kafka offsets were never received (gone before they were audited)", gap);
    if (undecodable)
        LOG_WARN("recorded %zu messages that are not Envelopes", undecodable);
}

/* Write the slot's batch, then commit its offsets. 0 or BATON_EIO (nothing committed). */
static int flush_slot(audit_svc_t *a, audit_slot_t *s)
{
    int rc = write_slot(a, s);
    if (rc == 0) {
        count(a, s);
        note_positions(a, s);
        char err[256] = "";
        int crc =
            baton_kafka_consumer_commit_messages(a->consumer, s->msgs, s->n, 5000, err, sizeof err);
        if (crc != 0) { /* written already: whoever replays it skips it */
            baton_counter_inc(a->m.commit_errors);
            LOG_WARN("offset commit failed: %s", err);
        }
    } else {
        a->next_health_ms = 0;
        audit_update_ready(a);
        if (baton_svc_running)
            LOG_FATAL("postgres unusable for %lld ms: the batch stays uncommitted",
                      a->cfg->retry_ms);
    }
    slot_release(a, s);
    return rc == 0 ? 0 : BATON_EIO;
}

typedef struct {
    audit_svc_t *a;
    audit_slot_t *s;
} decode_job_t;

static void *decode_thread(void *arg)
{
    decode_job_t *j = arg;
    decode_slot(j->a, j->s, 1);
    return NULL;
}

int audit_consume(audit_svc_t *a)
{
    audit_slot_t *p = a->pending >= 0 ? &a->slot[a->pending] : NULL;
    int next = a->pending == 0 ? 1 : 0;
    audit_slot_t *q = &a->slot[next];
    /* with a batch waiting, take only what is already fetched: it must not wait */
    int n = poll_batch(a, q, p ? 0 : (int)a->cfg->poll_ms, p ? 0 : (int)a->cfg->batch_wait_ms);
    if (n < 0) {
        if (p)
            slot_release(a, p);
        a->pending = -1;
        return BATON_EIO;
    }
    pthread_t th;
    decode_job_t job = {a, q};
    bool threaded = n > 0 && p && pthread_create(&th, NULL, decode_thread, &job) == 0;
    if (n > 0 && !threaded)
        decode_slot(a, q, 2);
    int rc = p ? flush_slot(a, p) : 0;
    if (threaded)
        pthread_join(th, NULL);
    a->pending = n > 0 ? next : -1;
    if (rc != 0)
        return baton_svc_running ? BATON_EIO : 0;
    return n;
}

int audit_drain(audit_svc_t *a)
{
    if (a->pending < 0)
        return 0;
    int rc = flush_slot(a, &a->slot[a->pending]);
    a->pending = -1;
    return rc;
}
