/* rosters.c — people and shifts into Redis (libs/roster): PUT /v1/people/{id}, PUT /v1/shifts,
 * POST /v1/shifts:import (CSV, all or nothing, line-numbered errors) and GET /v1/oncall.
 * A body naming another tenant than the API key's is refused with 403 (the caller is known but
 * may not write there); nothing of another tenant is ever read. */
#include "ingest.h"

#include "baton/roster.h"

#include <stdlib.h>
#include <string.h>

static void roster_errors(ingest_t *app, baton_http_resp_t *resp, int rc,
                          const baton_roster_errors_t *errs, const char *what)
{
    ingest_metrics_rejected(&app->m, INGEST_SRC_ROSTER,
                            rc == BATON_ETOOBIG ? INGEST_REJ_TOO_LARGE : INGEST_REJ_INVALID);
    if (rc == BATON_ETOOBIG) {
        baton_http_problem(resp, 413, "too-large", "Body too large",
                           "a roster body may be at most 4 MiB and 10000 shifts");
        return;
    }
    char *ej = baton_roster_errors_json(errs);
    json_t *arr = ej ? json_loads(ej, 0, NULL) : NULL;
    free(ej);
    json_t *extra = json_object();
    json_object_set_new(extra, "errors", arr ? arr : json_array());
    if (errs->total > errs->n)
        json_object_set_new(extra, "errors_total", json_integer((json_int_t)errs->total));
    char d[128];
    snprintf(d, sizeof d, "the %s is not valid; nothing was written", what);
    ingest_reply_problem(resp, 422, "invalid-roster", "Invalid roster", d, extra);
}

static void tenant_forbidden(ingest_t *app, baton_http_resp_t *resp)
{
    ingest_metrics_rejected(&app->m, INGEST_SRC_ROSTER, INGEST_REJ_TENANT);
    baton_http_problem(resp, 403, "tenant-forbidden", "Tenant not allowed",
                       "the body's tenant is not the tenant of the API key");
}

static void count_write(ingest_t *app, const char *kind, size_t n)
{
    baton_counter_add(baton_metrics_counter_child(app->m.roster_fam, kind), n);
}

static void put_person(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    ingest_t *app = ud;
    ingest_caller_t who;
    if (!ingest_auth_key(app, req, resp, INGEST_SCOPE_ROSTERS, INGEST_ERR_PROBLEM,
                         INGEST_SRC_ROSTER, false, &who))
        return;
    baton_roster_person_t *p = NULL;
    baton_roster_errors_t errs = BATON_ROSTER_ERRORS_INIT;
    int rc =
        baton_roster_person_parse(baton_http_param(req, "id"), req->body, req->body_len, &p, &errs);
    if (rc) {
        roster_errors(app, resp, rc, &errs, "person");
    } else if (strcmp(p->tenant, who.tenant) != 0) {
        tenant_forbidden(app, resp);
    } else {
        char err[256];
        baton_redis_t *r = ingest_rpool_get(app->redis);
        rc = baton_roster_person_put(r, p, err, sizeof err);
        ingest_rpool_put(app->redis, r);
        if (rc) {
            ingest_metrics_rejected(&app->m, INGEST_SRC_ROSTER, INGEST_REJ_REDIS);
            ingest_reply_unavailable(app, resp, "Redis");
        } else {
            char *js = baton_roster_person_to_json(p);
            baton_http_respond(resp, 200, "application/json", js, strlen(js));
            free(js);
            count_write(app, "person", 1);
        }
    }
    baton_roster_errors_free(&errs);
    baton_roster_person_free(p);
    ingest_caller_free(&who);
}

static void write_shifts(ingest_t *app, baton_http_resp_t *resp, const ingest_caller_t *who, int rc,
                         baton_roster_shifts_t *s, baton_roster_errors_t *errs, const char *kind)
{
    if (rc) {
        roster_errors(app, resp, rc, errs, strcmp(kind, "import") == 0 ? "CSV" : "shift list");
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].tenant, who->tenant) != 0) {
            tenant_forbidden(app, resp);
            return;
        }
    }
    char err[256];
    if (s->n) {
        baton_redis_t *r = ingest_rpool_get(app->redis);
        rc = baton_roster_shifts_put(r, s, baton_now_ms(), err, sizeof err);
        ingest_rpool_put(app->redis, r);
        if (rc) {
            ingest_metrics_rejected(&app->m, INGEST_SRC_ROSTER, INGEST_REJ_REDIS);
            ingest_reply_unavailable(app, resp, "Redis");
            return;
        }
    }
    json_t *ids = json_array();
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(ids, json_string(s->v[i].id));
    count_write(app, kind, s->n);
    baton_http_json(
        resp, 200,
        json_pack("{s:s,s:I,s:o}", "tenant", who->tenant, "count", (json_int_t)s->n, "ids", ids));
}

static void put_shifts(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    ingest_t *app = ud;
    ingest_caller_t who;
    if (!ingest_auth_key(app, req, resp, INGEST_SCOPE_ROSTERS, INGEST_ERR_PROBLEM,
                         INGEST_SRC_ROSTER, false, &who))
        return;
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t errs = BATON_ROSTER_ERRORS_INIT;
    int rc = baton_roster_shifts_parse_json(req->body, req->body_len, NULL, &s, &errs);
    write_shifts(app, resp, &who, rc, &s, &errs, "shifts");
    baton_roster_shifts_free(&s);
    baton_roster_errors_free(&errs);
    ingest_caller_free(&who);
}

static void import_shifts(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    static const char *const types[] = {"text/csv", "application/csv", "text/plain", NULL};
    ingest_t *app = ud;
    ingest_caller_t who;
    if (!ingest_auth_key(app, req, resp, INGEST_SCOPE_ROSTERS, INGEST_ERR_PROBLEM,
                         INGEST_SRC_ROSTER, false, &who))
        return;
    if (!ingest_content_type_is(req, types, true)) {
        ingest_metrics_rejected(&app->m, INGEST_SRC_ROSTER, INGEST_REJ_UNSUPPORTED);
        baton_http_problem(resp, 415, "unsupported-media-type", "Unsupported Media Type",
                           "send the shifts as text/csv with a header row");
    } else {
        baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
        baton_roster_errors_t errs = BATON_ROSTER_ERRORS_INIT;
        int rc = baton_roster_shifts_parse_csv(req->body, req->body_len, NULL, &s, &errs);
        write_shifts(app, resp, &who, rc, &s, &errs, "import");
        baton_roster_shifts_free(&s);
        baton_roster_errors_free(&errs);
    }
    ingest_caller_free(&who);
}

static void get_oncall(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    ingest_t *app = ud;
    ingest_caller_t who;
    if (!ingest_auth_key(app, req, resp, INGEST_SCOPE_READ, INGEST_ERR_PROBLEM, INGEST_SRC_ROSTER,
                         true, &who))
        return;
    const char *fac = baton_http_query(req, "facility"), *unit = baton_http_query(req, "unit");
    const char *role = baton_http_query(req, "role"), *at = baton_http_query(req, "at");
    json_t *errors = json_array();
    if (!baton_roster_ident_ok(fac))
        json_array_append_new(errors, json_pack("{s:s,s:s}", "parameter", "facility", "detail",
                                                fac ? "not a valid identifier" : "required"));
    if (unit && *unit && !baton_roster_ident_ok(unit))
        json_array_append_new(errors, json_pack("{s:s,s:s}", "parameter", "unit", "detail",
                                                "not a valid identifier"));
    if (!baton_roster_ident_ok(role))
        json_array_append_new(errors, json_pack("{s:s,s:s}", "parameter", "role", "detail",
                                                role ? "not a valid identifier" : "required"));
    int64_t at_ms = baton_now_ms();
    if (at && *at && baton_time_parse(at, &at_ms) != 0)
        json_array_append_new(
            errors, json_pack("{s:s,s:s}", "parameter", "at", "detail", "not an RFC 3339 time"));
    if (json_array_size(errors)) {
        ingest_reply_problem(resp, 400, "invalid-query", "Invalid query",
                             "facility and role are required; unit and at are optional",
                             json_pack("{s:o}", "errors", errors));
        ingest_caller_free(&who);
        return;
    }
    json_decref(errors);
    baton_roster_query_t q = {who.tenant, fac, unit && *unit ? unit : NULL, role, at_ms, NULL, 0};
    char *js = NULL, err[256];
    baton_redis_t *r = ingest_rpool_get(app->redis);
    int rc = baton_roster_oncall(r, &q, &js, err, sizeof err);
    ingest_rpool_put(app->redis, r);
    if (rc)
        ingest_reply_unavailable(app, resp, "Redis");
    else
        baton_http_respond(resp, 200, "application/json", js, strlen(js));
    free(js);
    ingest_caller_free(&who);
}

void ingest_routes_rosters(ingest_t *app)
{
    baton_http_route(app->http, "PUT", "/v1/people/{id}", put_person, app);
    baton_http_route(app->http, "PUT", "/v1/shifts", put_shifts, app);
    baton_http_route(app->http, "POST", "/v1/shifts:import", import_shifts, app);
    baton_http_route(app->http, "GET", "/v1/oncall", get_oncall, app);
}
