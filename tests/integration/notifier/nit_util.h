/* nit_util.h — what the baton-notifier integration cases share: redis-server + baton-devkafka,
 * local receivers (an HTTP sink for webhooks, the SMS gateway and the WCTP gateway; a small
 * SMTP sink), people written with libs/roster, NotificationRequest envelopes produced into
 * baton.notify.v1, and receipts / dead letters read back from baton.lifecycle.v1 and
 * baton.dlq.v1. */
#ifndef NIT_UTIL_H
#define NIT_UTIL_H

#include "baton/http.h"
#include "baton/kafka.h"
#include "baton/redis.h"
#include "harness.h"
#include "harness_kafka.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NIT_SECRET "it-webhook-secret"
#define NIT_TENANT "t1"

#define DELIVERED BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DELIVERED
#define FAILED BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_FAILED
#define DEAD BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DEAD_LETTERED
#define SUPPRESSED BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_SUPPRESSED

typedef struct {
    harness_redis_t redis;
    harness_devkafka_t kafka;
    harness_kafka_io_t io;  /* producer into baton.notify.v1; reader of lifecycle + dlq */
    baton_redis_t *r;       /* the test's Redis connection */
    struct nit_recs *stash; /* read while waiting for the service: nit_read takes them */
} nit_env_t;

/* One request a sink received. */
typedef struct {
    char path[64];
    char *body;
    char signature[96];
    char content_type[64];
    char auth[128];
    int64_t at_ms; /* wall clock */
} nit_hit_t;

#define NIT_MAX_HITS 4096
/* The HTTP sink: routes
 *   POST /ok/{n}       200
 *   POST /fail/{n}     the first n requests to this path 503, then 200
 *   POST /status/{n}   always 500
 *   POST /hang/{n}     never answers (until the sink stops)
 *   POST /slow/{n}     200 after 300 ms
 *   POST /sms          200 (the SMS gateway)
 *   POST /wctp         a WCTP 1.3 wctp-Confirmation with wctp-Success */
typedef struct {
    baton_http_server_t *srv;
    int port;
    pthread_mutex_t lock;
    nit_hit_t hits[NIT_MAX_HITS];
    int n;
    int fail_seen[16]; /* per /fail/{n}: how many arrived */
} nit_sink_t;

void nit_sink_start(nit_sink_t *s);
void nit_sink_stop(nit_sink_t *s);
/* Hits whose body contains needle (and path starts with path_prefix when not NULL). */
int nit_sink_count(nit_sink_t *s, const char *path_prefix, const char *needle);
/* Wait until nit_sink_count >= want (deadline in ms from now). */
int nit_sink_wait(nit_sink_t *s, const char *path_prefix, const char *needle, int want,
                  int timeout_ms);

/* A minimal SMTP sink on a thread: records each accepted message. */
typedef struct {
    int port, fd;
    pthread_t th;
    volatile int stop;
    pthread_mutex_t lock;
    char mail_from[128], rcpt_to[128];
    char *data; /* the last message (DATA content) */
    int messages;
} nit_smtp_t;

void nit_smtp_start(nit_smtp_t *m);
void nit_smtp_stop(nit_smtp_t *m);

typedef struct {
    pid_t pid;
    int ops_port;
} nit_svc_t;

void nit_env_start(nit_env_t *e);
void nit_env_stop(nit_env_t *e);
/* Spawn baton-notifier (name: its log file) with the test defaults plus extra "K=V" entries
 * (NULL-terminated, may be NULL); waits for /readyz and for the consumer's assignment. */
void nit_svc_start(nit_env_t *e, nit_svc_t *s, const char *name, char *const extra[]);
/* SIGTERM: must exit 0 within 15 s. */
void nit_svc_stop_clean(nit_svc_t *s);

/* Write a person: contacts as "channel=address" strings; quiet hours "HH:MM-HH:MM" or NULL. */
void nit_person(nit_env_t *e, const char *id, const char *const *contacts, size_t n,
                const char *quiet, const char *tz);

typedef struct {
    const char *id;
    const char *person;
    const char *kind; /* default "assigned" */
    bool urgent;
    int level;
    const char *key;       /* correlation key, default "t1/enc-1" */
    int64_t created_at_ms; /* default now */
} nit_req_t;

/* Produce requests (acks awaited). Returns the envelope ids in env_ids (may be NULL). */
void nit_request(nit_env_t *e, const nit_req_t *reqs, size_t n);
/* Produce a raw value (malformed on purpose). */
void nit_produce_raw(nit_env_t *e, const char *key, const void *value, size_t len);

/* A receipt or dead letter read back. */
typedef struct {
    bool dlq;
    char env_id[BATON_ID_LEN + 8];
    char key[64];
    char notification_id[80];
    char channel[16];
    int outcome; /* DELIVERY_OUTCOME_* */
    int attempts;
    char error[160];
    char bundle_id[BATON_ID_LEN];
    char instance_id[80], task_id[80];
    char reason[200];
    char original_event_id[80];
    size_t payload_len;
    int64_t latency_ms;
} nit_rec_t;

#define NIT_MAX_RECS 8192
typedef struct nit_recs {
    nit_rec_t r[NIT_MAX_RECS];
    int n;
} nit_recs_t;

/* Read until pred-count reaches want or timeout. */
void nit_read(nit_env_t *e, nit_recs_t *l, int duration_ms);
/* Count receipts for id with outcome (outcome < 0: any receipt; dlq entries separately). */
int nit_count(const nit_recs_t *l, const char *id, int outcome);
int nit_count_dlq(const nit_recs_t *l, const char *id);
const nit_rec_t *nit_find(const nit_recs_t *l, const char *id, int outcome, int attempts);
/* Read until id has a receipt with outcome (or timeout): 0 or BATON_ETIMEDOUT. */
int nit_wait_receipt(nit_env_t *e, nit_recs_t *l, const char *id, int outcome, int timeout_ms);
/* Read until id has a dead letter (or timeout): 0 or BATON_ETIMEDOUT. */
int nit_wait_dlq(nit_env_t *e, nit_recs_t *l, const char *id, int timeout_ms);
/* The service's metric value ("name{labels}"), -1 when absent. */
double nit_metric(const nit_svc_t *s, const char *series);

/* ---- case helpers ---- */
/* "sha256=<hex HMAC-SHA256(body, NIT_SECRET)>" */
void nit_hmac_hex(const char *body, char *out, size_t outlen);
/* "webhook=http://127.0.0.1:<sink port><path>" (caller frees) */
char *nit_webhook_contact(const nit_sink_t *s, const char *path);
/* A person whose only contact is the sink's path. */
void nit_person_webhook(nit_env_t *e, const nit_sink_t *s, const char *id, const char *path);
/* The nth hit whose body carries "id":"<id>", or NULL; how many such hits. */
const nit_hit_t *nit_hit_for(nit_sink_t *s, const char *id, int nth);
int nit_hits_for(nit_sink_t *s, const char *id);
/* The receipt's envelope id is derived from (id, "receipt:<outcome>:<attempts>"). */
void nit_expect_receipt_id(const nit_rec_t *r, const char *id, const char *outcome, int attempts);

#endif
