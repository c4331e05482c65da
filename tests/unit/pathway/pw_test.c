/* pw_test.c — see pw_test.h. */
#include "pw_test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"

void pw_roster_add(pw_roster_t *r, const char *role, const char *unit, const char *person)
{
    ASSERT_TRUE(r->n < 64);
    r->shifts[r->n++] = (pw_shift_t){role, unit, person};
}

void pw_roster_remove(pw_roster_t *r, const char *role)
{
    int j = 0;
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->shifts[i].role, role) != 0)
            r->shifts[j++] = r->shifts[i];
    r->n = j;
}

static int excluded(const char *p, const char *const *ex, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ex[i], p) == 0)
            return 1;
    return 0;
}

/* The unit's shift first (scope unit), then the facility's. */
static int roster_resolve(void *ctx, const char *tenant, const char *role, baton_scope_t scope,
                          const char *facility, const char *unit, int64_t now_ms,
                          const char *const *exclude, size_t nexclude, char *person_out,
                          size_t person_cap, char *why_out, size_t why_cap)
{
    pw_roster_t *r = ctx;
    r->calls++;
    if (r->fail)
        return BATON_EIO;
    for (int pass = scope == BATON_SCOPE_UNIT ? 0 : 1; pass < 2; pass++) {
        for (int i = 0; i < r->n; i++) {
            const pw_shift_t *s = &r->shifts[i];
            int unit_ok = pass == 0 ? strcmp(s->unit, unit) == 0 : s->unit[0] == '\0';
            if (strcmp(s->role, role) != 0 || !unit_ok || excluded(s->person, exclude, nexclude))
                continue;
            baton_strlcpy(person_out, s->person, person_cap);
            baton_strlcpy(why_out, pass == 0 ? "unit_shift" : "facility_shift", why_cap);
            return 0;
        }
    }
    return BATON_ENOENT;
}

void pw_world_init(pw_world_t *w, const char *path)
{
    memset(w, 0, sizeof(*w));
    char err[512];
    baton_pathway_errors_t errs;
    struct stat sb;
    ASSERT_TRUE(stat(path, &sb) == 0);
    w->set = S_ISDIR(sb.st_mode) ? baton_pathway_load_dir(path, &errs, err, sizeof(err))
                                 : baton_pathway_load_file(path, &errs, err, sizeof(err));
    if (!w->set)
        TEST_FAIL("load %s: %s", path, err);
    w->res = (baton_resolver_t){roster_resolve, &w->roster};
    pw_roster_t *r = &w->roster;
    pw_roster_add(r, "pharmacist", "", "ph1");
    pw_roster_add(r, "pharmacist", "", "ph2");
    pw_roster_add(r, "lead", "", "ld1");
    pw_roster_add(r, "pharmacy_lead", "", "ld1");
    pw_roster_add(r, "charge_nurse", "4W", "cn1");
    pw_roster_add(r, "case_manager", "4W", "cm1");
    pw_roster_add(r, "transport", "", "tr1");
    pw_roster_add(r, "nurse", "4W", "rn1");
    pw_roster_add(r, "nurse", "5E", "rn5");
    pw_roster_add(r, "prior_auth_specialist", "", "pa1");
    pw_roster_add(r, "ordering_provider", "", "md1");
    pw_roster_add(r, "scheduler", "", "sc1");
}

void pw_world_free(pw_world_t *w)
{
    for (size_t i = 0; i < w->n; i++)
        baton_pathway_state_free(w->st[i]);
    free(w->st);
    baton_outputs_free(&w->out);
    baton_pathway_set_free(w->set);
}

Baton__V1__Envelope *pw_env_dup(const Baton__V1__Envelope *e)
{
    size_t len = protobuf_c_message_get_packed_size(&e->base);
    uint8_t *buf = baton_xmalloc(len + 1);
    protobuf_c_message_pack(&e->base, buf);
    Baton__V1__Envelope *d = baton__v1__envelope__unpack(NULL, len, buf);
    free(buf);
    ASSERT_NOT_NULL(d);
    return d;
}

/* One input through baton_pathway_step or _inplace; outputs appended to w->out. */
static int step_once(pw_world_t *w, Baton__V1__Envelope *in, int inplace)
{
    char err[256] = "";
    int rc;
    if (!inplace) {
        baton_pathway_group_t g;
        rc = baton_pathway_step(w->set, w->st, w->n, in, &w->res, &g, &w->out, err, sizeof(err));
        protobuf_c_message_free_unpacked(&in->base, NULL);
        if (rc)
            return rc;
        for (size_t i = 0; i < w->n; i++)
            baton_pathway_state_free(w->st[i]);
        free(w->st);
        w->st = g.states;
        w->n = g.n;
        free(g.changed);
        return 0;
    }
    baton_pathway_group_t fresh;
    int *changed = baton_xcalloc(w->n + 1, sizeof(int));
    rc = baton_pathway_step_inplace(w->set, w->st, w->n, in, &w->res, changed, &fresh, &w->out, err,
                                    sizeof(err));
    protobuf_c_message_free_unpacked(&in->base, NULL);
    free(changed);
    if (rc)
        return rc;
    w->st = baton_xrealloc(w->st, (w->n + fresh.n + 1) * sizeof(*w->st));
    for (size_t i = 0; i < fresh.n; i++)
        w->st[w->n++] = fresh.states[i];
    free(fresh.states);
    free(fresh.changed);
    return 0;
}

/* The input, then, as the router of their partition would, every clinical event it copied
 * onto baton.inbound.v1 (re-keyed by patient); their outputs follow the input's in w->out. */
static int step_all(pw_world_t *w, Baton__V1__Envelope *in, int inplace)
{
    baton_outputs_free(&w->out);
    int rc = step_once(w, in, inplace);
    for (size_t i = 0; rc == 0 && i < w->out.n; i++) {
        if (strcmp(w->out.items[i].topic, BATON_TOPIC_INBOUND) != 0)
            continue;
        rc = step_once(w, pw_env_dup(w->out.items[i].env), inplace);
    }
    return rc;
}

int pw_step(pw_world_t *w, Baton__V1__Envelope *in)
{
    return step_all(w, in, 0);
}

int pw_step_inplace(pw_world_t *w, Baton__V1__Envelope *in)
{
    return step_all(w, in, 1);
}

static Baton__V1__Envelope *envelope(const char *id, int64_t t, const char *encounter)
{
    Baton__V1__Envelope *e = baton_xmalloc(sizeof(*e));
    baton__v1__envelope__init(e);
    e->id = baton_xstrdup(id);
    e->tenant = baton_xstrdup("acme");
    e->facility = baton_xstrdup("F1");
    e->unit = baton_xstrdup("4W");
    e->correlation_key = baton_xasprintf("acme/%s", encounter);
    e->occurred_at_ms = t - 1000;
    e->recorded_at_ms = t;
    e->producer = baton_xstrdup("ingest");
    e->schema_version = 1;
    return e;
}

Baton__V1__Envelope *pw_clinical(const char *id, const char *type, int64_t t, const char *encounter,
                                 ...)
{
    Baton__V1__Envelope *e = envelope(id, t, encounter);
    e->type = baton_xstrdup(type);
    Baton__V1__ClinicalEvent *c = baton_xmalloc(sizeof(*c));
    baton__v1__clinical_event__init(c);
    c->event_type = baton_xstrdup(type);
    c->patient = baton_xstrdup("P1");
    c->encounter = baton_xstrdup(encounter);
    va_list ap;
    va_start(ap, encounter);
    const char *kv;
    while ((kv = va_arg(ap, const char *))) {
        const char *eq = strchr(kv, '=');
        Baton__V1__ClinicalEvent__AttributesEntry *a = baton_xmalloc(sizeof(*a));
        baton__v1__clinical_event__attributes_entry__init(a);
        a->key = baton_xstrndup(kv, (size_t)(eq - kv));
        a->value = baton_xstrdup(eq + 1);
        c->attributes = baton_xrealloc(c->attributes, (c->n_attributes + 1) * sizeof(a));
        c->attributes[c->n_attributes++] = a;
    }
    va_end(ap);
    e->body_case = BATON__V1__ENVELOPE__BODY_CLINICAL;
    e->clinical = c;
    return e;
}

Baton__V1__Envelope *pw_staff(const char *id, int64_t t, const Baton__V1__InstanceState *s,
                              const char *stage, Baton__V1__Action action, const char *actor,
                              const char *roles, const char *to)
{
    Baton__V1__Envelope *e = envelope(id, t, s ? s->encounter : "E1");
    e->type = baton_xstrdup("staff.action");
    Baton__V1__StaffAction *a = baton_xmalloc(sizeof(*a));
    baton__v1__staff_action__init(a);
    const char *task_id = stage;
    for (size_t i = 0; s && i < s->n_tasks; i++)
        if (strcmp(s->tasks[i]->stage, stage) == 0)
            task_id = s->tasks[i]->task_id;
    a->task_id = baton_xstrdup(task_id);
    a->instance_id = baton_xstrdup(s ? s->instance_id : "no-such-instance");
    a->action = action;
    a->actor = baton_xstrdup(actor);
    char *copy = baton_xstrdup(roles), *save = NULL;
    for (char *r = strtok_r(copy, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        a->actor_roles = baton_xrealloc(a->actor_roles, (a->n_actor_roles + 1) * sizeof(char *));
        a->actor_roles[a->n_actor_roles++] = baton_xstrdup(r);
    }
    free(copy);
    a->to_person = baton_xstrdup(to ? to : "");
    a->note = baton_xstrdup("note");
    e->body_case = BATON__V1__ENVELOPE__BODY_STAFF_ACTION;
    e->staff_action = a;
    return e;
}

static Baton__V1__Envelope *timer_env(pw_world_t *w, const Baton__V1__InstanceState *s,
                                      const Baton__V1__TaskState *t,
                                      const Baton__V1__PendingTimer *p, int64_t fired)
{
    char id[64];
    snprintf(id, sizeof(id), "tf-%d", ++w->seq);
    Baton__V1__Envelope *e = envelope(id, fired, s->encounter);
    e->type = baton_xstrdup("timer.fired");
    e->producer = (free(e->producer), baton_xstrdup("timer"));
    Baton__V1__TimerFired *f = baton_xmalloc(sizeof(*f));
    baton__v1__timer_fired__init(f);
    f->timer_id = baton_xstrdup(p->timer_id);
    f->due_at_ms = p->due_at_ms;
    f->fired_at_ms = fired;
    f->instance_id = baton_xstrdup(s->instance_id);
    f->task_id = baton_xstrdup(t->task_id);
    f->purpose = baton_xstrdup(p->purpose);
    f->step = p->step;
    f->repeat = p->repeat;
    e->recorded_at_ms = fired + 5; /* the machine must use fired_at_ms */
    e->body_case = BATON__V1__ENVELOPE__BODY_TIMER_FIRED;
    e->timer_fired = f;
    return e;
}

Baton__V1__Envelope *pw_timer(pw_world_t *w, size_t inst, const char *stage, const char *purpose,
                              int step, int64_t t)
{
    Baton__V1__TaskState *task = pw_task(w, inst, stage);
    for (size_t i = 0; i < task->n_timers; i++) {
        const Baton__V1__PendingTimer *p = task->timers[i];
        if (strcmp(p->purpose, purpose) == 0 && p->step == step)
            return timer_env(w, w->st[inst], task, p, t);
    }
    TEST_FAIL("no pending %s timer step %d on stage %s", purpose, step, stage);
    return NULL;
}

int pw_fire_until(pw_world_t *w, int64_t t)
{
    int fired = 0;
    for (;;) {
        const Baton__V1__InstanceState *bs = NULL;
        const Baton__V1__TaskState *bt = NULL;
        const Baton__V1__PendingTimer *bp = NULL;
        for (size_t i = 0; i < w->n; i++)
            for (size_t k = 0; k < w->st[i]->n_tasks; k++)
                for (size_t j = 0; j < w->st[i]->tasks[k]->n_timers; j++) {
                    const Baton__V1__PendingTimer *p = w->st[i]->tasks[k]->timers[j];
                    if (p->due_at_ms <= t && (!bp || p->due_at_ms < bp->due_at_ms)) {
                        bs = w->st[i];
                        bt = w->st[i]->tasks[k];
                        bp = p;
                    }
                }
        if (!bp)
            return fired;
        ASSERT_EQ_INT(pw_step(w, timer_env(w, bs, bt, bp, bp->due_at_ms)), 0);
        fired++;
    }
}

Baton__V1__TaskState *pw_task(pw_world_t *w, size_t inst, const char *stage)
{
    ASSERT_TRUE(inst < w->n);
    for (size_t i = 0; i < w->st[inst]->n_tasks; i++)
        if (strcmp(w->st[inst]->tasks[i]->stage, stage) == 0)
            return w->st[inst]->tasks[i];
    TEST_FAIL("no stage %s", stage);
    return NULL;
}

size_t pw_count(const baton_outputs_t *o, const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n; i++)
        n += strcmp(o->items[i].env->type, type) == 0;
    return n;
}

const Baton__V1__Envelope *pw_find(const baton_outputs_t *o, const char *type, size_t nth)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->items[i].env->type, type) == 0 && nth-- == 0)
            return o->items[i].env;
    TEST_FAIL("no output #%zu of type %s", nth, type);
    return NULL;
}

char *pw_types(const baton_outputs_t *o)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "");
    for (size_t i = 0; i < o->n; i++)
        baton_buf_appendf(&b, "%s%s", i ? " " : "", o->items[i].env->type);
    return baton_buf_steal(&b);
}
