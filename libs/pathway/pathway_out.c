/* pathway_out.c — building output Envelopes (deterministic ids, copied routing fields), the
 * notification and coverage-gap outputs, and the InstanceState codec. */
#include <stdlib.h>
#include <string.h>

#include "pathway_int.h"

char *baton_pathway__xstr(const char *s)
{
    return baton_xstrdup(s ? s : "");
}

void baton_pathway__setstr(char **field, const char *s)
{
    char *old = *field;
    *field = baton_pathway__xstr(s);
    if (old && old != protobuf_c_empty_string)
        free(old);
}

void baton_outputs_free(baton_outputs_t *o)
{
    if (!o)
        return;
    for (size_t i = 0; !o->arena && i < o->n; i++) {
        protobuf_c_message_free_unpacked(&o->items[i].env->base, NULL);
        free(o->items[i].purpose);
    }
    free(o->items);
    o->items = NULL;
    o->n = o->cap = 0;
}

/* Append and return a fresh Envelope routed like the instance (or, without one, like the
 * input). Its id is derived from the input id and a purpose naming the instance, the output
 * type and the stage, plus an ordinal among outputs with that same base in this batch: unique
 * within the input's outputs, and stable across replays. */
Baton__V1__Envelope *baton_pathway__env(baton_mctx_t *m, const char *topic, const char *type,
                                        const char *stage)
{
    const Baton__V1__InstanceState *st = m->st;
    /* purpose = "<instance|->/<type>/<stage|->#<ordinal>", built without printf */
    const char *parts[3] = {st ? st->instance_id : "-", type, stage ? stage : "-"};
    size_t plen[3], blen = 2;
    for (int i = 0; i < 3; i++)
        blen += plen[i] = strlen(parts[i]);
    char *purpose = baton_pathway__oalloc(m, blen + 24);
    char *w = purpose;
    for (int i = 0; i < 3; i++) {
        if (i)
            *w++ = '/';
        memcpy(w, parts[i], plen[i]);
        w += plen[i];
    }
    *w = '\0';
    size_t ord = 0;
    for (size_t i = 0; i < m->out->n; i++) {
        const char *p = m->out->items[i].purpose;
        if (strncmp(p, purpose, blen) == 0 && p[blen] == '#')
            ord++;
    }
    char digits[24], *d = digits + sizeof digits;
    do
        *--d = (char)('0' + ord % 10);
    while (ord /= 10);
    *w++ = '#';
    memcpy(w, d, (size_t)(digits + sizeof digits - d));
    w[digits + sizeof digits - d] = '\0';

    Baton__V1__Envelope *e = baton_pathway__oalloc(m, sizeof(*e));
    baton__v1__envelope__init(e);
    char id[BATON_ID_LEN];
    baton_derived_id(m->in->id, purpose, id);
    e->id = baton_pathway__ostr(m, id);
    e->type = baton_pathway__ostr(m, type);
    e->tenant = baton_pathway__ostr(m, st ? st->tenant : m->in->tenant);
    e->facility = baton_pathway__ostr(m, st ? st->facility : m->in->facility);
    e->unit = baton_pathway__ostr(m, st ? st->unit : m->in->unit);
    e->correlation_key = baton_pathway__ostr(m, st ? st->correlation_key : m->in->correlation_key);
    e->occurred_at_ms = m->now;
    e->recorded_at_ms = m->now;
    e->causation_id = baton_pathway__ostr(m, m->in->id);
    e->producer = baton_pathway__ostr(m, "router");
    e->traceparent = baton_pathway__ostr(m, m->in->traceparent);
    e->schema_version = 1;

    baton_outputs_t *o = m->out;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->items = baton_xrealloc(o->items, o->cap * sizeof(*o->items));
    }
    o->items[o->n++] = (baton_output_t){topic, e, purpose};
    return e;
}

void baton_pathway__rekeyed_copy(baton_mctx_t *m, const char *key)
{
    const Baton__V1__Envelope *in = m->in;
    const Baton__V1__ClinicalEvent *c = in->clinical;
    m->st = NULL;
    /* id derived from the input's ("-/<type>/@patient#0"): a replay copies it again with the
     * same id, which the instances it reaches have already applied */
    const char *type = in->type && *in->type ? in->type : c->event_type;
    Baton__V1__Envelope *e = baton_pathway__env(m, BATON_TOPIC_INBOUND, type, "@patient");
    if (!m->out->arena) /* the input's key, copied by baton_pathway__env */
        free(e->correlation_key);
    e->correlation_key = baton_pathway__ostr(m, key);
    e->occurred_at_ms = in->occurred_at_ms;
    Baton__V1__ClinicalEvent *ce = baton_pathway__oalloc(m, sizeof(*ce));
    baton__v1__clinical_event__init(ce);
    ce->event_type = baton_pathway__ostr(m, c->event_type);
    ce->patient = baton_pathway__ostr(m, c->patient);
    ce->encounter = baton_pathway__ostr(m, c->encounter);
    ce->source = baton_pathway__ostr(m, c->source);
    ce->source_message_id = baton_pathway__ostr(m, c->source_message_id);
    ce->n_attributes = c->n_attributes;
    ce->attributes = baton_pathway__oalloc(m, (c->n_attributes + 1) * sizeof(*ce->attributes));
    for (size_t i = 0; i < c->n_attributes; i++) {
        Baton__V1__ClinicalEvent__AttributesEntry *a = baton_pathway__oalloc(m, sizeof(*a));
        baton__v1__clinical_event__attributes_entry__init(a);
        a->key = baton_pathway__ostr(m, c->attributes[i]->key);
        a->value = baton_pathway__ostr(m, c->attributes[i]->value);
        ce->attributes[i] = a;
    }
    e->body_case = BATON__V1__ENVELOPE__BODY_CLINICAL;
    e->clinical = ce;
}

Baton__V1__TaskRef *baton_pathway__taskref(baton_mctx_t *m, const Baton__V1__TaskState *t)
{
    Baton__V1__TaskRef *r = baton_pathway__oalloc(m, sizeof(*r));
    baton__v1__task_ref__init(r);
    r->task_id = baton_pathway__ostr(m, t->task_id);
    r->instance_id = baton_pathway__ostr(m, m->st->instance_id);
    r->pathway = baton_pathway__ostr(m, m->st->pathway);
    r->pathway_version = m->st->pathway_version;
    r->stage = baton_pathway__ostr(m, t->stage);
    r->role = baton_pathway__ostr(m, t->role);
    r->status = baton_pathway__ostr(m, t->status);
    r->owner = baton_pathway__ostr(m, t->owner);
    r->escalation_level = t->escalation_level;
    return r;
}

void baton_pathway__notify(baton_mctx_t *m, const Baton__V1__TaskState *t, const char *person,
                           const char *kind, int urgent)
{
    if (!person || !*person)
        return;
    Baton__V1__Envelope *e =
        baton_pathway__env(m, BATON_TOPIC_NOTIFY, "notification.requested", t->stage);
    Baton__V1__NotificationRequest *n = baton_pathway__oalloc(m, sizeof(*n));
    baton__v1__notification_request__init(n);
    n->notification_id = baton_pathway__ostr(m, e->id);
    n->person = baton_pathway__ostr(m, person);
    n->kind = baton_pathway__ostr(m, kind);
    n->task_id = baton_pathway__ostr(m, t->task_id);
    n->instance_id = baton_pathway__ostr(m, m->st->instance_id);
    n->pathway = baton_pathway__ostr(m, m->st->pathway);
    n->stage = baton_pathway__ostr(m, t->stage);
    n->level = t->escalation_level;
    n->urgent = urgent;
    int si = baton_pathway_stage_index(m->def, t->stage);
    n->stage_title = baton_pathway__ostr(m, si >= 0 ? m->def->stages[si].title : t->stage);
    n->pathway_title = baton_pathway__ostr(m, m->def->title);
    n->created_at_ms = m->now;
    e->body_case = BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST;
    e->notification_request = n;
}

void baton_pathway__coverage_gap(baton_mctx_t *m, const Baton__V1__TaskState *t, const char *role,
                                 const char *scope)
{
    Baton__V1__Envelope *e = baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "coverage.gap", t->stage);
    Baton__V1__CoverageGap *g = baton_pathway__oalloc(m, sizeof(*g));
    baton__v1__coverage_gap__init(g);
    g->instance_id = baton_pathway__ostr(m, m->st->instance_id);
    g->task_id = baton_pathway__ostr(m, t->task_id);
    g->role = baton_pathway__ostr(m, role);
    g->scope = baton_pathway__ostr(m, scope);
    g->at_ms = m->now;
    e->body_case = BATON__V1__ENVELOPE__BODY_COVERAGE_GAP;
    e->coverage_gap = g;
}

void baton_pathway__reassigned(baton_mctx_t *m, const Baton__V1__TaskState *t, const char *from,
                               const char *actor, const char *reason)
{
    Baton__V1__Envelope *e =
        baton_pathway__env(m, BATON_TOPIC_LIFECYCLE, "task.reassigned", t->stage);
    Baton__V1__TaskReassigned *r = baton_pathway__oalloc(m, sizeof(*r));
    baton__v1__task_reassigned__init(r);
    r->task = baton_pathway__taskref(m, t);
    r->from_person = baton_pathway__ostr(m, from);
    r->to_person = baton_pathway__ostr(m, t->owner);
    r->actor = baton_pathway__ostr(m, actor);
    r->reason = baton_pathway__ostr(m, reason);
    e->body_case = BATON__V1__ENVELOPE__BODY_TASK_REASSIGNED;
    e->task_reassigned = r;
}

/* ---- state codec ---- */

uint8_t *baton_pathway_state_pack(const Baton__V1__InstanceState *s, size_t *len_out)
{
    size_t len = baton__v1__instance_state__get_packed_size(s);
    uint8_t *buf = baton_xmalloc(len ? len : 1);
    *len_out = baton__v1__instance_state__pack(s, buf);
    return buf;
}

Baton__V1__InstanceState *baton_pathway_state_unpack(const uint8_t *data, size_t len)
{
    return baton__v1__instance_state__unpack(NULL, len, data);
}

Baton__V1__InstanceState *baton_pathway_state_dup(const Baton__V1__InstanceState *s)
{
    size_t len;
    uint8_t *buf = baton_pathway_state_pack(s, &len);
    Baton__V1__InstanceState *c = baton_pathway_state_unpack(buf, len);
    free(buf);
    if (!c)
        abort(); /* what we just packed always unpacks, unless memory ran out */
    return c;
}

void baton_pathway_state_free(Baton__V1__InstanceState *s)
{
    if (s)
        baton__v1__instance_state__free_unpacked(s, NULL);
}

Baton__V1__TaskState *baton_pathway_state_task(const Baton__V1__InstanceState *s,
                                               const char *task_id)
{
    for (size_t i = 0; s && task_id && i < s->n_tasks; i++)
        if (strcmp(s->tasks[i]->task_id, task_id) == 0)
            return s->tasks[i];
    return NULL;
}

void baton_pathway_group_free(baton_pathway_group_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        baton_pathway_state_free(g->states[i]);
    free(g->states);
    free(g->changed);
    g->states = NULL;
    g->changed = NULL;
    g->n = 0;
}
