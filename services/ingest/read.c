/* The read side of the API (GET /v1/pathways, /v1/instances, /v1/instances/{id}[/audit],
 * /v1/tasks, /v1/stats): libs/readapi over the projections baton-audit keeps in PostgreSQL,
 * behind ingest's own authentication (an API key with scope "read", or a staff token). */
#include "ingest.h"

/* Caller's tenant for a read request, or an answered 401 / 403. */
static int read_auth(baton_http_req_t *req, baton_http_resp_t *resp, char *tenant, size_t len,
                     void *ud)
{
    ingest_caller_t c;
    if (!ingest_auth_key(ud, req, resp, INGEST_SCOPE_READ, INGEST_ERR_PROBLEM, INGEST_SRC_JSON,
                         true, &c))
        return -1;
    baton_strlcpy(tenant, c.tenant, len);
    ingest_caller_free(&c);
    return 0;
}

int ingest_read_start(ingest_t *app, char *err, size_t errlen)
{
    if (!*ingest_cfg.pg_dsn) {
        LOG_WARN("BATON_PG_DSN is empty: the read API (GET /v1/instances, ...) is off");
        return 0;
    }
    baton_readapi_config_t rc = baton_readapi_config_default();
    rc.pg_dsn = ingest_cfg.pg_dsn;
    rc.pool_size = (unsigned)ingest_cfg.pg_pool;
    rc.auth = read_auth;
    rc.auth_ud = app;
    rc.pathways = app->pathways;
    rc.metrics = baton_svc_metrics(app->svc);
    app->readapi = baton_readapi_new(&rc, err, errlen);
    if (!app->readapi)
        return BATON_EINVAL;
    return baton_readapi_register(app->readapi, app->http);
}

void ingest_read_free(ingest_t *app)
{
    baton_readapi_free(app->readapi);
    app->readapi = NULL;
}
