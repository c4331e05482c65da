/* pathway_actions.c — staff actions on tasks: who may act (owner, holder of the task's role,
 * override role) and which transitions are legal (FHIR Task codes), then ack / start /
 * complete / decline / reassign / comment. */
#include <stdlib.h>
#include <string.h>

#include "pathway_int.h"

static int has_role(const char *const *roles, size_t n, const char *role)
{
    for (size_t i = 0; role && *role && i < n; i++)
        if (roles[i] && strcmp(roles[i], role) == 0)
            return 1;
    return 0;
}

static int is_status(const Baton__V1__TaskState *t, const char *s)
{
    return strcmp(t->status, s) == 0;
}

/* Legal transitions from the task's current status (authorization already passed). */
static int check_transition(const Baton__V1__InstanceState *state, const Baton__V1__TaskState *t,
                            const baton_stage_def_t *sd, Baton__V1__Action action, int in_override,
                            const char **why)
{
    int open = baton_pathway__task_open(t);
    if (!t->status[0]) {
        *why = "the stage has not started yet";
        return BATON_ECONFLICT;
    }
    if (t->skipped) {
        *why = "the stage was skipped";
        return BATON_ECONFLICT;
    }
    switch (action) {
    case BATON__V1__ACTION__ACTION_ACK:
        *why = "only a ready task can be acknowledged";
        return is_status(t, BATON_TASK_READY) ? 0 : BATON_ECONFLICT;
    case BATON__V1__ACTION__ACTION_START:
        *why = "only a ready or accepted task can be started";
        return is_status(t, BATON_TASK_READY) || is_status(t, BATON_TASK_ACCEPTED)
                   ? 0
                   : BATON_ECONFLICT;
    case BATON__V1__ACTION__ACTION_COMPLETE:
        if (!open) {
            *why = "the task is already closed";
            return BATON_ECONFLICT;
        }
        if (sd && sd->complete_on_event && !in_override) {
            *why = "this stage is completed by an EHR event";
            return BATON_ECONFLICT;
        }
        return 0;
    case BATON__V1__ACTION__ACTION_DECLINE:
        if (!t->owner[0]) {
            *why = "the task has no owner to decline it";
            return BATON_ECONFLICT;
        }
        *why = "only a ready or accepted task can be declined";
        return is_status(t, BATON_TASK_READY) || is_status(t, BATON_TASK_ACCEPTED)
                   ? 0
                   : BATON_ECONFLICT;
    case BATON__V1__ACTION__ACTION_REASSIGN:
        *why = "the task is already closed";
        return open ? 0 : BATON_ECONFLICT;
    case BATON__V1__ACTION__ACTION_COMMENT:
        (void)state;
        return 0;
    default:
        *why = "unknown action";
        return BATON_ECONFLICT;
    }
}

int baton_pathway_authorize(const Baton__V1__InstanceState *state, const char *task_id,
                            Baton__V1__Action action, const char *actor,
                            const char *const *actor_roles, size_t nroles,
                            const baton_pathway_def_t *def, int *override_out,
                            const char **reason_out)
{
    const char *why = "ok";
    int override = 0, rc = 0;
    const Baton__V1__TaskState *t = baton_pathway_state_task(state, task_id);
    const baton_stage_def_t *sd = NULL;
    if (!t) {
        why = "no such task";
        rc = BATON_ENOENT;
        goto out;
    }
    int si = def ? baton_pathway_stage_index(def, t->stage) : -1;
    sd = si >= 0 ? &def->stages[si] : NULL;
    int owner = actor && *actor && t->owner[0] && strcmp(actor, t->owner) == 0;
    int holder = actor && *actor &&
                 (has_role(actor_roles, nroles, t->role) ||
                  (sd && has_role(actor_roles, nroles, sd->owner.role)));
    int over = 0;
    for (size_t i = 0; actor && *actor && sd && i < sd->noverride; i++)
        over |= has_role(actor_roles, nroles, sd->override_roles[i]);
    if (!owner && !holder && !over) {
        why = "only the task's owner, a holder of its role or an override role may act on it";
        rc = BATON_EPERM;
        goto out;
    }
    if (action == BATON__V1__ACTION__ACTION_DECLINE && !owner && !over && t->owner[0]) {
        why = "only the task's owner may decline it";
        rc = BATON_EPERM;
        goto out;
    }
    override = !owner && !holder;
    rc = check_transition(state, t, sd, action, over, &why);
    if (rc == 0)
        why = "ok";
out:
    if (override_out)
        *override_out = rc == 0 ? override : 0;
    if (reason_out)
        *reason_out = why;
    return rc;
}

void baton_pathway__reject(baton_mctx_t *m, const Baton__V1__TaskState *t, int status,
                           const char *reason)
{
    const Baton__V1__StaffAction *a = m->in->staff_action;
    Baton__V1__Envelope *e =
        baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "action.rejected", t ? t->stage : NULL);
    Baton__V1__ActionRejected *r = baton_pathway__oalloc(m, sizeof(*r));
    baton__v1__action_rejected__init(r);
    r->action_event_id = baton_pathway__ostr(m, m->in->id);
    r->task_id = baton_pathway__ostr(m, a->task_id);
    r->actor = baton_pathway__ostr(m, a->actor);
    r->action = a->action;
    r->status = status;
    r->reason = baton_pathway__ostr(m, reason);
    e->body_case = BATON__V1__ENVELOPE__BODY_ACTION_REJECTED;
    e->action_rejected = r;
}

/* task.acknowledged / task.started / task.commented share one shape. */
static void emit_simple(baton_mctx_t *m, Baton__V1__TaskState *t, Baton__V1__Action action,
                        const char *actor, int override, const char *note)
{
    const char *type = action == BATON__V1__ACTION__ACTION_ACK     ? "task.acknowledged"
                       : action == BATON__V1__ACTION__ACTION_START ? "task.started"
                                                                   : "task.commented";
    Baton__V1__Envelope *e = baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, type, t->stage);
    if (action == BATON__V1__ACTION__ACTION_ACK) {
        Baton__V1__TaskAcknowledged *b = baton_pathway__oalloc(m, sizeof(*b));
        baton__v1__task_acknowledged__init(b);
        b->task = baton_pathway__taskref(m, t);
        b->actor = baton_pathway__ostr(m, actor);
        b->override = override;
        e->body_case = BATON__V1__ENVELOPE__BODY_TASK_ACKNOWLEDGED;
        e->task_acknowledged = b;
    } else if (action == BATON__V1__ACTION__ACTION_START) {
        Baton__V1__TaskStarted *b = baton_pathway__oalloc(m, sizeof(*b));
        baton__v1__task_started__init(b);
        b->task = baton_pathway__taskref(m, t);
        b->actor = baton_pathway__ostr(m, actor);
        b->override = override;
        e->body_case = BATON__V1__ENVELOPE__BODY_TASK_STARTED;
        e->task_started = b;
    } else {
        Baton__V1__TaskCommented *b = baton_pathway__oalloc(m, sizeof(*b));
        baton__v1__task_commented__init(b);
        b->task = baton_pathway__taskref(m, t);
        b->actor = baton_pathway__ostr(m, actor);
        b->note = baton_pathway__ostr(m, note);
        e->body_case = BATON__V1__ENVELOPE__BODY_TASK_COMMENTED;
        e->task_commented = b;
    }
}

/* A role holder who acknowledges or starts a task takes it over; an override role does not. */
static void claim(Baton__V1__TaskState *t, const char *actor, int override)
{
    if (override || strcmp(t->owner, actor) == 0)
        return;
    baton_pathway__setstr(&t->owner, actor);
    baton_pathway__setstr(&t->resolved_by, "explicit");
}

/* Decline: the owner is never asked again; the role's next person gets it, else the next
 * reassign step of the escalation chain, else the task waits on the role (coverage gap). */
static void decline(baton_mctx_t *m, Baton__V1__TaskState *t, const baton_stage_def_t *sd,
                    const char *actor, const char *note)
{
    char *from = baton_xstrdup(t->owner);
    baton_pathway__add_str(&t->declined_by, &t->n_declined_by, from);
    baton_pathway__setstr(&t->status, BATON_TASK_READY);
    Baton__V1__Envelope *e =
        baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "task.declined", t->stage);
    Baton__V1__TaskDeclined *d = baton_pathway__oalloc(m, sizeof(*d));
    baton__v1__task_declined__init(d);
    d->task = baton_pathway__taskref(m, t);
    d->actor = baton_pathway__ostr(m, actor);
    d->note = baton_pathway__ostr(m, note);
    e->body_case = BATON__V1__ENVELOPE__BODY_TASK_DECLINED;
    e->task_declined = d;

    char person[BATON_PERSON_MAX], why[64];
    int rc = baton_pathway__resolve(
        m, t, t->role, strcmp(t->scope, "facility") == 0 ? BATON_SCOPE_FACILITY : BATON_SCOPE_UNIT,
        person, sizeof(person), why, sizeof(why));
    if (rc == 0) {
        baton_pathway__setstr(&t->owner, person);
        baton_pathway__setstr(&t->resolved_by, why);
        t->assigned_at_ms = m->now;
        t->reassign_count++;
        baton_pathway__reassigned(m, t, from, actor, "decline");
        baton_pathway__notify(m, t, person, "assigned", 0);
    } else if (rc == BATON_ENOENT && !baton_pathway__escalate_on_decline(m, t, sd)) {
        baton_pathway__setstr(&t->owner, "");
        baton_pathway__setstr(&t->resolved_by, "none");
        baton_pathway__reassigned(m, t, from, actor, "decline");
        baton_pathway__coverage_gap(m, t, t->role, t->scope);
    }
    free(from);
}

void baton_pathway__staff_action(baton_mctx_t *m)
{
    const Baton__V1__StaffAction *a = m->in->staff_action;
    Baton__V1__TaskState *t = baton_pathway_state_task(m->st, a->task_id);
    int override = 0;
    const char *why = NULL;
    int rc = baton_pathway_authorize(m->st, a->task_id, a->action, a->actor,
                                     (const char *const *)a->actor_roles, a->n_actor_roles, m->def,
                                     &override, &why);
    if (rc == 0 && a->action == BATON__V1__ACTION__ACTION_REASSIGN) {
        if (!a->to_person || !*a->to_person) {
            rc = BATON_ECONFLICT;
            why = "reassign needs a person to reassign to";
        } else if (strcmp(a->to_person, t->owner) == 0) {
            rc = BATON_ECONFLICT;
            why = "the task already belongs to that person";
        }
    }
    if (rc) {
        int status = rc == BATON_ENOENT ? 404 : rc == BATON_EPERM ? 403 : 409;
        baton_pathway__reject(m, t, status, why);
        return;
    }
    int si = baton_pathway_stage_index(m->def, t->stage);
    const baton_stage_def_t *sd = &m->def->stages[si];
    switch (a->action) {
    case BATON__V1__ACTION__ACTION_ACK:
        claim(t, a->actor, override);
        baton_pathway__setstr(&t->status, BATON_TASK_ACCEPTED);
        t->acknowledged_at_ms = m->now;
        emit_simple(m, t, a->action, a->actor, override, NULL);
        break;
    case BATON__V1__ACTION__ACTION_START:
        claim(t, a->actor, override);
        baton_pathway__setstr(&t->status, BATON_TASK_IN_PROGRESS);
        if (!t->acknowledged_at_ms)
            t->acknowledged_at_ms = m->now;
        t->started_at_ms = m->now;
        emit_simple(m, t, a->action, a->actor, override, NULL);
        break;
    case BATON__V1__ACTION__ACTION_COMPLETE:
        baton_pathway__complete_task(m, t, a->actor, override, "");
        break;
    case BATON__V1__ACTION__ACTION_DECLINE:
        decline(m, t, sd, a->actor, a->note);
        break;
    case BATON__V1__ACTION__ACTION_REASSIGN: {
        char *from = baton_xstrdup(t->owner);
        baton_pathway__setstr(&t->owner, a->to_person);
        baton_pathway__setstr(&t->resolved_by, "explicit");
        baton_pathway__setstr(&t->status, BATON_TASK_READY);
        t->assigned_at_ms = m->now;
        t->reassign_count++;
        baton_pathway__reassigned(m, t, from, a->actor, "staff");
        baton_pathway__notify(m, t, a->to_person, "reassigned", 0);
        free(from);
        break;
    }
    default:
        emit_simple(m, t, a->action, a->actor, override, a->note);
        break;
    }
}
