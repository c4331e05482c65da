/* router_step.c — the compute phase of a batch: load what the inputs concern, run each input
 * through the machine in order (later inputs of a key see what earlier ones left), collect
 * the outputs, and turn what cannot be processed into dead letters. No output leaves here:
 * router_batch.c produces, writes and commits. */
#include <stdlib.h>
#include <string.h>

#include "baton/log.h"
#include "router_batch.h"

/* ---------------------------------------------------------------- dead letters */

/* The outputs live in the batch's arena (b->outs.arena). */
static char *astr(router_batch_t *b, const char *s)
{
    return baton_pathway_arena_strdup(b->outs.arena, s);
}

static void *aalloc(router_batch_t *b, size_t n)
{
    return baton_pathway_arena_alloc(b->outs.arena, n);
}

/* The key as a string when it is printable, else "". */
static char *printable(router_batch_t *b, const void *p, size_t len)
{
    const unsigned char *s = p;
    for (size_t i = 0; s && i < len; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return astr(b, "");
    if (!s)
        return astr(b, "");
    char *out = aalloc(b, len + 1);
    if (len)
        memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static void push_output(baton_outputs_t *o, const char *topic, Baton__V1__Envelope *e,
                        char *purpose)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->items = baton_xrealloc(o->items, o->cap * sizeof(*o->items));
    }
    o->items[o->n++] = (baton_output_t){topic, e, purpose};
}

void router_dead_letter(router_batch_t *b, router_input_t *in, const char *reason)
{
    const baton_kafka_message_t *m = in->msg;
    const Baton__V1__Envelope *src = in->env;
    char id[BATON_ID_LEN];
    char *parent = src && src->id && *src->id
                       ? baton_xstrdup(src->id)
                       : baton_xasprintf("kafka:%s:%d:%lld", m->topic, (int)m->partition,
                                         (long long)m->offset);
    baton_derived_id(parent, "dead_letter", id);
    free(parent);
    Baton__V1__Envelope *e = aalloc(b, sizeof(*e));
    baton__v1__envelope__init(e);
    e->id = astr(b, id);
    e->type = astr(b, "dead_letter");
    e->tenant = astr(b, src && src->tenant ? src->tenant : "");
    e->correlation_key = printable(b, m->key, m->key_len);
    int64_t t = src ? baton_pathway_input_time(src) : m->timestamp_ms;
    e->occurred_at_ms = e->recorded_at_ms = t > 0 ? t : 0;
    e->causation_id = astr(b, src && src->id ? src->id : "");
    e->producer = astr(b, "router");
    e->schema_version = 1;
    Baton__V1__DeadLetter *d = aalloc(b, sizeof(*d));
    baton__v1__dead_letter__init(d);
    d->original_topic = astr(b, m->topic);
    d->original_key = astr(b, e->correlation_key);
    d->original_event_id = astr(b, src && src->id ? src->id : "");
    d->reason = astr(b, reason);
    d->attempts = 1;
    d->payload.len = m->value_len;
    d->payload.data = aalloc(b, m->value_len ? m->value_len : 1);
    if (m->value_len)
        memcpy(d->payload.data, m->value, m->value_len);
    e->body_case = BATON__V1__ENVELOPE__BODY_DEAD_LETTER;
    e->dead_letter = d;
    push_output(&b->outs, BATON_TOPIC_DLQ, e, astr(b, "dead_letter"));
    baton_counter_inc(b->r->m.dead_letters);
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv(&f, "topic", m->topic);
    baton_log_kv_int(&f, "partition", m->partition);
    baton_log_kv_int(&f, "offset", m->offset);
    baton_log_kv(&f, "dead_letter_id", id);
    BATON_LOG(BATON_LOG_WARN, f.data, "input dead-lettered: %s", reason);
    baton_buf_free(&f);
}

/* ---------------------------------------------------------------- what an input concerns */

/* The correlation keys a clinical event may concern: its own (the machine applies an event
 * only on the key it came with: "Events of one patient" in libs/pathway/pathway_step.c), or,
 * for an event without one, tenant/encounter and tenant/patient. Up to 2 fresh strings
 * (caller frees). */
static size_t clinical_keys(const Baton__V1__Envelope *e, char *out[2])
{
    size_t n = 0;
    const char *t = e->tenant ? e->tenant : "";
    if (e->correlation_key && *e->correlation_key) {
        out[n++] = baton_xstrdup(e->correlation_key);
        return n;
    }
    const char *ids[2] = {e->clinical->encounter, e->clinical->patient};
    for (int i = 0; i < 2; i++) {
        if (!*t || !ids[i] || !*ids[i])
            continue;
        char *k = baton_xasprintf("%s/%s", t, ids[i]);
        int dup = 0;
        for (size_t j = 0; j < n; j++)
            dup |= strcmp(out[j], k) == 0;
        if (dup)
            free(k);
        else
            out[n++] = k;
    }
    return n;
}

static void target_of(const Baton__V1__Envelope *e, const char **iid, const char **tid)
{
    if (e->body_case == BATON__V1__ENVELOPE__BODY_STAFF_ACTION && e->staff_action) {
        *iid = e->staff_action->instance_id;
        *tid = e->staff_action->task_id;
    } else if (e->body_case == BATON__V1__ENVELOPE__BODY_TIMER_FIRED && e->timer_fired) {
        *iid = e->timer_fired->instance_id;
        *tid = e->timer_fired->task_id;
    } else {
        *iid = *tid = NULL;
    }
}

typedef struct {
    char **v;
    size_t n;
} strv_t;

static void strv_push(strv_t *s, char *owned)
{
    s->v = router_grow(s->v, s->n, sizeof(char *));
    s->v[s->n++] = owned;
}

static void strv_free(strv_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

#define TRIGGERS_MAX 64

/* The ids of the instances a clinical event starts as a trigger (up to TRIGGERS_MAX): loaded
 * with the input whatever their status, so that a trigger delivered again after its instance
 * closed (and left its correlation set) is seen as the replay it is. */
static size_t trigger_instances(const baton_pathway_set_t *set, const Baton__V1__Envelope *e,
                                char ids[TRIGGERS_MAX][BATON_ID_LEN])
{
    const baton_pathway_def_t *defs[TRIGGERS_MAX];
    size_t n = baton_pathway_match_triggers(set, e, defs, TRIGGERS_MAX);
    if (n > TRIGGERS_MAX)
        n = TRIGGERS_MAX;
    for (size_t i = 0; i < n; i++)
        baton_pathway_instance_id(defs[i], e->id, ids[i]);
    return n;
}

/* Queue what input `in` needs loaded into the three lists. */
static void wants(const baton_pathway_set_t *set, const router_input_t *in, strv_t *keys,
                  strv_t *ids, strv_t *tasks)
{
    const Baton__V1__Envelope *e = in->env;
    if (in->skip || !e)
        return;
    if (e->body_case == BATON__V1__ENVELOPE__BODY_CLINICAL && e->clinical) {
        char *k[2];
        size_t n = clinical_keys(e, k);
        for (size_t i = 0; i < n; i++)
            strv_push(keys, k[i]);
        char tid[TRIGGERS_MAX][BATON_ID_LEN];
        n = trigger_instances(set, e, tid);
        for (size_t i = 0; i < n; i++)
            strv_push(ids, baton_xstrdup(tid[i]));
        return;
    }
    const char *iid, *tid;
    target_of(e, &iid, &tid);
    if (iid && *iid)
        strv_push(ids, baton_xstrdup(iid));
    else if (tid && *tid)
        strv_push(tasks, baton_xstrdup(tid));
}

static int load_for(router_batch_t *b, router_input_t *const *ins, size_t n)
{
    strv_t keys = {0}, ids = {0}, tasks = {0};
    for (size_t i = 0; i < n; i++)
        wants(b->r->set, ins[i], &keys, &ids, &tasks);
    int rc = router_store_load(b->r->redis, &b->r->cache, b->gen, keys.v, keys.n, ids.v, ids.n,
                               tasks.v, tasks.n, b->err, sizeof b->err);
    strv_free(&keys);
    strv_free(&ids);
    strv_free(&tasks);
    return rc;
}

/* ---------------------------------------------------------------- states of an input */

typedef struct {
    Baton__V1__InstanceState **v;
    size_t n;
} states_t;

static void states_add(states_t *s, Baton__V1__InstanceState *st)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == st)
            return;
    s->v = baton_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = st;
}

static void states_of(router_batch_t *b, const Baton__V1__Envelope *e, states_t *out)
{
    router_cache_t *c = &b->r->cache;
    if (e->body_case == BATON__V1__ENVELOPE__BODY_CLINICAL && e->clinical) {
        char *k[2];
        size_t n = clinical_keys(e, k);
        for (size_t i = 0; i < n; i++) {
            router_idlist_t *l = router_map_get(&c->corr, k[i]);
            for (size_t j = 0; l && j < l->n; j++) {
                router_inst_t *x = router_map_get(&c->inst, l->ids[j]);
                if (x && x->st)
                    states_add(out, x->st);
            }
            free(k[i]);
        }
        char tid[TRIGGERS_MAX][BATON_ID_LEN];
        n = trigger_instances(b->r->set, e, tid);
        for (size_t i = 0; i < n; i++) {
            router_inst_t *x = router_map_get(&c->inst, tid[i]);
            if (x && x->st)
                states_add(out, x->st);
        }
        return;
    }
    const char *iid, *tid;
    target_of(e, &iid, &tid);
    if ((!iid || !*iid) && tid && *tid) {
        router_taskref_t *tr = router_map_get(&c->task, tid);
        iid = tr ? tr->instance_id : NULL;
    }
    router_inst_t *x = iid && *iid ? router_map_get(&c->inst, iid) : NULL;
    if (x && x->st)
        states_add(out, x->st);
}

/* An instance whose (pathway, version) is no longer loaded cannot run: the input is kept in
 * the DLQ for operators (the machine itself then leaves the instance alone). */
static const Baton__V1__InstanceState *frozen(const router_batch_t *b, const states_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i]->status, BATON_INSTANCE_ACTIVE) == 0 &&
            !baton_pathway_get(b->r->set, s->v[i]->pathway, s->v[i]->pathway_version))
            return s->v[i];
    return NULL;
}

/* ---------------------------------------------------------------- applying the results */

static void index_new(router_cache_t *c, const Baton__V1__InstanceState *st, uint64_t gen)
{
    router_idlist_t *l = router_map_get(&c->corr, st->correlation_key);
    if (!l) {
        l = baton_xcalloc(1, sizeof(*l));
        router_map_put(&c->corr, st->correlation_key, l);
    }
    l->gen = gen;
    l->ids = baton_xrealloc(l->ids, (l->n + 1) * sizeof(char *));
    l->ids[l->n++] = baton_xstrdup(st->instance_id);
    for (size_t i = 0; i < st->n_tasks; i++) {
        router_taskref_t *tr = router_map_get(&c->task, st->tasks[i]->task_id);
        if (!tr) {
            tr = baton_xcalloc(1, sizeof(*tr));
            router_map_put(&c->task, st->tasks[i]->task_id, tr);
        }
        free(tr->instance_id);
        tr->instance_id = baton_xstrdup(st->instance_id);
        tr->gen = gen;
    }
}

/* Take what an input did into the cache: the stored states it changed in place (states[i]
 * with changed[i]: the cache's own, now dirty) and the instances it started (fresh, moved in). */
static void absorb(router_cache_t *c, Baton__V1__InstanceState *const *states, const int *changed,
                   size_t n, baton_pathway_group_t *fresh, uint64_t gen)
{
    for (size_t i = 0; i < n; i++) {
        if (!changed[i])
            continue;
        router_inst_t *x = router_map_get(&c->inst, states[i]->instance_id);
        if (x) { /* states come from the cache, filed under their instance id */
            x->dirty = true;
            x->gen = gen;
        }
    }
    for (size_t i = 0; i < fresh->n; i++) {
        Baton__V1__InstanceState *st = fresh->states[i];
        fresh->states[i] = NULL;
        router_inst_t *x = router_map_get(&c->inst, st->instance_id);
        if (!x) {
            x = baton_xcalloc(1, sizeof(*x));
            router_map_put(&c->inst, st->instance_id, x);
        }
        if (!x->st && !x->stored)
            index_new(c, st, gen);
        baton_pathway_state_free(x->st);
        x->st = st;
        x->dirty = true;
        x->gen = gen;
    }
}

void router_count_input(router_metrics_t *m, const Baton__V1__Envelope *e)
{
    switch (e->body_case) {
    case BATON__V1__ENVELOPE__BODY_CLINICAL:
        baton_counter_inc(m->in_clinical);
        break;
    case BATON__V1__ENVELOPE__BODY_STAFF_ACTION:
        baton_counter_inc(m->in_staff);
        break;
    case BATON__V1__ENVELOPE__BODY_TIMER_FIRED:
        baton_counter_inc(m->in_timer);
        break;
    default:
        baton_counter_inc(m->in_invalid);
    }
}

/* One input: 0, or an I/O failure of the resolver (the batch is retried). */
static int step_one(router_batch_t *b, router_input_t *in)
{
    if (!in->env) {
        router_dead_letter(b, in, in->reason);
        return 0;
    }
    states_t s = {0};
    states_of(b, in->env, &s);
    const Baton__V1__InstanceState *fz = frozen(b, &s);
    if (fz) {
        char reason[200];
        snprintf(reason, sizeof reason,
                 "instance %s runs pathway %s version %u, which is not loaded", fz->instance_id,
                 fz->pathway, fz->pathway_version);
        router_dead_letter(b, in, reason);
    }
    baton_pathway_group_t fresh;
    baton_resolver_t res = router_roster_resolver(&b->r->roster);
    size_t before = b->outs.n;
    int *changed = baton_xcalloc(s.n ? s.n : 1, sizeof(int));
    /* in place: the states are the cache's (a failed step leaves them as they were) */
    int rc = baton_pathway_step_inplace(b->r->set, s.v, s.n, in->env, &res, changed, &fresh,
                                        &b->outs, b->err, sizeof b->err);
    if (rc == 0)
        absorb(&b->r->cache, s.v, changed, s.n, &fresh, b->gen);
    free(changed);
    free(s.v);
    if (rc && b->r->roster.io_failed) {
        snprintf(b->err, sizeof b->err, "%s", b->r->roster.err);
        return b->r->roster.io_failed;
    }
    if (rc) {
        if (!fz)
            router_dead_letter(b, in, b->err);
        return 0;
    }
    baton_pathway_group_free(&fresh);
    for (size_t i = before; i < b->outs.n; i++)
        if (strcmp(b->outs.items[i].topic, BATON_TOPIC_LIFECYCLE) == 0)
            baton_counter_inc(router_metrics_transition(&b->r->m, b->outs.items[i].env->type));
    return 0;
}

int router_compute(router_batch_t *b)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    router_input_t **live = baton_xcalloc(b->n ? b->n : 1, sizeof(*live));
    size_t nlive = 0;
    for (size_t i = 0; i < b->n; i++) {
        router_input_t *in = &b->in[i];
        if (in->skip)
            continue;
        live[nlive++] = in;
        if (in->env) {
            int64_t t = baton_pathway_input_time(in->env);
            lo = t < lo ? t : lo;
            hi = t > hi ? t : hi;
        }
    }
    router_roster_reset(&b->r->roster, lo, hi);
    int rc = load_for(b, live, nlive);
    /* everything an input can concern is loaded now: what the batch itself creates is added
     * to the cache as it goes (new instances, their correlation keys and tasks) */
    for (size_t i = 0; i < nlive && rc == 0; i++)
        rc = step_one(b, live[i]);
    free(live);
    return rc;
}
