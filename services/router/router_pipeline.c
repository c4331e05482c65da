/* router_pipeline.c — who runs which phase of a batch. The main (computing) thread polls,
 * computes batch N+1 over the states batch N left in the cache, then waits for N and hands N+1
 * to the finishing thread, which produces it and waits for the acks, writes its states and
 * applied offsets (its own Redis connection) and commits its offsets. So each batch goes
 * acks → state → commit in that order, batches are written in order, and one batch at most is
 * in flight: its `before` applied offsets are what the previous batch wrote.
 *
 * Only the computing thread touches the cache and the partitions: when it takes a finished
 * batch back (router_finish_inflight) it advances the partitions' applied offsets and evicts
 * what Redis now holds. */
#include <stdlib.h>
#include <string.h>

#include "baton/log.h"
#include "router_batch.h"

/* The finishing thread's work on one batch: 0 once it is written and committed. */
static int finish(router_t *r, router_batch_t *b)
{
    int64_t t = baton_mono_ns();
    int rc = router_phase_produce(b);
    b->produce_ns = baton_mono_ns() - t;
    pthread_mutex_lock(&r->pmu);
    bool abandon = r->pabandon;
    pthread_mutex_unlock(&r->pmu);
    if (rc == 0 && abandon) {
        rc = BATON_EAGAIN; /* not written: it replays where the partitions went */
        snprintf(b->err, sizeof b->err, "partitions lost");
    }
    t = baton_mono_ns();
    if (rc == 0)
        rc = router_phase_write(b);
    b->write_ns = baton_mono_ns() - t;
    if (rc == 0) {
        router_phase_commit(b);
        router_phase_observe(b);
    }
    /* the batch is freed on the computing thread: its arena goes back to that thread's spares,
     * and what malloc gave that thread returns to it without taking malloc's locks */
    return rc;
}

static void *finishing_thread(void *arg)
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
        int rc = finish(r, b);
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
    if (pthread_create(&r->pth, NULL, finishing_thread, r) != 0) {
        pthread_cond_destroy(&r->pcv);
        pthread_mutex_destroy(&r->pmu);
        return BATON_EIO;
    }
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

/* Wait until the finishing thread is done with the batch in flight; its result. */
static int wait_done(router_t *r)
{
    pthread_mutex_lock(&r->pmu);
    while (!r->pdone)
        pthread_cond_wait(&r->pcv, &r->pmu);
    int rc = r->prc;
    pthread_mutex_unlock(&r->pmu);
    return rc;
}

int router_finish_inflight(router_t *r)
{
    router_batch_t *b = r->inflight;
    if (!b)
        return 0;
    r->inflight = NULL;
    int rc = wait_done(r);
    if (rc == 0) {
        for (size_t i = 0; i < b->nap; i++) {
            router_part_t *p = router_part_find(r, b->ap[i].topic, b->ap[i].partition);
            if (p)
                p->applied = b->ap[i].after;
        }
        router_cache_evict(&r->cache, b->gen); /* Redis holds it now */
    } else {
        /* not written: what the cache holds of it (and of the batch computed meanwhile) is
         * not in Redis */
        router_cache_evict(&r->cache, UINT64_MAX);
        if (rc == BATON_ECONFLICT) {
            baton_counter_inc(r->m.fenced);
            LOG_ERROR("another router owns a partition of this batch (%s): stopping", b->err);
            r->fatal = true;
        }
    }
    router_batch_free(b);
    return rc;
}

void router_abandon_inflight(router_t *r)
{
    router_batch_t *b = r->inflight;
    if (!b)
        return;
    r->inflight = NULL;
    pthread_mutex_lock(&r->pmu);
    r->pabandon = true;
    pthread_mutex_unlock(&r->pmu);
    int rc = wait_done(r);
    pthread_mutex_lock(&r->pmu);
    r->pabandon = false;
    pthread_mutex_unlock(&r->pmu);
    if (rc != 0)
        LOG_WARN("partitions lost: batch %llu dropped unwritten (it replays)",
                 (unsigned long long)b->gen);
    router_cache_evict(&r->cache, UINT64_MAX);
    router_batch_free(b);
}

static void hand_over(router_t *r, router_batch_t *b)
{
    router_phase_applied(b); /* the previous batch is done: partitions hold what it wrote */
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
    router_phase_prepare(b);
    int rc = router_phase_compute(b);
    b->compute_ns = baton_mono_ns() - b->t0;
    if (rc == 0) {
        router_store_plan(&r->cache, &b->plan);
        rc = router_finish_inflight(r); /* the previous batch: acks → state → commit */
    }
    if (rc != 0) {
        /* interrupted (shutdown, lost ownership): this batch is not produced; its inputs
         * replay. The cache holds its changes: forget them. */
        router_cache_evict(&r->cache, UINT64_MAX);
        router_batch_free(b);
        return rc;
    }
    hand_over(r, b);
    if (!r->cfg->pipeline) /* one batch at a time: produce, write, commit, then poll again */
        return router_finish_inflight(r);
    return 0;
}
