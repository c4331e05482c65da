/* The webhook receiver of the e2e driver: POST /hook, timestamp, match the body's instance_id
 * to its event, answer 200. Served by libs/http (libmicrohttpd, a thread per connection). */
#include "e2e.h"

#include "baton/http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

struct e2e_sink {
    e2e_t *e;
    baton_http_server_t *srv;
};

static void on_hook(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    e2e_t *e = ud;
    int64_t now = baton_mono_ns();
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    const char *iid = body ? json_string_value(json_object_get(body, "instance_id")) : NULL;
    if (!iid) {
        atomic_fetch_add(&e->bad, 1);
    } else {
        long seq = e2e_map_get(e, iid);
        if (seq < 0) {
            atomic_fetch_add(&e->unknown, 1);
        } else {
            int64_t zero = 0;
            if (atomic_compare_exchange_strong(&e->evs[seq].delivered_ns, &zero, now))
                atomic_fetch_add(&e->deliveries, 1);
            else
                atomic_fetch_add(&e->duplicates, 1);
        }
    }
    json_decref(body);
    baton_http_respond(resp, 200, "application/json", "{}", 2);
}

e2e_sink_t *e2e_sink_start(e2e_t *e, int port)
{
    char err[256];
    baton_http_config_t cfg = baton_http_config_default();
    cfg.bind = "127.0.0.1";
    cfg.port = port;
    cfg.max_connections = 1024;
    e2e_sink_t *s = baton_xcalloc(1, sizeof *s);
    s->e = e;
    s->srv = baton_http_server_new(&cfg, err, sizeof err);
    if (!s->srv || baton_http_route(s->srv, "POST", "/hook", on_hook, e) != 0 ||
        baton_http_server_start(s->srv, err, sizeof err) != 0) {
        fprintf(stderr, "e2e: webhook receiver: %s\n", err);
        baton_http_server_free(s->srv);
        free(s);
        return NULL;
    }
    return s;
}

int e2e_sink_port(const e2e_sink_t *s)
{
    return baton_http_server_port(s->srv);
}

void e2e_sink_stop(e2e_sink_t *s)
{
    if (!s)
        return;
    baton_http_server_stop(s->srv, 1000);
    baton_http_server_free(s->srv);
    free(s);
}
