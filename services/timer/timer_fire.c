/* timer_fire.c — due timers out: take what is due from every owned partition, merge in due
 * order, produce TimerFired to baton.inbound.v1 and wait for the acks, then compare-and-
 * delete exactly what was fired. A crash between produce and delete fires again, with the
 * same event id (derived from timer id + due time), which the router recognises.
 *
 * Never early: a timer is taken only when its due time is <= now, and fired_at_ms is read
 * after that. */
#include "timer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    timer_due_t *due; /* taken entries of every partition */
    size_t n;
    redisReply **replies; /* one per partition taken from (owns the strings in due) */
    size_t nreplies;
    int64_t cutoff; /* fire only entries due <= cutoff (keeps global due order) */
} round_t;

/* Take due timers from every owned partition whose next_due has come. */
static int take_all(timer_svc_t *t, round_t *r, int64_t now)
{
    size_t max = (size_t)t->cfg->fire_batch, cand = 0;
    for (size_t i = 0; i < t->nparts; i++)
        cand += t->parts[i].owned && t->parts[i].next_due <= now;
    if (cand == 0)
        return 0;
    r->due = baton_xcalloc(cand * max, sizeof *r->due);
    r->replies = baton_xcalloc(cand, sizeof *r->replies);
    r->cutoff = INT64_MAX;
    for (size_t i = 0; i < t->nparts; i++) {
        timer_part_t *p = &t->parts[i];
        if (!p->owned || p->next_due > now)
            continue;
        size_t before = r->n;
        int64_t next = TIMER_NO_DUE;
        int rc = timer_store_take(t, (int32_t)i, now, max, r->due, &r->n, &r->replies[r->nreplies],
                                  &next);
        if (rc != 0)
            return rc;
        r->nreplies++;
        p->next_due = next;
        if (next == 0 && r->n > before) /* full: later ones of this partition not seen yet */
            r->cutoff =
                r->due[r->n - 1].due_at_ms < r->cutoff ? r->due[r->n - 1].due_at_ms : r->cutoff;
    }
    return 0;
}

static int cmp_due(const void *a, const void *b)
{
    const timer_due_t *x = a, *y = b;
    if (x->due_at_ms != y->due_at_ms)
        return x->due_at_ms < y->due_at_ms ? -1 : 1;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return strcmp(x->timer_id, y->timer_id); /* unique within a partition */
}

/* The envelopes to produce for due[0..n): the stored body with id, timer id, due and fire
 * times set. Entries that cannot fire (orphans, undecodable bodies) get env NULL. */
typedef struct {
    Baton__V1__Envelope *env;
    /* restored before free: the unpacker owns those */
    char *orig_id, *orig_timer_id, *orig_type, *orig_producer;
    char id[BATON_ID_LEN];
} fire_t;

static void build(timer_svc_t *t, const timer_due_t *d, fire_t *f, int64_t fired_at)
{
    char err[128];
    if (!d->fire) {
        LOG_WARN("dropping a timer entry without a body");
        return;
    }
    Baton__V1__Envelope *env = baton_kafka_envelope_unpack(d->fire, d->fire_len, err, sizeof err);
    if (!env || env->body_case != BATON__V1__ENVELOPE__BODY_TIMER_FIRED) {
        LOG_ERROR("dropping a timer whose stored body does not decode: %s", env ? "no body" : err);
        baton_kafka_envelope_free(env);
        return;
    }
    char purpose[40];
    snprintf(purpose, sizeof purpose, "fired:%" PRId64, d->due_at_ms);
    baton_derived_id(d->timer_id, purpose, f->id);
    Baton__V1__TimerFired *tf = env->timer_fired;
    f->orig_id = env->id;
    f->orig_timer_id = tf->timer_id;
    f->orig_type = env->type;
    f->orig_producer = env->producer;
    if (!*env->type) /* a body stored without the constant fields: set them here */
        env->type = "timer.fired";
    if (!*env->producer)
        env->producer = "timer";
    if (!env->schema_version)
        env->schema_version = 1;
    env->id = f->id;
    tf->timer_id = (char *)d->timer_id;
    tf->due_at_ms = d->due_at_ms;
    tf->fired_at_ms = fired_at > d->due_at_ms ? fired_at : d->due_at_ms;
    tf->late = tf->fired_at_ms - d->due_at_ms > t->cfg->late_ms;
    env->occurred_at_ms = d->due_at_ms;
    env->recorded_at_ms = tf->fired_at_ms;
    f->env = env;
}

static void fires_free(fire_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!f[i].env)
            continue;
        f[i].env->id = f[i].orig_id;
        f[i].env->timer_fired->timer_id = f[i].orig_timer_id;
        f[i].env->type = f[i].orig_type;
        f[i].env->producer = f[i].orig_producer;
        baton_kafka_envelope_free(f[i].env);
    }
    free(f);
}

/* Produce the fires of due[0..n) (in order), wait for the acks. 0 or a BATON_E*. */
static int produce(timer_svc_t *t, const timer_due_t *due, size_t n, fire_t *f)
{
    int64_t fired_at = baton_now_ms();
    baton_kafka_envelope_out_t *outs = baton_xcalloc(n ? n : 1, sizeof *outs);
    size_t nout = 0;
    for (size_t i = 0; i < n; i++) {
        build(t, &due[i], &f[i], fired_at);
        if (f[i].env)
            outs[nout++] = (baton_kafka_envelope_out_t){BATON_TOPIC_INBOUND, f[i].env};
    }
    char err[256] = "";
    int rc = baton_kafka_produce_envelopes(t->producer, outs, nout, (int)t->cfg->produce_timeout_ms,
                                           err, sizeof err);
    free(outs);
    if (rc != 0) {
        baton_counter_inc(t->m.err_fire);
        LOG_ERROR("producing %zu TimerFired failed (will retry): %s", nout, err);
        return rc;
    }
    int64_t acked = baton_now_ms();
    size_t late = 0;
    for (size_t i = 0; i < n; i++) {
        if (!f[i].env)
            continue;
        bool is_late = f[i].env->timer_fired->late;
        late += is_late;
        baton_counter_inc(is_late ? t->m.fired_late : t->m.fired_on_time);
        baton_histogram_observe(t->m.lateness, (double)(acked - due[i].due_at_ms) / 1000.0);
    }
    if (late > 0) {
        baton_buf_t fl = BATON_BUF_INIT;
        baton_log_kv_int(&fl, "fired", (long long)nout);
        baton_log_kv_int(&fl, "late", (long long)late);
        BATON_LOG(BATON_LOG_INFO, fl.data, "fired timers past their lateness threshold");
        baton_buf_free(&fl);
    }
    return 0;
}

/* Compare-and-delete what was fired, per partition (due[] is sorted by due time, so gather
 * each partition's entries first). */
static int ack_all(timer_svc_t *t, const timer_due_t *due, size_t n)
{
    timer_due_t *mine = baton_xcalloc(n ? n : 1, sizeof *mine);
    int rc = 0;
    for (size_t i = 0; i < t->nparts && rc == 0; i++) {
        size_t k = 0;
        for (size_t j = 0; j < n; j++)
            if (due[j].partition == (int32_t)i)
                mine[k++] = due[j];
        rc = timer_store_ack(t, (int32_t)i, mine, k);
    }
    free(mine);
    if (rc != 0) /* they fired: they fire again later, with the same ids */
        baton_counter_inc(t->m.err_ack);
    return rc;
}

static void round_free(round_t *r)
{
    for (size_t i = 0; i < r->nreplies; i++)
        freeReplyObject(r->replies[i]);
    free(r->replies);
    free(r->due);
}

int timer_fire_due(timer_svc_t *t)
{
    if (baton_mono_ms() < t->fire_retry_at)
        return 0;
    int64_t now = baton_now_ms(), t0 = baton_mono_ns();
    round_t r = {0};
    int rc = take_all(t, &r, now);
    size_t n = 0;
    if (rc == 0 && r.n > 0) {
        qsort(r.due, r.n, sizeof *r.due, cmp_due);
        while (n < r.n && r.due[n].due_at_ms <= r.cutoff)
            n++;
        for (size_t i = n; i < r.n; i++) /* left for the next round, in order */
            timer_part(t, r.due[i].partition)->next_due = 0;
        fire_t *f = baton_xcalloc(n ? n : 1, sizeof *f);
        int64_t t1 = baton_mono_ns();
        rc = produce(t, r.due, n, f);
        int64_t t2 = baton_mono_ns();
        if (rc == 0)
            rc = ack_all(t, r.due, n);
        fires_free(f, n);
        LOG_DEBUG("fired %zu (first %lld ms late): take %.1f ms, produce %.1f ms, delete %.1f ms",
                  n, (long long)(now - r.due[0].due_at_ms), (double)(t1 - t0) / 1e6,
                  (double)(t2 - t1) / 1e6, (double)(baton_mono_ns() - t2) / 1e6);
    }
    if (rc != 0) {
        for (size_t i = 0; i < r.n; i++) /* retry those partitions */
            timer_part(t, r.due[i].partition)->next_due = 0;
        t->fire_retry_at = baton_mono_ms() + 200;
    }
    round_free(&r);
    return rc != 0 ? rc : (int)n;
}
