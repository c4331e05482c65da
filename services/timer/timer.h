/* timer.h — baton-timer's insides, one header for the service (see README.md for the design).
 *
 *   timer_store.c    the Redis side: keys per Kafka partition, writing a consumed batch
 *                    (MULTI/EXEC per partition, pipelined), taking due timers and
 *                    compare-and-delete
 *   timer_consume.c  baton.timers.v1 → decoded, de-duplicated batch → store → commit
 *   timer_fire.c     due timers of every owned partition, merged in due order → TimerFired on
 *                    baton.inbound.v1 (acks awaited) → compare-and-delete
 *   timer_parts.c    owned partitions (rebalance callback), metrics, readiness
 *   main.c           the table of contents
 *
 * Everything runs on the one thread that polls the consumer: rebalance callbacks, storing,
 * firing. So a revoked partition can never be fired after its REVOKED callback returned. */
#ifndef BATON_TIMER_H
#define BATON_TIMER_H

#include "baton/kafka.h"
#include "baton/metrics.h"
#include "baton/redis.h"
#include "baton/service.h"

#include <stdbool.h>
#include <stdint.h>

#define TIMER_NO_DUE INT64_MAX /* a partition with nothing pending */

typedef struct {
    char *redis_url;
    char *group_id;
    char *key_prefix;
    long long late_ms;
    long long consume_batch;
    long long fire_batch;
    long long poll_ms;
    long long redis_retry_ms;
    long long produce_timeout_ms;
} timer_cfg_t;

/* One partition of baton.timers.v1 as this instance sees it. */
typedef struct {
    bool owned;
    int64_t next_due;       /* earliest due time we know of; 0 = look now; TIMER_NO_DUE = none */
    char *due_key;          /* <prefix>:{<topic>:<p>}:due   sorted set timer_id → due_at_ms */
    char *fire_key;         /* <prefix>:{<topic>:<p>}:fire  hash timer_id → fire envelope */
    baton_gauge_t *pending; /* baton_timer_pending{partition} */
} timer_part_t;

typedef struct {
    baton_counter_t *schedules, *cancels, *invalid;
    baton_counter_t *fired_on_time, *fired_late;
    baton_histogram_t *lateness;
    baton_metric_t *pending_fam;
    baton_metric_t *errors_fam;
    baton_counter_t *err_store, *err_fire, *err_ack, *err_commit;
} timer_metrics_t;

typedef struct {
    const timer_cfg_t *cfg;
    baton_svc_t *svc;
    baton_redis_t *redis;
    baton_kafka_consumer_t *consumer;
    baton_kafka_producer_t *producer;
    timer_part_t *parts; /* indexed by partition number */
    size_t nparts;
    timer_metrics_t m;
    bool redis_ok;               /* the last Redis call worked */
    int64_t fire_retry_at;       /* after a failed fire round: mono ms of the next try */
    int64_t next_ping_ms;        /* idle Redis health check (mono ms) */
    baton_kafka_message_t *msgs; /* the poll buffer, consume_batch entries */
    struct timer_batch *batch;   /* timer_consume's buffers, kept from poll to poll */
} timer_svc_t;

/* ---- timer_parts.c ---- */

/* Registers the metric families. */
void timer_metrics_init(timer_svc_t *t, baton_metrics_t *reg);
/* The partition's slot (created, not owned, on first use). Never NULL. */
timer_part_t *timer_part(timer_svc_t *t, int32_t partition);
/* The rebalance callback (opaque: timer_svc_t *). */
void timer_on_rebalance(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                        baton_kafka_partition_t *parts, size_t n, void *opaque);
/* Earliest next_due over owned partitions (TIMER_NO_DUE when none). */
int64_t timer_next_due(const timer_svc_t *t);
/* Readiness from the consumer's health and the last Redis result. */
void timer_update_ready(timer_svc_t *t);
void timer_parts_free(timer_svc_t *t);

/* ---- timer_store.c ---- */

/* One decoded command of a consumed batch, after de-duplication (last one per id wins). */
typedef struct {
    int32_t partition;
    bool cancel;
    const char *timer_id; /* borrowed from the decoded envelope */
    size_t id_len;
    uint64_t id_hash;  /* of timer_id: the de-duplication sorts on it */
    int64_t due_at_ms; /* schedule only */
    uint8_t *fire;     /* schedule only: packed fire envelope (owned by the batch) */
    size_t fire_len;
} timer_cmd_t;

/* The MULTI blocks sent and not read back yet: partition and number of replies of each. */
typedef struct {
    int32_t partition;
    size_t nreplies;
} timer_store_block_t;

typedef struct {
    timer_store_block_t *blocks;
    size_t nblocks, cap;
} timer_store_pipe_t;

/* Loads the Lua scripts (SCRIPT LOAD; EVALSHA reloads them after a Redis restart). */
int timer_store_init(timer_svc_t *t);
/* Queue cmds[0..n) (sorted by partition, at most one per timer id) in the pipeline, per
 * partition MULTI, HSET fire, ZADD due, HDEL + ZREM cancels, ZCARD, EXEC, and write them to
 * Redis without waiting for the replies (Redis works on them while the caller decodes the
 * next chunk). Several sends may precede one timer_store_finish; Redis applies them in order.
 * 0 or BATON_EUNAVAIL (call timer_store_finish anyway: it clears the pipeline). */
int timer_store_send(timer_svc_t *t, const timer_cmd_t *cmds, size_t n, timer_store_pipe_t *pp);
/* Read and check the replies of everything sent into pp; updates the pending gauges.
 * 0, BATON_EUNAVAIL or BATON_EIO (nothing can be assumed written). */
int timer_store_finish(timer_svc_t *t, timer_store_pipe_t *pp);
/* After a successful finish: lower the partitions' next_due to the stored schedules'. */
void timer_store_stored(timer_svc_t *t, const timer_cmd_t *cmds, size_t n);
void timer_store_pipe_free(timer_store_pipe_t *pp);

/* A due timer taken from Redis (strings owned by the take's reply). */
typedef struct {
    int32_t partition;
    const char *timer_id;
    size_t id_len;
    int64_t due_at_ms;
    const char *fire; /* NULL: an orphan entry without a body (deleted without firing) */
    size_t fire_len;
} timer_due_t;

/* Up to max timers of partition p with due_at_ms <= now_ms, in due order, appended to
 * out[*n..]; *reply receives the Redis reply the strings point into (caller frees it).
 * Sets *next_due to the earliest remaining due time after them (0 when the batch was full:
 * more may be due; TIMER_NO_DUE when nothing remains) and updates the pending gauge.
 * 0 or a BATON_E*. */
int timer_store_take(timer_svc_t *t, int32_t p, int64_t now_ms, size_t max, timer_due_t *out,
                     size_t *n, redisReply **reply, int64_t *next_due);
/* Compare-and-delete the n entries of partition p in due[] (those whose due time is still the
 * one taken: a replaced timer is kept). Updates the pending gauge. 0 or a BATON_E*. */
int timer_store_ack(timer_svc_t *t, int32_t p, const timer_due_t *due, size_t n);
/* ZCARD of partition p into its pending gauge. 0 or a BATON_E*. */
int timer_store_count(timer_svc_t *t, int32_t p);

/* ---- timer_consume.c ---- */

/* Poll up to timeout_ms, store what came, commit it. Returns the number of messages handled
 * (0 on a quiet poll), or BATON_EIO when the consumer is broken / Redis stayed down beyond
 * redis_retry_ms (the service should exit and be restarted: the batch was not committed). */
int timer_consume(timer_svc_t *t, int timeout_ms);
/* Frees timer_consume's buffers (t->msgs included). */
void timer_consume_free(timer_svc_t *t);

/* ---- timer_fire.c ---- */

/* Fire every due timer of the owned partitions (in batches of fire_batch, in due order).
 * Returns how many fired in this call, or a negative BATON_E* (nothing was deleted that was
 * not acknowledged by Kafka). Stops after one batch when more Kafka input is waiting is not
 * known: call it once per loop turn; it fires at most fire_batch timers. */
int timer_fire_due(timer_svc_t *t);

#endif
