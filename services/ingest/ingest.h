/* ingest.h — the one header of baton-ingest (the write side of the public API).
 *
 * Files, by responsibility:
 *   main.c        table of contents: config, clients, routes, listeners, loop, shutdown
 *   config.c      the configuration table and the parsing of BATON_API_KEYS / BATON_HL7_SENDERS
 *   auth.c        source-system API keys (salted SHA-256, constant time), bearer extraction
 *   jwt.c         staff tokens: HS256 secret, RS256 PEM public key or JWKS file
 *   rpool.c       a small pool of Redis connections (one per request while it uses Redis)
 *   idem.c        idempotency records in Redis (claim / finish / release / wait)
 *   publish.c     producing envelopes to Kafka (durable before acknowledged), its metrics
 *   metrics.c     the ingest metric families
 *   reply.c       problem+json and OperationOutcome helpers shared by the handlers
 *   events.c      POST /v1/events (JSON, NDJSON)
 *   hl7.c         one HL7 v2 message → ACK (shared by POST /v1/hl7v2 and MLLP)
 *   mllp.c        the MLLP TCP listener
 *   fhir.c        POST /fhir/r4/...
 *   rosters.c     PUT /v1/people/{id}, PUT /v1/shifts, POST /v1/shifts:import, GET /v1/oncall
 *   tasks.c       POST /v1/tasks/{id}/{action}
 *
 * Threading: HTTP handlers run on libmicrohttpd's threads (one per connection), MLLP
 * connections on their own threads. Everything in ingest_t is read-only after start-up except
 * what is explicitly thread-safe (the Redis pool, the producer, metrics). */
#ifndef BATON_INGEST_H
#define BATON_INGEST_H

#include "baton/canon.h"
#include "baton/hl7.h"
#include "baton/http.h"
#include "baton/kafka.h"
#include "baton/log.h"
#include "baton/metrics.h"
#include "baton/pathway.h"
#include "baton/readapi.h"
#include "baton/redis.h"
#include "baton/service.h"

#include <pthread.h>
#include <stdbool.h>

/* ---------------------------------------------------------------- configuration */

typedef struct {
    baton_svc_common_t c;
    char *http_bind;
    long long http_port;
    long long http_max_body;
    long long http_max_header;
    long long http_max_connections;
    long long http_timeout_ms;
    char *tls_cert;
    char *tls_key;
    char *mllp_bind;
    long long mllp_port;
    long long mllp_max_connections;
    long long mllp_max_message;
    long long mllp_idle_timeout_ms;
    char *redis_url;
    long long redis_pool;
    char *pg_dsn;
    long long pg_pool;
    char *pathways_dir;
    char *api_keys;
    char *jwt_secret;
    char *jwt_public_key_file;
    char *jwt_jwks_file;
    char *jwt_issuer;
    char *jwt_audience;
    long long jwt_leeway_ms;
    char *hl7_senders;
    long long hl7_tz_offset_min;
    char *hl7_discharge_codes;
    long long ndjson_max_lines;
    long long produce_timeout_ms;
    long long retry_after_ms;
    long long idem_ttl_ms;
    long long action_recheck_ms;
    long long shutdown_grace_ms;
} ingest_config_t;

extern ingest_config_t ingest_cfg;
extern const baton_config_opt_t ingest_opts[];

/* ---------------------------------------------------------------- API keys (auth.c) */

enum { INGEST_SCOPE_EVENTS = 1, INGEST_SCOPE_ROSTERS = 2, INGEST_SCOPE_READ = 4 };

typedef struct {
    char id[65];
    char tenant[65];
    unsigned scopes;
    unsigned char *salt;
    size_t salt_len;
    unsigned char digest[32];
} ingest_api_key_t;

typedef struct {
    ingest_api_key_t *v;
    size_t n;
} ingest_api_keys_t;

/* Parse "id:tenant:scope+scope:salt:sha256hex;..." (see docs/api.md). 0 or BATON_EINVAL. */
int ingest_api_keys_parse(const char *spec, ingest_api_keys_t *out, char *err, size_t errlen);
void ingest_api_keys_free(ingest_api_keys_t *k);
/* The key matching the presented secret (constant time over every key), or NULL. */
const ingest_api_key_t *ingest_api_keys_match(const ingest_api_keys_t *k, const char *presented);

/* ---------------------------------------------------------------- staff tokens (jwt.c) */

typedef struct ingest_jwt ingest_jwt_t;

typedef struct {
    char sub[129];
    char tenant[65];
    char **roles; /* owned */
    size_t nroles;
} ingest_staff_t;

/* NULL with err when a configured key file cannot be read. With nothing configured every
 * token is refused (401). */
ingest_jwt_t *ingest_jwt_new(const char *hs_secret, const char *pem_file, const char *jwks_file,
                             const char *issuer, const char *audience, int64_t leeway_ms, char *err,
                             size_t errlen);
void ingest_jwt_free(ingest_jwt_t *j);
/* Verify a compact JWS. 0 with *out filled (free with ingest_staff_free), or BATON_EAUTH with
 * a short reason (no token content) in why. */
int ingest_jwt_verify(const ingest_jwt_t *j, const char *token, int64_t now_ms, ingest_staff_t *out,
                      char *why, size_t whylen);
void ingest_staff_free(ingest_staff_t *s);
/* Does the token look like a JWT (three base64url parts, header starting "eyJ")? */
bool ingest_jwt_looks_like(const char *token);

/* ---------------------------------------------------------------- Redis pool (rpool.c) */

typedef struct ingest_rpool ingest_rpool_t;

ingest_rpool_t *ingest_rpool_new(const char *url, size_t size, char *err, size_t errlen);
void ingest_rpool_free(ingest_rpool_t *p);
/* Borrow a connection (waits while all are in use). Never NULL. */
baton_redis_t *ingest_rpool_get(ingest_rpool_t *p);
void ingest_rpool_put(ingest_rpool_t *p, baton_redis_t *r);

/* ---------------------------------------------------------------- metrics (metrics.c) */

typedef enum {
    INGEST_SRC_JSON = 0,
    INGEST_SRC_HL7,
    INGEST_SRC_FHIR,
    INGEST_SRC_STAFF,
    INGEST_SRC_ROSTER,
    INGEST_SRC_N
} ingest_source_t;

typedef enum {
    INGEST_REJ_INVALID = 0, /* validation failed */
    INGEST_REJ_MALFORMED,   /* does not parse */
    INGEST_REJ_UNAUTHORIZED,
    INGEST_REJ_FORBIDDEN,
    INGEST_REJ_TENANT,
    INGEST_REJ_TOO_LARGE,
    INGEST_REJ_UNSUPPORTED,
    INGEST_REJ_UNKNOWN_SENDER,
    INGEST_REJ_NOT_FOUND,
    INGEST_REJ_CONFLICT,
    INGEST_REJ_KAFKA,
    INGEST_REJ_REDIS,
    INGEST_REJ_N
} ingest_reject_t;

typedef struct {
    baton_metric_t *accepted_fam;
    baton_counter_t *rejected[INGEST_SRC_N][INGEST_REJ_N];
    baton_counter_t *dedup[INGEST_SRC_N];
    baton_histogram_t *produce_latency;
    baton_counter_t *produce_errors[4]; /* unavailable, timeout, queue_full, other */
    baton_gauge_t *mllp_conns;
    baton_counter_t *mllp_conns_total;
    baton_counter_t *mllp_refused;
    baton_counter_t *mllp_frames;
    baton_counter_t *mllp_garbage;
    baton_counter_t *hl7_acks[3]; /* AA, AE, AR */
    baton_metric_t *staff_fam;
    baton_metric_t *roster_fam;
    baton_counter_t *actions_rechecked; /* refused at first, accepted on a re-check */
} ingest_metrics_t;

void ingest_metrics_init(ingest_metrics_t *m, baton_metrics_t *reg);
/* events accepted by source and type family (the first dotted word, from a fixed list). */
void ingest_metrics_accepted(ingest_metrics_t *m, ingest_source_t src, const char *type, size_t n);
void ingest_metrics_rejected(ingest_metrics_t *m, ingest_source_t src, ingest_reject_t why);
const char *ingest_source_name(ingest_source_t s);

/* ---------------------------------------------------------------- the application */

typedef struct ingest_mllp ingest_mllp_t;

typedef struct {
    baton_svc_t *svc;
    ingest_metrics_t m;
    baton_kafka_producer_t *producer;
    ingest_rpool_t *redis;
    ingest_api_keys_t keys;
    ingest_jwt_t *jwt;
    baton_pathway_set_t *pathways; /* may be NULL (no definitions loaded) */
    baton_hl7_sender_t *senders;
    size_t nsenders;
    char **discharge_codes;
    size_t ndischarge_codes;
    baton_hl7_map_config_t hl7map;
    baton_http_server_t *http;
    baton_readapi_t *readapi; /* the read side (GET /v1/instances, ...), NULL when no DSN */
    ingest_mllp_t *mllp;
    char retry_after[24]; /* seconds, as text */
} ingest_t;

/* read.c: the read side of the API over audit's projections (libs/readapi). 0 or an error. */
int ingest_read_start(ingest_t *app, char *err, size_t errlen);
void ingest_read_free(ingest_t *app);

/* config.c */
int ingest_senders_parse(const char *spec, baton_hl7_sender_t **out, size_t *n, char *err,
                         size_t errlen);
void ingest_senders_free(baton_hl7_sender_t *s, size_t n);
/* Comma-separated list → array of strings (both owned; free with ingest_strv_free). */
char **ingest_strv_split(const char *spec, size_t *n);
void ingest_strv_free(char **v, size_t n);

/* ---------------------------------------------------------------- replies (reply.c) */

/* 503 + Retry-After problem for a dependency failure (Kafka or Redis). */
void ingest_reply_unavailable(ingest_t *app, baton_http_resp_t *resp, const char *what);
/* A problem with extra members (json object, stolen; may be NULL). */
void ingest_reply_problem(baton_http_resp_t *resp, int status, const char *type_suffix,
                          const char *title, const char *detail, json_t *extra);
/* Canon problems → a validation problem (422, type invalid-event or as given). */
json_t *ingest_problems_json(const baton_canon_problems_t *p);
/* Is the request's Content-Type (without parameters) one of the NULL-terminated list?
 * A missing header matches when allow_missing. */
bool ingest_content_type_is(const baton_http_req_t *req, const char *const *types,
                            bool allow_missing);

/* ---------------------------------------------------------------- authentication (auth.c) */

typedef struct {
    char tenant[65];
    char key_id[65];
    bool staff; /* authenticated by a staff JWT rather than an API key */
    ingest_staff_t who;
} ingest_caller_t;

typedef enum { INGEST_ERR_PROBLEM = 0, INGEST_ERR_FHIR = 1 } ingest_err_style_t;

/* Authenticate a source system (API key) needing `scope`. On failure answers 401 (with
 * WWW-Authenticate) or 403 in the given style and returns false. When allow_staff, a valid staff
 * JWT is accepted too (read-only uses). */
bool ingest_auth_key(ingest_t *app, baton_http_req_t *req, baton_http_resp_t *resp, unsigned scope,
                     ingest_err_style_t style, ingest_source_t src, bool allow_staff,
                     ingest_caller_t *out);
/* Authenticate a staff member (JWT). On failure answers 401 and returns false. */
bool ingest_auth_staff(ingest_t *app, baton_http_req_t *req, baton_http_resp_t *resp,
                       ingest_caller_t *out);
void ingest_caller_free(ingest_caller_t *c);

/* ---------------------------------------------------------------- idempotency (idem.c) */

typedef enum {
    INGEST_IDEM_OWNED = 0, /* we hold the claim: produce, then finish or release */
    INGEST_IDEM_DONE = 1,  /* an earlier request was accepted: replay its answer */
    INGEST_IDEM_ERROR = 2, /* Redis unavailable or the wait ran out */
} ingest_idem_state_t;

typedef struct {
    char key[256];
    char token[40];
    ingest_idem_state_t state;
    char event_id[BATON_CANON_ID_MAX + 1]; /* DONE: the accepted event's id */
    char type[BATON_CANON_TYPE_MAX + 1];   /* DONE: its type */
} ingest_idem_t;

/* Claim (tenant, id) for each of n records, waiting out claims other requests hold (up to the
 * produce timeout). One Redis round trip when nothing is pending. Fills recs[i].state. Returns 0
 * or BATON_EUNAVAIL (every record ERROR). */
int ingest_idem_claim(ingest_t *app, const char *tenant, const char *const *ids, size_t n,
                      ingest_idem_t *recs);
/* Record success (event id + type) for owned records, or release them on failure. */
void ingest_idem_finish(ingest_t *app, ingest_idem_t *recs, const Baton__V1__Envelope *const *envs,
                        size_t n, bool ok);

/* ---------------------------------------------------------------- publishing (publish.c) */

/* Produce envelopes to baton.inbound.v1 and wait for every ack (fail fast with BATON_EUNAVAIL
 * when no broker is reachable). Observes latency and errors. 0 or BATON_EAGAIN /
 * BATON_EUNAVAIL / BATON_ETIMEDOUT / BATON_EIO. */
int ingest_publish(ingest_t *app, Baton__V1__Envelope *const *envs, size_t n);

/* Dedup + publish + finish for n converted envelopes of one tenant (NULL entries skipped).
 * status[i] gets 202 (accepted now), 200 (replayed), 503 (not acknowledged). Returns 0 when
 * every non-NULL entry is accepted or replayed, else the failure code. */
int ingest_accept(ingest_t *app, ingest_source_t src, const char *tenant,
                  Baton__V1__Envelope *const *envs, size_t n, int *status);

/* ---------------------------------------------------------------- handlers */

void ingest_routes_events(ingest_t *app);
void ingest_routes_hl7(ingest_t *app);
void ingest_routes_fhir(ingest_t *app);
void ingest_routes_rosters(ingest_t *app);
void ingest_routes_tasks(ingest_t *app);

/* hl7.c: process one HL7 v2 message. tenant_override: the API key's tenant (HTTP) or NULL
 * (MLLP: the sender map decides). Returns the ACK (caller frees, length in *len) and in
 * *outcome one of 'A' (AA), 'E' (AE), 'R' (AR), 'U' (AR because Kafka or Redis is down). */
char *ingest_hl7_process(ingest_t *app, const char *data, size_t len, const char *tenant_override,
                         size_t *acklen, char *outcome);

/* mllp.c */
ingest_mllp_t *ingest_mllp_start(ingest_t *app, const char *bind, int port, char *err,
                                 size_t errlen);
int ingest_mllp_port(const ingest_mllp_t *l);
/* Stop accepting, let connections finish the message they are on, close, join. */
void ingest_mllp_stop(ingest_mllp_t *l);

#endif
