/* events.c — POST /v1/events: one canonical event (application/json) or a batch
 * (application/x-ndjson, one event per line, produced with one wait for all acks). */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

static const char *const json_types[] = {"application/json", NULL};
static const char *const ndjson_types[] = {"application/x-ndjson", "application/ndjson",
                                           "application/jsonl", NULL};

static const char *type_suffix(int rc)
{
    switch (rc) {
    case BATON_EPERM:
        return "tenant-forbidden";
    case BATON_EPARSE:
        return "malformed-json";
    case BATON_ETOOBIG:
        return "too-large";
    default:
        return "invalid-event";
    }
}

static int http_status(int rc)
{
    switch (rc) {
    case BATON_EPERM:
        return 403;
    case BATON_EPARSE:
        return 400;
    case BATON_ETOOBIG:
        return 413;
    default:
        return 422;
    }
}

static ingest_reject_t reject_reason(int rc)
{
    switch (rc) {
    case BATON_EPERM:
        return INGEST_REJ_TENANT;
    case BATON_EPARSE:
        return INGEST_REJ_MALFORMED;
    case BATON_ETOOBIG:
        return INGEST_REJ_TOO_LARGE;
    default:
        return INGEST_REJ_INVALID;
    }
}

static const char *detail_for(int rc)
{
    switch (rc) {
    case BATON_EPERM:
        return "the event's tenant is not the tenant of the API key";
    case BATON_EPARSE:
        return "the body is not a JSON document";
    case BATON_ETOOBIG:
        return "an event may be at most 65536 bytes";
    default:
        return "the event does not match the canonical event schema";
    }
}

static void opts_for(const baton_http_req_t *req, const ingest_caller_t *who, baton_canon_opts_t *o,
                     bool single)
{
    memset(o, 0, sizeof *o);
    o->auth_tenant = who->tenant;
    o->idempotency_key = single ? baton_http_header(req, "Idempotency-Key") : NULL;
    o->traceparent = baton_http_header(req, "traceparent");
    o->source = "json";
}

static void post_single(ingest_t *app, baton_http_req_t *req, baton_http_resp_t *resp,
                        const ingest_caller_t *who)
{
    baton_canon_opts_t o;
    opts_for(req, who, &o, true);
    baton_canon_problems_t probs = BATON_CANON_PROBLEMS_INIT;
    Baton__V1__Envelope *env = NULL;
    int rc = baton_canon_parse(req->body, req->body_len, &o, &env, &probs);
    if (rc) {
        ingest_metrics_rejected(&app->m, INGEST_SRC_JSON, reject_reason(rc));
        json_t *extra = json_object();
        json_object_set_new(extra, "errors", baton_canon_problems_json(&probs));
        ingest_reply_problem(resp, http_status(rc), type_suffix(rc), baton_canon_title(rc),
                             detail_for(rc), extra);
        baton_canon_problems_free(&probs);
        return;
    }
    int status = 0;
    rc = ingest_accept(app, INGEST_SRC_JSON, who->tenant, &env, 1, &status);
    if (rc) {
        ingest_reply_unavailable(app, resp, "the event store (Kafka, Redis)");
    } else {
        if (status == 200)
            baton_http_resp_header(resp, "Idempotent-Replayed", "true");
        baton_http_json(resp, 202, json_pack("{s:s}", "event_id", env->id));
    }
    baton_canon_envelope_free(env);
}

typedef struct {
    size_t line;
    int rc; /* canon result */
    json_t *errors;
} line_t;

static json_t *line_result(const line_t *l, const Baton__V1__Envelope *env, int status)
{
    if (l->rc == 0) {
        if (status == 503)
            return json_pack("{s:I,s:i,s:s,s:s}", "line", (json_int_t)l->line, "status", 503,
                             "type", BATON_HTTP_PROBLEM_BASE "unavailable", "title",
                             "Service Unavailable");
        return json_pack("{s:I,s:i,s:s}", "line", (json_int_t)l->line, "status", 202, "event_id",
                         env->id);
    }
    char *type = baton_xasprintf(BATON_HTTP_PROBLEM_BASE "%s", type_suffix(l->rc));
    json_t *r = json_pack("{s:I,s:i,s:s,s:s,s:O}", "line", (json_int_t)l->line, "status",
                          http_status(l->rc), "type", type, "title", baton_canon_title(l->rc),
                          "errors", l->errors);
    free(type);
    return r;
}

static void post_batch(ingest_t *app, baton_http_req_t *req, baton_http_resp_t *resp,
                       const ingest_caller_t *who)
{
    if (baton_http_header(req, "Idempotency-Key")) {
        baton_http_problem(resp, 400, "idempotency-key-not-allowed", "Bad Request",
                           "Idempotency-Key applies to single events; give each NDJSON line an id");
        return;
    }
    baton_canon_ndjson_t it;
    baton_canon_ndjson_init(&it, req->body, req->body_len, (size_t)ingest_cfg.ndjson_max_lines);
    size_t cap = 64, n = 0;
    line_t *lines = baton_xcalloc(cap, sizeof *lines);
    Baton__V1__Envelope **envs = baton_xcalloc(cap, sizeof *envs);
    baton_canon_opts_t o;
    opts_for(req, who, &o, false);
    o.now_ms = baton_now_ms();
    const char *lp;
    size_t ll, lno;
    int r;
    while ((r = baton_canon_ndjson_next(&it, &lp, &ll, &lno)) == 1) {
        if (n == cap) {
            cap *= 2;
            lines = baton_xrealloc(lines, cap * sizeof *lines);
            envs = baton_xrealloc(envs, cap * sizeof *envs);
        }
        baton_canon_problems_t probs = BATON_CANON_PROBLEMS_INIT;
        envs[n] = NULL;
        lines[n].line = lno;
        lines[n].rc = baton_canon_parse(lp, ll, &o, &envs[n], &probs);
        lines[n].errors = lines[n].rc ? baton_canon_problems_json(&probs) : NULL;
        if (lines[n].rc)
            ingest_metrics_rejected(&app->m, INGEST_SRC_JSON, reject_reason(lines[n].rc));
        baton_canon_problems_free(&probs);
        n++;
    }
    if (r == BATON_ETOOBIG || n == 0) {
        char d[128];
        if (r == BATON_ETOOBIG)
            snprintf(d, sizeof d, "a batch may hold at most %lld events (line %zu is one more)",
                     ingest_cfg.ndjson_max_lines, lno);
        ingest_metrics_rejected(&app->m, INGEST_SRC_JSON,
                                r == BATON_ETOOBIG ? INGEST_REJ_TOO_LARGE : INGEST_REJ_INVALID);
        if (r == BATON_ETOOBIG)
            baton_http_problem(resp, 413, "too-many-lines", "Batch too large", d);
        else
            baton_http_problem(resp, 400, "empty-batch", "Empty batch",
                               "the NDJSON body holds no event");
        goto out;
    }
    int *status = baton_xcalloc(n, sizeof *status);
    int rc = ingest_accept(app, INGEST_SRC_JSON, who->tenant, envs, n, status);
    json_t *results = json_array();
    size_t accepted = 0, rejected = 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(results, line_result(&lines[i], envs[i], status[i]));
        if (lines[i].rc == 0 && status[i] != 503)
            accepted++;
        else
            rejected++;
    }
    int http = rc ? 503 : rejected ? 207 : 202;
    if (rc)
        baton_http_resp_header(resp, "Retry-After", app->retry_after);
    baton_http_json(resp, http,
                    json_pack("{s:I,s:I,s:o}", "accepted", (json_int_t)accepted, "rejected",
                              (json_int_t)rejected, "results", results));
    free(status);
out:
    for (size_t i = 0; i < n; i++) {
        baton_canon_envelope_free(envs[i]);
        json_decref(lines[i].errors);
    }
    free(envs);
    free(lines);
}

static void post_events(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    ingest_t *app = ud;
    ingest_caller_t who;
    if (!ingest_auth_key(app, req, resp, INGEST_SCOPE_EVENTS, INGEST_ERR_PROBLEM, INGEST_SRC_JSON,
                         false, &who))
        return;
    if (ingest_content_type_is(req, ndjson_types, false))
        post_batch(app, req, resp, &who);
    else if (ingest_content_type_is(req, json_types, true))
        post_single(app, req, resp, &who);
    else {
        ingest_metrics_rejected(&app->m, INGEST_SRC_JSON, INGEST_REJ_UNSUPPORTED);
        baton_http_problem(resp, 415, "unsupported-media-type", "Unsupported Media Type",
                           "send application/json (one event) or application/x-ndjson (a batch)");
    }
    ingest_caller_free(&who);
}

void ingest_routes_events(ingest_t *app)
{
    baton_http_route(app->http, "POST", "/v1/events", post_events, app);
}
