/* bench/e2e — the end-to-end benchmark's driver: a load generator posting canonical events to
 * baton-ingest, a webhook receiver (libs/http) timestamping each notification and matching it
 * to its event, and a raw librdkafka produce → consume baseline through the same broker.
 *
 * Matching a webhook to its event: the event's id is "<prefix>-<seq>"; the router names the
 * instance it starts baton_derived_id(event id, "instance:<pathway>") (libs/pathway), and the
 * webhook body carries that instance_id. The sender computes the id before it sends and
 * publishes it in a lock-free open-addressing map (instance id → seq); the receiver looks the
 * delivery up there. A one-event probe checks the derivation before any load is sent. */
#ifndef BATON_BENCH_E2E_H
#define BATON_BENCH_E2E_H

#include "baton/core.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One event of a run. Times are CLOCK_MONOTONIC ns (baton_mono_ns), 0 = not yet. */
typedef struct {
    int64_t due_ns;   /* when the schedule wanted it sent (fixed rate) / when it was sent (max) */
    int64_t sent_ns;  /* request written */
    int64_t acked_ns; /* ingest answered 202 (durable in Kafka) */
    _Atomic int64_t delivered_ns; /* first webhook for its instance */
    int status;                   /* HTTP status of its request */
} e2e_ev_t;

typedef struct {
    /* configuration */
    const char *host; /* ingest */
    int port;
    const char *api_key;
    const char *tenant;
    const char *prefix;  /* event ids: "<prefix>-<seq>" (unique per run) */
    const char *pathway; /* the bench pathway's id (for the instance id derivation) */
    const char *type;    /* the trigger event type */
    int facilities;      /* events cycle over facilities BF0..BF<n-1> */
    /* the events */
    size_t cap;
    e2e_ev_t *evs;
    char (*ids)[BATON_ID_LEN]; /* instance id of seq i */
    _Atomic uint32_t *slots;   /* open addressing: seq + 1, 0 = empty */
    size_t nslots;             /* power of two */
    _Atomic size_t next;       /* next seq to send */
    /* receiver counters */
    _Atomic uint64_t deliveries, duplicates, unknown, bad;
    _Atomic uint64_t accepted; /* events ingest accepted (all phases) */
    _Atomic int running;
    /* the audit watch (e2e_audit.c): baton-audit's consumer lag, -1 = not known */
    _Atomic long long audit_lag, audit_lag_max;
} e2e_t;

/* ---- e2e_map.c ---- */
void e2e_init(e2e_t *e, size_t cap);
void e2e_free(e2e_t *e);
/* Compute and publish seq's instance id (before its event is sent). */
void e2e_map_put(e2e_t *e, size_t seq);
/* The seq of an instance id, or -1. */
long e2e_map_get(const e2e_t *e, const char *instance_id);
/* The event id of seq into out. */
void e2e_event_id(const e2e_t *e, size_t seq, char *out, size_t len);

/* ---- e2e_sink.c: the webhook receiver ---- */
typedef struct e2e_sink e2e_sink_t;
/* Listen on 127.0.0.1:port (0 = free port); NULL + message on stderr on failure. */
e2e_sink_t *e2e_sink_start(e2e_t *e, int port);
int e2e_sink_port(const e2e_sink_t *s);
void e2e_sink_stop(e2e_sink_t *s);

/* ---- e2e_load.c: the load generator ---- */
typedef struct {
    double rate;         /* events/s (fixed mode) */
    double seconds;      /* how long to send */
    int conns;           /* connections (one thread each) */
    int batch;           /* NDJSON lines per request (max mode); 1 = one JSON event */
    bool max;            /* as fast as the answers come (closed loop) instead of a schedule */
    size_t max_inflight; /* max mode: accepted but not yet delivered events allowed (0 = no cap) */
    size_t first_seq;    /* sequence numbers start here */
    long long max_audit_lag; /* max mode: hold sending while e->audit_lag is above (0 = no cap) */
} e2e_load_cfg_t;

typedef struct {
    size_t sent, accepted, failed; /* events */
    size_t requests, non_2xx, io_errors;
    int64_t start_ns, end_ns; /* first due / last answer */
    double late_sends_ms_max; /* worst send behind schedule (fixed mode: the generator's own lag) */
} e2e_load_result_t;

int e2e_load_run(e2e_t *e, const e2e_load_cfg_t *cfg, e2e_load_result_t *out);
/* One event with a blocking request: 0 on 202. Used for the probe and the warm-up. */
int e2e_post_one(e2e_t *e, size_t seq);

/* ---- e2e_audit.c: the audit watch ---- */
typedef struct e2e_audit e2e_audit_t;
/* Read baton-audit's /metrics on 127.0.0.1:port every interval_ms; NULL on failure. */
e2e_audit_t *e2e_audit_start(e2e_t *e, int port, int interval_ms);
void e2e_audit_stop(e2e_audit_t *w);

/* ---- e2e_baseline.c ---- */
/* Raw librdkafka: per round, produce n messages of size bytes to a new topic "<prefix>.<r>"
 * (idempotent, acks=all, as the services do) and read them back; prints a JSON object on
 * stdout. Returns 0, or 1 when messages were missing. */
int e2e_baseline(const char *bootstrap, const char *prefix, size_t n, size_t size, int rounds);

#endif
