/* pathway_escalation.c — a task's clocks: scheduling and cancelling its timers (ack and
 * completion deadlines, escalation steps), and what a firing does: reminders, notify /
 * reassign steps with `unless`, repeats, and the way up the chain after a decline. */
#include <stdlib.h>
#include <string.h>

#include "pathway_int.h"

/* Deterministic: the same instance, stage, purpose, step and repeat always name the same timer,
 * so scheduling it again (a replay) replaces it at the timer service. */
static void timer_id(const Baton__V1__InstanceState *s, const Baton__V1__TaskState *t,
                     const char *purpose, int step, int repeat, char out[BATON_ID_LEN])
{
    char *p = baton_xasprintf("timer:%s:%s:%d:%d", t->stage, purpose, step, repeat);
    baton_derived_id(s->instance_id, p, out);
    free(p);
}

void baton_pathway__schedule(baton_mctx_t *m, Baton__V1__TaskState *t, const char *purpose,
                             int step, int repeat, int64_t due)
{
    char id[BATON_ID_LEN];
    timer_id(m->st, t, purpose, step, repeat, id);
    Baton__V1__PendingTimer *p = baton_xmalloc(sizeof(*p));
    baton__v1__pending_timer__init(p);
    p->timer_id = baton_xstrdup(id);
    p->purpose = baton_xstrdup(purpose);
    p->step = step;
    p->repeat = repeat;
    p->due_at_ms = due;
    t->timers = baton_xrealloc(t->timers, (t->n_timers + 1) * sizeof(*t->timers));
    t->timers[t->n_timers++] = p;

    Baton__V1__Envelope *e = baton_pathway__env(m, BATON_TOPIC_TIMERS, "timer.schedule", t->stage);
    Baton__V1__TimerSchedule *ts = baton_pathway__oalloc(m, sizeof(*ts));
    baton__v1__timer_schedule__init(ts);
    ts->timer_id = baton_pathway__ostr(m, id);
    ts->due_at_ms = due;
    Baton__V1__TimerFired *f = baton_pathway__oalloc(m, sizeof(*f));
    baton__v1__timer_fired__init(f);
    f->timer_id = baton_pathway__ostr(m, id);
    f->due_at_ms = due;
    f->instance_id = baton_pathway__ostr(m, m->st->instance_id);
    f->task_id = baton_pathway__ostr(m, t->task_id);
    f->purpose = baton_pathway__ostr(m, purpose);
    f->step = step;
    f->repeat = repeat;
    ts->fire = f;
    e->body_case = BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE;
    e->timer_schedule = ts;
}

static void emit_cancel(baton_mctx_t *m, const Baton__V1__TaskState *t, const char *id)
{
    Baton__V1__Envelope *e = baton_pathway__env(m, BATON_TOPIC_TIMERS, "timer.cancel", t->stage);
    Baton__V1__TimerCancel *c = baton_pathway__oalloc(m, sizeof(*c));
    baton__v1__timer_cancel__init(c);
    c->timer_id = baton_pathway__ostr(m, id);
    e->body_case = BATON__V1__ENVELOPE__BODY_TIMER_CANCEL;
    e->timer_cancel = c;
}

static void remove_timer(Baton__V1__TaskState *t, size_t i)
{
    protobuf_c_message_free_unpacked(&t->timers[i]->base, NULL);
    memmove(t->timers + i, t->timers + i + 1, (t->n_timers - i - 1) * sizeof(*t->timers));
    t->n_timers--;
}

void baton_pathway__cancel_timers(baton_mctx_t *m, Baton__V1__TaskState *t)
{
    for (size_t i = 0; i < t->n_timers; i++)
        emit_cancel(m, t, t->timers[i]->timer_id);
    while (t->n_timers)
        remove_timer(t, t->n_timers - 1);
}

void baton_pathway__start_clocks(baton_mctx_t *m, Baton__V1__TaskState *t,
                                 const baton_stage_def_t *sd)
{
    if (sd->ack_within_ms)
        baton_pathway__schedule(m, t, "ack_deadline", 0, 0, t->activated_at_ms + sd->ack_within_ms);
    if (sd->complete_within_ms)
        baton_pathway__schedule(m, t, "complete_deadline", 0, 0,
                                t->activated_at_ms + sd->complete_within_ms);
    for (size_t k = 0; k < sd->nsteps; k++)
        baton_pathway__schedule(m, t, "escalation", (int)k, 0,
                                t->activated_at_ms + sd->steps[k].after_ms);
}

static int declined(const Baton__V1__TaskState *t, const char *person)
{
    for (size_t i = 0; person && *person && i < t->n_declined_by; i++)
        if (strcmp(t->declined_by[i], person) == 0)
            return 1;
    return 0;
}

/* Fire escalation step k once: the level rises; notify tells the target, reassign moves the
 * task to it (back to `ready`). A target nobody covers is a coverage gap; a reassign that finds
 * nobody leaves the owner in place unless the owner declined the task. */
static void fire_step(baton_mctx_t *m, Baton__V1__TaskState *t, const baton_stage_def_t *sd,
                      size_t k)
{
    const baton_escalation_step_t *st = &sd->steps[k];
    char person[BATON_PERSON_MAX], why[64];
    int rc = baton_pathway__resolve(m, t, st->target.role, st->target.scope, person, sizeof(person),
                                    why, sizeof(why));
    if (rc && rc != BATON_ENOENT)
        return;
    const char *scope = baton_pathway__scope_name(st->target.scope);
    int32_t repeat = t->step_fired[k];
    t->escalation_level++;
    t->step_fired[k]++;
    char *from = baton_xstrdup(t->owner);
    int moved = 0;
    if (st->reassign && person[0]) {
        baton_pathway__setstr(&t->owner, person);
        baton_pathway__setstr(&t->role, st->target.role);
        baton_pathway__setstr(&t->scope, scope);
        baton_pathway__setstr(&t->resolved_by, why);
        baton_pathway__setstr(&t->status, BATON_TASK_READY);
        t->assigned_at_ms = m->now;
        t->reassign_count++;
        moved = 1;
    } else if (st->reassign && declined(t, t->owner)) {
        baton_pathway__setstr(&t->owner, "");
        baton_pathway__setstr(&t->resolved_by, "none");
        moved = 1;
    }
    Baton__V1__Envelope *e =
        baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "task.escalated", t->stage);
    Baton__V1__TaskEscalated *x = baton_pathway__oalloc(m, sizeof(*x));
    baton__v1__task_escalated__init(x);
    x->task = baton_pathway__taskref(m, t);
    x->level = t->escalation_level;
    x->step = (int32_t)k;
    x->step_action = baton_pathway__ostr(m, st->reassign ? "reassign" : "notify");
    x->target_role = baton_pathway__ostr(m, st->target.role);
    x->target_person = baton_pathway__ostr(m, person);
    x->repeat = repeat;
    e->body_case = BATON__V1__ENVELOPE__BODY_TASK_ESCALATED;
    e->task_escalated = x;
    if (moved)
        baton_pathway__reassigned(m, t, from, "", "escalation");
    free(from);
    if (person[0])
        baton_pathway__notify(m, t, person, "escalation", 1);
    else
        baton_pathway__coverage_gap(m, t, st->target.role, scope);
}

/* task.deadline_missed: the ack or completion window ran out (an SLA breach, recorded once per
 * window: the deadline timer fires once). */
static void deadline_missed(baton_mctx_t *m, const Baton__V1__TaskState *t, const char *deadline,
                            int64_t due)
{
    Baton__V1__Envelope *e =
        baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "task.deadline_missed", t->stage);
    Baton__V1__TaskDeadlineMissed *d = baton_pathway__oalloc(m, sizeof(*d));
    baton__v1__task_deadline_missed__init(d);
    d->task = baton_pathway__taskref(m, t);
    d->deadline = baton_pathway__ostr(m, deadline);
    d->due_at_ms = due;
    e->body_case = BATON__V1__ENVELOPE__BODY_TASK_DEADLINE_MISSED;
    e->task_deadline_missed = d;
}

static int unless_holds(const Baton__V1__TaskState *t, baton_unless_t u)
{
    if (u == BATON_UNLESS_ACKNOWLEDGED)
        return baton_pathway__task_acknowledged(t);
    return strcmp(t->status, BATON_TASK_COMPLETED) == 0;
}

void baton_pathway__timer_fired(baton_mctx_t *m)
{
    const Baton__V1__TimerFired *f = m->in->timer_fired;
    Baton__V1__TaskState *t = baton_pathway_state_task(m->st, f->task_id);
    if (!t || !f->timer_id)
        return;
    size_t i = 0;
    while (i < t->n_timers && strcmp(t->timers[i]->timer_id, f->timer_id) != 0)
        i++;
    if (i == t->n_timers)
        return; /* not awaited any more: stale or replayed */
    /* trust what we scheduled, not what the input claims */
    char *purpose = baton_xstrdup(t->timers[i]->purpose);
    int step = t->timers[i]->step, repeat = t->timers[i]->repeat;
    int64_t due = t->timers[i]->due_at_ms;
    remove_timer(t, i);
    int si = baton_pathway_stage_index(m->def, t->stage);
    const baton_stage_def_t *sd = si >= 0 ? &m->def->stages[si] : NULL;
    if (strcmp(purpose, "ack_deadline") == 0) {
        if (!baton_pathway__task_acknowledged(t)) {
            t->ack_breached = 1;
            deadline_missed(m, t, "ack", due);
            baton_pathway__notify(m, t, t->owner, "reminder", 0);
        }
    } else if (strcmp(purpose, "complete_deadline") == 0) {
        if (baton_pathway__task_open(t)) {
            t->complete_breached = 1;
            deadline_missed(m, t, "complete", due);
            baton_pathway__notify(m, t, t->owner, "reminder", 0);
        }
    } else if (sd && strcmp(purpose, "escalation") == 0 && step >= 0 && (size_t)step < sd->nsteps &&
               baton_pathway__task_open(t) && !unless_holds(t, sd->steps[step].unless)) {
        fire_step(m, t, sd, (size_t)step);
        int64_t every = sd->steps[step].repeat_ms, next = due + every;
        while (every && next <= m->now)
            next += every; /* fired late (an outage): skip the missed repeats, keep the cadence */
        if (every && !m->rc)
            baton_pathway__schedule(m, t, "escalation", step, repeat + 1, next);
    }
    free(purpose);
}

int baton_pathway__escalate_on_decline(baton_mctx_t *m, Baton__V1__TaskState *t,
                                       const baton_stage_def_t *sd)
{
    for (size_t k = 0; k < sd->nsteps; k++) {
        if (!sd->steps[k].reassign || t->step_fired[k] != 0)
            continue;
        /* fired now instead of at its time: its timer is no longer awaited */
        for (size_t i = t->n_timers; i-- > 0;) {
            if (strcmp(t->timers[i]->purpose, "escalation") == 0 && t->timers[i]->step == (int)k) {
                emit_cancel(m, t, t->timers[i]->timer_id);
                remove_timer(t, i);
            }
        }
        fire_step(m, t, sd, k);
        return 1;
    }
    return 0;
}
