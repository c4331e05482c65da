/* timer_consume.c — baton.timers.v1 in: decode a polled batch, keep the last command per
 * timer id (a schedule replaces, a cancel removes), write it to Redis, then commit the
 * offsets. A crash before the commit replays the batch, and replaying it is harmless: the
 * writes are idempotent (same id, same due time, same body).
 *
 * A batch goes to Redis in chunks of arrival order: chunk k is decoded while Redis applies
 * chunk k - 1, and the replies of all of them are read before the commit. Chunks reach Redis
 * in order, so a command in a later chunk applies after an earlier one of the same timer, as
 * if the batch were written at once. Decoded envelopes and packed bodies live in an arena
 * that is reset per batch (protobuf-c allocates every string of an envelope otherwise). */
#include "timer.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK 1024 /* messages decoded and sent to Redis at a time */

/* ---------------------------------------------------------------- the arena */

typedef struct arena_blk {
    struct arena_blk *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char mem[];
} arena_blk_t;

typedef struct {
    arena_blk_t *head, *cur;
} arena_t;

static void *arena_alloc(void *data, size_t size)
{
    arena_t *a = data;
    size = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    while (a->cur && a->cur->used + size > a->cur->cap) {
        if (!a->cur->next)
            break;
        a->cur = a->cur->next;
        a->cur->used = 0;
    }
    if (!a->cur || a->cur->used + size > a->cur->cap) {
        size_t cap = size > (1u << 20) ? size : (1u << 20);
        arena_blk_t *b = baton_xmalloc(sizeof *b + cap);
        *b = (arena_blk_t){.cap = cap};
        if (a->cur) /* a fresh block goes after the current one; later ones stay for reuse */
            b->next = a->cur->next, a->cur->next = b;
        else
            a->head = b;
        a->cur = b;
    }
    void *p = a->cur->mem + a->cur->used;
    a->cur->used += size;
    return p;
}

static void arena_nofree(void *data, void *ptr)
{
    (void)data, (void)ptr; /* everything goes at once, in arena_reset */
}

static void arena_reset(arena_t *a)
{
    a->cur = a->head;
    if (a->cur)
        a->cur->used = 0;
}

static void arena_free(arena_t *a)
{
    for (arena_blk_t *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    *a = (arena_t){0};
}

/* ---------------------------------------------------------------- a batch */

struct timer_batch {
    arena_t arena;
    ProtobufCAllocator pba; /* protobuf-c allocating from arena */
    timer_cmd_t *cmds;      /* decoded commands, chunk after chunk */
    timer_cmd_t *tmp;       /* de-duplication scratch */
    size_t *seq;
    size_t *chunk_end; /* cmds[chunk_end[k - 1]..chunk_end[k]) is chunk k */
    size_t cap, ncmds, nchunks;
    uint64_t schedules, cancels;
    int64_t *next_off; /* per partition: the offset to commit (0 = nothing polled) */
    size_t noffs;
    timer_store_pipe_t pipe;
};

static struct timer_batch *batch_get(timer_svc_t *t)
{
    struct timer_batch *b = t->batch;
    if (b)
        return b;
    size_t cap = (size_t)t->cfg->consume_batch, chunks = cap / CHUNK + 2;
    b = t->batch = baton_xcalloc(1, sizeof *b);
    b->pba = (ProtobufCAllocator){arena_alloc, arena_nofree, &b->arena};
    b->cmds = baton_xcalloc(cap, sizeof *b->cmds);
    b->tmp = baton_xcalloc(CHUNK, sizeof *b->tmp);
    b->seq = baton_xcalloc(CHUNK, sizeof *b->seq);
    b->chunk_end = baton_xcalloc(chunks, sizeof *b->chunk_end);
    b->cap = cap;
    return b;
}

void timer_consume_free(timer_svc_t *t)
{
    struct timer_batch *b = t->batch;
    if (b) {
        arena_free(&b->arena);
        timer_store_pipe_free(&b->pipe);
        free(b->cmds);
        free(b->tmp);
        free(b->seq);
        free(b->chunk_end);
        free(b->next_off);
        free(b);
        t->batch = NULL;
    }
    free(t->msgs);
    t->msgs = NULL;
}

static char *arena_strndup(arena_t *a, const void *s, size_t n)
{
    char *out = arena_alloc(a, n + 1);
    memcpy(out, s, n);
    out[n] = 0;
    return out;
}

/* The Envelope to fire, packed. The fire's id, timer id and due time stay empty here: they are
 * set when it fires (from the sorted set), which keeps every stored body smaller. The constant
 * type, producer and schema version stay in the body, so an older timer can still fire it. */
static uint8_t *fire_body(arena_t *a, const Baton__V1__Envelope *in, const baton_kafka_message_t *m,
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
    env.type = "timer.fired";
    env.producer = "timer";
    env.schema_version = 1;
    env.tenant = in->tenant;
    env.facility = in->facility;
    env.unit = in->unit;
    env.correlation_key = in->correlation_key;
    if (!*in->correlation_key && m->key) /* keep the instance's partition anyway */
        env.correlation_key = arena_strndup(a, m->key, m->key_len);
    env.causation_id = in->id;
    env.traceparent = in->traceparent;
    env.body_case = BATON__V1__ENVELOPE__BODY_TIMER_FIRED;
    env.timer_fired = &fired;
    uint8_t *out = arena_alloc(a, baton__v1__envelope__get_packed_size(&env));
    *len = baton__v1__envelope__pack(&env, out);
    return out;
}

/* Timer ids are Baton's own (deterministic UUIDs or short composites): bound them. */
#define TIMER_ID_MAX 256

static size_t id_len(const char *id)
{
    size_t n = strnlen(id, TIMER_ID_MAX + 1);
    return n <= TIMER_ID_MAX ? n : 0;
}

/* FNV-1a: only orders the de-duplication (equal hashes still compare the ids). */
static uint64_t id_hash(const char *id, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ULL;
    return h;
}

static void skip_malformed(timer_svc_t *t, const baton_kafka_message_t *m, const char *why)
{
    baton_counter_inc(t->m.invalid);
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv_int(&f, "partition", m->partition);
    baton_log_kv_int(&f, "offset", m->offset);
    BATON_LOG(BATON_LOG_WARN, f.data, "skipping a malformed timer command: %s", why);
    baton_buf_free(&f);
}

/* Decode m into the next command; malformed ones are counted and skipped (committed: a
 * message that cannot be decoded now never will be). */
static void decode(timer_svc_t *t, struct timer_batch *b, const baton_kafka_message_t *m)
{
    Baton__V1__Envelope *env = baton__v1__envelope__unpack(&b->pba, m->value_len, m->value);
    timer_cmd_t c = {.partition = m->partition};
    if (env && env->body_case == BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE &&
        (c.id_len = id_len(env->timer_schedule->timer_id)) > 0 &&
        env->timer_schedule->due_at_ms > 0) {
        c.timer_id = env->timer_schedule->timer_id;
        c.due_at_ms = env->timer_schedule->due_at_ms;
        c.fire = fire_body(&b->arena, env, m, &c.fire_len);
        b->schedules++;
    } else if (env && env->body_case == BATON__V1__ENVELOPE__BODY_TIMER_CANCEL &&
               (c.id_len = id_len(env->timer_cancel->timer_id)) > 0) {
        c.timer_id = env->timer_cancel->timer_id;
        c.cancel = true;
        b->cancels++;
    } else {
        char err[96];
        if (!env)
            snprintf(err, sizeof err, "not a baton.v1.Envelope (%zu bytes)", m->value_len);
        skip_malformed(t, m, env ? "not a valid schedule or cancel" : err);
        return;
    }
    c.id_hash = id_hash(c.timer_id, c.id_len);
    b->cmds[b->ncmds++] = c;
}

static const timer_cmd_t *sort_base;

/* partition, then timer id, then arrival: equal ids end up adjacent, the last one last. */
static int cmp_seq(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const timer_cmd_t *x = &sort_base[i], *y = &sort_base[j];
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    if (x->id_hash != y->id_hash)
        return x->id_hash < y->id_hash ? -1 : 1;
    int c = strcmp(x->timer_id, y->timer_id);
    if (c)
        return c;
    return i < j ? -1 : 1;
}

static bool same_timer(const timer_cmd_t *x, const timer_cmd_t *y)
{
    return x->partition == y->partition && x->id_hash == y->id_hash &&
           strcmp(x->timer_id, y->timer_id) == 0;
}

/* Order cmds[from..ncmds) (one chunk) by partition and keep only the last command of each
 * timer id; the chunk shrinks in place. */
static void dedupe(struct timer_batch *b, size_t from)
{
    size_t n = b->ncmds - from, k = 0;
    timer_cmd_t *c = b->cmds + from;
    for (size_t i = 0; i < n; i++)
        b->seq[i] = i;
    sort_base = c;
    qsort(b->seq, n, sizeof *b->seq, cmp_seq);
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || !same_timer(&c[b->seq[i]], &c[b->seq[i + 1]]))
            b->tmp[k++] = c[b->seq[i]]; /* else superseded within the chunk */
    memcpy(c, b->tmp, k * sizeof *c);
    b->ncmds = from + k;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Send the decoded chunks again, then read all replies. */
static int resend(timer_svc_t *t, struct timer_batch *b)
{
    int rc = 0;
    for (size_t k = 0, s = 0; k < b->nchunks && rc == 0; s = b->chunk_end[k++])
        rc = timer_store_send(t, b->cmds + s, b->chunk_end[k] - s, &b->pipe);
    int frc = timer_store_finish(t, &b->pipe);
    return rc ? rc : frc;
}

/* The first attempt's result in; retry while Redis is down for up to redis_retry_ms (not
 * polling meanwhile keeps the batch ours; the bound stays below max.poll.interval.ms). */
static int store_retry(timer_svc_t *t, struct timer_batch *b, int rc)
{
    int64_t deadline = baton_mono_ms() + t->cfg->redis_retry_ms;
    for (int attempt = 0;; attempt++) {
        if (rc == 0) {
            if (attempt > 0)
                timer_update_ready(t);
            timer_store_stored(t, b->cmds, b->ncmds);
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
        rc = resend(t, b);
    }
}

/* Decode msgs[0..n) chunk by chunk, each chunk sent to Redis before the next is decoded;
 * then read the replies (retrying the whole batch while Redis is down). */
static int store(timer_svc_t *t, struct timer_batch *b, const baton_kafka_message_t *msgs, size_t n)
{
    int rc = 0;
    for (size_t s = 0; s < n; s += CHUNK) {
        size_t e = s + CHUNK < n ? s + CHUNK : n, from = b->ncmds;
        for (size_t i = s; i < e; i++)
            decode(t, b, &msgs[i]);
        dedupe(b, from);
        b->chunk_end[b->nchunks++] = b->ncmds;
        if (rc == 0)
            rc = timer_store_send(t, b->cmds + from, b->ncmds - from, &b->pipe);
    }
    int frc = timer_store_finish(t, &b->pipe);
    return store_retry(t, b, rc ? rc : frc);
}

/* Commit every polled partition's next offset (one pass: the poll may hold thousands). */
static int commit(timer_svc_t *t, struct timer_batch *b, const baton_kafka_message_t *msgs,
                  size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        size_t p = (size_t)msgs[i].partition;
        if (p >= b->noffs) {
            b->next_off = baton_xrealloc(b->next_off, (p + 1) * sizeof *b->next_off);
            memset(b->next_off + b->noffs, 0, (p + 1 - b->noffs) * sizeof *b->next_off);
            b->noffs = p + 1;
        }
        if (msgs[i].offset + 1 > b->next_off[p])
            b->next_off[p] = msgs[i].offset + 1;
    }
    baton_kafka_partition_t *offs = baton_xcalloc(b->noffs ? b->noffs : 1, sizeof *offs);
    size_t k = 0;
    for (size_t p = 0; p < b->noffs; p++) {
        if (b->next_off[p] > 0)
            offs[k++] = (baton_kafka_partition_t){BATON_TOPIC_TIMERS, (int32_t)p, b->next_off[p]};
        b->next_off[p] = 0;
    }
    int rc = baton_kafka_consumer_commit(t->consumer, offs, k, 5000, err, errlen);
    free(offs);
    return rc;
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
    struct timer_batch *b = batch_get(t);
    int64_t t0 = baton_mono_ns();
    int rc = store(t, b, msgs, (size_t)n);
    int64_t t1 = baton_mono_ns();
    if (rc == 0) {
        baton_counter_add(t->m.schedules, b->schedules);
        baton_counter_add(t->m.cancels, b->cancels);
        char err[256] = "";
        int crc = commit(t, b, msgs, (size_t)n, err, sizeof err);
        LOG_DEBUG("batch of %d: %zu commands decoded and stored in %.1f ms, committed in %.1f ms",
                  n, b->ncmds, (double)(t1 - t0) / 1e6, (double)(baton_mono_ns() - t1) / 1e6);
        if (crc != 0) { /* stored already: the replay a new owner does is harmless */
            baton_counter_inc(t->m.err_commit);
            LOG_WARN("commit failed: %s", err);
        }
    } else if (baton_svc_running) {
        LOG_FATAL("redis unavailable for %lld ms: the batch stays uncommitted",
                  t->cfg->redis_retry_ms);
    }
    b->ncmds = b->nchunks = 0;
    b->schedules = b->cancels = 0;
    arena_reset(&b->arena);
    baton_kafka_messages_release(msgs, (size_t)n);
    if (rc != 0)
        return baton_svc_running ? BATON_EIO : 0;
    return n;
}
