/* pathway_machine.c — the core of the instance state machine: routing an input to the
 * instances of its correlation key, starting instances, activating stages along the DAG
 * (skipping on `when`), completion by EHR events, cancel_on and instance completion.
 * Pure: no clock, no I/O except through the caller's resolver. */
#include <stdlib.h>
#include <string.h>

#include "pathway_int.h"

#define APPLIED_MAX 256 /* event ids an instance remembers for dedup */
#define TRIGGERS_MAX 64

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

static int in_list(char **list, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static void clinical(baton_mctx_t *m)
{
    Baton__V1__InstanceState *s = m->st;
    const Baton__V1__ClinicalEvent *c = m->in->clinical;
    merge_attributes(s, c);
    if (m->in->unit && *m->in->unit)
        baton_pathway__setstr(&s->unit, m->in->unit); /* the patient moved: unit scope follows */
    if (in_list(m->def->cancel_on, m->def->ncancel, c->event_type)) {
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

static void new_instance(baton_mctx_t *m, const char *key)
{
    const Baton__V1__Envelope *in = m->in;
    const baton_pathway_def_t *def = m->def;
    Baton__V1__InstanceState *s = baton_xmalloc(sizeof(*s));
    baton__v1__instance_state__init(s);
    char id[BATON_ID_LEN];
    char *purpose = baton_xasprintf("instance:%s", def->id);
    baton_derived_id(in->id, purpose, id);
    free(purpose);
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

static int applied(const Baton__V1__InstanceState *s, const char *id)
{
    return in_list(s->applied_event_ids, s->n_applied_event_ids, id);
}

static void record_applied(Baton__V1__InstanceState *s, const char *id, int64_t now)
{
    if (s->n_applied_event_ids == APPLIED_MAX) {
        free(s->applied_event_ids[0]);
        memmove(s->applied_event_ids, s->applied_event_ids + 1, (APPLIED_MAX - 1) * sizeof(char *));
        s->n_applied_event_ids--;
    }
    baton_pathway__add_str(&s->applied_event_ids, &s->n_applied_event_ids, id);
    s->updated_at_ms = now;
}

/* How a step sees the stored states it works on: copies of the caller's (orig: the untouched
 * originals, baton_pathway_step) or the caller's own, changed in place (snap: each one's
 * bytes before its first change, to compare with and to restore on error,
 * baton_pathway_step_inplace). */
typedef struct {
    Baton__V1__InstanceState *const *orig;
    uint8_t **snap;
    size_t *snaplen;
} work_t;

/* Run fn on stored instance i (s, not yet changed by this input). It records the input (dedup)
 * when anything changed: an output was emitted, or else the state packs differently from
 * before (a change without output: attributes merged, a stale timer dropped). */
static int apply_one(baton_mctx_t *m, work_t *w, size_t i, Baton__V1__InstanceState *s,
                     void (*fn)(baton_mctx_t *), int *changed)
{
    if (applied(s, m->in->id))
        return 0;
    if (w->snap && !w->snap[i])
        w->snap[i] = baton_pathway_state_pack(s, &w->snaplen[i]);
    size_t nout = m->out->n;
    m->st = s;
    fn(m);
    if (m->rc)
        return m->rc;
    int diff = m->out->n != nout;
    if (!diff) {
        size_t blen, alen;
        uint8_t *own = w->snap ? NULL : baton_pathway_state_pack(w->orig[i], &blen);
        const uint8_t *before = w->snap ? w->snap[i] : own;
        if (w->snap)
            blen = w->snaplen[i];
        uint8_t *after = baton_pathway_state_pack(s, &alen);
        diff = blen != alen || memcmp(before, after, blen) != 0;
        free(own);
        free(after);
    }
    if (diff) {
        record_applied(s, m->in->id, m->now);
        *changed = 1;
    }
    return 0;
}

/* Does a clinical event belong to the instance? Same tenant and the same correlation id: the
 * caller may hand over more instances than the event's key (say, all of a patient's). */
static int concerns(const baton_pathway_def_t *def, const Baton__V1__InstanceState *s,
                    const Baton__V1__Envelope *in)
{
    const char *id = def->correlation == BATON_CORRELATE_PATIENT ? in->clinical->patient
                                                                 : in->clinical->encounter;
    const char *mine = def->correlation == BATON_CORRELATE_PATIENT ? s->patient : s->encounter;
    return in->tenant && strcmp(in->tenant, s->tenant) == 0 && id && strcmp(id, mine) == 0;
}

/* Clinical input: existing instances first (completion, cancel), then triggers. */
static int step_clinical(const baton_pathway_set_t *set, work_t *w, baton_pathway_group_t *g,
                         baton_mctx_t *m)
{
    for (size_t i = 0; i < g->n; i++) {
        Baton__V1__InstanceState *s = g->states[i];
        m->def = baton_pathway_get(set, s->pathway, s->pathway_version);
        if (!m->def || strcmp(s->status, BATON_INSTANCE_ACTIVE) != 0 || !concerns(m->def, s, m->in))
            continue; /* a version no longer loaded cannot run; leave it untouched */
        int rc = apply_one(m, w, i, s, clinical, &g->changed[i]);
        if (rc)
            return rc;
    }
    const baton_pathway_def_t *defs[TRIGGERS_MAX];
    size_t nd = baton_pathway_match_triggers(set, m->in, defs, TRIGGERS_MAX);
    for (size_t k = 0; k < nd && k < TRIGGERS_MAX; k++) {
        char *key = baton_pathway_correlation_key(defs[k], m->in);
        char id[BATON_ID_LEN];
        char *purpose = baton_xasprintf("instance:%s", defs[k]->id);
        baton_derived_id(m->in->id, purpose, id);
        free(purpose);
        Baton__V1__InstanceState *active = NULL;
        int replay = 0;
        for (size_t i = 0; i < g->n; i++) {
            Baton__V1__InstanceState *s = g->states[i];
            replay |= strcmp(s->instance_id, id) == 0;
            if (!active && strcmp(s->pathway, defs[k]->id) == 0 &&
                strcmp(s->status, BATON_INSTANCE_ACTIVE) == 0 &&
                strcmp(s->correlation_key, key) == 0)
                active = s;
        }
        if (replay) {
            free(key);
            continue;
        }
        m->def = defs[k];
        if (active) {
            m->st = active;
            Baton__V1__Envelope *e =
                baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "trigger.ignored", NULL);
            Baton__V1__TriggerIgnored *ti = baton_pathway__oalloc(m, sizeof(*ti));
            baton__v1__trigger_ignored__init(ti);
            ti->pathway = baton_pathway__ostr(m, defs[k]->id);
            ti->instance_id = baton_pathway__ostr(m, active->instance_id);
            ti->event_id = baton_pathway__ostr(m, m->in->id);
            e->body_case = BATON__V1__ENVELOPE__BODY_TRIGGER_IGNORED;
            e->trigger_ignored = ti;
        } else {
            m->st = NULL;
            new_instance(m, key);
            g->states = baton_xrealloc(g->states, (g->n + 1) * sizeof(*g->states));
            g->changed = baton_xrealloc(g->changed, (g->n + 1) * sizeof(int));
            g->states[g->n] = m->st;
            g->changed[g->n++] = 1;
            record_applied(m->st, m->in->id, m->now);
        }
        free(key);
        if (m->rc)
            return m->rc;
    }
    return 0;
}

static Baton__V1__InstanceState *find_instance(baton_pathway_group_t *g, const char *instance_id,
                                               const char *task_id, size_t *idx)
{
    for (size_t i = 0; i < g->n; i++) {
        int hit = instance_id && *instance_id
                      ? strcmp(g->states[i]->instance_id, instance_id) == 0
                      : baton_pathway_state_task(g->states[i], task_id) != NULL;
        if (hit) {
            *idx = i;
            return g->states[i];
        }
    }
    return NULL;
}

/* Staff action or timer: to the instance it names. */
static int step_targeted(const baton_pathway_set_t *set, work_t *w, baton_pathway_group_t *g,
                         baton_mctx_t *m)
{
    int staff = m->in->body_case == BATON__V1__ENVELOPE__BODY_STAFF_ACTION;
    const char *iid = staff ? m->in->staff_action->instance_id : m->in->timer_fired->instance_id;
    const char *tid = staff ? m->in->staff_action->task_id : m->in->timer_fired->task_id;
    size_t i = 0;
    Baton__V1__InstanceState *s = find_instance(g, iid, tid, &i);
    if (s)
        m->def = baton_pathway_get(set, s->pathway, s->pathway_version);
    if (!staff) {
        if (!s || !m->def)
            return 0; /* a timer for an instance we no longer have: nothing to do */
        return apply_one(m, w, i, s, baton_pathway__timer_fired, &g->changed[i]);
    }
    if (!s || !m->def) {
        m->st = NULL;
        /* 409 when the instance exists but its version is no longer deployed */
        baton_pathway__reject(m, NULL, s ? 409 : 404,
                              s ? "the pathway version of this instance is not loaded"
                                : "no such task");
        return 0;
    }
    return apply_one(m, w, i, s, baton_pathway__staff_action, &g->changed[i]);
}

static int check_input(const Baton__V1__Envelope *in, char *err, size_t errlen)
{
    if (!in || !in->id || !*in->id) {
        baton_seterr(err, errlen, "input has no event id");
        return BATON_EINVAL;
    }
    int ok = (in->body_case == BATON__V1__ENVELOPE__BODY_CLINICAL && in->clinical) ||
             (in->body_case == BATON__V1__ENVELOPE__BODY_STAFF_ACTION && in->staff_action) ||
             (in->body_case == BATON__V1__ENVELOPE__BODY_TIMER_FIRED && in->timer_fired);
    if (!ok) {
        baton_seterr(err, errlen, "input %s is not a clinical event, staff action or timer",
                     in->id);
        return BATON_EINVAL;
    }
    return 0;
}

/* Run the input over g (its first states stored ones, seen through w); on 0 move the outputs to
 * out. On error the outputs are dropped (g is the caller's to undo). */
static int run(const baton_pathway_set_t *set, work_t *w, baton_pathway_group_t *g,
               const Baton__V1__Envelope *in, const baton_resolver_t *resolver,
               baton_outputs_t *out, char *err, size_t errlen)
{
    baton_outputs_t tmp = BATON_OUTPUTS_INIT;
    tmp.arena = out->arena; /* the outputs are built where they will stay */
    baton_mctx_t m = {NULL, NULL, in, resolver, baton_pathway_input_time(in), &tmp, 0, err, errlen};
    int rc = in->body_case == BATON__V1__ENVELOPE__BODY_CLINICAL ? step_clinical(set, w, g, &m)
                                                                 : step_targeted(set, w, g, &m);
    if (rc) {
        baton_outputs_free(&tmp);
        return rc;
    }
    if (tmp.n == 0)
        return 0;
    if (out->n + tmp.n > out->cap) {
        size_t cap = out->cap ? out->cap : 16;
        while (cap < out->n + tmp.n)
            cap *= 2;
        out->items = baton_xrealloc(out->items, cap * sizeof(*out->items));
        out->cap = cap;
    }
    memcpy(out->items + out->n, tmp.items, tmp.n * sizeof(*tmp.items));
    out->n += tmp.n;
    free(tmp.items);
    return 0;
}

int baton_pathway_step(const baton_pathway_set_t *set, Baton__V1__InstanceState *const *states,
                       size_t n, const Baton__V1__Envelope *in, const baton_resolver_t *resolver,
                       baton_pathway_group_t *group_out, baton_outputs_t *out, char *err,
                       size_t errlen)
{
    memset(group_out, 0, sizeof(*group_out));
    int rc = check_input(in, err, errlen);
    if (rc)
        return rc;
    baton_pathway_group_t g = {baton_xcalloc(n ? n : 1, sizeof(*g.states)), n,
                               baton_xcalloc(n ? n : 1, sizeof(int))};
    for (size_t i = 0; i < n; i++)
        g.states[i] = baton_pathway_state_dup(states[i]);
    work_t w = {states, NULL, NULL};
    rc = run(set, &w, &g, in, resolver, out, err, errlen);
    if (rc) {
        baton_pathway_group_free(&g);
        return rc;
    }
    *group_out = g;
    return 0;
}

/* Put s back as the bytes say, keeping its address. */
static void restore(Baton__V1__InstanceState *s, const uint8_t *buf, size_t len)
{
    Baton__V1__InstanceState *tmp = baton_pathway_state_unpack(buf, len);
    if (!tmp)
        abort(); /* what we packed always unpacks, unless memory ran out */
    Baton__V1__InstanceState swap = *s;
    *s = *tmp;
    *tmp = swap;
    baton_pathway_state_free(tmp); /* the changed contents, in tmp's shell */
}

int baton_pathway_step_inplace(const baton_pathway_set_t *set, Baton__V1__InstanceState **states,
                               size_t n, const Baton__V1__Envelope *in,
                               const baton_resolver_t *resolver, int *changed,
                               baton_pathway_group_t *fresh_out, baton_outputs_t *out, char *err,
                               size_t errlen)
{
    memset(fresh_out, 0, sizeof(*fresh_out));
    if (n)
        memset(changed, 0, n * sizeof(*changed));
    int rc = check_input(in, err, errlen);
    if (rc)
        return rc;
    baton_pathway_group_t g = {baton_xcalloc(n ? n : 1, sizeof(*g.states)), n,
                               baton_xcalloc(n ? n : 1, sizeof(int))};
    if (n)
        memcpy(g.states, states, n * sizeof(*states));
    work_t w = {NULL, baton_xcalloc(n ? n : 1, sizeof(uint8_t *)),
                baton_xcalloc(n ? n : 1, sizeof(size_t))};
    rc = run(set, &w, &g, in, resolver, out, err, errlen);
    for (size_t i = 0; i < n; i++) {
        if (rc && w.snap[i])
            restore(states[i], w.snap[i], w.snaplen[i]);
        else if (!rc)
            changed[i] = g.changed[i];
        free(w.snap[i]);
    }
    free(w.snap);
    free(w.snaplen);
    size_t nfresh = g.n - n;
    if (rc) {
        for (size_t i = n; i < g.n; i++)
            baton_pathway_state_free(g.states[i]);
    } else if (nfresh) {
        fresh_out->states = baton_xcalloc(nfresh, sizeof(*fresh_out->states));
        fresh_out->changed = baton_xcalloc(nfresh, sizeof(int));
        memcpy(fresh_out->states, g.states + n, nfresh * sizeof(*g.states));
        memcpy(fresh_out->changed, g.changed + n, nfresh * sizeof(int));
        fresh_out->n = nfresh;
    }
    free(g.states);
    free(g.changed);
    return rc;
}
