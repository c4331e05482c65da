/* tasks.c — staff actions: POST /v1/tasks/{id}/{ack,start,complete,decline,reassign,comment}.
 *
 * The staff JWT is verified (401), then the action is pre-validated against the router's state
 * in Redis (baton:task:<id> → instance id, baton:inst:<id> → InstanceState) with
 * baton_pathway_authorize: 404 for an unknown task or one of another tenant, 403 when the
 * caller is neither the owner, a holder of the task's role nor an override role, 409 for an
 * illegal transition. Then a staff.action envelope (StaffAction body) keyed by the instance's
 * correlation key is produced and 202 answered once Kafka acknowledged it. A refusal is looked
 * at again for up to BATON_ACTION_RECHECK before it is answered (recheck: the router's state
 * may not include the change the caller is acting on yet). The router stays the authority
 * (action.rejected when a race made the action illegal meanwhile). */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    ingest_t *app;
    const char *name;
    Baton__V1__Action action;
} task_route_t;

static task_route_t routes[6];

#define NOTE_MAX 2000

static void count(ingest_t *app, const char *action, int status)
{
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    baton_counter_inc(baton_metrics_counter_child(app->m.staff_fam, action, code));
}

/* Read the optional body {"note": "...", "to": "person"}. false with a problem set. */
static bool read_body(baton_http_req_t *req, baton_http_resp_t *resp, Baton__V1__Action action,
                      char **note, char **to)
{
    *note = *to = NULL;
    const char *p = req->body;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    if (!*p) {
        if (action != BATON__V1__ACTION__ACTION_REASSIGN)
            return true;
    }
    json_t *b = *p ? baton_http_parse_json(req, resp) : json_object();
    if (!b)
        return false;
    json_t *errors = json_array();
    if (!json_is_object(b)) {
        json_array_append_new(errors, json_pack("{s:s,s:s}", "pointer", "", "detail",
                                                "the body must be a JSON object"));
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(b, k, v)
        {
            if (strcmp(k, "note") == 0) {
                if (!json_is_string(v) || json_string_length(v) > NOTE_MAX)
                    json_array_append_new(errors,
                                          json_pack("{s:s,s:s}", "pointer", "/note", "detail",
                                                    "must be a string of at most 2000 bytes"));
                else
                    *note = baton_xstrdup(json_string_value(v));
            } else if (strcmp(k, "to") == 0 && action == BATON__V1__ACTION__ACTION_REASSIGN) {
                size_t n = json_is_string(v) ? json_string_length(v) : 0;
                if (n == 0 || n > BATON_PERSON_MAX)
                    json_array_append_new(errors, json_pack("{s:s,s:s}", "pointer", "/to", "detail",
                                                            "must be a person id"));
                else
                    *to = baton_xstrdup(json_string_value(v));
            } else {
                char *ptr = baton_xasprintf("/%s", k);
                json_array_append_new(
                    errors, json_pack("{s:s,s:s}", "pointer", ptr, "detail", "unknown member"));
                free(ptr);
            }
        }
        if (action == BATON__V1__ACTION__ACTION_REASSIGN && !*to && !json_object_get(b, "to"))
            json_array_append_new(errors, json_pack("{s:s,s:s}", "pointer", "/to", "detail",
                                                    "required: the person to reassign to"));
    }
    json_decref(b);
    if (json_array_size(errors) == 0) {
        json_decref(errors);
        return true;
    }
    free(*note);
    free(*to);
    *note = *to = NULL;
    ingest_reply_problem(resp, 422, "invalid-action", "Invalid action",
                         "the action's body is not valid", json_pack("{s:o}", "errors", errors));
    return false;
}

/* Load the task's instance; 0, BATON_ENOENT or BATON_EUNAVAIL. */
static int load_state(ingest_t *app, const char *task_id, Baton__V1__InstanceState **out)
{
    *out = NULL;
    baton_redis_t *r = ingest_rpool_get(app->redis);
    redisReply *rep = NULL;
    int rc = baton_redis_command(r, &rep, "GET baton:task:%s", task_id);
    char *iid = NULL;
    if (rc == 0 && rep->type == REDIS_REPLY_STRING)
        iid = baton_xstrndup(rep->str, rep->len);
    else if (rc == 0)
        rc = BATON_ENOENT;
    if (rep)
        freeReplyObject(rep);
    rep = NULL;
    if (rc == 0) {
        rc = baton_redis_command(r, &rep, "GET baton:inst:%s", iid);
        if (rc == 0 && rep->type == REDIS_REPLY_STRING) {
            *out = baton_pathway_state_unpack((const uint8_t *)rep->str, rep->len);
            if (!*out)
                rc = BATON_EIO;
        } else if (rc == 0) {
            rc = BATON_ENOENT;
        }
        if (rep)
            freeReplyObject(rep);
    }
    ingest_rpool_put(app->redis, r);
    free(iid);
    return rc == 0 || rc == BATON_ENOENT ? rc : BATON_EUNAVAIL;
}

/* W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>"; anything else is dropped. */
static bool traceparent_ok(const char *tp)
{
    if (!tp || strlen(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
        return false;
    for (int i = 0; i < 55; i++) {
        if (i == 2 || i == 35 || i == 52)
            continue;
        char c = tp[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

static Baton__V1__Envelope *make_envelope(const baton_http_req_t *req,
                                          const Baton__V1__InstanceState *st, const char *task_id,
                                          Baton__V1__Action action, const ingest_staff_t *who,
                                          char *note, char *to, const char *id)
{
    Baton__V1__Envelope *e = baton_xcalloc(1, sizeof *e);
    baton__v1__envelope__init(e);
    char fresh[BATON_ID_LEN];
    baton_uuidv7(fresh);
    e->id = baton_xstrdup(id ? id : fresh);
    e->type = baton_xstrdup("staff.action");
    e->tenant = baton_xstrdup(st->tenant);
    e->facility = baton_xstrdup(st->facility);
    e->unit = baton_xstrdup(st->unit);
    e->correlation_key = baton_xstrdup(st->correlation_key);
    e->occurred_at_ms = e->recorded_at_ms = baton_now_ms();
    e->causation_id = baton_xstrdup("");
    e->producer = baton_xstrdup("ingest");
    const char *tp = baton_http_header(req, "traceparent");
    e->traceparent = baton_xstrdup(traceparent_ok(tp) ? tp : "");
    e->schema_version = 1;
    Baton__V1__StaffAction *a = baton_xcalloc(1, sizeof *a);
    baton__v1__staff_action__init(a);
    a->task_id = baton_xstrdup(task_id);
    a->instance_id = baton_xstrdup(st->instance_id);
    a->action = action;
    a->actor = baton_xstrdup(who->sub);
    a->n_actor_roles = who->nroles;
    a->actor_roles = baton_xcalloc(who->nroles + 1, sizeof *a->actor_roles);
    for (size_t i = 0; i < who->nroles; i++)
        a->actor_roles[i] = baton_xstrdup(who->roles[i]);
    a->to_person = to ? to : baton_xstrdup("");
    a->note = note ? note : baton_xstrdup("");
    e->body_case = BATON__V1__ENVELOPE__BODY_STAFF_ACTION;
    e->staff_action = a;
    return e;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > BATON_CANON_ID_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == ':' || *p == '-'))
            return false;
    return true;
}

/* The action against the router's state now: 0, BATON_ENOENT (no such task, or another
 * tenant's: 404), BATON_EPERM (403), BATON_ECONFLICT (409) with *why, or BATON_EUNAVAIL. */
static int prevalidate(ingest_t *app, const char *task_id, Baton__V1__Action action,
                       const ingest_caller_t *who, const char *to, Baton__V1__InstanceState **st,
                       const char **why)
{
    *why = "no such task";
    int rc = id_ok(task_id) ? load_state(app, task_id, st) : BATON_ENOENT;
    if (rc == 0 && strcmp((*st)->tenant, who->tenant) != 0)
        rc = BATON_ENOENT; /* another tenant's task does not exist for this caller */
    if (rc != 0)
        return rc;
    const baton_pathway_def_t *def =
        app->pathways ? baton_pathway_get(app->pathways, (*st)->pathway, (*st)->pathway_version)
                      : NULL;
    rc = baton_pathway_authorize(*st, task_id, action, who->who.sub,
                                 (const char *const *)who->who.roles, who->who.nroles, def, NULL,
                                 why);
    const Baton__V1__TaskState *t = rc == 0 ? baton_pathway_state_task(*st, task_id) : NULL;
    if (rc == 0 && to && t && strcmp(t->owner, to) == 0) {
        rc = BATON_ECONFLICT;
        *why = "the task already belongs to that person";
    }
    return rc;
}

/* A refusal may be the router's state not written yet rather than the action's fault: the
 * router writes it just after the outputs that tell staff about a task (the assignment's
 * notification, a reassignment) are in Kafka, so a client acting on such a webhook within
 * milliseconds, or acting twice in a row (ack, then complete), can read the state before
 * the change it is acting on. Look again, at growing intervals, for up to
 * BATON_ACTION_RECHECK; answer the refusal only if it stands. */
static int recheck(ingest_t *app, const char *task_id, Baton__V1__Action action,
                   const ingest_caller_t *who, const char *to, Baton__V1__InstanceState **st,
                   const char **why, int rc)
{
    int64_t deadline = baton_mono_ns() + ingest_cfg.action_recheck_ms * 1000000LL;
    int64_t step_ms = 5;
    while (rc == BATON_ENOENT || rc == BATON_EPERM || rc == BATON_ECONFLICT) {
        int64_t left_ms = (deadline - baton_mono_ns()) / 1000000;
        if (left_ms <= 0)
            break;
        int64_t ms = step_ms < left_ms ? step_ms : left_ms;
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        step_ms *= 2;
        baton_pathway_state_free(*st);
        *st = NULL;
        rc = prevalidate(app, task_id, action, who, to, st, why);
        if (rc == 0)
            baton_counter_inc(app->m.actions_rechecked);
    }
    return rc;
}

static void act(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    task_route_t *rt = ud;
    ingest_t *app = rt->app;
    ingest_caller_t who;
    if (!ingest_auth_staff(app, req, resp, &who)) {
        count(app, rt->name, 401);
        return;
    }
    const char *task_id = baton_http_param(req, "id");
    const char *ikey = baton_http_header(req, "Idempotency-Key");
    char *note = NULL, *to = NULL;
    Baton__V1__InstanceState *st = NULL;
    if (ikey && !id_ok(ikey)) {
        baton_http_problem(resp, 400, "invalid-idempotency-key", "Bad Request",
                           "Idempotency-Key: 1-128 characters of A-Z a-z 0-9 . _ : -");
        goto out;
    }
    if (!read_body(req, resp, rt->action, &note, &to))
        goto out;
    const char *why = "no such task";
    int rc = prevalidate(app, task_id, rt->action, &who, to, &st, &why);
    if ((rc == BATON_ENOENT || rc == BATON_EPERM || rc == BATON_ECONFLICT) && id_ok(task_id))
        rc = recheck(app, task_id, rt->action, &who, to, &st, &why, rc);
    if (rc == BATON_EUNAVAIL) {
        ingest_metrics_rejected(&app->m, INGEST_SRC_STAFF, INGEST_REJ_REDIS);
        ingest_reply_unavailable(app, resp, "Redis");
        goto out;
    }
    if (rc) {
        int status = rc == BATON_ENOENT ? 404 : rc == BATON_EPERM ? 403 : 409;
        ingest_metrics_rejected(&app->m, INGEST_SRC_STAFF,
                                status == 404   ? INGEST_REJ_NOT_FOUND
                                : status == 403 ? INGEST_REJ_FORBIDDEN
                                                : INGEST_REJ_CONFLICT);
        baton_http_problem(resp, status,
                           status == 404   ? "task-not-found"
                           : status == 403 ? "forbidden"
                                           : "illegal-transition",
                           status == 404   ? "Not Found"
                           : status == 403 ? "Forbidden"
                                           : "Conflict",
                           why);
        goto out;
    }
    Baton__V1__Envelope *env =
        make_envelope(req, st, task_id, rt->action, &who.who, note, to, ikey);
    note = to = NULL; /* owned by env now */
    int status = 0;
    rc = ingest_accept(app, INGEST_SRC_STAFF, who.tenant, &env, 1, &status);
    if (rc)
        ingest_reply_unavailable(app, resp, "the event store (Kafka, Redis)");
    else
        baton_http_json(resp, 202,
                        json_pack("{s:s,s:s,s:s}", "event_id", env->id, "task_id", task_id,
                                  "action", rt->name));
    protobuf_c_message_free_unpacked(&env->base, NULL);
out:
    count(app, rt->name, baton_http_resp_status(resp));
    free(note);
    free(to);
    baton_pathway_state_free(st);
    ingest_caller_free(&who);
}

void ingest_routes_tasks(ingest_t *app)
{
    static const char *const names[] = {"ack",     "start",    "complete",
                                        "decline", "reassign", "comment"};
    static const Baton__V1__Action acts[] = {
        BATON__V1__ACTION__ACTION_ACK,      BATON__V1__ACTION__ACTION_START,
        BATON__V1__ACTION__ACTION_COMPLETE, BATON__V1__ACTION__ACTION_DECLINE,
        BATON__V1__ACTION__ACTION_REASSIGN, BATON__V1__ACTION__ACTION_COMMENT};
    for (int i = 0; i < 6; i++) {
        routes[i] = (task_route_t){app, names[i], acts[i]};
        char *path = baton_xasprintf("/v1/tasks/{id}/%s", names[i]);
        baton_http_route(app->http, "POST", path, act, &routes[i]);
        free(path);
    }
}
