/* http_server.c — the libmicrohttpd glue: daemon start/stop, the access handler (routing,
 * body collection with the size limit, 404/405/413), responses and per-route metrics. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Per request, from the first access-handler call to MHD's completion notice. */
typedef struct {
    int64_t start_ns;
    const http_route_t *route; /* NULL: matched nothing (404 / 405) */
    http_param_t params[HTTP_MAX_PARAMS];
    size_t nparams;
    bool responded; /* a response was queued */
    int reject;     /* 404, 405 or 413 to answer instead of the handler; body is dropped */
    char allow[128];
    size_t discarded;
    int status;
    baton_buf_t body;
} http_ctx_t;

baton_http_config_t baton_http_config_default(void)
{
    baton_http_config_t c = {0};
    c.max_connections = 512;
    c.timeout_s = 60;
    c.max_body = 1024 * 1024;
    c.memory_limit = 64 * 1024;
    return c;
}

/* ---- request accessors ---- */

const char *baton_http_param(const baton_http_req_t *req, const char *name)
{
    const http_req_internal_t *in = req->internal_;
    for (size_t i = 0; i < in->nparams; i++)
        if (strcmp(in->params[i].name, name) == 0)
            return in->params[i].value;
    return NULL;
}

const char *baton_http_query(const baton_http_req_t *req, const char *name)
{
    const http_req_internal_t *in = req->internal_;
    const char *value = NULL;
    size_t vlen = 0;
    if (MHD_lookup_connection_value_n(in->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &vlen) != MHD_YES)
        return NULL;
    return value ? value : "";
}

const char *baton_http_header(const baton_http_req_t *req, const char *name)
{
    const http_req_internal_t *in = req->internal_;
    return MHD_lookup_connection_value(in->conn, MHD_HEADER_KIND, name);
}

/* ---- responses ---- */

/* Count the request when its answer is queued, before the client can have read it (the
 * completion notice comes after the send), so a scrape that follows a response sees it.
 * The latency is therefore time to answer, not including the send. */
static void record(baton_http_server_t *srv, const http_ctx_t *ctx)
{
    int i = ctx->status / 100 - 1;
    if (i < 0 || i > 4)
        return;
    if (ctx->route) {
        baton_counter_inc(ctx->route->by_code[i]);
        baton_histogram_observe_since(ctx->route->latency, ctx->start_ns);
    } else {
        baton_counter_inc(srv->unmatched_by_code[i]);
        baton_histogram_observe_since(srv->unmatched_latency, ctx->start_ns);
    }
}

static enum MHD_Result queue(baton_http_server_t *srv, struct MHD_Connection *conn, http_ctx_t *ctx,
                             baton_http_resp_t *resp)
{
    if (resp->status < 100 || resp->status > 599)
        baton_http_problem(resp, 500, "internal-error", "Internal Server Error",
                           "the handler produced no response");
    size_t len = resp->body.len;
    struct MHD_Response *r =
        len ? MHD_create_response_from_buffer(len, baton_buf_steal(&resp->body),
                                              MHD_RESPMEM_MUST_FREE)
            : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    if (resp->content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (size_t i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(r, resp->headers[2 * i], resp->headers[2 * i + 1]);
    if (srv->stopped) /* draining: do not keep the connection for another request */
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    if (ret == MHD_YES) {
        ctx->responded = true;
        ctx->status = resp->status;
        record(srv, ctx);
    }
    return ret;
}

static enum MHD_Result queue_problem(baton_http_server_t *srv, struct MHD_Connection *conn,
                                     http_ctx_t *ctx, int status, const char *type,
                                     const char *title, const char *detail, const char *allow)
{
    baton_http_resp_t resp;
    http_resp_init(&resp);
    baton_http_problem(&resp, status, type, title, detail);
    if (allow)
        baton_http_resp_header(&resp, "Allow", allow);
    enum MHD_Result ret = queue(srv, conn, ctx, &resp);
    http_resp_clear(&resp);
    return ret;
}

/* The answer for ctx->reject. */
static enum MHD_Result queue_reject(baton_http_server_t *srv, struct MHD_Connection *conn,
                                    http_ctx_t *ctx)
{
    if (ctx->reject == 405)
        return queue_problem(srv, conn, ctx, 405, "method-not-allowed", "Method Not Allowed",
                             "this resource does not support the request method", ctx->allow);
    if (ctx->reject == 404)
        return queue_problem(srv, conn, ctx, 404, "not-found", "Not Found", "no such resource",
                             NULL);
    char detail[96];
    snprintf(detail, sizeof detail, "the request body is larger than %zu bytes", srv->cfg.max_body);
    return queue_problem(srv, conn, ctx, 413, "payload-too-large", "Payload Too Large", detail,
                         NULL);
}

/* ---- routing ---- */

static bool method_matches(const http_route_t *r, const char *method)
{
    return strcmp(r->method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0);
}

/* Find the route for method + path. Without one, writes the Allow list of the methods the
 * path does exist for into allow ("" when the path is unknown). */
static const http_route_t *route_find(baton_http_server_t *srv, const char *method,
                                      const char *path, http_ctx_t *ctx, char *allow,
                                      size_t allowlen)
{
    baton_buf_t methods = BATON_BUF_INIT;
    const http_route_t *found = NULL;
    for (size_t i = 0; i < srv->nroutes && !found; i++) {
        http_route_t *r = &srv->routes[i];
        http_param_t params[HTTP_MAX_PARAMS];
        size_t n;
        if (!http_route_match(r, path, params, &n))
            continue;
        if (method_matches(r, method)) {
            memcpy(ctx->params, params, sizeof params);
            ctx->nparams = n;
            found = r;
            break;
        }
        http_params_free(params, n);
        /* Collect each method once; GET also allows HEAD. */
        const char *add[2] = {r->method, strcmp(r->method, "GET") == 0 ? "HEAD" : NULL};
        for (int k = 0; k < 2 && add[k]; k++) {
            bool seen = false;
            for (const char *p = methods.data; p && (p = strstr(p, add[k])); p++) {
                size_t l = strlen(add[k]);
                if ((p == methods.data || p[-1] == ' ') && (p[l] == ',' || p[l] == '\0'))
                    seen = true;
            }
            if (!seen)
                baton_buf_appendf(&methods, "%s%s", methods.len ? ", " : "", add[k]);
        }
    }
    baton_strlcpy(allow, methods.data ? methods.data : "", allowlen);
    baton_buf_free(&methods);
    return found;
}

static void call_handler(baton_http_server_t *srv, struct MHD_Connection *conn, const char *url,
                         const char *method, http_ctx_t *ctx)
{
    http_req_internal_t in = {.conn = conn, .nparams = ctx->nparams};
    memcpy(in.params, ctx->params, sizeof in.params);
    baton_http_req_t req = {
        .method = method,
        .path = url,
        .route = ctx->route->pattern,
        .body = ctx->body.data ? ctx->body.data : "",
        .body_len = ctx->body.len,
        .internal_ = &in,
    };
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req.remote_addr,
                      sizeof req.remote_addr);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req.remote_addr,
                      sizeof req.remote_addr);
    }
    baton_http_resp_t resp;
    http_resp_init(&resp);
    ctx->route->fn(&req, &resp, ctx->route->ud);
    queue(srv, conn, ctx, &resp);
    http_resp_clear(&resp);
}

/* How much of a rejected request's body is read and dropped so the client can still read
 * the answer: libmicrohttpd 0.9.75 refuses to queue a response while a body is arriving, and
 * answering before the body (then closing) resets a client that is still sending, which
 * then never sees the answer. */
static size_t discard_limit(const baton_http_server_t *srv)
{
    return 4 * srv->cfg.max_body + 65536;
}

/* First call for a request: route it and check the declared size before any body is read.
 * A rejected request is answered now when that is safe — the client waits for
 * "100 Continue" (and so never sends the body), or declared more than we would drain —
 * and otherwise after its body has been read and dropped. */
static enum MHD_Result on_headers(baton_http_server_t *srv, struct MHD_Connection *conn,
                                  const char *url, const char *method, http_ctx_t *ctx)
{
    ctx->route = route_find(srv, method, url, ctx, ctx->allow, sizeof ctx->allow);
    if (!ctx->route)
        ctx->reject = ctx->allow[0] ? 405 : 404;
    unsigned long long declared = 0;
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        errno = 0;
        declared = strtoull(cl, NULL, 10);
        if (errno != 0)
            declared = ULLONG_MAX;
    }
    if (!ctx->reject && declared > srv->cfg.max_body)
        ctx->reject = 413;
    if (!ctx->reject)
        return MHD_YES;
    const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if ((expect && strcasecmp(expect, "100-continue") == 0) || declared > discard_limit(srv))
        return queue_reject(srv, conn, ctx);
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    baton_http_server_t *srv = cls;
    http_ctx_t *ctx = *con_cls;
    if (!ctx) {
        ctx = baton_xcalloc(1, sizeof *ctx);
        ctx->start_ns = baton_mono_ns();
        *con_cls = ctx;
        atomic_fetch_add(&srv->active, 1);
        baton_gauge_inc(srv->in_flight);
        return on_headers(srv, conn, url, method, ctx);
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (!ctx->reject && ctx->body.len + n > srv->cfg.max_body) {
            /* Chunked bodies have no declared size: the limit is enforced as they arrive. */
            ctx->reject = 413;
            ctx->discarded = ctx->body.len;
            baton_buf_free(&ctx->body);
        }
        if (ctx->reject) {
            /* Dropped, and a client that keeps sending far beyond the limit is cut off. */
            ctx->discarded += n;
            return ctx->discarded > discard_limit(srv) ? MHD_NO : MHD_YES;
        }
        baton_buf_append(&ctx->body, upload, n);
        return MHD_YES;
    }
    if (ctx->responded)
        return MHD_YES;
    if (ctx->reject)
        return queue_reject(srv, conn, ctx);
    call_handler(srv, conn, url, method, ctx);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    baton_http_server_t *srv = cls;
    http_ctx_t *ctx = *con_cls;
    if (!ctx)
        return;
    *con_cls = NULL;
    baton_gauge_dec(srv->in_flight);
    http_params_free(ctx->params, ctx->nparams);
    baton_buf_free(&ctx->body);
    free(ctx);
    atomic_fetch_sub(&srv->active, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    baton_http_server_t *srv = cls;
    pthread_mutex_lock(&srv->log_mu);
    vsnprintf(srv->mhd_err, sizeof srv->mhd_err, fmt, ap);
    size_t l = strlen(srv->mhd_err);
    while (l && (srv->mhd_err[l - 1] == '\n' || srv->mhd_err[l - 1] == '.'))
        srv->mhd_err[--l] = '\0';
    pthread_mutex_unlock(&srv->log_mu);
}

/* ---- lifecycle ---- */

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        baton_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    baton_buf_t b = BATON_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        baton_buf_append(&b, chunk, n);
    fclose(f);
    return baton_buf_steal(&b);
}

static void route_metrics(baton_http_server_t *srv, const char *route_label,
                          baton_counter_t *by_code[5], baton_histogram_t **latency)
{
    if (!srv->cfg.metrics)
        return;
    char name[128];
    snprintf(name, sizeof name, "%s_requests_total", srv->prefix);
    baton_metric_t *req = baton_metrics_counter(
        srv->cfg.metrics, name, "HTTP requests by route and status class.", "route", "code", NULL);
    snprintf(name, sizeof name, "%s_request_duration_seconds", srv->prefix);
    baton_metric_t *lat = baton_metrics_histogram(
        srv->cfg.metrics, name, "HTTP request latency by route.", NULL, 0, "route", NULL);
    static const char *const codes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 5; i++)
        by_code[i] = baton_metrics_counter_child(req, route_label, codes[i]);
    *latency = baton_metrics_histogram_child(lat, route_label);
}

baton_http_server_t *baton_http_server_new(const baton_http_config_t *cfg, char *err, size_t errlen)
{
    baton_http_server_t *srv = baton_xcalloc(1, sizeof *srv);
    pthread_mutex_init(&srv->log_mu, NULL);
    srv->cfg = *cfg;
    srv->bind = baton_xstrdup(cfg->bind ? cfg->bind : "");
    srv->prefix = baton_xstrdup(cfg->metrics_prefix ? cfg->metrics_prefix : "baton_http");
    srv->cfg.bind = srv->bind;
    srv->cfg.metrics_prefix = srv->prefix;
    srv->cfg.tls_cert_path = srv->cfg.tls_key_path = NULL;
    if (srv->cfg.max_body == 0)
        srv->cfg.max_body = 1024 * 1024;
    if (cfg->port < 0 || cfg->port > 65535) {
        baton_seterr(err, errlen, "port %d out of range", cfg->port);
        goto err;
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (srv->bind[0] && inet_pton(AF_INET, srv->bind, &a4) != 1 &&
        inet_pton(AF_INET6, srv->bind, &a6) != 1) {
        baton_seterr(err, errlen, "bind address \"%s\" is not an IPv4 or IPv6 literal", srv->bind);
        goto err;
    }
    if ((cfg->tls_cert_path && cfg->tls_cert_path[0]) ||
        (cfg->tls_key_path && cfg->tls_key_path[0])) {
        if (!cfg->tls_cert_path || !cfg->tls_key_path || !cfg->tls_cert_path[0] ||
            !cfg->tls_key_path[0]) {
            baton_seterr(err, errlen, "TLS needs both a certificate and a key");
            goto err;
        }
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            baton_seterr(err, errlen, "libmicrohttpd was built without TLS support");
            goto err;
        }
        if (!(srv->tls_cert = read_file(cfg->tls_cert_path, err, errlen)) ||
            !(srv->tls_key = read_file(cfg->tls_key_path, err, errlen)))
            goto err;
    }
    route_metrics(srv, "unmatched", srv->unmatched_by_code, &srv->unmatched_latency);
    if (srv->cfg.metrics) {
        char name[128];
        snprintf(name, sizeof name, "%s_requests_in_flight", srv->prefix);
        srv->in_flight = baton_metrics_gauge_child(
            baton_metrics_gauge(srv->cfg.metrics, name, "HTTP requests being handled.", NULL));
    }
    return srv;
err:
    baton_http_server_free(srv);
    return NULL;
}

int baton_http_route(baton_http_server_t *srv, const char *method, const char *pattern,
                     baton_http_handler_fn fn, void *ud)
{
    if (srv->daemon || !method || !*method || !fn)
        return BATON_EINVAL;
    for (size_t i = 0; i < srv->nroutes; i++)
        if (strcmp(srv->routes[i].method, method) == 0 &&
            strcmp(srv->routes[i].pattern, pattern) == 0)
            return BATON_EEXIST;
    http_route_t r = {0};
    if (http_route_compile(&r, pattern) != 0) {
        http_route_free(&r);
        return BATON_EINVAL;
    }
    r.method = baton_xstrdup(method);
    r.pattern = baton_xstrdup(pattern);
    r.fn = fn;
    r.ud = ud;
    char *label = baton_xasprintf("%s %s", method, pattern);
    route_metrics(srv, label, r.by_code, &r.latency);
    free(label);
    srv->routes = baton_xrealloc(srv->routes, (srv->nroutes + 1) * sizeof *srv->routes);
    srv->routes[srv->nroutes++] = r;
    return 0;
}

int baton_http_server_start(baton_http_server_t *srv, char *err, size_t errlen)
{
    if (srv->daemon || srv->stopped) {
        baton_seterr(err, errlen, srv->stopped ? "server was stopped" : "server already started");
        return BATON_EINVAL;
    }
    struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv->cfg.port)};
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6,
                               .sin6_port = htons((uint16_t)srv->cfg.port)};
    bool v6 = srv->bind[0] && inet_pton(AF_INET6, srv->bind, &sa6.sin6_addr) == 1;
    if (!v6 && srv->bind[0])
        inet_pton(AF_INET, srv->bind, &sa4.sin_addr);
    else if (!v6)
        sa4.sin_addr.s_addr = htonl(INADDR_ANY);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    flags |= srv->cfg.threads == 0 ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL : MHD_USE_EPOLL;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (srv->tls_cert)
        flags |= MHD_USE_TLS;

    struct MHD_OptionItem o[16];
    int n = 0;
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, srv};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, v6 ? (void *)&sa6 : (void *)&sa4};
    if (srv->cfg.max_connections)
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                         (intptr_t)srv->cfg.max_connections, NULL};
    if (srv->cfg.timeout_s)
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                         (intptr_t)srv->cfg.timeout_s, NULL};
    if (srv->cfg.memory_limit)
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                         (intptr_t)srv->cfg.memory_limit, NULL};
    if (srv->cfg.threads > 1)
        o[n++] =
            (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)srv->cfg.threads, NULL};
    if (srv->tls_cert) {
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert};
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key};
    }
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    srv->mhd_err[0] = '\0';
    srv->daemon = MHD_start_daemon(flags, (uint16_t)srv->cfg.port, NULL, NULL, on_access, srv,
                                   MHD_OPTION_ARRAY, o, MHD_OPTION_END);
    if (!srv->daemon) {
        pthread_mutex_lock(&srv->log_mu);
        baton_seterr(err, errlen, "cannot listen on %s:%d: %s", srv->bind[0] ? srv->bind : "*",
                     srv->cfg.port, srv->mhd_err[0] ? srv->mhd_err : "libmicrohttpd failed");
        pthread_mutex_unlock(&srv->log_mu);
        return BATON_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : (uint16_t)srv->cfg.port;
    return 0;
}

uint16_t baton_http_server_port(const baton_http_server_t *srv)
{
    return srv->daemon ? srv->port : 0;
}

void baton_http_server_stop(baton_http_server_t *srv, int grace_ms)
{
    if (!srv || !srv->daemon)
        return;
    srv->stopped = true;
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    int64_t deadline = baton_mono_ms() + (grace_ms > 0 ? grace_ms : 0);
    while (atomic_load(&srv->active) > 0 && baton_mono_ms() < deadline)
        usleep(5000);
    MHD_stop_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    srv->daemon = NULL;
}

void baton_http_server_free(baton_http_server_t *srv)
{
    if (!srv)
        return;
    baton_http_server_stop(srv, 0);
    for (size_t i = 0; i < srv->nroutes; i++)
        http_route_free(&srv->routes[i]);
    free(srv->routes);
    free(srv->bind);
    free(srv->prefix);
    free(srv->tls_cert);
    free(srv->tls_key);
    pthread_mutex_destroy(&srv->log_mu);
    free(srv);
}
