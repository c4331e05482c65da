/* readapi.c — the read API's frame: config, a small pool of read-only PostgreSQL connections
 * (one per concurrently served request, opened lazily), request setup, JSON cell helpers,
 * GET /v1/pathways and the route table. */
#include "readapi_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

baton_readapi_config_t baton_readapi_config_default(void)
{
    return (baton_readapi_config_t){.pool_size = 4, .statement_timeout_ms = 5000};
}

baton_readapi_t *baton_readapi_new(const baton_readapi_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg->pg_dsn || !*cfg->pg_dsn || !cfg->auth) {
        baton_seterr(err, errlen, "readapi: a PostgreSQL DSN and an auth callback are required");
        return NULL;
    }
    baton_readapi_t *api = baton_xcalloc(1, sizeof *api);
    api->dsn = baton_xstrdup(cfg->pg_dsn);
    api->statement_timeout_ms = cfg->statement_timeout_ms > 0 ? cfg->statement_timeout_ms : 5000;
    api->auth = cfg->auth;
    api->auth_ud = cfg->auth_ud;
    api->pathways = cfg->pathways;
    api->nslots = cfg->pool_size ? cfg->pool_size : 4;
    api->slots = baton_xcalloc(api->nslots, sizeof *api->slots);
    pthread_mutex_init(&api->mu, NULL);
    pthread_cond_init(&api->cv, NULL);
    if (cfg->metrics)
        api->db_errors = baton_metrics_counter_child(
            baton_metrics_counter(cfg->metrics, "baton_readapi_db_errors_total",
                                  "Read API requests answered 5xx because of PostgreSQL", NULL));
    return api;
}

void baton_readapi_free(baton_readapi_t *api)
{
    if (!api)
        return;
    for (unsigned i = 0; i < api->nslots; i++)
        baton_pg_free(api->slots[i].pg);
    free(api->slots);
    free(api->dsn);
    pthread_mutex_destroy(&api->mu);
    pthread_cond_destroy(&api->cv);
    free(api);
}

/* ---------------------------------------------------------------- pool */

static readapi_slot_t *slot_get(baton_readapi_t *api)
{
    pthread_mutex_lock(&api->mu);
    readapi_slot_t *s = NULL;
    for (;;) {
        for (unsigned i = 0; i < api->nslots && !s; i++)
            if (!api->slots[i].busy)
                s = &api->slots[i];
        if (s)
            break;
        pthread_cond_wait(&api->cv, &api->mu);
    }
    s->busy = true;
    pthread_mutex_unlock(&api->mu);
    return s;
}

static void slot_put(baton_readapi_t *api, readapi_slot_t *s)
{
    pthread_mutex_lock(&api->mu);
    s->busy = false;
    pthread_cond_signal(&api->cv);
    pthread_mutex_unlock(&api->mu);
}

/* Connect (once) and apply the session settings (again after a reconnect). */
static int slot_ready(baton_readapi_t *api, readapi_slot_t *s)
{
    char err[256];
    if (!s->pg && !(s->pg = baton_pg_new(api->dsn, err, sizeof err)))
        return BATON_EUNAVAIL;
    int rc = baton_pg_ensure(s->pg);
    unsigned long conn = baton_pg_reconnects(s->pg) + 1;
    if (rc == 0 && s->prepared != conn) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SET statement_timeout = %d; SET default_transaction_read_only = on",
                 api->statement_timeout_ms);
        rc = baton_pg_exec_script(s->pg, sql);
        if (rc == 0)
            s->prepared = conn;
    }
    return rc;
}

/* ---------------------------------------------------------------- requests */

static void unavailable(readapi_req_t *r)
{
    baton_counter_inc(r->api->db_errors);
    baton_http_resp_header(r->resp, "Retry-After", "5");
    baton_http_problem(r->resp, 503, "unavailable", "Service Unavailable",
                       "the read store is not reachable; try again");
}

bool readapi__begin(baton_readapi_t *api, baton_http_req_t *req, baton_http_resp_t *resp,
                    readapi_req_t *r)
{
    memset(r, 0, sizeof *r);
    r->api = api;
    r->resp = resp;
    if (api->auth(req, resp, r->tenant, sizeof r->tenant, api->auth_ud) != 0) {
        if (!baton_http_resp_status(resp))
            baton_http_problem(resp, 401, "unauthorized", "Unauthorized", NULL);
        return false;
    }
    r->tenant[sizeof r->tenant - 1] = '\0';
    return true;
}

void readapi__end(readapi_req_t *r)
{
    if (r->slot)
        slot_put(r->api, r->slot);
    r->slot = NULL;
}

PGresult *readapi__query(readapi_req_t *r, const char *sql, int nparams, const char *const *params)
{
    if (!r->slot)
        r->slot = slot_get(r->api);
    int rc = slot_ready(r->api, r->slot);
    PGresult *res = NULL;
    if (rc == 0)
        rc = baton_pg_exec(r->slot->pg, &res, sql, nparams, params);
    if (rc == 0)
        return res;
    const char *state = r->slot->pg ? baton_pg_sqlstate(r->slot->pg) : "";
    /* unreachable, not yet migrated (42P01), not yet granted (42501), cancelled by timeout */
    if (rc == BATON_EUNAVAIL || strcmp(state, "42P01") == 0 || strcmp(state, "42501") == 0 ||
        strcmp(state, "57014") == 0) {
        unavailable(r);
    } else {
        baton_counter_inc(r->api->db_errors);
        baton_http_problem(r->resp, 500, "internal", "Internal Server Error",
                           "the read store failed the query");
    }
    return NULL;
}

/* ---------------------------------------------------------------- cells */

json_t *readapi__str(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

json_t *readapi__int(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null()
                                      : json_integer(atoll(PQgetvalue(res, row, col)));
}

json_t *readapi__bool(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null()
                                      : json_boolean(PQgetvalue(res, row, col)[0] == 't');
}

json_t *readapi__time(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    char buf[BATON_RFC3339_LEN];
    if (baton_time_format(atoll(PQgetvalue(res, row, col)), buf, sizeof buf) != 0)
        return json_null();
    return json_string(buf);
}

json_t *readapi__json(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    json_t *j = json_loads(PQgetvalue(res, row, col), JSON_DECODE_ANY, NULL);
    return j ? j : json_null();
}

const char *readapi__q(const baton_http_req_t *req, const char *name)
{
    const char *v = baton_http_query(req, name);
    return v && *v ? v : NULL;
}

void readapi__bad_param(baton_http_resp_t *resp, const char *name, const char *why)
{
    char detail[160];
    snprintf(detail, sizeof detail, "query parameter %s: %s", name, why);
    baton_http_problem(resp, 400, "invalid-parameter", "Invalid query parameter", detail);
}

bool readapi__limit(const baton_http_req_t *req, baton_http_resp_t *resp, char out[16])
{
    const char *v = readapi__q(req, "limit");
    long n = 100;
    if (v) {
        char *end = NULL;
        n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 1000) {
            readapi__bad_param(resp, "limit", "expected an integer from 1 to 1000");
            return false;
        }
    }
    snprintf(out, 16, "%ld", n);
    return true;
}

/* ---------------------------------------------------------------- GET /v1/pathways */

static json_t *stage_json(const baton_stage_def_t *sd)
{
    json_t *deps = json_array();
    for (size_t d = 0; d < sd->ndeps; d++)
        json_array_append_new(deps, json_string(sd->depends_on[d]));
    char ack[32] = "", done[32] = "";
    if (sd->ack_within_ms)
        baton_duration_format(sd->ack_within_ms, ack, sizeof ack);
    if (sd->complete_within_ms)
        baton_duration_format(sd->complete_within_ms, done, sizeof done);
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:i}", "id", sd->id, "title", sd->title,
                     "owner_role", sd->owner.role, "scope",
                     sd->owner.scope == BATON_SCOPE_UNIT ? "unit" : "facility", "depends_on", deps,
                     "ack_within", *ack ? json_string(ack) : json_null(), "complete_within",
                     *done ? json_string(done) : json_null(), "escalation_steps", (int)sd->nsteps);
}

static void pathways(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    baton_readapi_t *api = ud;
    readapi_req_t r;
    if (!readapi__begin(api, req, resp, &r))
        return;
    json_t *list = json_array();
    size_t n = api->pathways ? baton_pathway_count(api->pathways) : 0;
    for (size_t i = 0; i < n; i++) {
        const baton_pathway_def_t *d = baton_pathway_at(api->pathways, i);
        const baton_pathway_def_t *latest = baton_pathway_latest(api->pathways, d->id);
        json_t *stages = json_array();
        for (size_t s = 0; s < d->nstages; s++)
            json_array_append_new(stages, stage_json(&d->stages[s]));
        json_array_append_new(list,
                              json_pack("{s:s,s:i,s:s,s:b,s:s,s:o}", "id", d->id, "version",
                                        (int)d->version, "title", d->title, "latest", latest == d,
                                        "trigger", d->trigger_event, "stages", stages));
    }
    baton_http_json(resp, 200, json_pack("{s:o}", "pathways", list));
    readapi__end(&r);
}

int baton_readapi_register(baton_readapi_t *api, baton_http_server_t *srv)
{
    struct {
        const char *pattern;
        baton_http_handler_fn fn;
    } routes[] = {
        {"/v1/pathways", pathways},
        {"/v1/instances", readapi__instances},
        {"/v1/instances/{id}", readapi__instance},
        {"/v1/instances/{id}/audit", readapi__instance_audit},
        {"/v1/tasks", readapi__tasks},
        {"/v1/stats", readapi__stats},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        int rc = baton_http_route(srv, "GET", routes[i].pattern, routes[i].fn, api);
        if (rc != 0)
            return rc;
    }
    return 0;
}
