/* The resolution rule over in-memory shifts (the Redis path fetches candidates and calls this),
 * and the GET /v1/oncall answer. */
#include "roster_internal.h"

#include <stdlib.h>
#include <string.h>

const char *baton_roster_why_name(baton_roster_why_t w)
{
    switch (w) {
    case BATON_ROSTER_UNIT_SHIFT:
        return "unit_shift";
    case BATON_ROSTER_FACILITY_SHIFT:
        return "facility_shift";
    default:
        return "none";
    }
}

int baton_roster__query_ok(const baton_roster_query_t *q)
{
    return q && q->tenant && *q->tenant && q->facility && *q->facility && q->role && *q->role;
}

int baton_roster__query_storable(const baton_roster_query_t *q)
{
    return baton_roster_tenant_ok(q->tenant) && baton_roster_ident_ok(q->facility) &&
           baton_roster_ident_ok(q->role) &&
           (!q->unit || !*q->unit || baton_roster_ident_ok(q->unit));
}

/* Does s cover the query, and as what (NONE = no). */
static baton_roster_why_t covers(const baton_roster_query_t *q, const baton_roster_shift_t *s)
{
    if (strcmp(s->tenant, q->tenant) || strcmp(s->facility, q->facility) ||
        strcmp(s->role, q->role) || !(s->start_ms <= q->at_ms && q->at_ms < s->end_ms))
        return BATON_ROSTER_NONE;
    if (!s->unit[0])
        return BATON_ROSTER_FACILITY_SHIFT;
    if (q->unit && !strcmp(s->unit, q->unit))
        return BATON_ROSTER_UNIT_SHIFT;
    return BATON_ROSTER_NONE;
}

typedef struct {
    baton_roster_shift_t s;
    baton_roster_why_t why;
} cand_t;

static int cand_cmp(const void *pa, const void *pb)
{
    const cand_t *a = pa, *b = pb;
    if (a->why != b->why)
        return a->why == BATON_ROSTER_UNIT_SHIFT ? -1 : 1;
    if (a->s.tier != b->s.tier)
        return a->s.tier < b->s.tier ? -1 : 1;
    if (a->s.start_ms != b->s.start_ms)
        return a->s.start_ms < b->s.start_ms ? -1 : 1;
    int c = strcmp(a->s.person, b->s.person);
    return c ? c : strcmp(a->s.id, b->s.id);
}

/* The covering candidates in resolution order (caller frees). */
static cand_t *ranked(const baton_roster_query_t *q, const baton_roster_shift_t *shifts, size_t n,
                      size_t *nout)
{
    cand_t *c = baton_xcalloc(n ? n : 1, sizeof *c);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        baton_roster_why_t w = covers(q, &shifts[i]);
        if (w != BATON_ROSTER_NONE)
            c[k++] = (cand_t){shifts[i], w};
    }
    qsort(c, k, sizeof *c, cand_cmp);
    *nout = k;
    return c;
}

int baton_roster_rank(const baton_roster_query_t *q, const baton_roster_shift_t *shifts, size_t n,
                      baton_roster_shift_t **out, baton_roster_why_t **whys, size_t *nout)
{
    if (!baton_roster__query_ok(q))
        return BATON_EINVAL;
    size_t k;
    cand_t *c = ranked(q, shifts, n, &k);
    *out = baton_xcalloc(k ? k : 1, sizeof **out);
    if (whys)
        *whys = baton_xcalloc(k ? k : 1, sizeof **whys);
    for (size_t i = 0; i < k; i++) {
        (*out)[i] = c[i].s;
        if (whys)
            (*whys)[i] = c[i].why;
    }
    *nout = k;
    free(c);
    return 0;
}

static int excluded(const baton_roster_query_t *q, const char *person)
{
    for (size_t i = 0; q->exclude && i < q->nexclude; i++)
        if (q->exclude[i] && !strcmp(q->exclude[i], person))
            return 1;
    return 0;
}

/* The first candidate not excluded, or NULL. */
static const cand_t *pick(const baton_roster_query_t *q, const cand_t *c, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (!excluded(q, c[i].s.person))
            return &c[i];
    return NULL;
}

static void fill(const cand_t *w, baton_roster_resolution_t *out)
{
    memset(out, 0, sizeof *out);
    if (!w)
        return; /* why = NONE, person "" */
    out->why = w->why;
    memcpy(out->person, w->s.person, sizeof out->person);
    memcpy(out->shift_id, w->s.id, sizeof out->shift_id);
    out->tier = w->s.tier;
    out->start_ms = w->s.start_ms;
    out->end_ms = w->s.end_ms;
}

int baton_roster_resolve_in(const baton_roster_query_t *q, const baton_roster_shift_t *shifts,
                            size_t n, baton_roster_resolution_t *out)
{
    memset(out, 0, sizeof *out);
    if (!baton_roster__query_ok(q))
        return BATON_EINVAL;
    size_t k;
    cand_t *c = ranked(q, shifts, n, &k);
    fill(pick(q, c, k), out);
    free(c);
    return 0;
}

char *baton_roster_oncall_json(const baton_roster_query_t *q, const baton_roster_shift_t *shifts,
                               size_t n, const baton_roster_person_t *person)
{
    size_t k = 0;
    cand_t *c = baton_roster__query_ok(q) ? ranked(q, shifts, n, &k) : NULL;
    const cand_t *w = c ? pick(q, c, k) : NULL;
    json_t *o = json_object(), *a = json_array();
    json_object_set_new(o, "tenant", json_string(q->tenant ? q->tenant : ""));
    json_object_set_new(o, "facility", json_string(q->facility ? q->facility : ""));
    if (q->unit && *q->unit)
        json_object_set_new(o, "unit", json_string(q->unit));
    json_object_set_new(o, "role", json_string(q->role ? q->role : ""));
    json_object_set_new(o, "at", baton_roster__time_json(q->at_ms));
    json_object_set_new(o, "person", w ? json_string(w->s.person) : json_null());
    if (w && person && !strcmp(person->id, w->s.person))
        json_object_set_new(o, "name", json_string(person->name));
    json_object_set_new(o, "resolved_by",
                        json_string(baton_roster_why_name(w ? w->why : BATON_ROSTER_NONE)));
    json_object_set_new(o, "shift", w ? baton_roster__shift_json(&w->s) : json_null());
    for (size_t i = 0; i < k; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "person", json_string(c[i].s.person));
        json_object_set_new(e, "resolved_by", json_string(baton_roster_why_name(c[i].why)));
        json_object_set_new(e, "shift_id", json_string(c[i].s.id));
        json_object_set_new(e, "tier", json_integer(c[i].s.tier));
        json_object_set_new(e, "start", baton_roster__time_json(c[i].s.start_ms));
        json_object_set_new(e, "end", baton_roster__time_json(c[i].s.end_ms));
        json_object_set_new(e, "excluded", json_boolean(excluded(q, c[i].s.person)));
        json_array_append_new(a, e);
    }
    json_object_set_new(o, "candidates", a);
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(c);
    if (!txt)
        abort(); /* only fails on out-of-memory */
    return txt;
}
