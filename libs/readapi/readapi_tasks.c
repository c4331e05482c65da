/* readapi_tasks.c — GET /v1/tasks (the shift-handoff list) and GET /v1/stats (telemetry from
 * the per-task facts baton-audit keeps; percentiles computed here with percentile_cont, i.e.
 * linear interpolation between the closest ranks). */
#include "readapi_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *task_json(PGresult *res, int i)
{
    json_t *o = json_object();
    const char *strs[] = {"task_id", "instance_id", "pathway", NULL,       "stage", "role",
                          "owner",   "status",      NULL,      "facility", "unit"};
    for (int c = 0; c < 11; c++) {
        if (!strs[c])
            continue;
        json_t *v = readapi__str(res, i, c);
        if (c == 6 && json_string_length(v) == 0) {
            json_decref(v);
            v = json_null();
        }
        json_object_set_new(o, strs[c], v);
    }
    json_object_set_new(o, "version", readapi__int(res, i, 3));
    json_object_set_new(o, "escalation_level", readapi__int(res, i, 8));
    const char *times[] = {"ack_due_at", "complete_due_at", "activated_at", "acknowledged_at"};
    for (int c = 0; c < 4; c++)
        json_object_set_new(o, times[c], readapi__time(res, i, 11 + c));
    json_object_set_new(o, "ack_breached", readapi__bool(res, i, 15));
    json_object_set_new(o, "complete_breached", readapi__bool(res, i, 16));
    json_object_set_new(o, "coverage_gap", readapi__bool(res, i, 17));
    return o;
}

void readapi__tasks(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    readapi_req_t r;
    if (!readapi__begin(ud, req, resp, &r))
        return;
    char limit[16];
    const char *status = readapi__q(req, "status");
    if (!status)
        status = "open";
    if (!readapi__limit(req, resp, limit)) {
        readapi__end(&r);
        return;
    }
    const char *params[] = {r.tenant,
                            readapi__q(req, "assignee"),
                            readapi__q(req, "role"),
                            readapi__q(req, "facility"),
                            readapi__q(req, "unit"),
                            status,
                            limit};
    PGresult *res = readapi__query(
        &r,
        "SELECT task_id, instance_id, pathway, pathway_version, stage, role, owner, status,"
        " escalation_level, facility, unit, ack_due_at_ms, complete_due_at_ms, activated_at_ms,"
        " acknowledged_at_ms, ack_breached, complete_breached, coverage_gap FROM audit_tasks"
        " WHERE tenant = $1"
        " AND ($2::text IS NULL OR owner = $2)"
        " AND ($3::text IS NULL OR role = $3)"
        " AND ($4::text IS NULL OR facility = $4)"
        " AND ($5::text IS NULL OR unit = $5)"
        " AND CASE $6::text WHEN 'open' THEN " READAPI_OPEN_TASK " WHEN 'all' THEN true"
        "  ELSE status = $6 END"
        /* the most pressing first: the next deadline the task can still meet or has missed */
        " ORDER BY COALESCE(CASE WHEN acknowledged_at_ms IS NULL THEN ack_due_at_ms END,"
        "  complete_due_at_ms) NULLS LAST, activated_at_ms, task_id"
        " LIMIT $7::integer",
        7, params);
    if (res) {
        json_t *list = json_array();
        for (int i = 0; i < PQntuples(res); i++)
            json_array_append_new(list, task_json(res, i));
        PQclear(res);
        baton_http_json(resp, 200, json_pack("{s:o}", "tasks", list));
    }
    readapi__end(&r);
}

/* ---------------------------------------------------------------- stats */

/* "{150,270,297}" (percentile_cont over an array) → {"p50":150,"p90":270,"p99":297}, or the
 * three as null when nothing was measured. */
static json_t *percentiles(PGresult *res, int row, int col, int count_col)
{
    json_t *o = json_object();
    const char *names[] = {"p50", "p90", "p99"};
    char *copy = baton_xstrdup(PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
    char *save = NULL, *tok = strtok_r(copy, "{},", &save);
    for (int k = 0; k < 3; k++) {
        char *end = NULL;
        double d = tok ? strtod(tok, &end) : 0;
        json_object_set_new(o, names[k], tok && end != tok ? json_real(d) : json_null());
        if (tok)
            tok = strtok_r(NULL, "{},", &save);
    }
    free(copy);
    json_object_set_new(o, "count", readapi__int(res, row, count_col));
    return o;
}

static json_t *ratio(PGresult *res, int row, int num, int den)
{
    double d = atof(PQgetvalue(res, row, den));
    if (PQgetisnull(res, row, den) || d == 0)
        return json_null();
    return json_real(atof(PQgetvalue(res, row, num)) / d);
}

static const char stats_sql[] =
    "WITH t AS (SELECT * FROM audit_tasks WHERE tenant = $1"
    "  AND ($2::text IS NULL OR pathway = $2) AND ($3::text IS NULL OR facility = $3)"
    "  AND ($4::bigint IS NULL OR activated_at_ms >= $4)"
    "  AND ($5::bigint IS NULL OR activated_at_ms < $5)"
    "  AND activated_at_ms IS NOT NULL AND NOT skipped),"
    " e AS (SELECT t.pathway, t.stage, t.facility, t.unit, x.level, count(*) AS n"
    "  FROM audit_escalations x JOIN t USING (task_id) GROUP BY 1, 2, 3, 4, 5),"
    " el AS (SELECT pathway, stage, facility, unit,"
    "  json_object_agg(level::text, n ORDER BY level)::text AS by_level FROM e"
    "  GROUP BY 1, 2, 3, 4)"
    " SELECT t.pathway, t.stage, t.facility, t.unit, count(*),"                          /* 0-4 */
    "  count(t.acknowledged_at_ms), percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP" /* 5 */
    "  (ORDER BY (t.acknowledged_at_ms - t.activated_at_ms) / 1000.0),"                  /* 6 */
    "  count(t.completed_at_ms), percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP"    /* 7 */
    "  (ORDER BY (t.completed_at_ms - t.activated_at_ms) / 1000.0),"                     /* 8 */
    "  count(*) FILTER (WHERE t.ack_breached), count(*) FILTER (WHERE t.complete_breached)," /* 9,10
                                                                                              */
    "  sum(t.reassign_count), sum(t.override_count), sum(t.action_count)," /* 11-13 */
    "  sum(t.escalation_count), el.by_level"                               /* 14,15 */
    " FROM t LEFT JOIN el USING (pathway, stage, facility, unit)"
    " GROUP BY t.pathway, t.stage, t.facility, t.unit, el.by_level"
    " ORDER BY t.pathway, t.stage, t.facility, t.unit";

static json_t *stats_row(PGresult *res, int i)
{
    json_t *levels = readapi__json(res, i, 15);
    if (json_is_null(levels)) {
        json_decref(levels);
        levels = json_object();
    }
    return json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:o,s:o},s:o,s:o,s:o,s:o,s:o,s:o}", "pathway",
        readapi__str(res, i, 0), "stage", readapi__str(res, i, 1), "facility",
        readapi__str(res, i, 2), "unit", readapi__str(res, i, 3), "tasks", readapi__int(res, i, 4),
        "time_to_ack_s", percentiles(res, i, 6, 5), "time_to_complete_s", percentiles(res, i, 8, 7),
        "sla_breaches", "ack", readapi__int(res, i, 9), "complete", readapi__int(res, i, 10),
        "escalations", readapi__int(res, i, 14), "escalations_by_level", levels, "reassignments",
        readapi__int(res, i, 11), "reassignment_rate", ratio(res, i, 11, 4), "overrides",
        readapi__int(res, i, 12), "override_frequency", ratio(res, i, 12, 13));
}

/* ?from= / ?to= (RFC 3339) into ms text; false after answering 400. */
static bool time_param(baton_http_req_t *req, baton_http_resp_t *resp, const char *name,
                       char out[24], const char **param)
{
    const char *v = readapi__q(req, name);
    *param = NULL;
    if (!v)
        return true;
    int64_t ms;
    if (baton_time_parse(v, &ms) != 0) {
        readapi__bad_param(resp, name, "expected an RFC 3339 time");
        return false;
    }
    snprintf(out, 24, "%lld", (long long)ms);
    *param = out;
    return true;
}

void readapi__stats(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    readapi_req_t r;
    if (!readapi__begin(ud, req, resp, &r))
        return;
    char from[24], to[24];
    const char *pfrom, *pto;
    if (!time_param(req, resp, "from", from, &pfrom) || !time_param(req, resp, "to", to, &pto)) {
        readapi__end(&r);
        return;
    }
    const char *params[] = {r.tenant, readapi__q(req, "pathway"), readapi__q(req, "facility"),
                            pfrom, pto};
    PGresult *res = readapi__query(&r, stats_sql, 5, params);
    if (res) {
        json_t *groups = json_array();
        for (int i = 0; i < PQntuples(res); i++)
            json_array_append_new(groups, stats_row(res, i));
        PQclear(res);
        json_t *o = json_pack("{s:o}", "groups", groups);
        const char *echo[] = {"pathway", "facility", "from", "to"};
        for (int k = 0; k < 4; k++) {
            const char *v = readapi__q(req, echo[k]);
            json_object_set_new(o, echo[k], v ? json_string(v) : json_null());
        }
        baton_http_json(resp, 200, o);
    }
    readapi__end(&r);
}
