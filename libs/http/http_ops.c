/* http_ops.c — the ops listener: /metrics, /healthz, /readyz on a port of their own, so probes
 * and scrapes never queue behind API traffic. */
#include "http_internal.h"

#include <stdlib.h>

struct baton_ops {
    baton_http_server_t *srv;
    baton_metrics_t *registry;
    baton_ops_ready_fn ready_fn;
    void *ud;
};

static void on_metrics(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    baton_ops_t *ops = ud;
    baton_buf_t out = BATON_BUF_INIT;
    if (ops->registry)
        baton_metrics_render(ops->registry, &out);
    baton_http_respond(resp, 200, BATON_METRICS_CONTENT_TYPE, out.data, out.len);
    baton_buf_free(&out);
}

static void on_healthz(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    baton_http_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void on_readyz(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    baton_ops_t *ops = ud;
    char reason[256] = "";
    if (!ops->ready_fn || ops->ready_fn(ops->ud, reason, sizeof reason)) {
        baton_http_json(resp, 200, json_pack("{s:s}", "status", "ready"));
        return;
    }
    baton_http_json(
        resp, 503,
        json_pack("{s:s, s:s}", "status", "not ready", "reason", reason[0] ? reason : "not ready"));
    baton_http_resp_header(resp, "Cache-Control", "no-store");
}

baton_ops_t *baton_ops_start(const char *bind, int port, baton_metrics_t *registry,
                             baton_ops_ready_fn ready_fn, void *ud, char *err, size_t errlen)
{
    baton_ops_t *ops = baton_xcalloc(1, sizeof *ops);
    ops->registry = registry;
    ops->ready_fn = ready_fn;
    ops->ud = ud;
    baton_http_config_t cfg = baton_http_config_default();
    cfg.bind = bind;
    cfg.port = port;
    cfg.max_connections = 64;
    cfg.timeout_s = 30;
    cfg.max_body = 4096;
    /* Thread per connection: a slow ready_fn must not hold up /healthz on another
     * connection (a liveness probe failing for that reason would restart a healthy pod). */
    cfg.threads = 0;
    ops->srv = baton_http_server_new(&cfg, err, errlen);
    if (!ops->srv)
        goto err;
    baton_http_route(ops->srv, "GET", "/metrics", on_metrics, ops);
    baton_http_route(ops->srv, "GET", "/healthz", on_healthz, ops);
    baton_http_route(ops->srv, "GET", "/readyz", on_readyz, ops);
    if (baton_http_server_start(ops->srv, err, errlen) != 0)
        goto err;
    return ops;
err:
    baton_ops_stop(ops);
    return NULL;
}

uint16_t baton_ops_port(const baton_ops_t *ops)
{
    return ops ? baton_http_server_port(ops->srv) : 0;
}

void baton_ops_stop(baton_ops_t *ops)
{
    if (!ops)
        return;
    baton_http_server_stop(ops->srv, 2000);
    baton_http_server_free(ops->srv);
    free(ops);
}
