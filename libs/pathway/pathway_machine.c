/* pathway_machine.c — the core of the instance state machine: routing an input to the
 * instances of its correlation key, starting instances, activating stages along the DAG
 * (skipping on `when`), completion by EHR events, cancel_on and instance completion. The
 * step functions that route inputs to it are in pathway_step.c.
 * Pure: no clock, no I/O except through the caller's resolver. */
#include <stdlib.h>
#include <string.h>

#include "pathway_int.h"

int64_t baton_pathway_input_time(const Baton__V1__Envelope *in)
{
    if (in->body_case == BATON__V1__ENVELOPE__BODY_TIMER_FIRED && in->timer_fired &&
        in->timer_fired->fired_at_ms > 0)
        return in->timer_fired->fired_at_ms;
    return in->recorded_at_ms > 0 ? in->recorded_at_ms : in->occurred_at_ms;
}

int baton_pathway__task_open(const Baton__V1__TaskState *t)
{
    return strcmp(t->status, BATON_TASK_READY) == 0 ||
           strcmp(t->status, BATON_TASK_ACCEPTED) == 0 ||
           strcmp(t->status, BATON_TASK_IN_PROGRESS) == 0;
}

int baton_pathway__task_acknowledged(const Baton__V1__TaskState *t)
{
    return strcmp(t->status, BATON_TASK_ACCEPTED) == 0 ||
           strcmp(t->status, BATON_TASK_IN_PROGRESS) == 0 ||
           strcmp(t->status, BATON_TASK_COMPLETED) == 0;
}

static int task_done(const Baton__V1__TaskState *t)
{
    return t->skipped || strcmp(t->status, BATON_TASK_COMPLETED) == 0;
}

int baton_pathway__resolve(baton_mctx_t *m, const Baton__V1__TaskState *t, const char *role,
                           baton_scope_t scope, char *person, size_t cap, char *why, size_t whycap)
{
    person[0] = '\0';
    baton_strlcpy(why, "none", whycap);
    if (m->rc)
        return m->rc;
    const Baton__V1__InstanceState *s = m->st;
    int rc = m->res->resolve(m->res->ctx, s->tenant, role, scope, s->facility, s->unit, m->now,
                             (const char *const *)t->declined_by, t->n_declined_by, person, cap,
                             why, whycap);
    if (rc == 0 && person[0])
        return 0;
    person[0] = '\0';
    baton_strlcpy(why, "none", whycap);
    if (rc == 0 || rc == BATON_ENOENT)
        return BATON_ENOENT;
    m->rc = rc;
    baton_seterr(m->err, m->errlen, "role resolution failed: %s", baton_strerror(rc));
    return rc;
}

/* A task closed (completed or cancelled): it waits for no timer any more. */
void baton_pathway__task_closed(baton_mctx_t *m, Baton__V1__TaskState *t)
{
    t->closed_at_ms = m->now;
    baton_pathway__cancel_timers(m, t);
}

static void emit_instance(baton_mctx_t *m, const char *type)
{
    Baton__V1__InstanceState *s = m->st;
    Baton__V1__Envelope *e = baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, type, NULL);
    if (strcmp(type, "instance.started") == 0) {
        Baton__V1__InstanceStarted *b = baton_pathway__oalloc(m, sizeof(*b));
        baton__v1__instance_started__init(b);
        b->instance_id = baton_pathway__ostr(m, s->instance_id);
        b->pathway = baton_pathway__ostr(m, s->pathway);
        b->pathway_version = s->pathway_version;
        b->patient = baton_pathway__ostr(m, s->patient);
        b->encounter = baton_pathway__ostr(m, s->encounter);
        b->trigger_event_id = baton_pathway__ostr(m, s->trigger_event_id);
        e->body_case = BATON__V1__ENVELOPE__BODY_INSTANCE_STARTED;
        e->instance_started = b;
    } else if (strcmp(type, "instance.completed") == 0) {
        Baton__V1__InstanceCompleted *b = baton_pathway__oalloc(m, sizeof(*b));
        baton__v1__instance_completed__init(b);
        b->instance_id = baton_pathway__ostr(m, s->instance_id);
        b->pathway = baton_pathway__ostr(m, s->pathway);
        b->pathway_version = s->pathway_version;
        e->body_case = BATON__V1__ENVELOPE__BODY_INSTANCE_COMPLETED;
        e->instance_completed = b;
    } else {
        Baton__V1__InstanceCancelled *b = baton_pathway__oalloc(m, sizeof(*b));
        baton__v1__instance_cancelled__init(b);
        b->instance_id = baton_pathway__ostr(m, s->instance_id);
        b->pathway = baton_pathway__ostr(m, s->pathway);
        b->pathway_version = s->pathway_version;
        b->cancel_event_id = baton_pathway__ostr(m, s->cancel_event_id);
        b->reason = baton_pathway__ofmt(m, "cancel_on: %s", m->in->clinical->event_type);
        e->body_case = BATON__V1__ENVELOPE__BODY_INSTANCE_CANCELLED;
        e->instance_cancelled = b;
    }
}

/* Activation: resolve the owner, assign (ready), notify or report the gap, start the clocks. */
static void activate(baton_mctx_t *m, Baton__V1__TaskState *t, const baton_stage_def_t *sd)
{
    char person[BATON_PERSON_MAX], why[64];
    baton_pathway__resolve(m, t, sd->owner.role, sd->owner.scope, person, sizeof(person), why,
                           sizeof(why));
    baton_pathway__setstr(&t->status, BATON_TASK_READY);
    baton_pathway__setstr(&t->owner, person);
    baton_pathway__setstr(&t->resolved_by, why);
    t->activated_at_ms = t->assigned_at_ms = m->now;
    t->ack_due_at_ms = sd->ack_within_ms ? m->now + sd->ack_within_ms : 0;
    t->complete_due_at_ms = sd->complete_within_ms ? m->now + sd->complete_within_ms : 0;

    Baton__V1__Envelope *e =
        baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "task.assigned", t->stage);
    Baton__V1__TaskAssigned *a = baton_pathway__oalloc(m, sizeof(*a));
    baton__v1__task_assigned__init(a);
    a->task = baton_pathway__taskref(m, t);
    a->person = baton_pathway__ostr(m, person);
    a->reason = baton_pathway__ostr(m, "activation");
    a->ack_due_at_ms = t->ack_due_at_ms;
    a->complete_due_at_ms = t->complete_due_at_ms;
    a->resolved_by = baton_pathway__ostr(m, why);
    e->body_case = BATON__V1__ENVELOPE__BODY_TASK_ASSIGNED;
    e->task_assigned = a;
    if (person[0])
        baton_pathway__notify(m, t, person, "assigned", 0);
    else
        baton_pathway__coverage_gap(m, t, t->role, t->scope);
    baton_pathway__start_clocks(m, t, sd);
}

static void skip(baton_mctx_t *m, Baton__V1__TaskState *t, const baton_stage_def_t *sd)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "when:");
    for (size_t i = 0; i < sd->when.n; i++) {
        const char *v = baton_pathway__attr_get(m->st, sd->when.conds[i].key);
        const baton_attr_cond_t *c = &sd->when.conds[i];
        baton_buf_appendf(&b, "%s %s=", i ? "," : "", c->key);
        for (size_t j = 0; j < c->nvalues; j++)
            baton_buf_appendf(&b, "%s%s", j ? "|" : "", c->values[j]);
        baton_buf_appendf(&b, " (is %s)", v ? v : "unset");
    }
    baton_pathway__setstr(&t->status, BATON_TASK_CANCELLED);
    t->skipped = 1;
    baton_pathway__setstr(&t->status_reason, b.data);
    t->closed_at_ms = m->now;
    Baton__V1__Envelope *e = baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "task.skipped", t->stage);
    Baton__V1__TaskSkipped *s = baton_pathway__oalloc(m, sizeof(*s));
    baton__v1__task_skipped__init(s);
    s->task = baton_pathway__taskref(m, t);
    s->reason = baton_pathway__ostr(m, b.data);
    baton_buf_free(&b);
    e->body_case = BATON__V1__ENVELOPE__BODY_TASK_SKIPPED;
    e->task_skipped = s;
}

/* Activate (or skip) every pending stage whose dependencies are done, until nothing changes;
 * then complete the instance when every stage is done. */
static void advance(baton_mctx_t *m)
{
    Baton__V1__InstanceState *s = m->st;
    int progress = 1;
    while (progress && !m->rc) {
        progress = 0;
        for (size_t i = 0; i < s->n_tasks && !m->rc; i++) {
            Baton__V1__TaskState *t = s->tasks[i];
            const baton_stage_def_t *sd = &m->def->stages[i];
            if (t->status[0])
                continue;
            int ready = 1;
            for (size_t d = 0; d < sd->ndeps; d++)
                ready &= task_done(s->tasks[sd->dep_index[d]]);
            if (!ready)
                continue;
            if (sd->has_when && !baton_pathway__where_state(&sd->when, s))
                skip(m, t, sd);
            else
                activate(m, t, sd);
            progress = 1;
        }
    }
    for (size_t i = 0; i < s->n_tasks; i++)
        if (!task_done(s->tasks[i]))
            return;
    baton_pathway__setstr(&s->status, BATON_INSTANCE_COMPLETED);
    s->closed_at_ms = m->now;
    emit_instance(m, "instance.completed");
}

void baton_pathway__complete_task(baton_mctx_t *m, Baton__V1__TaskState *t, const char *actor,
                                  int override, const char *by_event)
{
    baton_pathway__setstr(&t->status, BATON_TASK_COMPLETED);
    t->completed_at_ms = m->now;
    baton_pathway__setstr(&t->completed_by, actor);
    baton_pathway__setstr(&t->completed_by_event, by_event);
    t->closed_at_ms = m->now;
    Baton__V1__Envelope *e =
        baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "task.completed", t->stage);
    Baton__V1__TaskCompleted *c = baton_pathway__oalloc(m, sizeof(*c));
    baton__v1__task_completed__init(c);
    c->task = baton_pathway__taskref(m, t);
    c->actor = baton_pathway__ostr(m, actor);
    c->override = override;
    c->by_event_id = baton_pathway__ostr(m, by_event);
    e->body_case = BATON__V1__ENVELOPE__BODY_TASK_COMPLETED;
    e->task_completed = c;
    baton_pathway__task_closed(m, t);
    advance(m);
}

static void cancel_instance(baton_mctx_t *m)
{
    Baton__V1__InstanceState *s = m->st;
    char *reason = baton_xasprintf("instance cancelled by %s", m->in->clinical->event_type);
    for (size_t i = 0; i < s->n_tasks; i++) {
        Baton__V1__TaskState *t = s->tasks[i];
        if (!baton_pathway__task_open(t))
            continue;
        baton_pathway__setstr(&t->status, BATON_TASK_CANCELLED);
        baton_pathway__setstr(&t->status_reason, reason);
        t->closed_at_ms = m->now;
        Baton__V1__Envelope *e =
            baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "task.cancelled", t->stage);
        Baton__V1__TaskCancelled *c = baton_pathway__oalloc(m, sizeof(*c));
        baton__v1__task_cancelled__init(c);
        c->task = baton_pathway__taskref(m, t);
        c->reason = baton_pathway__ostr(m, reason);
        e->body_case = BATON__V1__ENVELOPE__BODY_TASK_CANCELLED;
        e->task_cancelled = c;
        baton_pathway__task_closed(m, t);
    }
    free(reason);
    baton_pathway__setstr(&s->status, BATON_INSTANCE_CANCELLED);
    baton_pathway__setstr(&s->cancel_event_id, m->in->id);
    s->closed_at_ms = m->now;
    emit_instance(m, "instance.cancelled");
}

static int attr_cmp(const void *a, const void *b)
{
    return strcmp((*(Baton__V1__Attribute *const *)a)->key,
                  (*(Baton__V1__Attribute *const *)b)->key);
}

/* Later events update the attributes `when` conditions read; kept sorted by key. */
static void merge_attributes(Baton__V1__InstanceState *s, const Baton__V1__ClinicalEvent *c)
{
    for (size_t i = 0; i < c->n_attributes; i++) {
        const char *k = c->attributes[i]->key, *v = c->attributes[i]->value;
        if (!k || !*k)
            continue;
        Baton__V1__Attribute *found = NULL;
        for (size_t j = 0; j < s->n_attributes && !found; j++)
            if (strcmp(s->attributes[j]->key, k) == 0)
                found = s->attributes[j];
        if (!found) {
            found = baton_xmalloc(sizeof(*found));
            baton__v1__attribute__init(found);
            found->key = baton_xstrdup(k);
            s->attributes = baton_xrealloc(s->attributes, (s->n_attributes + 1) * sizeof(found));
            s->attributes[s->n_attributes++] = found;
        }
        baton_pathway__setstr(&found->value, v);
    }
    if (s->n_attributes > 1)
        qsort(s->attributes, s->n_attributes, sizeof(*s->attributes), attr_cmp);
}

int baton_pathway__in_list(char **list, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

void baton_pathway__clinical(baton_mctx_t *m)
{
    Baton__V1__InstanceState *s = m->st;
    const Baton__V1__ClinicalEvent *c = m->in->clinical;
    merge_attributes(s, c);
    if (m->in->unit && *m->in->unit)
        baton_pathway__setstr(&s->unit, m->in->unit); /* the patient moved: unit scope follows */
    if (baton_pathway__in_list(m->def->cancel_on, m->def->ncancel, c->event_type)) {
        cancel_instance(m);
        return;
    }
    for (size_t i = 0; i < s->n_tasks && !m->rc; i++) {
        Baton__V1__TaskState *t = s->tasks[i];
        const baton_stage_def_t *sd = &m->def->stages[i];
        if (!sd->complete_on_event || !baton_pathway__task_open(t) || !c->event_type ||
            strcmp(sd->complete_on_event, c->event_type) != 0)
            continue;
        if (!baton_pathway_where_matches(&sd->complete_on_where, c->attributes, c->n_attributes))
            continue;
        baton_pathway__complete_task(m, t, "", 0, m->in->id);
    }
}

void baton_pathway__new_instance(baton_mctx_t *m, const char *key)
{
    const Baton__V1__Envelope *in = m->in;
    const baton_pathway_def_t *def = m->def;
    Baton__V1__InstanceState *s = baton_xmalloc(sizeof(*s));
    baton__v1__instance_state__init(s);
    char id[BATON_ID_LEN];
    baton_pathway_instance_id(def, in->id, id);
    s->instance_id = baton_xstrdup(id);
    s->pathway = baton_xstrdup(def->id);
    s->pathway_version = def->version;
    s->tenant = baton_pathway__xstr(in->tenant);
    s->facility = baton_pathway__xstr(in->facility);
    s->unit = baton_pathway__xstr(in->unit);
    s->patient = baton_pathway__xstr(in->clinical->patient);
    s->encounter = baton_pathway__xstr(in->clinical->encounter);
    s->correlation_key = baton_xstrdup(key);
    s->status = baton_xstrdup(BATON_INSTANCE_ACTIVE);
    s->trigger_event_id = baton_xstrdup(in->id);
    s->created_at_ms = s->updated_at_ms = m->now;
    merge_attributes(s, in->clinical);
    s->n_tasks = def->nstages;
    s->tasks = baton_xcalloc(def->nstages, sizeof(*s->tasks));
    for (size_t i = 0; i < def->nstages; i++) {
        const baton_stage_def_t *sd = &def->stages[i];
        Baton__V1__TaskState *t = baton_xmalloc(sizeof(*t));
        baton__v1__task_state__init(t);
        char *p = baton_xasprintf("task:%s", sd->id);
        baton_derived_id(s->instance_id, p, id);
        free(p);
        t->task_id = baton_xstrdup(id);
        t->stage = baton_xstrdup(sd->id);
        t->status = baton_xstrdup("");
        t->role = baton_xstrdup(sd->owner.role);
        t->scope = baton_xstrdup(baton_pathway__scope_name(sd->owner.scope));
        t->n_step_fired = sd->nsteps;
        t->step_fired = baton_xcalloc(sd->nsteps ? sd->nsteps : 1, sizeof(int32_t));
        s->tasks[i] = t;
    }
    m->st = s;
    emit_instance(m, "instance.started");
    advance(m);
}
