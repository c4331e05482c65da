/* timer_it_util.h — what the baton-timer integration cases share: the servers, spawning the
 * service, producing TimerSchedule / TimerCancel envelopes and collecting the TimerFired that
 * come back on baton.inbound.v1. */
#ifndef TIMER_IT_UTIL_H
#define TIMER_IT_UTIL_H

#include "baton/kafka.h"
#include "baton/redis.h"
#include "harness.h"
#include "harness_kafka.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    harness_redis_t redis;
    harness_devkafka_t kafka;
    harness_kafka_io_t io; /* producer into baton.timers.v1; reader of baton.inbound.v1 */
} tit_env_t;

typedef struct {
    pid_t pid;
    int ops_port;
} tit_svc_t;

/* One TimerFired as read back. */
typedef struct {
    char timer_id[64];
    char id[BATON_ID_LEN];
    char causation_id[BATON_ID_LEN];
    char key[64];
    char purpose[32];
    char instance_id[40];
    int64_t due_at_ms, fired_at_ms, recv_ms;
    bool late;
    int32_t step;
} tit_fired_t;

#define TIT_MAX_FIRED 2048
typedef struct {
    tit_fired_t f[TIT_MAX_FIRED];
    int n;
} tit_fired_list_t;

/* A schedule to produce. */
typedef struct {
    const char *timer_id;
    int64_t due_at_ms;
    const char *key; /* correlation key (Kafka key) */
    const char *purpose;
    char env_id[BATON_ID_LEN]; /* filled: the schedule envelope's id */
} tit_sched_t;

/* Redis + devkafka + the test's producer and reader. */
void tit_env_start(tit_env_t *e);
void tit_env_stop(tit_env_t *e);
/* Spawn baton-timer (name: log file name) and wait until it is ready and owns partitions. */
void tit_svc_start(tit_env_t *e, tit_svc_t *s, const char *name, bool wait_assigned);
/* Produce schedules / cancels (acks awaited). */
void tit_schedule(tit_env_t *e, tit_sched_t *s, size_t n);
void tit_cancel(tit_env_t *e, const char *const *ids, const char *const *keys, size_t n);
/* Read TimerFired from the reader until `want` were collected or deadline_ms (mono) passed. */
void tit_collect(tit_env_t *e, tit_fired_list_t *l, int want, int64_t deadline_ms);
/* Read for duration_ms whatever comes. */
void tit_drain(tit_env_t *e, tit_fired_list_t *l, int duration_ms);
/* How many in l have timer_id. */
int tit_count(const tit_fired_list_t *l, const char *timer_id);
const tit_fired_t *tit_find(const tit_fired_list_t *l, const char *timer_id);
/* A metric's value from the service's /metrics (exact series text, e.g.
 * "baton_timer_fired_total{late=\"false\"}"); -1 when absent. */
double tit_metric(const tit_svc_t *s, const char *series);
/* Sum of baton_timer_pending over partitions, via Redis ZCARD of every partition's key. */
long long tit_redis_pending(tit_env_t *e);
/* Wait until the Redis pending total is want (mono deadline). 0 or BATON_ETIMEDOUT. */
int tit_wait_pending(tit_env_t *e, long long want, int timeout_ms);

#endif
