/* router.h — the one header of baton-router: consumes baton.inbound.v1, runs the pathway state
 * machines (libs/pathway) over instance state kept in Redis, and produces lifecycle events,
 * notification requests and timer commands.
 *
 * One batch, in the order DESIGN.md demands (router_batch.c):
 *   1. poll up to batch_max inputs; skip those at or below their partition's applied offset
 *      (baton:router:applied:<topic>:<partition>);
 *   2. load the instances the inputs concern (pipelined, cached for the batch: a later input of
 *      the same key sees the states an earlier one left) and step each input through the
 *      machine, resolving roles over a per-batch snapshot of the Redis rosters;
 *   3. produce every output and wait for the acks (a failure: retry the produce);
 *   4. write the changed states, task index, correlation sets and applied offsets in one
 *      MULTI/EXEC, fenced by WATCH on the applied offsets (router_store.c);
 *   5. commit the Kafka offsets.
 * A crash anywhere replays: output ids are derived from the input ids, instances drop inputs
 * they already applied, and the applied offsets skip what was written.
 *
 * Two threads (router_pipeline.c): the main one polls and computes (1-2) with its own Redis
 * connection; the finishing thread produces, writes (its own Redis connection) and commits
 * (3-5) batch N while the main thread computes batch N+1 over the states N left in the cache.
 * One batch at a time is in flight, and each goes through 3-5 in order. */
#ifndef BATON_ROUTER_H
#define BATON_ROUTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "baton/kafka.h"
#include "baton/metrics.h"
#include "baton/pathway.h"
#include "baton/redis.h"
#include "baton/service.h"

/* ---------------------------------------------------------------- configuration */

typedef struct {
    baton_svc_common_t c;
    char *redis_url;
    char *pathways_dir;
    char *group_id;
    char *input_topic;
    long long batch_max;
    long long batch_wait_ms;
    long long produce_timeout_ms;
    long long closed_ttl_ms; /* 0: closed instances are kept forever */
    bool roster_snapshot;    /* false: one baton_roster_resolve round trip per query */
    bool pipeline;           /* compute batch N+1 while batch N is produced and written */
} router_cfg_t;

/* ---------------------------------------------------------------- string map */

/* Open-addressing map from a string key (copied) to a pointer (not owned). */
typedef struct {
    char **keys;
    void **vals;
    size_t cap, n;
} router_map_t;

void router_map_init(router_map_t *m);
void router_map_free(router_map_t *m); /* frees the keys, not the values */
void *router_map_get(const router_map_t *m, const char *key);
/* Insert or replace; returns the previous value (or NULL). */
void *router_map_put(router_map_t *m, const char *key, void *val);
/* router_map_put of a key the map takes over (malloc'd; freed at once when already there). */
void *router_map_put_owned(router_map_t *m, char *key, void *val);

/* Make room for element n (0-based) of an array that grows one element at a time: capacity is
 * the next power of two (at least 16), so appends cost amortized O(1) and few reallocs (each
 * realloc of a large block makes malloc consolidate its free lists). */
void *router_grow(void *p, size_t n, size_t size);
/* Iterate: for (size_t i = 0; i < m->cap; i++) if (m->keys[i]) ... */

/* ---------------------------------------------------------------- metrics */

typedef struct {
    baton_metric_t *events_in; /* baton_router_events_in_total{kind} */
    baton_counter_t *in_clinical, *in_staff, *in_timer, *in_invalid;
    baton_counter_t *replays_skipped; /* baton_router_replays_skipped_total */
    baton_counter_t *dead_letters;    /* baton_router_dead_letters_total */
    baton_metric_t *transitions;      /* baton_router_transitions_total{type} */
    baton_metric_t *outputs;          /* baton_router_outputs_total{topic} */
    baton_histogram_t *batch_size;    /* baton_router_batch_size */
    baton_histogram_t *batch_seconds; /* baton_router_batch_seconds: poll → commit */
    baton_histogram_t *latency;       /* baton_router_event_latency_seconds: append → written */
    baton_gauge_t *instances_active;  /* baton_router_instances_active */
    baton_metric_t *retries;          /* baton_router_retries_total{phase} */
    baton_counter_t *retry_load, *retry_produce, *retry_write;
    baton_counter_t *commit_failures; /* baton_router_commit_failures_total */
    baton_counter_t *fenced;          /* baton_router_fenced_total */
    router_map_t child_cache;         /* "t<type>" / "o<topic>" → child */
    pthread_mutex_t child_mu;         /* outputs are counted on the producing thread too */
    router_map_t transition_cache;    /* type → child, computing thread only (no lock) */
} router_metrics_t;

void router_metrics_init(router_metrics_t *m, baton_metrics_t *reg);
/* The transitions{type} / outputs{topic} child, looked up once per label value (outputs:
 * thread-safe; transitions: from the computing thread only, per lifecycle output). */
baton_counter_t *router_metrics_transition(router_metrics_t *m, const char *type);
baton_counter_t *router_metrics_output(router_metrics_t *m, const char *topic);
void router_metrics_free(router_metrics_t *m);

/* ---------------------------------------------------------------- rosters */

/* The resolver the machine calls. With the snapshot on, each (tenant, facility, unit|-, role)
 * index is read once per batch over the batch's time window and resolved in memory with
 * baton_roster_resolve_in (the same rule and order as baton_roster_resolve). A query the
 * roster calls invalid (a missing facility, say) is a coverage gap; a Redis failure is
 * remembered in io_failed and fails the input (the batch is retried). */
typedef struct {
    baton_redis_t *redis;
    bool snapshot;
    int64_t lo_ms, hi_ms; /* the batch's input times */
    router_map_t idx;     /* index key → router_shifts_t* */
    int io_failed;        /* BATON_E* of the first Redis failure, sticky until reset */
    char err[256];
} router_roster_t;

void router_roster_init(router_roster_t *ro, baton_redis_t *redis, bool snapshot);
/* Forget the snapshot; the next batch covers [lo_ms, hi_ms]. */
void router_roster_reset(router_roster_t *ro, int64_t lo_ms, int64_t hi_ms);
void router_roster_free(router_roster_t *ro);
baton_resolver_t router_roster_resolver(router_roster_t *ro);

/* ---------------------------------------------------------------- state store (Redis) */

/* One instance as the router's cache knows it. */
typedef struct {
    Baton__V1__InstanceState *st; /* owned; NULL: not in Redis */
    bool dirty;                   /* changed by the batch being computed */
    bool stored_active;           /* active as Redis holds it (or will, once earlier batches
                                     are written) */
    bool stored;                  /* exists in Redis (idem) */
    uint64_t gen;                 /* the last batch that loaded or changed it */
} router_inst_t;

typedef struct {
    char **ids;
    size_t n;
    uint64_t gen;
} router_idlist_t;

typedef struct {
    char *instance_id; /* "" when Redis has no such task */
    uint64_t gen;
} router_taskref_t;

/* The router's view of Redis: instances by id, correlation sets by key, task → instance. It
 * outlives a batch: the batch being computed sees what the batch still being produced left
 * (which Redis does not hold yet). Entries of batches already written are evicted. */
typedef struct {
    router_map_t inst; /* instance id → router_inst_t* */
    router_map_t corr; /* correlation key → router_idlist_t* (the open instances' ids) */
    router_map_t task; /* task id → router_taskref_t* */
} router_cache_t;

void router_cache_init(router_cache_t *c);
void router_cache_free(router_cache_t *c);
/* Drop every entry no batch newer than `written` touched (Redis holds them now). */
void router_cache_evict(router_cache_t *c, uint64_t written);

/* Load what inputs need into the cache, pipelined: the correlation sets of keys[0..nkeys), the
 * instance ids named directly (ids) and the instances behind task ids (tasks), then every
 * instance those name. Already cached entries are not read again; entries loaded are stamped
 * gen. 0 or BATON_EUNAVAIL / BATON_EIO (err set); a corrupt state is logged and treated as
 * absent. */
int router_store_load(baton_redis_t *r, router_cache_t *c, uint64_t gen, char **keys, size_t nkeys,
                      char **ids, size_t nids, char **tasks, size_t ntasks, char *err,
                      size_t errlen);

/* What a batch writes: its changed instances, packed when its computation ended. */
typedef struct {
    char *id, *corr;
    uint8_t *buf;
    size_t len;
    bool active, stored, stored_active;
    char **tasks;
    size_t ntasks;
} router_plan_item_t;

typedef struct {
    router_plan_item_t *v;
    size_t n;
} router_plan_t;

/* Pack every dirty instance of c into plan and mark it clean and stored (as it will be once
 * the plan is written), so the next batch builds on it. */
void router_store_plan(router_cache_t *c, router_plan_t *plan);
void router_plan_free(router_plan_t *plan);

/* A partition's applied offset. */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t before; /* what Redis held when we took the batch (-1: none) */
    int64_t after;  /* what this batch writes */
} router_applied_t;

/* Read the applied offsets of n partitions into out[i] (-1 when none). 0 or an I/O error. */
int router_store_applied(baton_redis_t *r, const char *topic, const int32_t *parts, size_t n,
                         int64_t *out, char *err, size_t errlen);

/* Write the plan (SET baton:inst:<id>, with closed_ttl_ms when it closed), the task index of
 * new instances, correlation set changes, the active-instance counter and the applied
 * offsets, in one MULTI/EXEC under WATCH of the applied keys. Returns 0 (written; the active
 * count is stored in *active_out), BATON_ECONFLICT when another router advanced an applied
 * offset (this router lost the partition: nothing written), or an I/O error (retry). */
int router_store_write(baton_redis_t *r, const router_plan_t *plan, const router_applied_t *ap,
                       size_t nap, int64_t closed_ttl_ms, long long *active_out, char *err,
                       size_t errlen);

/* The active-instance counter (0 when unset). */
int router_store_active(baton_redis_t *r, long long *out);

/* ---------------------------------------------------------------- the router */

typedef struct {
    char *topic;
    int32_t partition;
    int64_t applied; /* -1: nothing applied yet */
    bool known;      /* applied read from Redis */
} router_part_t;

struct router_batch;

typedef struct {
    const router_cfg_t *cfg;
    baton_svc_t *svc;
    baton_pathway_set_t *set;
    baton_redis_t *redis;
    baton_kafka_producer_t *producer;
    baton_kafka_consumer_t *consumer;
    router_metrics_t m;
    router_roster_t roster;
    router_part_t *parts; /* assigned partitions */
    size_t nparts;
    bool fatal; /* lost ownership or a broken dependency: exit non-zero */
    int64_t last_health_ms;
    router_cache_t cache; /* see router_cache_t */
    uint64_t gen;         /* batches started */
    /* the pipeline: batch N is produced, written and committed on the finishing thread (with
     * its own Redis connection, wredis) while N+1 is computed */
    baton_redis_t *wredis;
    baton_pathway_arena_t *arenas[3]; /* spare batch arenas (at most 2 batches are alive) */
    size_t narenas;
    struct router_batch *inflight; /* handed over, not reaped yet (computing thread's) */
    pthread_t pth;
    pthread_mutex_t pmu;
    pthread_cond_t pcv;
    struct router_batch *pjob;
    bool pdone, pquit, pstarted;
    bool pabandon; /* the partitions are lost: do not write the job once produced */
    int prc;
} router_t;

/* The rebalance callback (conf opaque: the router_t). */
void router_on_rebalance(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                         baton_kafka_partition_t *parts, size_t n, void *opaque);

/* The pipeline (router_pipeline.c). router_pipeline_start/stop run the finishing thread.
 * router_process_batch takes a polled batch (msgs: the caller's array, released by the
 * pipeline when the batch ends; the caller must not reuse it until router_finish_inflight),
 * computes it while the previous batch is still being produced and written, waits for that
 * one (acks → state written → offsets committed, on the finishing thread) and hands this one
 * over (without cfg->pipeline it then waits for it too). Redis and Kafka failures are retried
 * with backoff while baton_svc_running. Returns 0, or BATON_ECONFLICT when ownership was lost
 * (r->fatal set), or the error a shutdown interrupted (nothing of the interrupted batch
 * committed: its inputs replay). */
int router_pipeline_start(router_t *r);
void router_pipeline_stop(router_t *r);
int router_process_batch(router_t *r, baton_kafka_message_t *msgs, size_t n);
/* Wait for the batch in flight, if any, and take in its result (on an idle poll, a
 * rebalance, a shutdown). 0 or its error (BATON_ECONFLICT: r->fatal set). */
int router_finish_inflight(router_t *r);
/* Wait for the batch in flight without writing it unless it is written already (partitions
 * lost: another router may own them now; the batch replays there). */
void router_abandon_inflight(router_t *r);

/* Free the spare batch arenas (at shutdown, after router_pipeline_stop). */
void router_arenas_free(router_t *r);

/* Readiness: Redis answers, Kafka brokers are up. Cheap enough for every loop turn (PINGs at
 * most once a second). */
void router_check_health(router_t *r);

#endif
