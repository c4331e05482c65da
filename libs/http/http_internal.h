/* http_internal.h — shared insides of baton_http: the server, routes, request context and
 * response (http_server.c glue to libmicrohttpd, http_route.c matching, http_response.c). */
#ifndef BATON_HTTP_INTERNAL_H
#define BATON_HTTP_INTERNAL_H

#include "baton/http.h"
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#define HTTP_MAX_SEGMENTS 16
#define HTTP_MAX_PARAMS 8

typedef struct {
    char *text;    /* literal text, or the parameter name */
    bool is_param; /* "{name}" */
} http_segment_t;

typedef struct {
    char *method;
    char *pattern;
    http_segment_t seg[HTTP_MAX_SEGMENTS];
    size_t nseg;
    baton_http_handler_fn fn;
    void *ud;
    baton_counter_t *by_code[5]; /* 1xx..5xx */
    baton_histogram_t *latency;
} http_route_t;

typedef struct {
    const char *name;
    char *value; /* owned */
} http_param_t;

struct baton_http_resp {
    int status;
    char *content_type;
    baton_buf_t body;
    char **headers; /* name, value, name, value ... */
    size_t nheaders;
};

/* What lives in req->internal_. */
typedef struct {
    struct MHD_Connection *conn;
    http_param_t params[HTTP_MAX_PARAMS];
    size_t nparams;
} http_req_internal_t;

struct baton_http_server {
    baton_http_config_t cfg; /* strings below are owned copies */
    char *bind, *prefix;
    char *tls_cert, *tls_key; /* file contents */
    http_route_t *routes;
    size_t nroutes;
    struct MHD_Daemon *daemon;
    uint16_t port;
    atomic_bool stopped; /* set by stop: answers carry "Connection: close" */
    atomic_int active;   /* requests between first call and completion */
    pthread_mutex_t log_mu;
    char mhd_err[256]; /* last message from libmicrohttpd's logger */
    /* metrics for requests that matched no route (404, 405) */
    baton_counter_t *unmatched_by_code[5];
    baton_histogram_t *unmatched_latency;
    baton_gauge_t *in_flight;
};

/* http_route.c */
/* Split a pattern into route->seg; returns 0 or BATON_EINVAL. */
int http_route_compile(http_route_t *route, const char *pattern);
/* Does path match? On a match, fills params (values allocated) and returns true. */
bool http_route_match(const http_route_t *route, const char *path, http_param_t *params,
                      size_t *nparams);
void http_route_free(http_route_t *route);
void http_params_free(http_param_t *params, size_t n);

/* http_response.c */
void http_resp_init(baton_http_resp_t *resp);
void http_resp_clear(baton_http_resp_t *resp);

#endif
