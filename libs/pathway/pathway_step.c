/* pathway_step.c — the step functions: which instances an input concerns (by correlation key,
 * or by instance / task id for staff actions and timers), dedup of applied event ids, and
 * baton_pathway_step / baton_pathway_step_inplace around the machine (pathway_machine.c).
 * Pure: no clock, no I/O except through the caller's resolver. */
#include <stdlib.h>
#include <string.h>

#include "pathway_int.h"

#define APPLIED_MAX 256 /* event ids an instance remembers for dedup */
#define TRIGGERS_MAX 64

static int applied(const Baton__V1__InstanceState *s, const char *id)
{
    return baton_pathway__in_list(s->applied_event_ids, s->n_applied_event_ids, id);
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

/* ---- Events of one patient.
 * Ingest keys a clinical event (its Kafka key, the envelope's correlation_key) by
 * tenant/encounter, or tenant/patient when it has no encounter, so every event of an
 * encounter-correlated instance shares one partition. A pathway correlated by patient needs
 * the same for tenant/patient, but one patient's events carry different encounters. So an
 * input is applied, pathway by pathway, only on the key that pathway correlates it by, and an
 * event keyed by encounter that also names a patient is copied once more onto
 * baton.inbound.v1 under tenant/patient when any loaded pathway correlates by patient: every
 * event of one instance is then applied on one partition, in order, by one router — also with
 * several routers in a group. An input without a correlation_key (a caller of this lib that
 * does not partition) is applied on every key and copied nowhere. */

/* key == tenant + "/" + id */
static int key_is(const char *key, const char *tenant, const char *id)
{
    size_t tl = strlen(tenant);
    return strncmp(key, tenant, tl) == 0 && key[tl] == '/' && strcmp(key + tl + 1, id) == 0;
}

/* Is the input on the key def correlates it by? */
static int on_key(const baton_pathway_def_t *def, const Baton__V1__Envelope *in)
{
    if (!in->correlation_key || !*in->correlation_key)
        return 1;
    const char *id = baton_pathway__correlation_id(def, in);
    return in->tenant && id && *id && key_is(in->correlation_key, in->tenant, id);
}

/* tenant/patient when the input must be copied under it (see above), else NULL (caller frees) */
static char *patient_copy_key(const baton_pathway_set_t *set, const Baton__V1__Envelope *in)
{
    const char *p = in->clinical->patient;
    if (!in->correlation_key || !*in->correlation_key || !in->tenant || !*in->tenant || !p || !*p ||
        key_is(in->correlation_key, in->tenant, p))
        return NULL;
    for (size_t i = 0; i < set->n; i++)
        if (set->defs[i]->correlation == BATON_CORRELATE_PATIENT)
            return baton_xasprintf("%s/%s", in->tenant, p);
    return NULL;
}

/* Does a clinical event belong to the instance? Same tenant and the same correlation id, on
 * that id's key: the caller may hand over more instances than the event's key. */
static int concerns(const baton_pathway_def_t *def, const Baton__V1__InstanceState *s,
                    const Baton__V1__Envelope *in)
{
    const char *id = baton_pathway__correlation_id(def, in);
    const char *mine = def->correlation == BATON_CORRELATE_PATIENT ? s->patient : s->encounter;
    return in->tenant && strcmp(in->tenant, s->tenant) == 0 && id && strcmp(id, mine) == 0 &&
           on_key(def, in);
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
        int rc = apply_one(m, w, i, s, baton_pathway__clinical, &g->changed[i]);
        if (rc)
            return rc;
    }
    const baton_pathway_def_t *defs[TRIGGERS_MAX];
    size_t nd = baton_pathway_match_triggers(set, m->in, defs, TRIGGERS_MAX);
    for (size_t k = 0; k < nd && k < TRIGGERS_MAX; k++) {
        if (!on_key(defs[k], m->in))
            continue; /* started from its copy under tenant/patient */
        char *key = baton_pathway_correlation_key(defs[k], m->in);
        char id[BATON_ID_LEN];
        baton_pathway_instance_id(defs[k], m->in->id, id);
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
            baton_pathway__new_instance(m, key);
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
    char *copy_key = patient_copy_key(set, m->in);
    if (copy_key)
        baton_pathway__rekeyed_copy(m, copy_key);
    free(copy_key);
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
