/* audit_project.c — the read projections (instances, tasks, notifications, escalations),
 * kept in the same transaction as the audit rows. A batch's events are folded per key into a
 * delta in memory (events of one instance arrive in order on one partition), then written
 * with COPY into temp staging tables and merged by one INSERT (new keys) + one UPDATE each.
 *
 * Delta conventions: a NULL string / -1 time means "this batch says nothing"; strings are
 * latest-wins, first_* times first-wins, counters add up, flags OR. */
#include "audit_int.h"

#include <stdlib.h>
#include <string.h>

#define UNSET (-1)

typedef struct {
    const char *task_id, *instance_id, *tenant, *facility, *unit, *pathway, *stage, *role;
    const char *owner, *status, *status_reason, *resolved_by, *completed_by;
    long long pathway_version, escalation_level;
    int set_dues;
    long long ack_due, complete_due;
    long long activated_at, assigned_at, acknowledged_at, started_at, completed_at, closed_at;
    int ack_breached, complete_breached, skipped, coverage_gap;
    long long reassigns, declines, escalations, actions, overrides;
    long long updated_at;
} task_delta_t;

typedef struct {
    const char *instance_id, *tenant, *pathway, *facility, *unit, *correlation_key, *patient;
    const char *encounter, *trigger_event_id, *status, *status_reason;
    long long pathway_version, started_at, closed_at, updated_at;
} inst_delta_t;

typedef struct {
    const char *id, *tenant, *person, *kind, *task_id, *instance_id, *channel, *outcome;
    long long level, attempts, latency_ms, requested_at, updated_at;
    int urgent; /* -1 unknown */
} notif_delta_t;

typedef struct {
    const char *event_id, *task_id, *instance_id, *tenant, *step_action, *target_role;
    long long level, step, at_ms;
} esc_row_t;

struct audit_proj {
    task_delta_t *tasks;
    size_t ntasks, cap_tasks;
    audit_map_t task_idx;
    inst_delta_t *insts;
    size_t ninsts, cap_insts;
    audit_map_t inst_idx;
    notif_delta_t *notifs;
    size_t nnotifs, cap_notifs;
    audit_map_t notif_idx;
    esc_row_t *escs;
    size_t nescs, cap_escs;
};

audit_proj_t *audit__proj_new(void)
{
    return baton_xcalloc(1, sizeof(audit_proj_t));
}

void audit__proj_reset(audit_proj_t *p)
{
    p->ntasks = p->ninsts = p->nnotifs = p->nescs = 0;
    audit__map_clear(&p->task_idx);
    audit__map_clear(&p->inst_idx);
    audit__map_clear(&p->notif_idx);
}

void audit__proj_free(audit_proj_t *p)
{
    if (!p)
        return;
    free(p->tasks);
    free(p->insts);
    free(p->notifs);
    free(p->escs);
    audit__map_free(&p->task_idx);
    audit__map_free(&p->inst_idx);
    audit__map_free(&p->notif_idx);
    free(p);
}

/* Grow-and-fetch of a delta keyed by id (new ones come back zeroed with every time UNSET). */
#define SLOT(p, arr, n, cap, map, id, init)                                                        \
    ({                                                                                             \
        size_t i_ = audit__map_get(&(p)->map, id);                                                 \
        if (i_ == (size_t)-1) {                                                                    \
            if ((p)->n == (p)->cap) {                                                              \
                (p)->cap = (p)->cap ? (p)->cap * 2 : 64;                                           \
                (p)->arr = baton_xrealloc((p)->arr, (p)->cap * sizeof(*(p)->arr));                 \
            }                                                                                      \
            i_ = (p)->n++;                                                                         \
            init(&(p)->arr[i_], id);                                                               \
            audit__map_put(&(p)->map, id, i_);                                                     \
        }                                                                                          \
        &(p)->arr[i_];                                                                             \
    })

static void task_init(task_delta_t *t, const char *id)
{
    memset(t, 0, sizeof *t);
    t->task_id = id;
    t->pathway_version = t->escalation_level = UNSET;
    t->ack_due = t->complete_due = UNSET;
    t->activated_at = t->assigned_at = t->acknowledged_at = UNSET;
    t->started_at = t->completed_at = t->closed_at = UNSET;
    t->updated_at = UNSET;
}

static void inst_init(inst_delta_t *d, const char *id)
{
    memset(d, 0, sizeof *d);
    d->instance_id = id;
    d->pathway_version = d->started_at = d->closed_at = d->updated_at = UNSET;
}

static void notif_init(notif_delta_t *d, const char *id)
{
    memset(d, 0, sizeof *d);
    d->id = id;
    d->level = d->attempts = d->latency_ms = d->requested_at = d->updated_at = UNSET;
    d->urgent = -1;
}

static long long first(long long cur, long long v)
{
    return cur == UNSET ? v : cur;
}

/* Routing fields every task event carries: the TaskRef as it stands after the event. */
static task_delta_t *task_from_ref(audit_proj_t *p, const Baton__V1__Envelope *e,
                                   const Baton__V1__TaskRef *r)
{
    task_delta_t *t = SLOT(p, tasks, ntasks, cap_tasks, task_idx, r->task_id, task_init);
    t->instance_id = r->instance_id;
    t->tenant = e->tenant;
    if (*e->facility)
        t->facility = e->facility;
    if (*e->unit)
        t->unit = e->unit;
    t->pathway = r->pathway;
    t->pathway_version = r->pathway_version;
    t->stage = r->stage;
    t->role = r->role;
    t->owner = r->owner;
    t->status = r->status;
    t->escalation_level = r->escalation_level;
    t->updated_at = e->occurred_at_ms;
    return t;
}

static void add_escalation(audit_proj_t *p, const Baton__V1__Envelope *e)
{
    const Baton__V1__TaskEscalated *x = e->task_escalated;
    if (p->nescs == p->cap_escs) {
        p->cap_escs = p->cap_escs ? p->cap_escs * 2 : 64;
        p->escs = baton_xrealloc(p->escs, p->cap_escs * sizeof *p->escs);
    }
    p->escs[p->nescs++] = (esc_row_t){e->id,        x->task->task_id, x->task->instance_id,
                                      e->tenant,    x->step_action,   x->target_role,
                                      x->level,     x->step,          e->occurred_at_ms};
}

/* The task-specific part of each task event. */
static void task_event(audit_proj_t *p, const Baton__V1__Envelope *e, task_delta_t *t)
{
    long long at = e->occurred_at_ms;
    switch (e->body_case) {
    case BATON__V1__ENVELOPE__BODY_TASK_ASSIGNED: {
        const Baton__V1__TaskAssigned *a = e->task_assigned;
        if (strcmp(a->reason, "activation") == 0 || t->activated_at == UNSET)
            t->activated_at = first(t->activated_at, at);
        t->assigned_at = at;
        t->set_dues = 1;
        t->ack_due = a->ack_due_at_ms;
        t->complete_due = a->complete_due_at_ms;
        t->resolved_by = a->resolved_by;
        break;
    }
    case BATON__V1__ENVELOPE__BODY_TASK_ACKNOWLEDGED:
        t->acknowledged_at = first(t->acknowledged_at, at);
        t->actions++;
        t->overrides += e->task_acknowledged->override ? 1 : 0;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_STARTED:
        t->started_at = first(t->started_at, at);
        t->actions++;
        t->overrides += e->task_started->override ? 1 : 0;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_COMPLETED:
        t->completed_at = first(t->completed_at, at);
        t->closed_at = at;
        t->completed_by = e->task_completed->actor;
        if (*e->task_completed->actor)
            t->actions++;
        t->overrides += e->task_completed->override ? 1 : 0;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_DECLINED: t->declines++; break;
    case BATON__V1__ENVELOPE__BODY_TASK_REASSIGNED: t->reassigns++; break;
    case BATON__V1__ENVELOPE__BODY_TASK_ESCALATED:
        t->escalations++;
        add_escalation(p, e);
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_CANCELLED:
        t->closed_at = at;
        t->status_reason = e->task_cancelled->reason;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_SKIPPED:
        t->closed_at = at;
        t->skipped = 1;
        t->status_reason = e->task_skipped->reason;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_DEADLINE_MISSED:
        if (strcmp(e->task_deadline_missed->deadline, "ack") == 0)
            t->ack_breached = 1;
        else
            t->complete_breached = 1;
        break;
    default: break;
    }
}

static void instance_event(audit_proj_t *p, const Baton__V1__Envelope *e, const char *id)
{
    inst_delta_t *d = SLOT(p, insts, ninsts, cap_insts, inst_idx, id, inst_init);
    d->tenant = e->tenant;
    if (*e->facility)
        d->facility = e->facility;
    if (*e->unit)
        d->unit = e->unit;
    if (*e->correlation_key)
        d->correlation_key = e->correlation_key;
    d->updated_at = e->occurred_at_ms;
    const Baton__V1__TaskRef *r = audit__taskref(e);
    if (r && *r->pathway) {
        d->pathway = r->pathway;
        d->pathway_version = r->pathway_version;
    }
    switch (e->body_case) {
    case BATON__V1__ENVELOPE__BODY_INSTANCE_STARTED: {
        const Baton__V1__InstanceStarted *s = e->instance_started;
        d->pathway = s->pathway;
        d->pathway_version = s->pathway_version;
        d->patient = s->patient;
        d->encounter = s->encounter;
        d->trigger_event_id = s->trigger_event_id;
        d->status = "active";
        d->started_at = first(d->started_at, e->occurred_at_ms);
        break;
    }
    case BATON__V1__ENVELOPE__BODY_INSTANCE_COMPLETED:
        d->status = "completed";
        d->closed_at = e->occurred_at_ms;
        break;
    case BATON__V1__ENVELOPE__BODY_INSTANCE_CANCELLED:
        d->status = "cancelled";
        d->status_reason = e->instance_cancelled->reason;
        d->closed_at = e->occurred_at_ms;
        break;
    default: break;
    }
}

static const char *outcome_name(Baton__V1__DeliveryOutcome o)
{
    switch (o) {
    case BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DELIVERED: return "delivered";
    case BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_FAILED: return "failed";
    case BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DEAD_LETTERED: return "dead_lettered";
    case BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_SUPPRESSED: return "suppressed";
    default: return "unknown";
    }
}

static void notification_event(audit_proj_t *p, const Baton__V1__Envelope *e)
{
    if (e->body_case == BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST) {
        const Baton__V1__NotificationRequest *r = e->notification_request;
        if (!*r->notification_id)
            return;
        notif_delta_t *d =
            SLOT(p, notifs, nnotifs, cap_notifs, notif_idx, r->notification_id, notif_init);
        d->tenant = e->tenant;
        d->person = r->person;
        d->kind = r->kind;
        d->task_id = r->task_id;
        d->instance_id = r->instance_id;
        d->level = r->level;
        d->urgent = r->urgent ? 1 : 0;
        d->requested_at = r->created_at_ms ? r->created_at_ms : e->occurred_at_ms;
        d->updated_at = e->occurred_at_ms;
    } else {
        const Baton__V1__NotificationReceipt *r = e->notification_receipt;
        if (!*r->notification_id)
            return;
        notif_delta_t *d =
            SLOT(p, notifs, nnotifs, cap_notifs, notif_idx, r->notification_id, notif_init);
        d->tenant = e->tenant;
        if (*r->person)
            d->person = r->person;
        d->channel = r->channel;
        d->outcome = outcome_name(r->outcome);
        d->attempts = r->attempts;
        d->latency_ms = r->latency_ms;
        d->updated_at = e->occurred_at_ms;
    }
}

void audit__proj_add(audit_proj_t *p, const Baton__V1__Envelope *e)
{
    const Baton__V1__TaskRef *r = audit__taskref(e);
    if (r && *r->task_id)
        task_event(p, e, task_from_ref(p, e, r));
    if (e->body_case == BATON__V1__ENVELOPE__BODY_COVERAGE_GAP && *e->coverage_gap->task_id) {
        task_delta_t *t =
            SLOT(p, tasks, ntasks, cap_tasks, task_idx, e->coverage_gap->task_id, task_init);
        t->coverage_gap = 1;
        t->tenant = e->tenant;
    }
    if (e->body_case == BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST ||
        e->body_case == BATON__V1__ENVELOPE__BODY_NOTIFICATION_RECEIPT)
        notification_event(p, e);
    /* instances: lifecycle events only (inputs and timer commands do not change them) */
    const char *inst = NULL;
    if (r)
        inst = r->instance_id;
    else if (e->body_case == BATON__V1__ENVELOPE__BODY_INSTANCE_STARTED)
        inst = e->instance_started->instance_id;
    else if (e->body_case == BATON__V1__ENVELOPE__BODY_INSTANCE_COMPLETED)
        inst = e->instance_completed->instance_id;
    else if (e->body_case == BATON__V1__ENVELOPE__BODY_INSTANCE_CANCELLED)
        inst = e->instance_cancelled->instance_id;
    if (inst && *inst)
        instance_event(p, e, inst);
}

/* ---------------------------------------------------------------- writing */

static const char stage_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS audit_stage_tasks ("
    " task_id text, instance_id text, tenant text, facility text, unit text, pathway text,"
    " pathway_version integer, stage text, role text, owner text, status text,"
    " status_reason text, resolved_by text, completed_by text, escalation_level integer,"
    " set_dues boolean, ack_due_at_ms bigint, complete_due_at_ms bigint,"
    " activated_at_ms bigint, assigned_at_ms bigint, acknowledged_at_ms bigint,"
    " started_at_ms bigint, completed_at_ms bigint, closed_at_ms bigint,"
    " ack_breached boolean, complete_breached boolean, skipped boolean, coverage_gap boolean,"
    " reassign_count integer, decline_count integer, escalation_count integer,"
    " action_count integer, override_count integer, updated_at_ms bigint"
    ") ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS audit_stage_instances ("
    " instance_id text, tenant text, pathway text, pathway_version integer, facility text,"
    " unit text, correlation_key text, patient text, encounter text, trigger_event_id text,"
    " status text, status_reason text, started_at_ms bigint, closed_at_ms bigint,"
    " updated_at_ms bigint) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS audit_stage_notifications ("
    " notification_id text, tenant text, person text, kind text, task_id text,"
    " instance_id text, level integer, urgent boolean, channel text, outcome text,"
    " attempts integer, latency_ms bigint, requested_at_ms bigint, updated_at_ms bigint"
    ") ON COMMIT DELETE ROWS;";

int audit__proj_prepare(baton_pg_t *pg)
{
    return baton_pg_exec_script(pg, stage_sql);
}

static const char *const task_cols[] = {
    "task_id",          "instance_id",        "tenant",          "facility",
    "unit",             "pathway",            "pathway_version", "stage",
    "role",             "owner",              "status",          "status_reason",
    "resolved_by",      "completed_by",       "escalation_level", "set_dues",
    "ack_due_at_ms",    "complete_due_at_ms", "activated_at_ms", "assigned_at_ms",
    "acknowledged_at_ms", "started_at_ms",    "completed_at_ms", "closed_at_ms",
    "ack_breached",     "complete_breached",  "skipped",         "coverage_gap",
    "reassign_count",   "decline_count",      "escalation_count", "action_count",
    "override_count",   "updated_at_ms"};

static const char task_merge[] =
    "INSERT INTO audit_tasks (task_id) SELECT task_id FROM audit_stage_tasks"
    " ON CONFLICT (task_id) DO NOTHING;"
    "UPDATE audit_tasks t SET"
    " instance_id = COALESCE(s.instance_id, t.instance_id),"
    " tenant = COALESCE(s.tenant, t.tenant),"
    " facility = COALESCE(s.facility, t.facility),"
    " unit = COALESCE(s.unit, t.unit),"
    " pathway = COALESCE(s.pathway, t.pathway),"
    " pathway_version = COALESCE(s.pathway_version, t.pathway_version),"
    " stage = COALESCE(s.stage, t.stage),"
    " role = COALESCE(s.role, t.role),"
    " owner = COALESCE(s.owner, t.owner),"
    " status = COALESCE(s.status, t.status),"
    " status_reason = COALESCE(s.status_reason, t.status_reason),"
    " resolved_by = COALESCE(s.resolved_by, t.resolved_by),"
    " completed_by = COALESCE(s.completed_by, t.completed_by),"
    " escalation_level = COALESCE(s.escalation_level, t.escalation_level),"
    " ack_due_at_ms = CASE WHEN s.set_dues THEN NULLIF(s.ack_due_at_ms, 0)"
    "  ELSE t.ack_due_at_ms END,"
    " complete_due_at_ms = CASE WHEN s.set_dues THEN NULLIF(s.complete_due_at_ms, 0)"
    "  ELSE t.complete_due_at_ms END,"
    " activated_at_ms = COALESCE(t.activated_at_ms, s.activated_at_ms),"
    " assigned_at_ms = COALESCE(s.assigned_at_ms, t.assigned_at_ms),"
    " acknowledged_at_ms = COALESCE(t.acknowledged_at_ms, s.acknowledged_at_ms),"
    " started_at_ms = COALESCE(t.started_at_ms, s.started_at_ms),"
    " completed_at_ms = COALESCE(t.completed_at_ms, s.completed_at_ms),"
    " closed_at_ms = COALESCE(s.closed_at_ms, t.closed_at_ms),"
    " ack_breached = t.ack_breached OR s.ack_breached,"
    " complete_breached = t.complete_breached OR s.complete_breached,"
    " skipped = t.skipped OR s.skipped,"
    " coverage_gap = t.coverage_gap OR s.coverage_gap,"
    " reassign_count = t.reassign_count + s.reassign_count,"
    " decline_count = t.decline_count + s.decline_count,"
    " escalation_count = t.escalation_count + s.escalation_count,"
    " action_count = t.action_count + s.action_count,"
    " override_count = t.override_count + s.override_count,"
    " updated_at_ms = GREATEST(t.updated_at_ms, COALESCE(s.updated_at_ms, 0))"
    " FROM audit_stage_tasks s WHERE t.task_id = s.task_id";

static int copy_tasks(audit_proj_t *p, baton_pg_t *pg)
{
    int rc = baton_pg_copy_begin(pg, "audit_stage_tasks", task_cols,
                                 (int)(sizeof task_cols / sizeof *task_cols));
    audit_copy_row_t r = {.n = 0};
    for (size_t i = 0; rc == 0 && i < p->ntasks; i++) {
        const task_delta_t *t = &p->tasks[i];
        const char *strs[] = {t->task_id, t->instance_id, t->tenant, t->facility, t->unit,
                              t->pathway};
        for (size_t k = 0; k < 6; k++)
            audit__row_str(&r, strs[k]);
        audit__row_opt_int(&r, t->pathway_version, UNSET);
        const char *strs2[] = {t->stage,         t->role,        t->owner,       t->status,
                               t->status_reason, t->resolved_by, t->completed_by};
        for (size_t k = 0; k < 7; k++)
            audit__row_str(&r, strs2[k]);
        audit__row_opt_int(&r, t->escalation_level, UNSET);
        audit__row_bool(&r, t->set_dues);
        long long times[] = {t->ack_due,      t->complete_due,    t->activated_at,
                             t->assigned_at,  t->acknowledged_at, t->started_at,
                             t->completed_at, t->closed_at};
        for (size_t k = 0; k < 8; k++)
            audit__row_opt_int(&r, times[k], UNSET);
        audit__row_bool(&r, t->ack_breached);
        audit__row_bool(&r, t->complete_breached);
        audit__row_bool(&r, t->skipped);
        audit__row_bool(&r, t->coverage_gap);
        long long counts[] = {t->reassigns, t->declines, t->escalations, t->actions,
                              t->overrides};
        for (size_t k = 0; k < 5; k++)
            audit__row_int(&r, counts[k]);
        audit__row_opt_int(&r, t->updated_at, UNSET);
        rc = baton_pg_copy_row(pg, (const char *const *)r.v);
        audit__row_clear(&r);
    }
    if (rc == 0)
        rc = baton_pg_copy_end(pg, NULL);
    else
        baton_pg_copy_abort(pg);
    return rc == 0 ? baton_pg_exec_script(pg, task_merge) : rc;
}

static const char *const inst_cols[] = {
    "instance_id", "tenant",     "pathway",          "pathway_version", "facility",
    "unit",        "correlation_key", "patient",     "encounter",       "trigger_event_id",
    "status",      "status_reason",   "started_at_ms", "closed_at_ms",  "updated_at_ms"};

static const char inst_merge[] =
    "INSERT INTO audit_instances (instance_id) SELECT instance_id FROM audit_stage_instances"
    " ON CONFLICT (instance_id) DO NOTHING;"
    "UPDATE audit_instances i SET"
    " tenant = COALESCE(s.tenant, i.tenant),"
    " pathway = COALESCE(s.pathway, i.pathway),"
    " pathway_version = COALESCE(s.pathway_version, i.pathway_version),"
    " facility = COALESCE(s.facility, i.facility),"
    " unit = COALESCE(s.unit, i.unit),"
    " correlation_key = COALESCE(s.correlation_key, i.correlation_key),"
    " patient = COALESCE(s.patient, i.patient),"
    " encounter = COALESCE(s.encounter, i.encounter),"
    " trigger_event_id = COALESCE(s.trigger_event_id, i.trigger_event_id),"
    /* a closed instance stays closed (a late 'active' cannot reopen it) */
    " status = CASE WHEN i.status <> 'active' AND s.status = 'active' THEN i.status"
    "  ELSE COALESCE(s.status, i.status) END,"
    " status_reason = COALESCE(s.status_reason, i.status_reason),"
    " started_at_ms = COALESCE(i.started_at_ms, s.started_at_ms),"
    " closed_at_ms = COALESCE(s.closed_at_ms, i.closed_at_ms),"
    " updated_at_ms = GREATEST(i.updated_at_ms, COALESCE(s.updated_at_ms, 0))"
    " FROM audit_stage_instances s WHERE i.instance_id = s.instance_id";

static int copy_instances(audit_proj_t *p, baton_pg_t *pg)
{
    int rc = baton_pg_copy_begin(pg, "audit_stage_instances", inst_cols,
                                 (int)(sizeof inst_cols / sizeof *inst_cols));
    audit_copy_row_t r = {.n = 0};
    for (size_t i = 0; rc == 0 && i < p->ninsts; i++) {
        const inst_delta_t *d = &p->insts[i];
        audit__row_str(&r, d->instance_id);
        audit__row_str(&r, d->tenant);
        audit__row_str(&r, d->pathway);
        audit__row_opt_int(&r, d->pathway_version, UNSET);
        const char *strs[] = {d->facility,  d->unit,             d->correlation_key, d->patient,
                              d->encounter, d->trigger_event_id, d->status,          d->status_reason};
        for (size_t k = 0; k < 8; k++)
            audit__row_str(&r, strs[k]);
        audit__row_opt_int(&r, d->started_at, UNSET);
        audit__row_opt_int(&r, d->closed_at, UNSET);
        audit__row_opt_int(&r, d->updated_at, UNSET);
        rc = baton_pg_copy_row(pg, (const char *const *)r.v);
        audit__row_clear(&r);
    }
    if (rc == 0)
        rc = baton_pg_copy_end(pg, NULL);
    else
        baton_pg_copy_abort(pg);
    return rc == 0 ? baton_pg_exec_script(pg, inst_merge) : rc;
}

static const char *const notif_cols[] = {
    "notification_id", "tenant",  "person",   "kind",       "task_id",
    "instance_id",     "level",   "urgent",   "channel",    "outcome",
    "attempts",        "latency_ms", "requested_at_ms", "updated_at_ms"};

static const char notif_merge[] =
    "INSERT INTO audit_notifications (notification_id) SELECT notification_id"
    " FROM audit_stage_notifications ON CONFLICT (notification_id) DO NOTHING;"
    "UPDATE audit_notifications n SET"
    " tenant = COALESCE(s.tenant, n.tenant), person = COALESCE(s.person, n.person),"
    " kind = COALESCE(s.kind, n.kind), task_id = COALESCE(s.task_id, n.task_id),"
    " instance_id = COALESCE(s.instance_id, n.instance_id), level = COALESCE(s.level, n.level),"
    " urgent = COALESCE(s.urgent, n.urgent), channel = COALESCE(s.channel, n.channel),"
    " outcome = COALESCE(s.outcome, n.outcome), attempts = COALESCE(s.attempts, n.attempts),"
    " latency_ms = COALESCE(s.latency_ms, n.latency_ms),"
    " requested_at_ms = COALESCE(n.requested_at_ms, s.requested_at_ms),"
    " updated_at_ms = GREATEST(n.updated_at_ms, COALESCE(s.updated_at_ms, 0))"
    " FROM audit_stage_notifications s WHERE n.notification_id = s.notification_id";

static int copy_notifications(audit_proj_t *p, baton_pg_t *pg)
{
    int rc = baton_pg_copy_begin(pg, "audit_stage_notifications", notif_cols,
                                 (int)(sizeof notif_cols / sizeof *notif_cols));
    audit_copy_row_t r = {.n = 0};
    for (size_t i = 0; rc == 0 && i < p->nnotifs; i++) {
        const notif_delta_t *d = &p->notifs[i];
        const char *strs[] = {d->id, d->tenant, d->person, d->kind, d->task_id, d->instance_id};
        for (size_t k = 0; k < 6; k++)
            audit__row_str(&r, strs[k]);
        audit__row_opt_int(&r, d->level, UNSET);
        if (d->urgent < 0)
            audit__row_str(&r, NULL);
        else
            audit__row_bool(&r, d->urgent);
        audit__row_str(&r, d->channel);
        audit__row_str(&r, d->outcome);
        audit__row_opt_int(&r, d->attempts, UNSET);
        audit__row_opt_int(&r, d->latency_ms, UNSET);
        audit__row_opt_int(&r, d->requested_at, UNSET);
        audit__row_opt_int(&r, d->updated_at, UNSET);
        rc = baton_pg_copy_row(pg, (const char *const *)r.v);
        audit__row_clear(&r);
    }
    if (rc == 0)
        rc = baton_pg_copy_end(pg, NULL);
    else
        baton_pg_copy_abort(pg);
    return rc == 0 ? baton_pg_exec_script(pg, notif_merge) : rc;
}

static const char *const esc_cols[] = {"event_id", "task_id",     "instance_id",
                                       "tenant",   "level",       "step",
                                       "step_action", "target_role", "at_ms"};

static int copy_escalations(audit_proj_t *p, baton_pg_t *pg)
{
    int rc = baton_pg_copy_begin(pg, "audit_escalations", esc_cols,
                                 (int)(sizeof esc_cols / sizeof *esc_cols));
    audit_copy_row_t r = {.n = 0};
    for (size_t i = 0; rc == 0 && i < p->nescs; i++) {
        const esc_row_t *x = &p->escs[i];
        audit__row_str(&r, x->event_id);
        audit__row_str(&r, x->task_id);
        audit__row_str(&r, x->instance_id);
        audit__row_str(&r, x->tenant);
        audit__row_int(&r, x->level);
        audit__row_int(&r, x->step);
        audit__row_str(&r, x->step_action);
        audit__row_str(&r, x->target_role);
        audit__row_int(&r, x->at_ms);
        rc = baton_pg_copy_row(pg, (const char *const *)r.v);
        audit__row_clear(&r);
    }
    if (rc == 0)
        return baton_pg_copy_end(pg, NULL);
    baton_pg_copy_abort(pg);
    return rc;
}

int audit__proj_apply(audit_proj_t *p, baton_pg_t *pg)
{
    int rc = 0;
    if (p->ntasks)
        rc = copy_tasks(p, pg);
    if (rc == 0 && p->ninsts)
        rc = copy_instances(p, pg);
    if (rc == 0 && p->nnotifs)
        rc = copy_notifications(p, pg);
    if (rc == 0 && p->nescs)
        rc = copy_escalations(p, pg);
    audit__proj_reset(p);
    return rc;
}
