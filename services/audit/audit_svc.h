/* audit_svc.h — baton-audit's insides, one header for the service.
 *
 *   main.c       table of contents: config, schema, clients, loop, shutdown
 *   consume.c    poll a batch (up to batch_max or batch_wait), write it (libs/audit: rows,
 *                chain heads, projections in one transaction), then commit the offsets
 *   lag.c        consumer lag per topic, from a side librdkafka handle on its own thread
 *   verify.c     the `baton-audit verify` subcommand
 *
 * The loop runs on one thread; the rebalance callback (lag bookkeeping only) runs on it too.
 * Replays after a crash or a rebalance are harmless: the writer skips offsets at or below each
 * chain head and event ids it logged before. */
#ifndef BATON_AUDIT_SVC_H
#define BATON_AUDIT_SVC_H

#include "baton/audit.h"
#include "baton/kafka.h"
#include "baton/pg.h"
#include "baton/service.h"

#include <stdbool.h>

typedef struct {
    char *pg_dsn;
    char *pg_admin_dsn;
    char *group_id;
    char *topics;
    long long batch_max;
    long long batch_wait_ms;
    long long poll_ms;
    long long retry_ms;
    long long lag_interval_ms;
    long long writers;
} audit_cfg_t;

#define AUDIT_MAX_WRITERS 8
/* batches smaller than this are written by one writer, larger ones split by partition */
#define AUDIT_SPLIT_MIN 2000

typedef struct audit_lag audit_lag_t;

typedef struct {
    baton_counter_t *rows, *replayed, *duplicates, *undecodable;
    baton_counter_t *db_errors, *commit_errors, *offset_gap;
    baton_histogram_t *batch_size, *commit_latency;
    baton_histogram_t *phase[BATON_AUDIT_PHASES];
} audit_metrics_t;

/* One database writer: its own connection, used by one thread at a time. */
typedef struct {
    baton_pg_t *pg;
    baton_audit_writer_t *writer;
} audit_db_t;

/* The share of a polled batch one writer takes (partition number % writers). */
typedef struct {
    baton_audit_msg_t *amsgs; /* batch_max entries */
    size_t n;
    baton_audit_batch_t *batch;
    baton_audit_result_t res;
    int rc;
    char err[512];
} audit_part_t;

/* A polled batch: its messages (held until written and committed) and its shares. */
typedef struct {
    baton_kafka_message_t *msgs; /* batch_max entries */
    size_t n;
    audit_part_t part[AUDIT_MAX_WRITERS];
} audit_slot_t;

typedef struct {
    const audit_cfg_t *cfg;
    baton_svc_t *svc;
    /* Writers work in parallel on disjoint partition numbers: every event of one correlation
     * key has the same partition number on every topic, so their chains, projection rows and
     * locks never overlap. */
    audit_db_t db[AUDIT_MAX_WRITERS];
    int nwriters;
    baton_kafka_consumer_t *consumer;
    audit_lag_t *lag;
    audit_metrics_t m;
    /* Two batches in flight: while one is written, the next one is decoded (a helper thread). */
    audit_slot_t slot[2];
    int pending; /* index of the slot decoded and waiting to be written (n > 0), or -1 */
    int64_t next_health_ms;
    bool db_ok;
} audit_svc_t;

/* ---- consume.c ---- */
void audit_metrics_init(audit_svc_t *a, baton_metrics_t *reg);
/* Poll one batch, write it (retrying while PostgreSQL is unavailable, up to retry_ms), commit
 * its offsets. Returns the messages handled, or BATON_EIO when the consumer broke / the
 * database stayed unusable (the service should exit: nothing uncommitted is lost). */
int audit_consume(audit_svc_t *a);
/* Write (and commit) the batch still pending, at shutdown. 0 or BATON_EIO. */
int audit_drain(audit_svc_t *a);
/* Readiness from the consumer's health and the last database result. */
void audit_update_ready(audit_svc_t *a);
/* The rebalance callback (opaque: audit_svc_t *). */
void audit_on_rebalance(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                        baton_kafka_partition_t *parts, size_t n, void *opaque);

/* ---- lag.c ---- */
/* Starts the lag thread (own librdkafka handle: bootstrap + BATON_KAFKA_* properties, same
 * group id for the committed offsets). Registers baton_audit_consumer_lag{topic}. */
audit_lag_t *audit_lag_start(const char *bootstrap, const char *group_id, baton_metrics_t *reg,
                             int interval_ms, char *err, size_t errlen);
void audit_lag_assigned(audit_lag_t *l, const baton_kafka_partition_t *parts, size_t n,
                        bool assigned);
/* The next offset to read of a partition after a written batch. */
void audit_lag_position(audit_lag_t *l, const char *topic, int32_t partition, int64_t next);
void audit_lag_stop(audit_lag_t *l);

/* ---- verify.c ---- */
/* `baton-audit verify [--help]`: 0 chains intact, 1 broken (first bad row on stdout),
 * 2 usage / connection error. */
int audit_verify_main(int argc, char **argv);

#endif
