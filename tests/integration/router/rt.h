/* rt.h — helpers for the router's integration tests: a stack of real processes (redis-server,
 * baton-devkafka, baton-router), rosters written with libs/roster, inputs produced with
 * libs/kafka, and a reader that collects every output topic from the beginning (a plain
 * assigned consumer, no group: no rebalance to wait for). */
#ifndef RT_H
#define RT_H

#include <sys/types.h>

#include "baton/kafka.h"
#include "baton/pathway.h"
#include "baton/redis.h"
#include "harness.h"

#define T0 1800000000000LL /* every input happens at T0 + something */
#define MIN 60000LL
#define TENANT "acme"
#define FACILITY "F1"
#define UNIT "4W"

typedef struct {
    char *topic;
    int32_t partition;
    int64_t offset;
    Baton__V1__Envelope *env;
    uint8_t *raw; /* the value as consumed */
    size_t raw_len;
} rt_msg_t;

typedef struct rt_reader rt_reader_t;

typedef struct {
    harness_redis_t redis;
    harness_devkafka_t kafka;
    baton_redis_t *rc;
    baton_kafka_conf_t *kconf;
    baton_kafka_producer_t *prod;
    rt_reader_t *reader;
    pid_t router;
    int ops_port;
    char pathways[512];
    const char *extra_env[8]; /* added to the router's environment */
    int nrouter_starts;
} rt_t;

/* redis-server + devkafka + producer + reader (router not started). pathways: a directory. */
void rt_init(rt_t *t, const char *pathways);
/* Stop the router (asserting a clean exit), the servers, and free everything. */
void rt_free(rt_t *t);
/* Start baton-router and wait for /readyz. */
void rt_router_start(rt_t *t);
/* SIGKILL the router (a crash). */
void rt_router_kill(rt_t *t);
/* SIGTERM; asserts a clean exit 0. */
void rt_router_stop(rt_t *t);

/* A shift for role at [T0 - 1h, T0 + 12h) unless start/end are given (0 = default); unit ""
 * = facility-wide. */
void rt_shift(rt_t *t, const char *role, const char *unit, const char *person, int tier,
              int64_t start, int64_t end);

/* Inputs (all for tenant acme, facility F1, unit 4W). attrs: "k=v" ..., NULL-terminated. */
void rt_clinical(rt_t *t, const char *id, const char *type, int64_t at, const char *encounter, ...);
Baton__V1__Envelope *rt_clinical_env(const char *id, const char *type, int64_t at,
                                     const char *encounter, ...);
/* roles: comma-separated. */
Baton__V1__Envelope *rt_staff_env(const char *id, int64_t at, const char *encounter,
                                  const char *instance_id, const char *task_id,
                                  Baton__V1__Action action, const char *actor, const char *roles,
                                  const char *to);
void rt_staff(rt_t *t, const char *id, int64_t at, const char *encounter, const char *instance_id,
              const char *task_id, Baton__V1__Action action, const char *actor, const char *roles);
/* The TimerFired the timer service would send for schedule (a timer.schedule envelope). */
void rt_fire(rt_t *t, const Baton__V1__Envelope *schedule, int64_t fired_at);
void rt_send(rt_t *t, Baton__V1__Envelope *e); /* produces and frees e */
void rt_send_raw(rt_t *t, const char *key, const void *value, size_t len);
/* Produce n envelopes in one batch (not freed). */
void rt_send_many(rt_t *t, Baton__V1__Envelope **e, size_t n);

/* ---- reading outputs */

/* Read what arrived (waiting up to ms for more). */
void rt_pump(rt_t *t, int ms);
/* Wait until topic holds at least n messages whose type is `type` (NULL: any). 0 or
 * BATON_ETIMEDOUT. */
int rt_wait(rt_t *t, const char *topic, const char *type, size_t n, int timeout_ms);
/* All messages of topic collected so far (borrowed). */
rt_msg_t *rt_msgs(rt_t *t, const char *topic, size_t *n);
/* "type type ..." of topic's messages with that correlation key, in offset order. Caller
 * frees. */
char *rt_types(rt_t *t, const char *topic, const char *key);
/* The nth message of topic with that type (and, when stage is not NULL, that task stage). */
const Baton__V1__Envelope *rt_find(rt_t *t, const char *topic, const char *type, const char *stage,
                                   size_t nth);
size_t rt_count(rt_t *t, const char *topic, const char *type);

/* The stored state of an instance (caller frees with baton_pathway_state_free) or NULL. */
Baton__V1__InstanceState *rt_state(rt_t *t, const char *instance_id);
/* GET a Redis string key into a fresh string, or NULL. */
char *rt_get(rt_t *t, const char *key);

/* GET /metrics of the router; caller frees. */
char *rt_metrics(rt_t *t);

#endif
