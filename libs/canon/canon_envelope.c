/* Converting a valid canonical event into a protobuf Envelope, and freeing it. */
#include "canon_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_empty(const char *s)
{
    return baton_xstrdup(s ? s : "");
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int all_zero(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return 0;
    return 1;
}

/* W3C trace context: "vv-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", version ff
 * and all-zero ids invalid. Future versions may append fields after a '-'. */
static int traceparent_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 55 || (n > 55 && s[55] != '-') || n > 512)
        return 0;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return 0;
    if (!is_lower_hex(s, 2) || !is_lower_hex(s + 3, 32) || !is_lower_hex(s + 36, 16) ||
        !is_lower_hex(s + 53, 2))
        return 0;
    if (memcmp(s, "ff", 2) == 0 || (memcmp(s, "00", 2) == 0 && n != 55))
        return 0;
    return !all_zero(s + 3, 32) && !all_zero(s + 36, 16);
}

static Baton__V1__Envelope *build(const baton_canon__fields_t *f, const baton_canon_opts_t *o)
{
    Baton__V1__Envelope *env = baton_xmalloc(sizeof *env);
    baton__v1__envelope__init(env);
    Baton__V1__ClinicalEvent *ce = baton_xmalloc(sizeof *ce);
    baton__v1__clinical_event__init(ce);

    char minted[BATON_ID_LEN];
    const char *id = f->id;
    if (!id) {
        baton_uuidv7(minted);
        id = minted;
    }
    env->id = baton_xstrdup(id);
    env->type = baton_xstrdup(f->type);
    env->tenant = baton_xstrdup(f->tenant);
    env->facility = dup_or_empty(f->facility);
    env->unit = dup_or_empty(f->unit);
    env->correlation_key =
        baton_xasprintf("%s/%s", f->tenant, f->encounter ? f->encounter : f->patient);
    env->occurred_at_ms = f->occurred_ms;
    env->recorded_at_ms = o->now_ms ? o->now_ms : baton_now_ms();
    env->causation_id = baton_xstrdup("");
    env->producer = baton_xstrdup(o->producer ? o->producer : "ingest");
    env->traceparent =
        baton_xstrdup(o->traceparent && traceparent_ok(o->traceparent) ? o->traceparent : "");
    env->schema_version = 1;

    ce->event_type = baton_xstrdup(f->type);
    ce->patient = dup_or_empty(f->patient);
    ce->encounter = dup_or_empty(f->encounter);
    ce->source = baton_xstrdup(o->source ? o->source : "json");
    ce->source_message_id = baton_xstrdup(o->source_message_id ? o->source_message_id : id);
    ce->n_attributes = f->n_attrs;
    ce->attributes = baton_xcalloc(f->n_attrs ? f->n_attrs : 1, sizeof *ce->attributes);
    for (size_t i = 0; i < f->n_attrs; i++) {
        Baton__V1__ClinicalEvent__AttributesEntry *e = baton_xmalloc(sizeof *e);
        baton__v1__clinical_event__attributes_entry__init(e);
        e->key = baton_xstrdup(f->keys[i]);
        e->value = baton_xstrdup(f->vals[i]);
        ce->attributes[i] = e;
    }
    env->body_case = BATON__V1__ENVELOPE__BODY_CLINICAL;
    env->clinical = ce;
    return env;
}

int baton_canon_convert(const json_t *event, const baton_canon_opts_t *opts,
                        Baton__V1__Envelope **out, baton_canon_problems_t *problems)
{
    baton_canon__fields_t f;
    *out = NULL;
    int rc = baton_canon__check(event, opts, problems, &f);
    if (rc)
        return rc;
    *out = build(&f, opts);
    baton_canon__fields_free(&f);
    return 0;
}

int baton_canon_parse(const char *body, size_t len, const baton_canon_opts_t *opts,
                      Baton__V1__Envelope **out, baton_canon_problems_t *problems)
{
    *out = NULL;
    if (len > BATON_CANON_BODY_MAX) {
        baton_canon_problems_add(problems, "", "the event must be at most 65536 bytes");
        return BATON_ETOOBIG;
    }
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        body += 3;
        len -= 3;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        /* jerr.text can quote the input; only the position is reported */
        char msg[128];
        snprintf(msg, sizeof msg, "not valid JSON (line %d, column %d)", jerr.line, jerr.column);
        baton_canon_problems_add(problems, "", msg);
        return BATON_EPARSE;
    }
    int rc = baton_canon_convert(doc, opts, out, problems);
    json_decref(doc);
    return rc;
}

static void free_str(char *s)
{
    if (s && s != protobuf_c_empty_string)
        free(s);
}

void baton_canon_envelope_free(Baton__V1__Envelope *env)
{
    if (!env)
        return;
    Baton__V1__ClinicalEvent *ce =
        env->body_case == BATON__V1__ENVELOPE__BODY_CLINICAL ? env->clinical : NULL;
    if (ce) {
        for (size_t i = 0; i < ce->n_attributes; i++) {
            free_str(ce->attributes[i]->key);
            free_str(ce->attributes[i]->value);
            free(ce->attributes[i]);
        }
        free(ce->attributes);
        free_str(ce->event_type);
        free_str(ce->patient);
        free_str(ce->encounter);
        free_str(ce->source);
        free_str(ce->source_message_id);
        free(ce);
    }
    free_str(env->id);
    free_str(env->type);
    free_str(env->tenant);
    free_str(env->facility);
    free_str(env->unit);
    free_str(env->correlation_key);
    free_str(env->causation_id);
    free_str(env->producer);
    free_str(env->traceparent);
    free(env);
}

const char *baton_canon_attribute(const Baton__V1__Envelope *env, const char *key)
{
    if (!env || env->body_case != BATON__V1__ENVELOPE__BODY_CLINICAL || !env->clinical)
        return NULL;
    for (size_t i = 0; i < env->clinical->n_attributes; i++)
        if (strcmp(env->clinical->attributes[i]->key, key) == 0)
            return env->clinical->attributes[i]->value;
    return NULL;
}
