/* notifier.h — baton-notifier's insides, one header for the service (design: README.md).
 *
 *   nt_store.c     the Redis side: keys, the accept / claim scripts, outcome transitions
 *                  (MULTI/EXEC), the receipt / dead-letter outbox
 *   nt_consume.c   thread 1: baton.notify.v1 → accepted into Redis → offsets committed
 *   nt_deliver.c   thread 0 (main): claim due jobs, curl multi transfers, outcomes
 *                  (delivered / retry / dead-letter) written in one pipeline per loop turn
 *   nt_route.c     a claimed job: person, contact, quiet hours, bundling, dead letters
 *   nt_channel.c   one transfer per channel: webhook, SMS gateway, SMTP, WCTP (pager)
 *   nt_text.c      templates, the webhook JSON body, the HMAC signature, WCTP XML
 *   nt_outbox.c    thread 2: receipts and dead letters from the outbox into Kafka
 *   nt_util.c      metrics, readiness, backoff, quiet hours, endpoints, receipts
 *   main.c         the table of contents
 *
 * Threads: each has its own Redis connection. The consumer wakes the delivery loop with
 * curl_multi_wakeup after accepting work; both hand outbox entries to the outbox thread
 * through nt_outbox_push (mutex + condition variable). */
#ifndef BATON_NOTIFIER_H
#define BATON_NOTIFIER_H

#include "baton/kafka.h"
#include "baton/metrics.h"
#include "baton/redis.h"
#include "baton/roster.h"
#include "baton/service.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char *redis_url, *group_id, *key_prefix, *webhook_secret, *templates_dir;
    long long max_attempts, backoff_base_ms, backoff_max_ms, lease_ms, dedup_ttl_ms;
    long long bundle_window_ms, max_inflight, endpoint_concurrency, connect_timeout_ms;
    long long webhook_timeout_ms, sms_timeout_ms, smtp_timeout_ms, wctp_timeout_ms;
    char *endpoint_limits;
    long long consume_batch, claim_batch, person_cache_ms, shutdown_grace_ms;
    long long redis_retry_ms, produce_timeout_ms, poll_ms, claim_poll_ms;
    char *sms_url, *sms_format, *sms_to_field, *sms_text_field, *sms_from, *sms_from_field;
    char *sms_auth_header, *sms_user, *sms_password;
    char *smtp_url, *smtp_from, *smtp_user, *smtp_password;
    bool smtp_tls;
    char *wctp_url, *wctp_sender, *wctp_security_code;
} nt_cfg_t;

/* Channel index = baton_roster_channel_t (webhook, sms, email, pager). */
#define NT_CHANNELS 4

typedef enum { NT_DELIVERED, NT_FAILED, NT_DEAD, NT_SUPPRESSED, NT_OUTCOMES } nt_outcome_t;

typedef struct {
    baton_counter_t *deliveries[NT_CHANNELS][NT_OUTCOMES];
    baton_counter_t *attempts[NT_CHANNELS];
    baton_histogram_t *latency[NT_CHANNELS];   /* request created → delivered */
    baton_histogram_t *attempt_s[NT_CHANNELS]; /* one transfer */
    baton_counter_t *req_accepted, *req_duplicate, *req_invalid;
    baton_metric_t *dlq_fam;
    baton_counter_t *bundles, *bundled, *held;
    baton_gauge_t *queue_depth, *inflight, *outbox;
    baton_counter_t *err_redis, *err_kafka, *err_commit;
} nt_metrics_t;

/* A per-endpoint limit (scheme://host:port): transfers in flight and a FIFO of waiting ones. */
typedef struct nt_endpoint {
    char *name;
    int timeout_ms; /* 0 = the channel's */
    int limit;
    int active;
    struct nt_delivery *wait_head, *wait_tail;
    struct nt_endpoint *next;
} nt_endpoint_t;

/* One claimed notification. */
typedef struct nt_job {
    char *id;
    Baton__V1__Envelope *env; /* the request (body_case NOTIFICATION_REQUEST), owned */
    uint8_t *raw;             /* the original Kafka value (for the dead letter), owned */
    size_t raw_len;
    int attempts; /* made before the current one */
    int64_t accepted_ms;
    bool held; /* a SUPPRESSED receipt was already written */
    struct nt_job *next;
} nt_job_t;

/* One transfer: a job, or several jobs of one person sent as one bundle. */
typedef struct nt_delivery {
    nt_job_t *jobs; /* linked by next; the first one is the bundle's head */
    int njobs;
    char bundle_id[BATON_ID_LEN]; /* "" when not a bundle */
    baton_roster_channel_t channel;
    char *address;
    nt_endpoint_t *ep;
    CURL *easy;
    struct curl_slist *headers, *rcpt;
    baton_buf_t body, resp;
    size_t upload_off;
    char errbuf[CURL_ERROR_SIZE];
    int64_t start_ns;
    struct nt_delivery *next;          /* endpoint wait queue, or this claim round's list */
    struct nt_delivery *aprev, *anext; /* transfers in flight */
} nt_delivery_t;

/* An outcome waiting to be written to Redis (then its outbox entries go to Kafka). */
typedef struct nt_write {
    nt_job_t *job;    /* owned */
    bool finish;      /* true: done key + removed; false: rescheduled */
    const char *done; /* finish: "delivered" | "dead_lettered" (static) */
    int attempts;     /* reschedule: attempts made */
    bool held;        /* reschedule: quiet-hours hold already receipted */
    int64_t due_ms;   /* reschedule: next try */
    struct nt_out *outs;
    struct nt_write *next;
} nt_write_t;

/* One entry for Kafka: a packed envelope and the topic it goes to. */
typedef struct nt_out {
    char *field; /* the envelope id (the outbox hash field) */
    char *topic;
    uint8_t *data;
    size_t len;
    struct nt_out *next;
} nt_out_t;

/* Easy handles kept for reuse (curl_easy_init / _cleanup per transfer cost more than the
 * transfer's own work on a local receiver). */
#define NT_EASY_POOL 128

/* A cached person record. */
typedef struct nt_person {
    char *key;                /* tenant \n id */
    baton_roster_person_t *p; /* NULL: not found */
    int64_t until_ms;
    struct nt_person *next;
} nt_person_t;

typedef struct {
    const nt_cfg_t *cfg;
    baton_svc_t *svc;
    nt_metrics_t m;
    char *kp; /* key prefix with hash tag: "<prefix>:{q}" */

    /* thread 1: the consumer */
    baton_redis_t *redis_c;
    baton_kafka_consumer_t *consumer;
    pthread_t consume_thread;
    volatile int consume_failed;
    volatile int kafka_ok;

    /* thread 0: deliveries */
    baton_redis_t *redis_d;
    CURLM *multi;
    nt_endpoint_t *endpoints;
    nt_person_t *people;
    int active; /* transfers in flight */
    nt_delivery_t *active_head;
    int waiting;             /* deliveries queued on a busy endpoint */
    int64_t next_claim_ms;   /* wall clock; 0 = now */
    volatile int wake_claim; /* the consumer stored jobs that are not handed over */
    volatile int busy;       /* active + waiting, for the consumer's hand-over decision */
    pthread_mutex_t ho_lock; /* hand-over of freshly accepted (already leased) jobs */
    nt_job_t *ho_head, *ho_tail;
    volatile int ho_n;
    char **inflight_ids; /* open-addressing set of claimed ids (in memory) */
    size_t inflight_cap, inflight_n, inflight_tombs; /* tombs: deleted slots not yet reused */
    struct nt_write *wq, *wq_tail;                   /* outcomes not yet written to Redis */
    int64_t next_house_ms, next_renew_ms;
    volatile int redis_ok;
    CURL *easy_pool[NT_EASY_POOL]; /* finished easy handles, for the next transfers */
    baton_roster_channel_t easy_ch[NT_EASY_POOL]; /* the channel each one was set up for */
    int easy_n;

    /* thread 2: the outbox */
    baton_redis_t *redis_o;
    baton_kafka_producer_t *producer;
    pthread_t outbox_thread;
    pthread_mutex_t out_lock;
    pthread_cond_t out_cond;
    nt_out_t *out_head, *out_tail;
    size_t out_n;
    bool out_stop;
} nt_svc_t;

/* ---- nt_util.c ---- */
void nt_metrics_init(nt_svc_t *s, baton_metrics_t *reg);
void nt_update_ready(nt_svc_t *s);
const char *nt_outcome_name(nt_outcome_t o);
/* Retry delay after `attempts` failed attempts: min(max, base * 2^(attempts-1)), of which
 * the upper half is random ("equal jitter"). */
int64_t nt_backoff_ms(const nt_cfg_t *cfg, int attempts);
/* When the person's quiet period containing now_ms ends (ms), or 0 when not in it. */
int64_t nt_quiet_until(const baton_roster_person_t *p, int64_t now_ms);
/* The endpoint of a URL ("scheme://host:port"), created on first use. */
nt_endpoint_t *nt_endpoint(nt_svc_t *s, const char *url);
/* A receipt envelope for job (caller frees *data). */
void nt_receipt(const nt_job_t *job, const char *channel, nt_outcome_t o, int attempts,
                const char *error, const char *bundle_id, nt_out_t *out);
/* A dead letter for job, or for an undecodable message (job NULL: key/value given). */
void nt_dead_letter(const nt_job_t *job, const char *reason, int attempts, const void *key,
                    size_t key_len, const void *value, size_t value_len, const char *ref,
                    nt_out_t *out);
void nt_out_free(nt_out_t *o);
/* In-flight id set (delivery thread). */
bool nt_inflight_has(nt_svc_t *s, const char *id);
void nt_inflight_add(nt_svc_t *s, const char *id);
void nt_inflight_del(nt_svc_t *s, const char *id);
void nt_inflight_clear(nt_svc_t *s);
void nt_job_free(nt_job_t *j);

/* ---- nt_store.c ---- */
/* One request for the accept script (borrowed strings). */
typedef struct {
    const char *id, *tenant, *person;
    bool urgent;
    const void *raw; /* the Kafka value */
    size_t raw_len;
} nt_accept_t;

/* Most outcomes written in one MULTI/EXEC. */
#define NT_WRITE_CHUNK 256

int nt_store_init(nt_svc_t *s, baton_redis_t *r);
/* Append one accept script call for n requests to r's pipeline: its reply is an array with
 * one {state, due, leased} per request, in order. */
int nt_store_append_accept(nt_svc_t *s, baton_redis_t *r, const nt_accept_t *reqs, size_t n,
                           int64_t now_ms, int64_t lease_until);
/* Append HSET outbox <field> <topic \0 data>. */
int nt_store_append_outbox(nt_svc_t *s, baton_redis_t *r, const nt_out_t *o);
/* Claim up to max due jobs (lease them until now + lease_ms). Returns the count (jobs in
 * *out, a list) or a negative BATON_E*; *next_due = the earliest remaining due time. */
int nt_store_claim(nt_svc_t *s, int64_t now_ms, int max, nt_job_t **out, int64_t *next_due);
/* Append the outcomes of the list (linked by next) to the delivery connection's pipeline, a
 * MULTI/EXEC per NT_WRITE_CHUNK: finished ones get the done key (TTL) and lose job and
 * schedule entry, rescheduled ones get attempts / held and their due time; their outbox
 * entries are added. */
int nt_store_append_outcomes(nt_svc_t *s, const struct nt_write *list);
/* Send what is queued on the delivery connection; 0 or a BATON_E*. */
int nt_store_exec(nt_svc_t *s, baton_redis_t *r);
/* Every outbox entry (startup), pushed to the outbox queue. */
int nt_store_load_outbox(nt_svc_t *s);
/* ZCARD of the schedule. */
long long nt_store_depth(nt_svc_t *s, baton_redis_t *r);

/* ---- nt_consume.c ---- */
/* Rebalance callback: logs the partitions (state is shared, nothing moves). */
void nt_on_rebalance(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                     baton_kafka_partition_t *parts, size_t n, void *opaque);
int nt_consume_start(nt_svc_t *s);
void nt_consume_join(nt_svc_t *s);

/* ---- nt_deliver.c ---- */
/* Hand jobs accepted (and leased) by the consumer to the delivery loop (takes the list). */
void nt_deliver_handoff(nt_svc_t *s, nt_job_t *list, int n);
/* The delivery loop; returns when baton_svc_running is cleared and in-flight transfers have
 * finished (or shutdown_grace_ms ran out). */
int nt_deliver_run(nt_svc_t *s);
void nt_deliver_free(nt_svc_t *s);

/* Outcome writes, queued for the next pipeline (the job is handed over). */
void nt_finish_job(nt_svc_t *s, nt_job_t *job, const char *done, nt_out_t *outs);
void nt_reschedule_job(nt_svc_t *s, nt_job_t *job, int attempts, bool held, int64_t due,
                       nt_out_t *outs);
nt_out_t *nt_out_chain(nt_out_t *a, nt_out_t *b);
nt_out_t *nt_out_new(void);
void nt_dlq_count(nt_svc_t *s, const char *reason_class);
/* Escalations are always urgent. */
bool nt_is_urgent(const Baton__V1__NotificationRequest *r);

/* ---- nt_route.c ---- */
/* One claimed job: dead-lettered, held (quiet hours), or added to a delivery of this claim
 * round (*ds: a new one, or a bundle of the same person and contact). */
void nt_route(nt_svc_t *s, nt_job_t *j, nt_delivery_t **ds, int64_t now);
/* The bundle id of d: derived from its members' ids. */
void nt_bundle_id(nt_delivery_t *d);
void nt_people_free(nt_svc_t *s);

/* ---- nt_channel.c ---- */
/* Prepare d->easy for its channel. 0, or BATON_EINVAL with a reason (no PHI) in err. */
int nt_channel_prepare(nt_svc_t *s, nt_delivery_t *d, char *err, size_t errlen);
/* Did the finished transfer deliver? false with the reason in err. */
bool nt_channel_result(nt_svc_t *s, nt_delivery_t *d, CURLcode rc, char *err, size_t errlen);
/* Give d's easy handle back for reuse (or clean it up when the pool is full); NULLs it. */
void nt_channel_release(nt_svc_t *s, nt_delivery_t *d);
/* Clean up every pooled easy handle. */
void nt_channel_pool_free(nt_svc_t *s);
/* Is the channel configured (SMS URL, SMTP URL, WCTP URL)? */
bool nt_channel_enabled(const nt_cfg_t *cfg, baton_roster_channel_t c);

/* ---- nt_text.c ---- */
int nt_text_init(const nt_cfg_t *cfg, char *err, size_t errlen);
void nt_text_free(void);
/* Render the text of one request for a channel (caller frees). */
char *nt_text_render(const Baton__V1__NotificationRequest *r, const char *channel);
/* Email subject (caller frees). */
char *nt_text_subject(const Baton__V1__NotificationRequest *r, int count);
/* The text of a delivery: one request's, or a bundle's (caller frees). */
char *nt_text_for(const nt_delivery_t *d, const char *channel);
/* The webhook body (API.md), with "bundle" for a bundle. */
void nt_text_webhook_body(const nt_delivery_t *d, baton_buf_t *out);
/* "sha256=<hex HMAC-SHA256(body, secret)>" into out (at least 72 bytes). */
void nt_text_signature(const char *secret, const void *body, size_t len, char *out, size_t outlen);
/* WCTP 1.3 SubmitRequest. */
void nt_text_wctp(const nt_cfg_t *cfg, const nt_delivery_t *d, const char *text, baton_buf_t *out);
/* XML-escape s into out. */
void nt_xml_escape(baton_buf_t *out, const char *s);

/* ---- nt_outbox.c ---- */
int nt_outbox_start(nt_svc_t *s);
/* Hand entries to the outbox thread (takes ownership of the list). */
void nt_outbox_push(nt_svc_t *s, nt_out_t *list);
/* Let the outbox drain (bounded by produce_timeout_ms) and join. */
void nt_outbox_stop(nt_svc_t *s);

#endif
