/* readapi_int.h — what the read API's files share; not part of the public API.
 *
 *   readapi.c            config, the connection pool, request setup (auth + connection),
 *                        result helpers, GET /v1/pathways, registration
 *   readapi_instances.c  GET /v1/instances, /v1/instances/{id}, /v1/instances/{id}/audit
 *   readapi_tasks.c      GET /v1/tasks, GET /v1/stats */
#ifndef BATON_READAPI_INT_H
#define BATON_READAPI_INT_H

#include "baton/pg.h"
#include "baton/readapi.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

typedef struct {
    baton_pg_t *pg;         /* NULL until first used */
    unsigned long prepared; /* reconnect count + 1 when the session settings were applied */
    bool busy;
} readapi_slot_t;

struct baton_readapi {
    char *dsn;
    int statement_timeout_ms;
    baton_readapi_auth_fn auth;
    void *auth_ud;
    const baton_pathway_set_t *pathways;
    baton_counter_t *db_errors;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    readapi_slot_t *slots;
    unsigned nslots;
};

/* One request: the caller's tenant and a borrowed connection. */
typedef struct {
    baton_readapi_t *api;
    baton_http_resp_t *resp;
    char tenant[129];
    readapi_slot_t *slot;
} readapi_req_t;

/* Authenticate and borrow a connection. false: resp already answered (401/403/503). */
bool readapi__begin(baton_readapi_t *api, baton_http_req_t *req, baton_http_resp_t *resp,
                    readapi_req_t *r);
void readapi__end(readapi_req_t *r);
/* Run a query; on failure answers 503 (database unavailable) or 500 and returns NULL. */
PGresult *readapi__query(readapi_req_t *r, const char *sql, int nparams, const char *const *params);

/* Result cell helpers: NULL → json null. */
json_t *readapi__str(PGresult *res, int row, int col);
json_t *readapi__int(PGresult *res, int row, int col);
json_t *readapi__bool(PGresult *res, int row, int col);
json_t *readapi__time(PGresult *res, int row, int col); /* ms column → RFC 3339 string */
json_t *readapi__json(PGresult *res, int row, int col); /* json text column → parsed */

/* A query parameter, or NULL when absent or empty. */
const char *readapi__q(const baton_http_req_t *req, const char *name);
/* ?limit= in [1, 1000], default 100; false after answering 400. */
bool readapi__limit(const baton_http_req_t *req, baton_http_resp_t *resp, char out[16]);
/* 400 problem for a bad query parameter (name only: values are never echoed). */
void readapi__bad_param(baton_http_resp_t *resp, const char *name, const char *why);

void readapi__instances(baton_http_req_t *req, baton_http_resp_t *resp, void *ud);
void readapi__instance(baton_http_req_t *req, baton_http_resp_t *resp, void *ud);
void readapi__instance_audit(baton_http_req_t *req, baton_http_resp_t *resp, void *ud);
void readapi__tasks(baton_http_req_t *req, baton_http_resp_t *resp, void *ud);
void readapi__stats(baton_http_req_t *req, baton_http_resp_t *resp, void *ud);

/* The SQL for "this task is still open". */
#define READAPI_OPEN_TASK                                                                          \
    "(NOT skipped AND status NOT IN ('completed', 'cancelled', 'failed', 'rejected'))"

#endif
