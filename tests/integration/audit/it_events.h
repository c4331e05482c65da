/* it_events.h — building event sequences for the audit tests (the router is not needed: the
 * tests write exactly the envelopes it would), and the environment they run in. */
#ifndef BATON_IT_EVENTS_H
#define BATON_IT_EVENTS_H

#include "baton/audit.h"
#include "baton/kafka.h"
#include "harness.h"

#include <stdbool.h>
#include <stdint.h>

#define IT_T0 1795255200000LL /* 2026-11-21T10:00:00Z */
#define IT_MIN 60000LL

typedef struct {
    const char *topic;
    char *key;
    uint8_t *val;
    size_t len;
} it_rec_t;

typedef struct {
    it_rec_t *v;
    size_t n, cap;
} it_seq_t;

/* Where the events happen. */
typedef struct {
    const char *tenant, *facility, *unit, *instance, *pathway;
    uint32_t version;
    const char *key; /* correlation key (Kafka key) */
} it_ctx_t;

/* One event; only the fields its type uses matter. */
typedef struct {
    const char *id, *type;
    int64_t at;
    const char *task, *stage, *role, *status, *owner;
    int level;
    const char *actor;
    bool override_;
    const char *person, *reason; /* assigned: person, reason; notification: person, kind */
    int64_t ack_due, complete_due;
    const char *deadline;             /* deadline_missed: "ack" | "complete" */
    int step;                         /* escalated */
    const char *step_action, *target; /* escalated */
    const char *from, *to;            /* reassigned */
    const char *outcome;              /* receipt: "delivered" | "failed" */
    int attempts;
} it_ev_t;

/* Append e (packed) to s. The topic follows the type (clinical types and staff.action →
 * inbound, notification.requested → notify, timer.schedule → timers, else lifecycle). */
void it_add(it_seq_t *s, const it_ctx_t *c, const it_ev_t *e);
/* Append a copy of record i (a producer retry: same event, new offset). */
void it_dup(it_seq_t *s, size_t i);
void it_seq_free(it_seq_t *s);
/* The whole discharge pathway of one instance (16 events on 4 topics). */
void it_discharge(it_seq_t *s, const it_ctx_t *c);

/* Produce every record, in order, and wait for the acks. */
void it_produce(const char *bootstrap, const it_seq_t *s);
/* The same in one batch (order kept per partition, not across topics). */
void it_produce_fast(const char *bootstrap, const it_seq_t *s);
/* Write s straight through the audit writer (no Kafka): partition 0 of each topic, offsets
 * continuing from *next_offset[topic index] (an array of 5, zeroed by the caller). */
void it_write_direct(baton_pg_t *pg, const it_seq_t *s, int64_t next_offset[5]);

/* One value of a query (caller frees; "(null)" for NULL; "(none)" for no row). */
char *it_scalar(const char *dsn, const char *sql);
void it_assert_scalar(const char *dsn, const char *sql, const char *want);

/* "postgresql://<role>@127.0.0.1:PORT/baton" (caller frees). */
char *it_role_dsn(const harness_pg_t *pg, const char *role);

/* Start baton-audit against pg and kafka with extra "K=V" env (NULL-terminated, may be NULL);
 * waits for /readyz. Returns the pid; *ops_port gets the ops port. */
pid_t it_start_audit(const harness_pg_t *pg, const harness_devkafka_t *k, const char *group,
                     char *const extra[], int *ops_port);
/* Wait until the query's value equals want (polling up to timeout_ms); fails the test if not. */
void it_wait_scalar(const char *dsn, const char *sql, const char *want, int timeout_ms);
/* Run `baton-audit verify` with BATON_PG_DSN=dsn; returns the exit code, *out gets stdout. */
int it_verify(const char *dsn, char **out);

#endif
