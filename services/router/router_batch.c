/* router_batch.c — the phases of one batch from poll to commit, in the order DESIGN.md demands
 * (outputs acknowledged → state written → offsets committed), the partitions this router owns
 * and their applied offsets, and readiness. Which thread runs which phase: router_pipeline.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baton/log.h"
#include "router_batch.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define COMMIT_TIMEOUT_MS 5000

/* ---------------------------------------------------------------- partitions */

router_part_t *router_part_find(router_t *r, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < r->nparts; i++)
        if (r->parts[i].partition == partition && strcmp(r->parts[i].topic, topic) == 0)
            return &r->parts[i];
    return NULL;
}

static router_part_t *part_add(router_t *r, const char *topic, int32_t partition)
{
    router_part_t *p = router_part_find(r, topic, partition);
    if (p)
        return p;
    r->parts = baton_xrealloc(r->parts, (r->nparts + 1) * sizeof(*r->parts));
    p = &r->parts[r->nparts++];
    *p = (router_part_t){baton_xstrdup(topic), partition, -1, false};
    return p;
}

static void part_remove(router_t *r, const char *topic, int32_t partition)
{
    router_part_t *p = router_part_find(r, topic, partition);
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
        router_abandon_inflight(r);
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
        router_part_t *p = router_part_find(r, parts[i].topic, parts[i].partition);
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

/* A batch's arena: a spare one (its chunks reused) or a new one. */
static baton_pathway_arena_t *arena_get(router_t *r)
{
    return r->narenas ? r->arenas[--r->narenas] : baton_pathway_arena_new();
}

static void arena_put(router_t *r, baton_pathway_arena_t *a)
{
    if (!a)
        return;
    baton_pathway_arena_reset(a);
    if (r->narenas < sizeof r->arenas / sizeof r->arenas[0])
        r->arenas[r->narenas++] = a;
    else
        baton_pathway_arena_free(a);
}

void router_arenas_free(router_t *r)
{
    while (r->narenas)
        baton_pathway_arena_free(r->arenas[--r->narenas]);
}

static Baton__V1__Envelope *unpack(baton_pathway_arena_t *a, const void *data, size_t len,
                                   char *err, size_t errlen)
{
    ProtobufCAllocator al = baton_pathway_arena_allocator(a);
    Baton__V1__Envelope *env = baton__v1__envelope__unpack(&al, len, data);
    if (!env) /* as baton_kafka_envelope_unpack says it */
        baton_seterr(err, errlen, "not a baton.v1.Envelope (%zu bytes)", len);
    return env;
}

void router_phase_prepare(router_batch_t *b)
{
    b->arena = b->outs.arena = arena_get(b->r);
    b->in = baton_xcalloc(b->n ? b->n : 1, sizeof(*b->in));
    for (size_t i = 0; i < b->n; i++) {
        router_input_t *in = &b->in[i];
        baton_kafka_message_t *m = &b->msgs[i];
        in->msg = m;
        in->part = router_part_find(b->r, m->topic, m->partition);
        if (!in->part) /* not expected: poll drops messages of revoked partitions */
            in->part = part_add(b->r, m->topic, m->partition);
        in->env = unpack(b->arena, m->value, m->value_len, in->reason, sizeof in->reason);
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
        router_part_t *p = router_part_find(b->r, in->msg->topic, in->msg->partition);
        in->skip = p && p->applied >= 0 && in->msg->offset <= p->applied;
        if (in->skip)
            baton_counter_inc(b->r->m.replays_skipped);
    }
}

int router_phase_compute(router_batch_t *b)
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

int router_phase_produce(router_batch_t *b)
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

/* The applied offset each partition reaches with this batch (partitions with work only), from
 * what the partitions hold now (the previous batch is done). */
void router_phase_applied(router_batch_t *b)
{
    router_applied_t *ap = b->ap = baton_xcalloc(b->n ? b->n : 1, sizeof(*ap));
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
            router_part_t *p = router_part_find(b->r, in->msg->topic, in->msg->partition);
            int64_t before = p ? p->applied : -1;
            ap[n++] = (router_applied_t){in->msg->topic, in->msg->partition, before, before};
        }
        if (in->msg->offset > ap[k].after)
            ap[k].after = in->msg->offset;
    }
    b->nap = n;
}

/* On the finishing thread, with its own connection; the computing thread takes in the applied
 * offsets and the active count once the batch is done. */
int router_phase_write(router_batch_t *b)
{
    int wait = BACKOFF_MIN_MS, rc = 0;
    while (b->nap &&
           (rc = router_store_write(b->r->wredis, &b->plan, b->ap, b->nap, b->r->cfg->closed_ttl_ms,
                                    &b->active, b->err, sizeof b->err)) != 0) {
        if (rc == BATON_ECONFLICT)
            break;
        baton_counter_inc(b->r->m.retry_write);
        baton_svc_set_ready(b->r->svc, false, "redis unavailable");
        log_retry("write", b->err);
        if (!backoff(b->r, &wait))
            break;
    }
    if (rc == 0 && b->nap)
        baton_gauge_set(b->r->m.instances_active, (double)b->active);
    return rc;
}

void router_phase_commit(router_batch_t *b)
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
    char err[256];
    int rc =
        baton_kafka_consumer_commit(b->r->consumer, offs, n, COMMIT_TIMEOUT_MS, err, sizeof err);
    if (rc) { /* harmless: the applied offsets in Redis make the replay skip these */
        baton_counter_inc(b->r->m.commit_failures);
        LOG_WARN("offset commit failed: %s", err);
    }
    free(offs);
}

void router_phase_observe(router_batch_t *b)
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

void router_batch_release(router_batch_t *b)
{
    free(b->in); /* the envelopes are in the arena */
    b->in = NULL;
    baton_outputs_free(&b->outs); /* the list: the outputs are in the arena too */
    arena_put(b->r, b->arena);
    b->arena = b->outs.arena = NULL;
    router_plan_free(&b->plan);
    baton_kafka_messages_release(b->msgs, b->n);
    b->msgs = NULL;
    b->n = 0;
}

void router_batch_free(router_batch_t *b)
{
    router_batch_release(b);
    free(b->ap);
    free(b);
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
