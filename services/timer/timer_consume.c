/* timer_consume.c — baton.timers.v1 in: decode a polled batch, keep the last command per
 * timer id (a schedule replaces, a cancel removes), write it to Redis, then commit the
 * offsets. A crash before the commit replays the batch, and replaying it is harmless: the
 * writes are idempotent (same id, same due time, same body). */
#include "timer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    baton_kafka_message_t *msgs;
    Baton__V1__Envelope **envs; /* one per message (NULL when it did not decode) */
    timer_cmd_t *cmds;
    size_t *seq; /* arrival order of cmds, for the stable de-duplication */
    size_t nmsgs, ncmds;
} batch_t;

/* The Envelope to fire, packed. The fire's id, timer id and due time stay empty here: they are
 * set when it fires (from the sorted set), which keeps every stored body smaller. */
static uint8_t *fire_body(const Baton__V1__Envelope *in, const baton_kafka_message_t *m,
                          size_t *len)
{
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    Baton__V1__TimerFired fired = BATON__V1__TIMER_FIRED__INIT;
    const Baton__V1__TimerFired *src = in->timer_schedule->fire;
    if (src) {
        fired.instance_id = src->instance_id;
        fired.task_id = src->task_id;
        fired.purpose = src->purpose;
        fired.step = src->step;
        fired.repeat = src->repeat;
    }
    char *key = NULL;
    env.type = "timer.fired";
    env.tenant = in->tenant;
    env.facility = in->facility;
    env.unit = in->unit;
    env.correlation_key = in->correlation_key;
    if (!*in->correlation_key && m->key) /* keep the instance's partition anyway */
        env.correlation_key = key = baton_xstrndup(m->key, m->key_len);
    env.causation_id = in->id;
    env.producer = "timer";
    env.traceparent = in->traceparent;
    env.schema_version = 1;
    env.body_case = BATON__V1__ENVELOPE__BODY_TIMER_FIRED;
    env.timer_fired = &fired;
    uint8_t *out = NULL;
    baton_kafka_envelope_pack(&env, &out, len);
    free(key);
    return out;
}

/* Timer ids are Baton's own (deterministic UUIDs or short composites): bound them. */
#define TIMER_ID_MAX 256

static bool id_ok(const char *id)
{
    return *id && strnlen(id, TIMER_ID_MAX + 1) <= TIMER_ID_MAX;
}

/* Decode message i into a command; malformed ones are counted and skipped (committed: a
 * message that cannot be decoded now never will be). */
static void decode(timer_svc_t *t, batch_t *b, size_t i)
{
    const baton_kafka_message_t *m = &b->msgs[i];
    char err[160];
    Baton__V1__Envelope *env = baton_kafka_envelope_unpack(m->value, m->value_len, err, sizeof err);
    b->envs[i] = env;
    timer_cmd_t c = {.partition = m->partition};
    if (env && env->body_case == BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE &&
        id_ok(env->timer_schedule->timer_id) && env->timer_schedule->due_at_ms > 0) {
        c.timer_id = env->timer_schedule->timer_id;
        c.due_at_ms = env->timer_schedule->due_at_ms;
        c.fire = fire_body(env, m, &c.fire_len);
        baton_counter_inc(t->m.schedules);
    } else if (env && env->body_case == BATON__V1__ENVELOPE__BODY_TIMER_CANCEL &&
               id_ok(env->timer_cancel->timer_id)) {
        c.timer_id = env->timer_cancel->timer_id;
        c.cancel = true;
        baton_counter_inc(t->m.cancels);
    } else {
        baton_counter_inc(t->m.invalid);
        baton_buf_t f = BATON_BUF_INIT;
        baton_log_kv_int(&f, "partition", m->partition);
        baton_log_kv_int(&f, "offset", m->offset);
        BATON_LOG(BATON_LOG_WARN, f.data, "skipping a malformed timer command: %s",
                  env ? "not a valid schedule or cancel" : err);
        baton_buf_free(&f);
        return;
    }
    b->seq[b->ncmds] = b->ncmds;
    b->cmds[b->ncmds++] = c;
}

static const timer_cmd_t *sort_base;

/* partition, then timer id, then arrival: equal ids end up adjacent, the last one last. */
static int cmp_seq(const void *a, const void *b)
{
    const timer_cmd_t *x = &sort_base[*(const size_t *)a], *y = &sort_base[*(const size_t *)b];
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    int c = strcmp(x->timer_id, y->timer_id);
    if (c)
        return c;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Reorder cmds by partition and keep only the last command of each timer id. Returns the
 * new count; the fire bodies of dropped commands are freed. */
static size_t dedupe(batch_t *b)
{
    sort_base = b->cmds;
    qsort(b->seq, b->ncmds, sizeof *b->seq, cmp_seq);
    timer_cmd_t *out = baton_xcalloc(b->ncmds ? b->ncmds : 1, sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < b->ncmds; i++) {
        const timer_cmd_t *c = &b->cmds[b->seq[i]];
        if (i + 1 < b->ncmds) {
            const timer_cmd_t *next = &b->cmds[b->seq[i + 1]];
            if (next->partition == c->partition && strcmp(next->timer_id, c->timer_id) == 0) {
                free(c->fire); /* superseded within the batch */
                continue;
            }
        }
        out[n++] = *c;
    }
    free(b->cmds);
    b->cmds = out;
    b->ncmds = n;
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Store the batch, retrying while Redis is down for up to redis_retry_ms (not polling
 * meanwhile keeps the batch ours; the bound stays below max.poll.interval.ms). */
static int store(timer_svc_t *t, batch_t *b)
{
    int64_t deadline = baton_mono_ms() + t->cfg->redis_retry_ms;
    for (int attempt = 0;; attempt++) {
        int rc = timer_store_apply(t, b->cmds, b->ncmds);
        if (rc == 0) {
            if (attempt > 0)
                timer_update_ready(t);
            return 0;
        }
        baton_counter_inc(t->m.err_store);
        if (attempt == 0) {
            LOG_ERROR("storing %zu timer commands failed (retrying): %s", b->ncmds,
                      baton_redis_errstr(t->redis));
            timer_update_ready(t);
        }
        if (!baton_svc_running || baton_mono_ms() > deadline)
            return rc;
        sleep_ms(100);
    }
}

static void batch_free(batch_t *b)
{
    for (size_t i = 0; i < b->ncmds; i++)
        free(b->cmds[i].fire);
    for (size_t i = 0; i < b->nmsgs; i++)
        baton_kafka_envelope_free(b->envs[i]);
    free(b->cmds);
    free(b->seq);
    free(b->envs);
}

int timer_consume(timer_svc_t *t, int timeout_ms)
{
    size_t cap = (size_t)t->cfg->consume_batch;
    if (!t->msgs)
        t->msgs = baton_xcalloc(cap, sizeof *t->msgs);
    baton_kafka_message_t *msgs = t->msgs;
    int n = baton_kafka_consumer_poll(t->consumer, msgs, cap, timeout_ms);
    if (n <= 0)
        return n;
    batch_t b = {.msgs = msgs, .nmsgs = (size_t)n};
    b.envs = baton_xcalloc((size_t)n, sizeof *b.envs);
    b.cmds = baton_xcalloc((size_t)n, sizeof *b.cmds);
    b.seq = baton_xcalloc((size_t)n, sizeof *b.seq);
    for (size_t i = 0; i < b.nmsgs; i++)
        decode(t, &b, i);
    dedupe(&b);
    int64_t t0 = baton_mono_ns();
    int rc = store(t, &b);
    int64_t t1 = baton_mono_ns();
    if (rc == 0) {
        char err[256] = "";
        int crc =
            baton_kafka_consumer_commit_messages(t->consumer, msgs, b.nmsgs, 5000, err, sizeof err);
        LOG_DEBUG("batch of %d: %zu commands stored in %.1f ms, committed in %.1f ms", n, b.ncmds,
                  (double)(t1 - t0) / 1e6, (double)(baton_mono_ns() - t1) / 1e6);
        if (crc != 0) { /* stored already: the replay a new owner does is harmless */
            baton_counter_inc(t->m.err_commit);
            LOG_WARN("commit failed: %s", err);
        }
    } else if (baton_svc_running) {
        LOG_FATAL("redis unavailable for %lld ms: the batch stays uncommitted",
                  t->cfg->redis_retry_ms);
    }
    batch_free(&b);
    baton_kafka_messages_release(msgs, (size_t)n);
    if (rc != 0)
        return baton_svc_running ? BATON_EIO : 0;
    return n;
}
