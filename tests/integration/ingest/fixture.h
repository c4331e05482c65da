/* fixture.h — baton-ingest integration fixture: a fresh redis-server, baton-devkafka and
 * baton-ingest per test (harness), an HTTP client (libcurl), a reader of baton.inbound.v1
 * (librdkafka, partitions assigned from the beginning), MLLP helpers and credentials. */
#ifndef BATON_INGEST_FIXTURE_H
#define BATON_INGEST_FIXTURE_H

#include "harness.h"
#include "test.h"

#include "baton/kafka.h"
#include <jansson.h>
#include <sys/types.h>

/* Source-system keys configured in every fixture (BATON_API_KEYS). */
#define FX_KEY_ALL "bk_acme_all_0123456789"      /* acme: events+rosters+read */
#define FX_KEY_EVENTS "bk_acme_events_987654321" /* acme: events */
#define FX_KEY_READ "bk_acme_read_55555"         /* acme: read */
#define FX_KEY_OTHER "bk_globex_all_24680"       /* globex: events+rosters+read */
#define FX_JWT_SECRET "jwt-test-secret-0123456789abcdef"

typedef struct {
    harness_redis_t redis;
    harness_devkafka_t kafka;
    pid_t pid;
    int http_port, ops_port, mllp_port;
    int https;     /* talk HTTPS (self-signed: not verified) */
    char *env[32]; /* the ingest environment (owned) */
    int nenv;
} fx_t;

/* Start redis + devkafka + ingest (waits for /readyz). extra: NULL or NULL-terminated
 * "KEY=VALUE" added to the ingest environment. Asserts on failure. */
void fx_start(fx_t *f, const char *const *extra);
/* Start ingest again with the same environment and ports (after it stopped). */
void fx_restart_ingest(fx_t *f);
/* A file of the per-test temp dir with this content; returns its path (caller frees). */
char *fx_write_tmp(const char *name, const char *content);

/* ---- HTTP ---- */
typedef struct {
    long status;
    char *body;
    char *headers; /* raw header block */
} fx_resp_t;

/* Request to ingest. headers: NULL-terminated "Name: value" lines. body may be NULL.
 * Asserts the transport worked. */
void fx_http(fx_t *f, const char *method, const char *path, const char *const *headers,
             const char *body, size_t len, fx_resp_t *out);
/* POST with Authorization: Bearer <key> and a content type. */
void fx_post(fx_t *f, const char *path, const char *key, const char *ctype, const char *body,
             fx_resp_t *out);
/* Header value (case-insensitive name) into a static buffer, or NULL. */
const char *fx_header(const fx_resp_t *r, const char *name);
/* Parse the body (asserts it is JSON). Caller decrefs. */
json_t *fx_json(const fx_resp_t *r);
void fx_resp_free(fx_resp_t *r);
/* A string member of a JSON object by a JSON pointer-like path of keys and indexes
 * ("errors/0/pointer"), or NULL. */
const char *fx_jstr(json_t *doc, const char *path);
long long fx_jint(json_t *doc, const char *path);

/* Assert a problem+json answer: status, type suffix ("invalid-event") and, when pointer is
 * not NULL, that errors[] holds that pointer. */
void fx_assert_problem(const fx_resp_t *r, int status, const char *type_suffix,
                       const char *pointer);

/* ---- Kafka ---- */
typedef struct fx_reader fx_reader_t;
/* A reader of baton.inbound.v1 from the beginning. */
fx_reader_t *fx_reader_new(fx_t *f);
/* The next record (envelope unpacked, free with baton_kafka_envelope_free), or NULL after
 * timeout_ms. key/event-type header copied into key_out/type_out when not NULL. */
Baton__V1__Envelope *fx_reader_next(fx_reader_t *r, int timeout_ms, char *key_out, size_t keylen,
                                    char *type_out, size_t typelen);
/* Count the records still to come within timeout_ms (draining them). */
int fx_reader_drain(fx_reader_t *r, int timeout_ms);
void fx_reader_free(fx_reader_t *r);

/* ---- MLLP ---- */
int fx_mllp_connect(fx_t *f);
/* Send raw bytes in chunks of `chunk` bytes (0 = at once), with a short pause between. */
void fx_send_chunked(int fd, const char *data, size_t len, size_t chunk);
/* Read one MLLP frame (without VT/FS/CR) within timeout_ms; caller frees; NULL on timeout. */
char *fx_mllp_read_frame(int fd, int timeout_ms);
/* The value of segment SEG field n of an ER7 message ("MSA", 1), in a static buffer. */
const char *fx_hl7_field(const char *msg, const char *seg, int field);

/* ---- files and tokens ---- */
char *fx_read_file(const char *path, size_t *len); /* caller frees; asserts it exists */
/* An HS256 JWT with sub, tenant, roles (comma-separated, may be ""), exp = now + exp_s. */
char *fx_jwt_hs256(const char *secret, const char *sub, const char *tenant, const char *roles,
                   long exp_s);
/* The same signed RS256 with a PEM private key; kid may be NULL. */
char *fx_jwt_rs256(const char *pem_private, const char *kid, const char *sub, const char *tenant,
                   const char *roles, long exp_s);

#endif
