/* baton/readapi.h — the read side of the public API (API.md "Reading state"), served by
 * baton-ingest from the projections baton-audit keeps in PostgreSQL:
 *
 *   GET /v1/pathways                 loaded definitions and versions (from the pathway set)
 *   GET /v1/instances                ?facility=&unit=&pathway=&encounter=&status=&limit=
 *   GET /v1/instances/{id}           stages (status, owner role and person, escalation level,
 *                                    deadlines) and what the instance waits on
 *   GET /v1/instances/{id}/audit     every recorded event of the instance, in order, with
 *                                    actor, time and hash-chain fields
 *   GET /v1/tasks                    ?assignee=&role=&facility=&unit=&status=open (default
 *                                    open; "all" or a FHIR Task code) — the shift-handoff list
 *   GET /v1/stats                    ?pathway=&facility=&from=&to= (RFC 3339) — per pathway /
 *                                    stage / facility / unit: time-to-ack and time-to-complete
 *                                    p50/p90/p99 (seconds), SLA breaches, escalations per level,
 *                                    reassignment rate, override frequency
 *
 * Every answer holds only the caller's tenant (another tenant's instance is a 404). Errors are
 * problem+json. Connect with a read-only role (baton_reader): the handlers never write.
 *
 * Wiring (baton-ingest's main.c):
 *
 *   static int read_auth(baton_http_req_t *req, baton_http_resp_t *resp, char *tenant,
 *                        size_t len, void *ud)
 *   {   // API key with scope "read", or a staff JWT; on failure answer 401/403 and return -1
 *       ingest_caller_t c;
 *       if (!ingest_auth_key(ud, req, resp, INGEST_SCOPE_READ, INGEST_ERR_PROBLEM,
 *                            INGEST_SRC_JSON, true, &c))
 *           return -1;
 *       baton_strlcpy(tenant, c.tenant, len);
 *       ingest_caller_free(&c);
 *       return 0;
 *   }
 *   baton_readapi_config_t rc = baton_readapi_config_default();
 *   rc.pg_dsn = cfg.pg_dsn;          rc.auth = read_auth;   rc.auth_ud = app;
 *   rc.pathways = app->pathways;     rc.metrics = baton_svc_metrics(svc);
 *   app->readapi = baton_readapi_new(&rc, err, sizeof err);
 *   baton_readapi_register(app->readapi, app->http);    // before baton_http_server_start
 *   ...
 *   baton_http_server_stop(...); baton_readapi_free(app->readapi);   // after the server stops
 *
 * Threading: handlers run on libmicrohttpd's threads. Each request borrows one connection of a
 * small pool (pool_size, opened lazily, so ingest starts even while PostgreSQL or the audit
 * schema is not there yet: those requests get 503). */
#ifndef BATON_READAPI_H
#define BATON_READAPI_H

#include "baton/core.h"
#include "baton/http.h"
#include "baton/metrics.h"
#include "baton/pathway.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Authenticate the request for reading. Return 0 with the caller's tenant written into
 * tenant (NUL-terminated, at most len bytes); or answer resp (401 / 403 problem) and return
 * non-zero. Called on the handler's thread: must be thread-safe. */
typedef int (*baton_readapi_auth_fn)(baton_http_req_t *req, baton_http_resp_t *resp, char *tenant,
                                     size_t len, void *ud);

typedef struct {
    const char *pg_dsn;         /* read-only role; copied */
    unsigned pool_size;         /* connections, default 4 */
    int statement_timeout_ms;   /* per query, default 5000 */
    baton_readapi_auth_fn auth; /* required */
    void *auth_ud;
    const baton_pathway_set_t *pathways; /* borrowed, may be NULL; outlive the readapi */
    baton_metrics_t *metrics;            /* optional: baton_readapi_db_errors_total */
} baton_readapi_config_t;

typedef struct baton_readapi baton_readapi_t;

baton_readapi_config_t baton_readapi_config_default(void);
/* NULL with err when the config is incomplete (no DSN, no auth). Connects nothing yet. */
baton_readapi_t *baton_readapi_new(const baton_readapi_config_t *cfg, char *err, size_t errlen);
/* Add the GET routes above to srv (before it starts). 0 or the first baton_http_route error. */
int baton_readapi_register(baton_readapi_t *api, baton_http_server_t *srv);
/* After the server stopped (no handler may still run). NULL is a no-op. */
void baton_readapi_free(baton_readapi_t *api);

#ifdef __cplusplus
}
#endif
#endif
