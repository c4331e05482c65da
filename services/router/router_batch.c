/* router_batch.c — one batch from poll to commit, in the order DESIGN.md demands (outputs
 * acknowledged → state written → offsets committed), the partitions this router owns and
 * their applied offsets, and readiness. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baton/log.h"
#include "router_batch.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define COMMIT_TIMEOUT_MS 5000

static void abandon_inflight(router_t *r);

/* ---------------------------------------------------------------- partitions */

static router_part_t *part_find(router_t *r, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < r->nparts; i++)
        if (r->parts[i].partition == partition && strcmp(r->parts[i].topic, topic) == 0)
            return &r->parts[i];
    return NULL;
}

static router_part_t *part_add(router_t *r, const char *topic, int32_t partition)
{
    router_part_t *p = part_find(r, topic, partition);
    if (p)
        return p;
    r->parts = baton_xrealloc(r->parts, (r->nparts + 1) * sizeof(*r->parts));
    p = &r->parts[r->nparts++];
    *p = (router_part_t){baton_xstrdup(topic), partition, -1, false};
    return p;
}

static void part_remove(router_t *r, const char *topic, int32_t partition)
{
    router_part_t *p = part_find(r, topic, partition);
    if (!p)
        return;
    free(p->topic);
    *p = r->parts[--r->nparts];
}

/* Read the applied offsets of every partition not known yet. 0 or an I/O error. */
static int parts_load(router_t *r, char *err, size_t errlen)
{
    for (size_t i = 0; i < r->nparts; i++) {
        router_part_t *p = &r->parts[i];
        if (p->known)
            continue;
        int64_t v;
        int rc = router_store_applied(r->redis, p->topic, &p->partition, 1, &v, err, errlen);
        if (rc)
            return rc;
        p->applied = v;
        p->known = true;
    }
    return 0;
}

/* Partitions are taken and given back only inside consumer poll / close. A poll happens while
 * the previous batch is still being produced: REVOKED finishes that batch (acks, state,
 * commit) before the partitions go. ASSIGNED starts each partition after its applied offset:
 * Redis, written before the commit, is never behind Kafka. */
void router_on_rebalance(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                         baton_kafka_partition_t *parts, size_t n, void *opaque)
{
    (void)c;
    router_t *r = opaque;
    char err[256] = "";
    /* the batch being produced belongs to partitions we may be losing: finish it now (its
     * commit is still ours to make) — unless they are lost already: then another router may
     * own them, and the batch is dropped unwritten (it replays there). Forget cached state
     * another router may change. */
    if (ev == BATON_KAFKA_LOST)
        abandon_inflight(r);
    router_finish_inflight(r);
    router_cache_evict(&r->cache, UINT64_MAX);
    if (ev != BATON_KAFKA_ASSIGNED) {
        for (size_t i = 0; i < n; i++)
            part_remove(r, parts[i].topic, parts[i].partition);
        LOG_INFO("%s %zu partition(s)", ev == BATON_KAFKA_LOST ? "lost" : "revoked", n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        router_part_t *p = part_add(r, parts[i].topic, parts[i].partition);
        p->known = false;
    }
    int rc = parts_load(r, err, sizeof err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        router_part_t *p = part_find(r, parts[i].topic, parts[i].partition);
        if (p->applied >= 0)
            parts[i].offset = p->applied + 1;
        baton_buf_t f = BATON_BUF_INIT;
        baton_log_kv(&f, "topic", p->topic);
        baton_log_kv_int(&f, "partition", p->partition);
        baton_log_kv_int(&f, "applied", p->applied);
        BATON_LOG(BATON_LOG_INFO, f.data, "partition assigned");
        baton_buf_free(&f);
    }
    if (rc) /* the group's committed offsets then; replays below applied are skipped later */
        LOG_WARN("assigned %zu partition(s) without their applied offsets: %s", n, err);
}

/* ---------------------------------------------------------------- retries */

/* Sleep *ms (doubling it for next time) in short slices, serving the producer; returns false
 * when a shutdown was asked for meanwhile. */
static bool backoff(router_t *r, int *ms)
{
    int64_t until = baton_mono_ms() + *ms;
    while (baton_svc_running && baton_mono_ms() < until)
        baton_kafka_producer_poll(r->producer, 50);
    *ms = *ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *ms * 2;
    return baton_svc_running;
}

static void log_retry(const char *phase, const char *err)
{
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv(&f, "phase", phase);
    BATON_LOG(BATON_LOG_WARN, f.data, "batch %s failed, retrying: %s", phase, err);
    baton_buf_free(&f);
}

/* ---------------------------------------------------------------- phases */

static void prepare(router_batch_t *b)
{
    b->in = baton_xcalloc(b->n ? b->n : 1, sizeof(*b->in));
    for (size_t i = 0; i < b->n; i++) {
        router_input_t *in = &b->in[i];
        baton_kafka_message_t *m = &b->msgs[i];
        in->msg = m;
        in->part = part_find(b->r, m->topic, m->partition);
        if (!in->part) /* not expected: poll drops messages of revoked partitions */
            in->part = part_add(b->r, m->topic, m->partition);
        in->env =
            baton_kafka_envelope_unpack(m->value, m->value_len, in->reason, sizeof in->reason);
        if (in->env)
            router_count_input(&b->r->m, in->env);
        else
            baton_counter_inc(b->r->m.in_invalid);
    }
}

static void mark_replays(router_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        router_input_t *in = &b->in[i];
        router_part_t *p = part_find(b->r, in->msg->topic, in->msg->partition);
        in->skip = p && p->applied >= 0 && in->msg->offset <= p->applied;
        if (in->skip)
            baton_counter_inc(b->r->m.replays_skipped);
    }
}

static int phase_compute(router_batch_t *b)
{
    int wait = BACKOFF_MIN_MS;
    for (;;) {
        int rc = parts_load(b->r, b->err, sizeof b->err);
        if (rc == 0) {
            mark_replays(b);
            rc = router_compute(b);
        }
        if (rc == 0)
            return 0;
        /* half a batch is in the cache: finish the batch in flight (Redis then holds every
         * state there is), start over from Redis */
        baton_outputs_free(&b->outs);
        char err[sizeof b->err];
        memcpy(err, b->err, sizeof err);
        router_finish_inflight(b->r);
        router_cache_evict(&b->r->cache, UINT64_MAX);
        baton_counter_inc(b->r->m.retry_load);
        baton_svc_set_ready(b->r->svc, false, "redis unavailable");
        log_retry("load", err);
        if (!backoff(b->r, &wait) || b->r->fatal)
            return rc;
    }
}

/* On the producing thread. */
static int phase_produce(router_batch_t *b)
{
    size_t n = b->outs.n;
    if (n == 0)
        return 0;
    baton_kafka_envelope_out_t *o = baton_xcalloc(n, sizeof(*o));
    for (size_t i = 0; i < n; i++)
        o[i] = (baton_kafka_envelope_out_t){b->outs.items[i].topic, b->outs.items[i].env};
    int wait = BACKOFF_MIN_MS, rc;
    char err[512];
    while ((rc = baton_kafka_produce_envelopes(
                b->r->producer, o, n, (int)b->r->cfg->produce_timeout_ms, err, sizeof err)) != 0) {
        baton_counter_inc(b->r->m.retry_produce);
        baton_svc_set_ready(b->r->svc, false, "kafka unavailable");
        log_retry("produce", err);
        if (!backoff(b->r, &wait))
            break;
    }
    free(o);
    if (rc == 0) { /* counted per topic, not per message */
        const char *topic[8];
        uint64_t count[8];
        size_t nt = 0;
        for (size_t i = 0; i < n; i++) {
            size_t k = 0;
            while (k < nt && strcmp(topic[k], b->outs.items[i].topic) != 0)
                k++;
            if (k == nt && nt < 8) {
                topic[nt] = b->outs.items[i].topic;
                count[nt++] = 0;
            }
            if (k < nt)
                count[k]++;
        }
        for (size_t k = 0; k < nt; k++)
            baton_counter_add(router_metrics_output(&b->r->m, topic[k]), count[k]);
    }
    return rc;
}

/* The applied offset each partition reaches with this batch (partitions with work only). */
static size_t applied_list(router_batch_t *b, router_applied_t *ap)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        router_input_t *in = &b->in[i];
        if (in->skip)
            continue;
        size_t k = 0;
        while (k < n &&
               !(ap[k].partition == in->msg->partition && strcmp(ap[k].topic, in->msg->topic) == 0))
            k++;
        if (k == n) {
            router_part_t *p = part_find(b->r, in->msg->topic, in->msg->partition);
            int64_t before = p ? p->applied : -1;
            ap[n++] = (router_applied_t){in->msg->topic, in->msg->partition, before, before};
        }
        if (in->msg->offset > ap[k].after)
            ap[k].after = in->msg->offset;
    }
    return n;
}

static int phase_write(router_batch_t *b)
{
    router_applied_t *ap = baton_xcalloc(b->n ? b->n : 1, sizeof(*ap));
    size_t nap = applied_list(b, ap);
    int wait = BACKOFF_MIN_MS, rc = 0;
    long long active = 0;
    while (nap && (rc = router_store_write(b->r->redis, &b->plan, ap, nap, b->r->cfg->closed_ttl_ms,
                                           &active, b->err, sizeof b->err)) != 0) {
        if (rc == BATON_ECONFLICT)
            break;
        baton_counter_inc(b->r->m.retry_write);
        baton_svc_set_ready(b->r->svc, false, "redis unavailable");
        log_retry("write", b->err);
        if (!backoff(b->r, &wait))
            break;
    }
    if (rc == 0 && nap) {
        for (size_t i = 0; i < nap; i++) {
            router_part_t *p = part_find(b->r, ap[i].topic, ap[i].partition);
            if (p)
                p->applied = ap[i].after;
        }
        baton_gauge_set(b->r->m.instances_active, (double)active);
    }
    free(ap);
    return rc;
}

static void phase_commit(router_batch_t *b)
{
    baton_kafka_partition_t *offs = baton_xcalloc(b->n ? b->n : 1, sizeof(*offs));
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        const baton_kafka_message_t *m = &b->msgs[i];
        size_t k = 0;
        while (k < n &&
               !(offs[k].partition == m->partition && strcmp(offs[k].topic, m->topic) == 0))
            k++;
        if (k == n)
            offs[n++] = (baton_kafka_partition_t){m->topic, m->partition, m->offset + 1};
        else if (m->offset + 1 > offs[k].offset)
            offs[k].offset = m->offset + 1;
    }
    int rc = baton_kafka_consumer_commit(b->r->consumer, offs, n, COMMIT_TIMEOUT_MS, b->err,
                                         sizeof b->err);
    if (rc) { /* harmless: the applied offsets in Redis make the replay skip these */
        baton_counter_inc(b->r->m.commit_failures);
        LOG_WARN("offset commit failed: %s", b->err);
    }
    free(offs);
}

static void observe(router_batch_t *b)
{
    int64_t now = baton_now_ms();
    for (size_t i = 0; i < b->n; i++)
        if (!b->in[i].skip && b->in[i].msg->timestamp_ms > 0)
            baton_histogram_observe(b->r->m.latency,
                                    (double)(now - b->in[i].msg->timestamp_ms) / 1000.0);
    baton_histogram_observe(b->r->m.batch_size, (double)b->n);
    baton_histogram_observe_since(b->r->m.batch_seconds, b->t0);
    if (baton_log_min_level <= BATON_LOG_DEBUG) {
        baton_buf_t f = BATON_BUF_INIT;
        baton_log_kv_int(&f, "gen", (long long)b->gen);
        baton_log_kv_int(&f, "inputs", (long long)b->n);
        baton_log_kv_int(&f, "outputs", (long long)b->outs.n);
        baton_log_kv_int(&f, "instances_written", (long long)b->plan.n);
        baton_log_kv_int(&f, "compute_us", b->compute_ns / 1000);
        baton_log_kv_int(&f, "produce_us", b->produce_ns / 1000);
        baton_log_kv_int(&f, "write_us", b->write_ns / 1000);
        baton_log_kv_int(&f, "us", (baton_mono_ns() - b->t0) / 1000);
        BATON_LOG(BATON_LOG_DEBUG, f.data, "batch done");
        baton_buf_free(&f);
    }
}

static void batch_free(router_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        baton_kafka_envelope_free(b->in[i].env);
    free(b->in);
    baton_outputs_free(&b->outs);
    router_plan_free(&b->plan);
    baton_kafka_messages_release(b->msgs, b->n);
    free(b);
}

/* ---------------------------------------------------------------- the pipeline */

static void *producing_thread(void *arg)
{
    router_t *r = arg;
    pthread_mutex_lock(&r->pmu);
    for (;;) {
        while (!r->pjob && !r->pquit)
            pthread_cond_wait(&r->pcv, &r->pmu);
        if (r->pquit)
            break;
        router_batch_t *b = r->pjob;
        pthread_mutex_unlock(&r->pmu);
        int64_t t = baton_mono_ns();
        int rc = phase_produce(b);
        b->produce_ns = baton_mono_ns() - t;
        pthread_mutex_lock(&r->pmu);
        r->pjob = NULL;
        r->prc = rc;
        r->pdone = true;
        pthread_cond_broadcast(&r->pcv);
    }
    pthread_mutex_unlock(&r->pmu);
    return NULL;
}

int router_pipeline_start(router_t *r)
{
    pthread_mutex_init(&r->pmu, NULL);
    pthread_cond_init(&r->pcv, NULL);
    if (pthread_create(&r->pth, NULL, producing_thread, r) != 0)
        return BATON_EIO;
    r->pstarted = true;
    return 0;
}

void router_pipeline_stop(router_t *r)
{
    if (!r->pstarted)
        return;
    router_finish_inflight(r);
    pthread_mutex_lock(&r->pmu);
    r->pquit = true;
    pthread_cond_broadcast(&r->pcv);
    pthread_mutex_unlock(&r->pmu);
    pthread_join(r->pth, NULL);
    pthread_cond_destroy(&r->pcv);
    pthread_mutex_destroy(&r->pmu);
    r->pstarted = false;
}

int router_finish_inflight(router_t *r)
{
    router_batch_t *b = r->inflight;
    if (!b)
        return 0;
    r->inflight = NULL;
    pthread_mutex_lock(&r->pmu);
    while (!r->pdone)
        pthread_cond_wait(&r->pcv, &r->pmu);
    int rc = r->prc;
    pthread_mutex_unlock(&r->pmu);
    int64_t t = baton_mono_ns();
    if (rc == 0)
        rc = phase_write(b);
    b->write_ns = baton_mono_ns() - t;
    if (rc == 0) {
        phase_commit(b);
        router_cache_evict(&r->cache, b->gen);
        observe(b);
    } else {
        /* not written: what the cache holds of it (and of later batches) is not in Redis */
        router_cache_evict(&r->cache, UINT64_MAX);
        if (rc == BATON_ECONFLICT) {
            baton_counter_inc(r->m.fenced);
            LOG_ERROR("another router owns a partition of this batch (%s): stopping", b->err);
            r->fatal = true;
        }
    }
    batch_free(b);
    return rc;
}

/* Wait for the producing thread, then drop the batch unwritten and uncommitted. */
static void abandon_inflight(router_t *r)
{
    router_batch_t *b = r->inflight;
    if (!b)
        return;
    r->inflight = NULL;
    pthread_mutex_lock(&r->pmu);
    while (!r->pdone)
        pthread_cond_wait(&r->pcv, &r->pmu);
    pthread_mutex_unlock(&r->pmu);
    LOG_WARN("partitions lost: batch of %zu input(s) dropped unwritten (it replays)", b->n);
    router_cache_evict(&r->cache, UINT64_MAX);
    batch_free(b);
}

static void start_produce(router_t *r, router_batch_t *b)
{
    pthread_mutex_lock(&r->pmu);
    r->pjob = b;
    r->pdone = false;
    pthread_cond_broadcast(&r->pcv);
    pthread_mutex_unlock(&r->pmu);
    r->inflight = b;
}

int router_process_batch(router_t *r, baton_kafka_message_t *msgs, size_t n)
{
    router_batch_t *b = baton_xcalloc(1, sizeof(*b));
    b->t0 = baton_mono_ns();
    b->r = r;
    b->msgs = msgs;
    b->n = n;
    b->gen = ++r->gen;
    prepare(b);
    int rc = phase_compute(b);
    b->compute_ns = baton_mono_ns() - b->t0;
    if (rc == 0) {
        router_store_plan(&r->cache, &b->plan);
        rc = router_finish_inflight(r); /* the previous batch: acks → state → commit */
    }
    if (rc != 0) {
        /* interrupted (shutdown, lost ownership): this batch is not produced; its inputs
         * replay. The cache holds its changes: forget them. */
        router_cache_evict(&r->cache, UINT64_MAX);
        batch_free(b);
        return rc;
    }
    start_produce(r, b);
    if (!r->cfg->pipeline) /* one batch at a time: produce, write, commit, then poll again */
        return router_finish_inflight(r);
    return 0;
}

/* ---------------------------------------------------------------- readiness */

void router_check_health(router_t *r)
{
    int64_t now = baton_mono_ms();
    if (now - r->last_health_ms < 1000)
        return;
    r->last_health_ms = now;
    redisReply *rep = NULL;
    int redis_ok = baton_redis_command(r->redis, &rep, "PING") == 0;
    if (rep)
        freeReplyObject(rep);
    baton_kafka_health_t ph, ch;
    baton_kafka_producer_health(r->producer, &ph);
    baton_kafka_consumer_health(r->consumer, &ch);
    if (ph.fatal || ch.fatal) {
        LOG_ERROR("kafka client in a fatal state: %s",
                  ph.fatal ? ph.last_error_text : ch.last_error_text);
        r->fatal = true;
    }
    const char *why = !redis_ok                                  ? "redis unavailable"
                      : ph.brokers_up == 0 || ch.brokers_up == 0 ? "kafka unavailable"
                      : ph.brokers_up < 0 && ch.brokers_up < 0   ? "kafka not connected yet"
                                                                 : NULL;
    baton_svc_set_ready(r->svc, why == NULL, why);
}
