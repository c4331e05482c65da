/* router_batch.h — what the batch files of baton-router share (not a public header). */
#ifndef BATON_ROUTER_BATCH_H
#define BATON_ROUTER_BATCH_H

#include "router.h"

typedef struct {
    baton_kafka_message_t *msg;
    Baton__V1__Envelope *env; /* NULL: not an Envelope (reason says why) */
    char reason[160];
    bool skip; /* at or below the partition's applied offset */
    router_part_t *part;
} router_input_t;

typedef struct router_batch {
    router_t *r;
    baton_kafka_message_t *msgs; /* released when the batch ends */
    size_t n;
    router_input_t *in;
    uint64_t gen;
    baton_outputs_t outs;         /* in production order */
    router_plan_t plan;           /* what is written once the outputs are acknowledged */
    baton_pathway_arena_t *arena; /* the input envelopes and every output (outs.arena) */
    /* set by the computing thread when it hands the batch over, read by the finishing one */
    router_applied_t *ap; /* the applied offsets the write moves from `before` to `after` */
    size_t nap;
    /* set by the finishing thread, read by the computing one once the batch is done */
    long long active;                         /* the active-instance count the write left */
    int64_t t0;                               /* mono ns: poll returned */
    int64_t compute_ns, produce_ns, write_ns; /* per phase, for the debug log */
    char err[512];
} router_batch_t;

/* Load and step every input that is not skipped into r->cache (router_step.c). 0, or the I/O
 * error that stopped it (b->err says what): then the cache holds half a batch, and the caller
 * drains the pipeline, empties the cache, frees the outputs and retries. */
int router_compute(router_batch_t *b);
/* Append a DeadLetter for the input to b->outs. */
void router_dead_letter(router_batch_t *b, router_input_t *in, const char *reason);
void router_count_input(router_metrics_t *m, const Baton__V1__Envelope *e);

/* The phases (router_batch.c). On the computing thread: prepare (unpack, count), compute
 * (retrying Redis failures), applied_list (once the previous batch is done: its `before` is
 * what that batch wrote). On the finishing thread (router_pipeline.c): produce and wait for
 * the acks, write (r->wredis), commit, observe; each retries until it succeeds, a shutdown
 * interrupts it (the error is returned) or — write — the fence fails (BATON_ECONFLICT). */
void router_phase_prepare(router_batch_t *b);
int router_phase_compute(router_batch_t *b);
void router_phase_applied(router_batch_t *b);
int router_phase_produce(router_batch_t *b);
int router_phase_write(router_batch_t *b);
void router_phase_commit(router_batch_t *b);
void router_phase_observe(router_batch_t *b);
/* Free what the batch holds (envelopes, outputs, plan, messages); its shell and ap stay. */
void router_batch_release(router_batch_t *b);
/* router_batch_release, then the rest. */
void router_batch_free(router_batch_t *b);

/* Partitions (router_batch.c; computing thread only). */
router_part_t *router_part_find(router_t *r, const char *topic, int32_t partition);

#endif
