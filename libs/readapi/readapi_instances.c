/* readapi_instances.c — GET /v1/instances, /v1/instances/{id}, /v1/instances/{id}/audit. */
#include "readapi_int.h"

#include <stdlib.h>
#include <string.h>

/* RFC 3339 in SQL, for the json built there (the same shape baton_time_format gives). */
#define TS(x)                                                                                      \
    "to_char(to_timestamp((" x ") / 1000.0) AT TIME ZONE 'UTC', "                                  \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* What an open task waits for: its acknowledgement, or its completion. */
#define WAITING_JSON                                                                               \
    "json_build_object('task_id', t.task_id, 'stage', t.stage, 'role', t.role,"                    \
    " 'owner', NULLIF(t.owner, ''), 'status', t.status, 'escalation_level', t.escalation_level,"   \
    " 'waiting_for', CASE WHEN t.acknowledged_at_ms IS NULL AND t.ack_due_at_ms IS NOT NULL"       \
    "  THEN 'acknowledgement' ELSE 'completion' END,"                                              \
    " 'due_at', " TS("CASE WHEN t.acknowledged_at_ms IS NULL AND t.ack_due_at_ms IS NOT NULL"      \
                     " THEN t.ack_due_at_ms ELSE t.complete_due_at_ms END") ")"

#define WAITING_SUBQUERY                                                                           \
    "(SELECT json_agg(" WAITING_JSON " ORDER BY t.activated_at_ms, t.stage) FROM audit_tasks t"    \
    " WHERE t.instance_id = i.instance_id AND t.tenant = i.tenant AND " READAPI_OPEN_TASK          \
    ")::text"

#define INSTANCE_COLS                                                                              \
    "i.instance_id, i.pathway, i.pathway_version, i.facility, i.unit, i.encounter, i.status,"      \
    " i.started_at_ms, i.closed_at_ms, i.updated_at_ms, " WAITING_SUBQUERY

/* The columns of INSTANCE_COLS as an object. */
static json_t *instance_json(PGresult *res, int i)
{
    json_t *waiting = readapi__json(res, i, 10);
    if (json_is_null(waiting)) {
        json_decref(waiting);
        waiting = json_array();
    }
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", readapi__str(res, i, 0),
                     "pathway", readapi__str(res, i, 1), "version", readapi__int(res, i, 2),
                     "facility", readapi__str(res, i, 3), "unit", readapi__str(res, i, 4),
                     "encounter", readapi__str(res, i, 5), "status", readapi__str(res, i, 6),
                     "started_at", readapi__time(res, i, 7), "closed_at", readapi__time(res, i, 8),
                     "updated_at", readapi__time(res, i, 9), "waiting_on", waiting);
}

void readapi__instances(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    readapi_req_t r;
    if (!readapi__begin(ud, req, resp, &r))
        return;
    char limit[16];
    if (!readapi__limit(req, resp, limit)) {
        readapi__end(&r);
        return;
    }
    const char *params[] = {r.tenant,
                            readapi__q(req, "facility"),
                            readapi__q(req, "unit"),
                            readapi__q(req, "pathway"),
                            readapi__q(req, "encounter"),
                            readapi__q(req, "status"),
                            limit};
    PGresult *res = readapi__query(&r,
                                   "SELECT " INSTANCE_COLS " FROM audit_instances i"
                                   " WHERE i.tenant = $1"
                                   " AND ($2::text IS NULL OR i.facility = $2)"
                                   " AND ($3::text IS NULL OR i.unit = $3)"
                                   " AND ($4::text IS NULL OR i.pathway = $4)"
                                   " AND ($5::text IS NULL OR i.encounter = $5)"
                                   " AND ($6::text IS NULL OR i.status = $6)"
                                   " ORDER BY i.started_at_ms DESC NULLS LAST, i.instance_id"
                                   " LIMIT $7::integer",
                                   7, params);
    if (res) {
        json_t *list = json_array();
        for (int i = 0; i < PQntuples(res); i++)
            json_array_append_new(list, instance_json(res, i));
        PQclear(res);
        baton_http_json(resp, 200, json_pack("{s:o}", "instances", list));
    }
    readapi__end(&r);
}

/* Task columns for the stages of one instance. */
#define TASK_COLS                                                                                  \
    "task_id, stage, status, role, owner, escalation_level, ack_due_at_ms, complete_due_at_ms,"    \
    " activated_at_ms, acknowledged_at_ms, started_at_ms, completed_at_ms, closed_at_ms,"          \
    " ack_breached, complete_breached, coverage_gap, skipped, reassign_count, resolved_by"

static json_t *task_stage_json(PGresult *res, int i)
{
    json_t *o = json_object();
    const char *names[] = {"task_id", "stage", "status", "owner_role", "owner"};
    for (int c = 0; c < 5; c++) {
        json_t *v = readapi__str(res, i, c);
        if (c == 4 && json_string_length(v) == 0) { /* nobody: the task waits on the role */
            json_decref(v);
            v = json_null();
        }
        json_object_set_new(o, names[c], v);
    }
    json_object_set_new(o, "escalation_level", readapi__int(res, i, 5));
    const char *times[] = {"ack_due_at", "complete_due_at", "activated_at", "acknowledged_at",
                           "started_at", "completed_at",    "closed_at"};
    for (int c = 0; c < 7; c++)
        json_object_set_new(o, times[c], readapi__time(res, i, 6 + c));
    const char *flags[] = {"ack_breached", "complete_breached", "coverage_gap", "skipped"};
    for (int c = 0; c < 4; c++)
        json_object_set_new(o, flags[c], readapi__bool(res, i, 13 + c));
    json_object_set_new(o, "reassignments", readapi__int(res, i, 17));
    json_object_set_new(o, "resolved_by", readapi__str(res, i, 18));
    return o;
}

/* Stages in definition order when the definition is loaded (stages not yet activated show as
 * "pending"), else in activation order. */
static json_t *stages_json(baton_readapi_t *api, PGresult *tasks, const char *pathway, int version)
{
    json_t *out = json_array();
    const baton_pathway_def_t *def =
        api->pathways ? baton_pathway_get(api->pathways, pathway, (uint32_t)version) : NULL;
    int n = PQntuples(tasks);
    if (!def) {
        for (int i = 0; i < n; i++)
            json_array_append_new(out, task_stage_json(tasks, i));
        return out;
    }
    for (size_t s = 0; s < def->nstages; s++) {
        const baton_stage_def_t *sd = &def->stages[s];
        json_t *st = NULL;
        for (int i = 0; i < n && !st; i++)
            if (strcmp(PQgetvalue(tasks, i, 1), sd->id) == 0)
                st = task_stage_json(tasks, i);
        if (!st)
            st = json_pack("{s:s,s:s,s:s,s:n}", "stage", sd->id, "status", "pending", "owner_role",
                           sd->owner.role, "owner");
        json_object_set_new(st, "title", json_string(sd->title));
        json_array_append_new(out, st);
    }
    return out;
}

void readapi__instance(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    baton_readapi_t *api = ud;
    readapi_req_t r;
    if (!readapi__begin(api, req, resp, &r))
        return;
    const char *params[] = {baton_http_param(req, "id"), r.tenant};
    PGresult *inst = readapi__query(&r,
                                    "SELECT " INSTANCE_COLS " FROM audit_instances i"
                                    " WHERE i.instance_id = $1 AND i.tenant = $2",
                                    2, params);
    if (inst && PQntuples(inst) == 0) {
        baton_http_problem(resp, 404, "not-found", "Not Found", "no such instance");
    } else if (inst) {
        PGresult *tasks = readapi__query(&r,
                                         "SELECT " TASK_COLS " FROM audit_tasks"
                                         " WHERE instance_id = $1 AND tenant = $2"
                                         " ORDER BY COALESCE(activated_at_ms, closed_at_ms),"
                                         " stage",
                                         2, params);
        if (tasks) {
            json_t *o = instance_json(inst, 0);
            json_object_set_new(
                o, "stages",
                stages_json(api, tasks, PQgetvalue(inst, 0, 1), atoi(PQgetvalue(inst, 0, 2))));
            baton_http_json(resp, 200, o);
            PQclear(tasks);
        }
    }
    PQclear(inst);
    readapi__end(&r);
}

static json_t *audit_row_json(PGresult *res, int i)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "topic",
                     readapi__str(res, i, 0), "partition", readapi__int(res, i, 1), "offset",
                     readapi__int(res, i, 2), "seq", readapi__int(res, i, 3), "event_id",
                     readapi__str(res, i, 4), "type", readapi__str(res, i, 5), "actor",
                     readapi__str(res, i, 6), "occurred_at", readapi__time(res, i, 7),
                     "recorded_at", readapi__time(res, i, 8), "prev_hash", readapi__str(res, i, 9),
                     "hash", readapi__str(res, i, 10), "event", readapi__json(res, i, 11));
}

void readapi__instance_audit(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    readapi_req_t r;
    if (!readapi__begin(ud, req, resp, &r))
        return;
    const char *params[] = {baton_http_param(req, "id"), r.tenant};
    PGresult *inst = readapi__query(&r,
                                    "SELECT 1 FROM audit_instances"
                                    " WHERE instance_id = $1 AND tenant = $2",
                                    2, params);
    if (inst && PQntuples(inst) == 0) {
        baton_http_problem(resp, 404, "not-found", "Not Found", "no such instance");
    } else if (inst) {
        /* within one time, the input before what it caused (lifecycle, then notifications and
         * timers) */
        PGresult *rows = readapi__query(
            &r,
            "SELECT topic, kpartition, koffset, seq, event_id, event_type, actor, occurred_at_ms,"
            " recorded_at_ms, prev_hash, hash, payload::text FROM audit_log"
            " WHERE instance_id = $1 AND tenant = $2"
            " ORDER BY recorded_at_ms, CASE topic WHEN 'baton.inbound.v1' THEN 0"
            " WHEN 'baton.lifecycle.v1' THEN 1 WHEN 'baton.notify.v1' THEN 2"
            " WHEN 'baton.timers.v1' THEN 3 ELSE 4 END, topic, kpartition, seq",
            2, params);
        if (rows) {
            json_t *list = json_array();
            for (int i = 0; i < PQntuples(rows); i++)
                json_array_append_new(list, audit_row_json(rows, i));
            PQclear(rows);
            baton_http_json(resp, 200,
                            json_pack("{s:s,s:o}", "instance_id", params[0], "events", list));
        }
    }
    PQclear(inst);
    readapi__end(&r);
}
