/* fhir.c — FHIR R4: POST /fhir/r4/Encounter, /ServiceRequest, /Task and /fhir/r4 (a Bundle:
 * batch, transaction or subscription notification) → canonical events (libs/fhir, libs/canon).
 * Errors are OperationOutcomes; answers are FHIR-shaped:
 *   single resource  201 Created (first time) / 200 OK (the same resource again) with an
 *                    informational OperationOutcome naming the event id and type
 *   batch            200 with a batch-response Bundle, one entry.response per entry
 *   transaction      200 with a transaction-response Bundle; any failing entry rejects all
 *   notification     200 with an OperationOutcome (events accepted, per-entry warnings)
 *   Kafka / Redis down → 503 OperationOutcome "transient" + Retry-After. */
#include "ingest.h"

#include "baton/fhir.h"

#include <stdlib.h>
#include <string.h>

#define FHIR_CT "application/fhir+json; charset=utf-8"

typedef struct {
    ingest_t *app;
    const char *type; /* expected resourceType */
} fhir_route_t;

static fhir_route_t routes[4];

static void reply(baton_http_resp_t *resp, int status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    baton_http_respond(resp, status, FHIR_CT, text, strlen(text));
    free(text);
    json_decref(doc);
}

static const char *status_line(int s)
{
    switch (s) {
    case 200:
        return "200 OK";
    case 201:
        return "201 Created";
    case 400:
        return "400 Bad Request";
    case 413:
        return "413 Payload Too Large";
    case 422:
        return "422 Unprocessable Entity";
    case 503:
        return "503 Service Unavailable";
    default:
        return "500 Internal Server Error";
    }
}

static json_t *accepted_outcome(const Baton__V1__Envelope *env, bool replay)
{
    char d[256];
    snprintf(d, sizeof d, "%s: event %s (%s)", replay ? "already accepted" : "accepted", env->id,
             env->type);
    return baton_fhir_outcome_info(d);
}

static json_t *transient_outcome(void)
{
    return baton_fhir_outcome_error("transient",
                                    "the event store is not reachable right now; nothing was "
                                    "written, retry later",
                                    NULL);
}

/* Convert the mapped events; a canonical failure becomes the item's outcome. */
static size_t convert_items(baton_fhir_result_t *res, const char *tenant,
                            Baton__V1__Envelope **envs)
{
    size_t failed = 0;
    for (size_t i = 0; i < res->n_items; i++) {
        baton_fhir_item_t *it = &res->items[i];
        envs[i] = NULL;
        if (it->kind != BATON_FHIR_ITEM_EVENT)
            continue;
        baton_canon_opts_t o = {0};
        o.auth_tenant = tenant;
        o.source = "fhir";
        o.source_message_id = it->source_message_id;
        baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
        if (baton_canon_convert(it->event, &o, &envs[i], &p) != 0) {
            char d[200];
            snprintf(d, sizeof d, "the resource maps to an invalid event: %s %s",
                     p.n ? p.items[0].pointer : "", p.n ? p.items[0].detail : "");
            json_decref(it->outcome);
            it->outcome = baton_fhir_outcome_error("invalid", d, NULL);
            it->kind = BATON_FHIR_ITEM_ERROR;
            failed++;
        }
        baton_canon_problems_free(&p);
    }
    return failed;
}

static void answer_bundle(ingest_t *app, baton_http_resp_t *resp, baton_fhir_result_t *res,
                          Baton__V1__Envelope **envs, const int *st, int rc)
{
    bool tx = res->input == BATON_FHIR_TRANSACTION;
    if (rc && tx) {
        baton_http_resp_header(resp, "Retry-After", app->retry_after);
        reply(resp, 503, transient_outcome());
        return;
    }
    json_t *entries = json_array();
    for (size_t i = 0; i < res->n_items; i++) {
        baton_fhir_item_t *it = &res->items[i];
        json_t *r = json_object();
        int s;
        json_t *oc;
        if (it->kind == BATON_FHIR_ITEM_EVENT && envs[i]) {
            s = st[i] == 503 ? 503 : st[i] == 200 ? 200 : 201;
            oc = s == 503 ? transient_outcome() : accepted_outcome(envs[i], s == 200);
        } else if (it->kind == BATON_FHIR_ITEM_ERROR) {
            s = baton_fhir_outcome_http_status(it->outcome);
            oc = json_incref(it->outcome);
        } else {
            s = 200;
            oc = baton_fhir_outcome_info("nothing to do for this entry");
        }
        json_object_set_new(r, "status", json_string(status_line(s)));
        json_object_set_new(r, "outcome", oc);
        json_array_append_new(entries, json_pack("{s:o}", "response", r));
    }
    json_t *b = json_pack("{s:s,s:s,s:o}", "resourceType", "Bundle", "type",
                          tx ? "transaction-response" : "batch-response", "entry", entries);
    reply(resp, 200, b);
}

static void answer_notification(ingest_t *app, baton_http_resp_t *resp, baton_fhir_result_t *res,
                                Baton__V1__Envelope **envs, const int *st, int rc)
{
    if (rc) {
        baton_http_resp_header(resp, "Retry-After", app->retry_after);
        reply(resp, 503, transient_outcome());
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < res->n_items; i++)
        n += envs[i] && st[i] != 503;
    char d[160];
    snprintf(d, sizeof d, "notification %s: %zu event(s) accepted",
             res->notification_type[0] ? res->notification_type : "received", n);
    json_t *oc = baton_fhir_outcome_info(d);
    for (size_t i = 0; i < res->n_items; i++) {
        baton_fhir_item_t *it = &res->items[i];
        if (it->kind != BATON_FHIR_ITEM_ERROR)
            continue;
        char prefix[64];
        snprintf(prefix, sizeof prefix, "Bundle.entry[%d].resource", it->entry);
        json_t *w = json_deep_copy(it->outcome);
        size_t k;
        json_t *is;
        json_array_foreach(json_object_get(w, "issue"), k, is)
            json_object_set_new(is, "severity", json_string("warning"));
        baton_fhir_outcome_merge(oc, w, prefix);
        json_decref(w);
    }
    reply(resp, 200, oc);
}

static void answer_single(ingest_t *app, baton_http_resp_t *resp, baton_fhir_result_t *res,
                          Baton__V1__Envelope **envs, const int *st, int rc)
{
    baton_fhir_item_t *it = res->n_items ? &res->items[0] : NULL;
    if (!it || it->kind != BATON_FHIR_ITEM_EVENT || !envs[0]) {
        json_t *oc = it && it->outcome ? json_incref(it->outcome)
                                       : baton_fhir_outcome_error("processing", "no event", NULL);
        ingest_metrics_rejected(&app->m, INGEST_SRC_FHIR, INGEST_REJ_INVALID);
        reply(resp, baton_fhir_outcome_http_status(oc), oc);
        return;
    }
    if (rc) {
        baton_http_resp_header(resp, "Retry-After", app->retry_after);
        reply(resp, 503, transient_outcome());
        return;
    }
    reply(resp, st[0] == 200 ? 200 : 201, accepted_outcome(envs[0], st[0] == 200));
}

static void post_fhir(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    static const char *const types[] = {"application/fhir+json", "application/json",
                                        "application/json+fhir", NULL};
    fhir_route_t *route = ud;
    ingest_t *app = route->app;
    ingest_caller_t who;
    if (!ingest_auth_key(app, req, resp, INGEST_SCOPE_EVENTS, INGEST_ERR_FHIR, INGEST_SRC_FHIR,
                         false, &who))
        return;
    if (!ingest_content_type_is(req, types, true)) {
        ingest_metrics_rejected(&app->m, INGEST_SRC_FHIR, INGEST_REJ_UNSUPPORTED);
        reply(resp, 415,
              baton_fhir_outcome_error("not-supported", "send application/fhir+json", NULL));
        return;
    }
    baton_fhir_opts_t o = {who.tenant, route->type, 0};
    baton_fhir_result_t res;
    int rc = baton_fhir_map(req->body, req->body_len, &o, &res);
    if (rc) {
        ingest_metrics_rejected(&app->m, INGEST_SRC_FHIR,
                                rc == BATON_EPARSE    ? INGEST_REJ_MALFORMED
                                : rc == BATON_ENOENT  ? INGEST_REJ_UNSUPPORTED
                                : rc == BATON_ETOOBIG ? INGEST_REJ_TOO_LARGE
                                                      : INGEST_REJ_INVALID);
        reply(resp, baton_fhir_outcome_http_status(res.outcome), json_incref(res.outcome));
        goto out;
    }
    Baton__V1__Envelope **envs = baton_xcalloc(res.n_items + 1, sizeof *envs);
    int *st = baton_xcalloc(res.n_items + 1, sizeof *st);
    size_t failed = convert_items(&res, who.tenant, envs);
    if (failed && res.input == BATON_FHIR_TRANSACTION) {
        json_t *oc = baton_fhir_outcome_new();
        for (size_t i = 0; i < res.n_items; i++) {
            if (res.items[i].kind != BATON_FHIR_ITEM_ERROR)
                continue;
            char prefix[64];
            snprintf(prefix, sizeof prefix, "Bundle.entry[%d].resource", res.items[i].entry);
            baton_fhir_outcome_merge(oc, res.items[i].outcome, prefix);
        }
        ingest_metrics_rejected(&app->m, INGEST_SRC_FHIR, INGEST_REJ_INVALID);
        reply(resp, 422, oc);
    } else {
        rc = ingest_accept(app, INGEST_SRC_FHIR, who.tenant, envs, res.n_items, st);
        if (res.input == BATON_FHIR_RESOURCE)
            answer_single(app, resp, &res, envs, st, rc);
        else if (res.input == BATON_FHIR_NOTIFICATION)
            answer_notification(app, resp, &res, envs, st, rc);
        else
            answer_bundle(app, resp, &res, envs, st, rc);
    }
    for (size_t i = 0; i < res.n_items; i++)
        baton_canon_envelope_free(envs[i]);
    free(envs);
    free(st);
out:
    baton_fhir_result_free(&res);
    ingest_caller_free(&who);
}

void ingest_routes_fhir(ingest_t *app)
{
    static const char *const types[] = {"Encounter", "ServiceRequest", "Task", "Bundle"};
    static const char *const paths[] = {"/fhir/r4/Encounter", "/fhir/r4/ServiceRequest",
                                        "/fhir/r4/Task", "/fhir/r4"};
    for (int i = 0; i < 4; i++) {
        routes[i].app = app;
        routes[i].type = types[i];
        baton_http_route(app->http, "POST", paths[i], post_fhir, &routes[i]);
    }
}
