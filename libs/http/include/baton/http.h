/* baton/http.h — the HTTP server every Baton service uses (libmicrohttpd underneath), the
 * error shapes of the public contract (RFC 9457 problem+json, FHIR OperationOutcome), and the
 * ops listener (/metrics, /healthz, /readyz).
 *
 *   static void ack(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
 *   {
 *       const char *id = baton_http_param(req, "id");
 *       json_t *body = baton_http_parse_json(req, resp);   // 400 problem already set on error
 *       if (!body)
 *           return;
 *       ...
 *       baton_http_json(resp, 200, json_pack("{s:s}", "task_id", id)); // steals the json_t
 *       json_decref(body);
 *   }
 *
 *   baton_http_config_t cfg = baton_http_config_default();
 *   cfg.port = 8080;
 *   cfg.metrics = reg;
 *   baton_http_server_t *srv = baton_http_server_new(&cfg, err, sizeof err);
 *   baton_http_route(srv, "POST", "/v1/tasks/{id}/ack", ack, app);
 *   baton_http_server_start(srv, err, sizeof err);
 *   ...                                    // on SIGTERM:
 *   baton_http_server_stop(srv, 10000);    // stop accepting, let requests finish, close
 *   baton_http_server_free(srv);
 *
 * Threading: handlers run on libmicrohttpd's threads, many at once; they may block (e.g. on a
 * Kafka delivery report). See baton_http_config_t.threads for the model. */
#ifndef BATON_HTTP_H
#define BATON_HTTP_H

#include "baton/core.h"
#include "baton/metrics.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Problem `type` URIs are BATON_HTTP_PROBLEM_BASE + type_suffix, e.g.
 * "urn:baton:problem:malformed-json"; a NULL suffix gives "about:blank" (RFC 9457 §4.2.1). */
#define BATON_HTTP_PROBLEM_BASE "urn:baton:problem:"

typedef struct baton_http_server baton_http_server_t;
typedef struct baton_http_req baton_http_req_t;
typedef struct baton_http_resp baton_http_resp_t;

/* ---- request (read-only for handlers; valid only during the handler call) ---- */

struct baton_http_req {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* decoded path, without the query string */
    const char *route;    /* the matched pattern, e.g. "/v1/tasks/{id}/ack" */
    const char *body;     /* NUL-terminated copy of the body ("" when none) */
    size_t body_len;      /* bytes in body, not counting the NUL */
    char remote_addr[64]; /* client IP address as text, "" if unknown */
    void *internal_;      /* the libmicrohttpd connection and the params: do not touch */
};

/* The value of path parameter {name} in the matched pattern, or NULL. */
const char *baton_http_param(const baton_http_req_t *req, const char *name);
/* A decoded query parameter ("?a=b%20c" → "b c"), "" for "?flag", or NULL when absent. */
const char *baton_http_query(const baton_http_req_t *req, const char *name);
/* A request header, case-insensitive name, or NULL. */
const char *baton_http_header(const baton_http_req_t *req, const char *name);

/* ---- response (filled by the handler) ---- */

/* Set status, content type and a copy of body. */
void baton_http_respond(baton_http_resp_t *resp, int status, const char *content_type,
                        const void *body, size_t len);
/* Add a response header (copied), e.g. ("Retry-After", "5"). */
void baton_http_resp_header(baton_http_resp_t *resp, const char *name, const char *value);
/* Status and a JSON body (application/json). Steals the reference to json (NULL → "null"). */
void baton_http_json(baton_http_resp_t *resp, int status, json_t *json);
/* An RFC 9457 problem: {"type","title","status","detail"} as application/problem+json.
 * detail may be NULL (then left out). Never put PHI in title or detail. */
void baton_http_problem(baton_http_resp_t *resp, int status, const char *type_suffix,
                        const char *title, const char *detail);
/* A validation problem with errors: [{"pointer": "/attributes/x", "detail": "..."}]. */
typedef struct {
    const char *pointer; /* RFC 6901 JSON pointer into the request body */
    const char *detail;
} baton_http_field_error_t;
void baton_http_problem_errors(baton_http_resp_t *resp, int status, const char *type_suffix,
                               const char *title, const char *detail,
                               const baton_http_field_error_t *errors, size_t nerrors);
/* A FHIR R4 OperationOutcome (application/fhir+json). expression may be NULL. */
typedef struct {
    const char *severity;    /* fatal | error | warning | information */
    const char *code;        /* IssueType: invalid, structure, required, not-found, ... */
    const char *diagnostics; /* may be NULL */
    const char *expression;  /* FHIRPath, e.g. "Encounter.status"; may be NULL */
} baton_fhir_issue_t;
void baton_http_fhir_outcome(baton_http_resp_t *resp, int status, const baton_fhir_issue_t *issues,
                             size_t nissues);
/* Parse the body as JSON. On success returns a new reference (caller json_decref()s). On an
 * empty or malformed body returns NULL with a 400 problem set on resp: type
 * "urn:baton:problem:malformed-json", title "Malformed JSON", detail
 * "line L, column C: <jansson's message>" (e.g. "line 2, column 10: unexpected token"; the
 * "near '<token>'" tail is cut so no client data is echoed), or "request body is empty". */
json_t *baton_http_parse_json(const baton_http_req_t *req, baton_http_resp_t *resp);
/* The status set so far (0 if none). */
int baton_http_resp_status(const baton_http_resp_t *resp);

/* ---- server ---- */

typedef void (*baton_http_handler_fn)(baton_http_req_t *req, baton_http_resp_t *resp, void *ud);

typedef struct {
    const char *bind; /* IPv4 or IPv6 literal; NULL or "" = all IPv4 interfaces */
    int port;         /* 0 = pick a free port (see baton_http_server_port) */
    /* 0 (default): one thread per connection. Handlers block (they wait for Kafka acks), and
     * a blocked handler must not stall other clients' requests; with keep-alive a thread is
     * made once per connection, not per request, so this also gives the best keep-alive
     * throughput. N > 0: N epoll worker threads each serving many connections — only for
     * handlers that never block (a slow handler delays every connection on its thread). */
    unsigned threads;
    unsigned max_connections; /* default 512 (bounds the threads too); more are refused */
    unsigned timeout_s;       /* idle keep-alive / slow client timeout, default 60 */
    /* Bytes, default 1 MiB; larger → 413 problem. Enforced while receiving: a declared
     * Content-Length over it is refused before the body is read (at once when the client
     * waits for 100 Continue); a chunked body is counted as it arrives and the rest dropped,
     * never buffered. Up to 4 x max_body + 64 KiB of a refused body is drained so the client
     * reads the answer and keeps the connection; beyond that the connection is closed. */
    size_t max_body;
    /* Per connection (MHD_OPTION_CONNECTION_MEMORY_LIMIT: request line, headers and read
     * buffer), default 64 KiB; headers that do not fit get libmicrohttpd's 431. */
    size_t memory_limit;
    const char *tls_cert_path; /* PEM; both set → HTTPS */
    const char *tls_key_path;
    baton_metrics_t *metrics;   /* optional: request metrics go here (see below) */
    const char *metrics_prefix; /* default "baton_http" */
} baton_http_config_t;

/* The defaults described above. */
baton_http_config_t baton_http_config_default(void);

/* A stopped server (nothing bound yet). cfg strings are copied. NULL + err on bad config
 * (unreadable TLS files, bad bind address, TLS not compiled into libmicrohttpd).
 * With cfg->metrics set, registers
 *   <prefix>_requests_total{route,code}        code = "2xx".."5xx"
 *   <prefix>_request_duration_seconds{route}   default latency buckets
 *   <prefix>_requests_in_flight
 * where route is "METHOD /pattern" (never a concrete path), or "unmatched" for 404/405. */
baton_http_server_t *baton_http_server_new(const baton_http_config_t *cfg, char *err,
                                           size_t errlen);
/* Add a route before start. method: "GET", "POST", ... (GET routes also answer HEAD).
 * pattern: literal segments and "{name}" segments ("/v1/tasks/{id}/ack"); anything else is
 * literal, so "/v1/shifts:import" matches exactly that. When several patterns match, the
 * one registered first wins. Strings are copied. Returns 0, BATON_EINVAL (bad pattern or
 * server running) or BATON_EEXIST (same method and pattern). */
int baton_http_route(baton_http_server_t *srv, const char *method, const char *pattern,
                     baton_http_handler_fn fn, void *ud);
/* Bind and start serving. Returns 0 or BATON_EIO with the reason in err. */
int baton_http_server_start(baton_http_server_t *srv, char *err, size_t errlen);
/* The bound port (useful with port 0), 0 before start. */
uint16_t baton_http_server_port(const baton_http_server_t *srv);
/* Stop accepting connections at once (MHD_quiesce_daemon), wait up to grace_ms for requests
 * being handled to finish, then close every connection and join the threads. Idempotent. */
void baton_http_server_stop(baton_http_server_t *srv, int grace_ms);
/* Stops if needed, then frees. */
void baton_http_server_free(baton_http_server_t *srv);

/* ---- ops listener ---- */

/* Readiness: return true when ready; otherwise write a short reason (no PHI) and return
 * false. Called from the listener's threads, so it must be thread-safe and quick. */
typedef bool (*baton_ops_ready_fn)(void *ud, char *reason, size_t reasonlen);
typedef struct baton_ops baton_ops_t;

/* Serve GET /metrics (registry rendered, text/plain; version=0.0.4), /healthz (200
 * {"status":"ok"} while alive), /readyz (200 {"status":"ready"} when ready_fn says so, else
 * 503 {"status":"not ready","reason":"..."}; ready_fn NULL = always ready). port 0 = free
 * port. The registry and ud are borrowed: keep them alive until baton_ops_stop. */
baton_ops_t *baton_ops_start(const char *bind, int port, baton_metrics_t *registry,
                             baton_ops_ready_fn ready_fn, void *ud, char *err, size_t errlen);
uint16_t baton_ops_port(const baton_ops_t *ops);
/* Stop and free (NULL is fine). */
void baton_ops_stop(baton_ops_t *ops);

#ifdef __cplusplus
}
#endif
#endif
