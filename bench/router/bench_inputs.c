/* bench_inputs.c — see bench_inputs.h. */
#include "bench_inputs.h"

#include "baton/core.h"

Baton__V1__Envelope *bench_envelope(const char *id, const char *type, int64_t at, const char *enc,
                                    const char *traceparent)
{
    Baton__V1__Envelope *e = baton_xmalloc(sizeof(*e));
    baton__v1__envelope__init(e);
    e->id = baton_xstrdup(id);
    e->type = baton_xstrdup(type);
    e->tenant = baton_xstrdup("acme");
    e->facility = baton_xstrdup("F1");
    e->unit = baton_xstrdup("4W");
    e->correlation_key = baton_xasprintf("acme/%s", enc);
    e->occurred_at_ms = e->recorded_at_ms = at;
    e->producer = baton_xstrdup("ingest");
    if (traceparent)
        e->traceparent = baton_xstrdup(traceparent);
    e->schema_version = 1;
    return e;
}

Baton__V1__Envelope *bench_clinical(const char *id, const char *type, int64_t at, const char *enc,
                                    const char *traceparent, const char *const *attrs)
{
    Baton__V1__Envelope *e = bench_envelope(id, type, at, enc, traceparent);
    Baton__V1__ClinicalEvent *c = baton_xmalloc(sizeof(*c));
    baton__v1__clinical_event__init(c);
    c->event_type = baton_xstrdup(type);
    c->patient = baton_xasprintf("P%s", enc);
    c->encounter = baton_xstrdup(enc);
    size_t n = 0;
    while (attrs && attrs[2 * n])
        n++;
    c->attributes = baton_xcalloc(n ? n : 1, sizeof(*c->attributes));
    for (size_t i = 0; i < n; i++) {
        c->attributes[i] = baton_xmalloc(sizeof(**c->attributes));
        baton__v1__clinical_event__attributes_entry__init(c->attributes[i]);
        c->attributes[i]->key = baton_xstrdup(attrs[2 * i]);
        c->attributes[i]->value = baton_xstrdup(attrs[2 * i + 1]);
    }
    c->n_attributes = n;
    e->body_case = BATON__V1__ENVELOPE__BODY_CLINICAL;
    e->clinical = c;
    return e;
}

Baton__V1__Envelope *bench_staff(const char *id, int64_t at, const char *enc,
                                 const char *traceparent, const char *iid, const char *tid,
                                 Baton__V1__Action action, const char *actor, const char *role,
                                 const char *to, const char *note)
{
    Baton__V1__Envelope *e = bench_envelope(id, "staff.action", at, enc, traceparent);
    Baton__V1__StaffAction *a = baton_xmalloc(sizeof(*a));
    baton__v1__staff_action__init(a);
    a->task_id = baton_xstrdup(tid);
    a->instance_id = baton_xstrdup(iid);
    a->action = action;
    a->actor = baton_xstrdup(actor);
    a->n_actor_roles = 1;
    a->actor_roles = baton_xmalloc(sizeof(char *));
    a->actor_roles[0] = baton_xstrdup(role);
    if (to)
        a->to_person = baton_xstrdup(to);
    if (note)
        a->note = baton_xstrdup(note);
    e->body_case = BATON__V1__ENVELOPE__BODY_STAFF_ACTION;
    e->staff_action = a;
    return e;
}
