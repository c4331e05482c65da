/* baton/audit.h — the audit log: schema (migrations and roles), the canonical row and its
 * hash chain, the batch writer (append-only rows + chain heads + read projections, in one
 * transaction) and the chain verifier. Used by baton-audit (the writer and `verify`).
 *
 * Chain format. Rows are chained per Kafka (topic, partition). Each row carries seq (1, 2, ...
 * within its chain), prev_hash (the previous row's hash; 64 zeros for seq 1) and hash:
 *
 *   hash = lower-hex SHA-256 of baton_audit_row_hash_input(row)
 *        = for each of: prev_hash, topic, partition, offset, seq, recorded_month, event_id,
 *          event_type, tenant, instance_id, task_id, actor, occurred_at_ms, recorded_at_ms,
 *          payload — "<byte length>:<bytes>;" (integers in decimal, absent values as "")
 *
 * payload is the canonical JSON of the whole Envelope (baton_event_to_json_text), stored
 * verbatim in a `json` column. audit_chain_heads holds each chain's last seq, hash and the
 * last Kafka offset applied, updated in the same transaction as the rows.
 *
 * Idempotency: a message at or below its partition's applied offset is a replay and is
 * skipped; otherwise its dedup key (the first 128 bits of SHA-256(topic "\n" event id), as a
 * uuid) is inserted into audit_event_ids (unpartitioned primary key) and a key already there
 * is a duplicate, skipped. Neither adds a row.
 *
 * Concurrency: one writer per connection and thread. Several writers may run at once on
 * disjoint partition numbers (chain heads are locked FOR UPDATE per (topic, partition)). */
#ifndef BATON_AUDIT_H
#define BATON_AUDIT_H

#include "baton/core.h"
#include "baton/pg.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_AUDIT_GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* Roles the migrations create (when the migrating user may create roles) and grant to. */
#define BATON_AUDIT_WRITER_ROLE "baton_audit_writer"
#define BATON_AUDIT_READER_ROLE "baton_reader"

/* ---------------------------------------------------------------- schema */

/* The versioned migrations (tables, partition function, trigger, roles, grants). */
const baton_pg_migration_t *baton_audit_migrations(size_t *n);
/* Run them on pg (which should be a superuser or the schema owner). *applied as in
 * baton_pg_migrate. 0 or a BATON_E* with baton_pg_errstr(pg). */
int baton_audit_migrate(baton_pg_t *pg, int *applied);

/* ---------------------------------------------------------------- rows and hashes */

/* One audit row. Strings are borrowed; NULL means absent (hashed as ""). */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t seq;
    char recorded_month[11]; /* "YYYY-MM-01", the partition key */
    const char *event_id;
    const char *event_type;
    const char *tenant;
    const char *instance_id;
    const char *task_id;
    const char *actor;
    int64_t occurred_at_ms;
    int64_t recorded_at_ms;
    const char *payload; /* canonical JSON */
    char prev_hash[65];
    char hash[65];
} baton_audit_row_t;

/* Append the canonical hash input of r (see the top of this file) to out. */
void baton_audit_row_hash_input(const baton_audit_row_t *r, baton_buf_t *out);
/* r->hash = SHA-256 hex of the hash input (r->prev_hash must be set). */
void baton_audit_row_hash(baton_audit_row_t *r);
/* "YYYY-MM-01" of the UTC month holding ms. */
void baton_audit_month(int64_t ms, char out[11]);

/* ---------------------------------------------------------------- the writer */

/* A consumed Kafka message (borrowed). */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* -1 when unknown */
    const void *value;
    size_t value_len;
} baton_audit_msg_t;

/* Where a batch's time went (baton_audit_result_t.phase_s). */
enum {
    BATON_AUDIT_PHASE_DECODE = 0, /* unpack + canonical JSON (two threads) */
    BATON_AUDIT_PHASE_DEDUP,      /* event ids staged and recorded */
    BATON_AUDIT_PHASE_ROWS,       /* chain + COPY into audit_log + chain heads */
    BATON_AUDIT_PHASE_PROJECT,    /* projections */
    BATON_AUDIT_PHASE_COMMIT,
    BATON_AUDIT_PHASES
};

typedef struct {
    size_t inserted;    /* rows added to the log */
    size_t replayed;    /* at or below the applied offset */
    size_t duplicates;  /* event id seen before */
    size_t undecodable; /* not an Envelope (recorded anyway, type "undecodable") */
    /* offsets skipped over: the consumer never got them (deleted by retention before they
     * were audited). The chain cannot show this, so it is reported here. */
    size_t offset_gap;
    double phase_s[BATON_AUDIT_PHASES]; /* seconds per phase */
} baton_audit_result_t;

typedef struct baton_audit_writer baton_audit_writer_t;

/* A writer on pg (borrowed; the writer role is enough). Never NULL. */
baton_audit_writer_t *baton_audit_writer_new(baton_pg_t *pg);
void baton_audit_writer_free(baton_audit_writer_t *w);

/* Write one consumed batch (messages of a partition in offset order) in one transaction:
 * rows (COPY), chain heads, dedup ids and projections. *res (may be NULL) gets the counts.
 * Returns 0 once committed, or a BATON_E* (rolled back; nothing written) with the reason in
 * err: BATON_EUNAVAIL when the connection broke, BATON_EAGAIN for a serialization failure. */
int baton_audit_write(baton_audit_writer_t *w, const baton_audit_msg_t *msgs, size_t n,
                      baton_audit_result_t *res, char *err, size_t errlen);

/* Pipelining: the CPU-heavy part (unpack + canonical JSON) done ahead, on any thread, while
 * the writer's thread writes the previous batch. msgs are borrowed until the batch is freed.
 * threads: 1, or 2 to split the work. Never NULL. */
typedef struct baton_audit_batch baton_audit_batch_t;
baton_audit_batch_t *baton_audit_batch_decode(const baton_audit_msg_t *msgs, size_t n, int threads);
/* baton_audit_write for a decoded batch (may be called again on failure: a retry). */
int baton_audit_write_batch(baton_audit_writer_t *w, baton_audit_batch_t *b,
                            baton_audit_result_t *res, char *err, size_t errlen);
void baton_audit_batch_free(baton_audit_batch_t *b);

/* ---------------------------------------------------------------- verification */

typedef struct {
    size_t chains;
    size_t rows;
    bool ok;
    char problem[512]; /* the first broken link, when !ok */
} baton_audit_verify_t;

/* Walk every chain in (topic, partition, seq) order, recomputing each hash and checking each
 * link, seq continuity, offset order and the chain head. Stops at the first problem, named
 * like "topic baton.lifecycle.v1 partition 2 seq 17: hash mismatch (row changed)".
 * Returns 0 (see out->ok), or a BATON_E* when the database could not be read (err). */
int baton_audit_verify(baton_pg_t *pg, baton_audit_verify_t *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
