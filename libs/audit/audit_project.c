/* audit_project.c — the read projections (instances, tasks, notifications, escalations),
 * kept in the same transaction as the audit rows. A batch's events are folded per key into a
 * delta in memory (events of one instance arrive in order on one partition); the deltas are
 * written by audit_project_write.c.
 *
 * Delta conventions: a NULL string / -1 time means "this batch says nothing"; strings are
 * latest-wins, first_* times first-wins, counters add up, flags OR. */

#include <stdlib.h>
#include <string.h>

#include "audit_project.h"

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
    p->escs[p->nescs++] = (esc_row_t){e->id,     x->task->task_id, x->task->instance_id,
                                      e->tenant, x->step_action,   x->target_role,
                                      x->level,  x->step,          e->occurred_at_ms};
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
    case BATON__V1__ENVELOPE__BODY_TASK_DECLINED:
        t->declines++;
        break;
    case BATON__V1__ENVELOPE__BODY_TASK_REASSIGNED:
        t->reassigns++;
        break;
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
    default:
        break;
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
    default:
        break;
    }
}

static const char *outcome_name(Baton__V1__DeliveryOutcome o)
{
    switch (o) {
    case BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DELIVERED:
        return "delivered";
    case BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_FAILED:
        return "failed";
    case BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DEAD_LETTERED:
        return "dead_lettered";
    case BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_SUPPRESSED:
        return "suppressed";
    default:
        return "unknown";
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
