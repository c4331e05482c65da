/* Helpers for reading FHIR JSON: typed members, references, codings, times. */
#include "fhir_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void fhir__issue(fhir_ctx_t *c, const char *code, const char *expr, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    baton_fhir_outcome_add(c->outcome, "error", code, msg, expr);
    c->errors++;
    if (strcmp(code, "not-supported") == 0)
        c->unsupported = 1;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

const char *fhir__str(fhir_ctx_t *c, const json_t *obj, const char *member, const char *path)
{
    json_t *v = json_object_get(obj, member);
    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        fhir__issue(c, "structure", path, "must be a string, not %s", json_kind(v));
        return NULL;
    }
    return json_string_value(v);
}

const json_t *fhir__obj(fhir_ctx_t *c, const json_t *obj, const char *member, const char *path)
{
    json_t *v = json_object_get(obj, member);
    if (!v)
        return NULL;
    if (!json_is_object(v)) {
        fhir__issue(c, "structure", path, "must be an object, not %s", json_kind(v));
        return NULL;
    }
    return v;
}

const json_t *fhir__arr(fhir_ctx_t *c, const json_t *obj, const char *member, const char *path)
{
    json_t *v = json_object_get(obj, member);
    if (!v)
        return NULL;
    if (!json_is_array(v)) {
        fhir__issue(c, "structure", path, "must be an array, not %s", json_kind(v));
        return NULL;
    }
    return v;
}

/* The entry of c->bundle whose fullUrl is url, or NULL. */
static const json_t *bundle_resource(fhir_ctx_t *c, const char *url)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(c->bundle, "entry"), i, e)
    {
        const char *full = json_string_value(json_object_get(e, "fullUrl"));
        if (full && strcmp(full, url) == 0)
            return json_object_get(e, "resource");
    }
    return NULL;
}

/* Split ".../Type/id[/_history/v]" into type and id (owned). 0 or -1. */
static int split_ref(const char *ref, char **type, char **id)
{
    size_t n = strlen(ref);
    const char *hist = strstr(ref, "/_history/");
    if (hist)
        n = (size_t)(hist - ref);
    const char *q = memchr(ref, '?', n);
    if (q)
        n = (size_t)(q - ref);
    /* last two segments */
    size_t end = n, slash2 = n;
    while (slash2 > 0 && ref[slash2 - 1] != '/')
        slash2--;
    if (slash2 == 0 || slash2 == end)
        return -1;
    size_t slash1 = slash2 - 1;
    while (slash1 > 0 && ref[slash1 - 1] != '/')
        slash1--;
    if (slash2 - 1 == slash1)
        return -1;
    *type = baton_xstrndup(ref + slash1, slash2 - 1 - slash1);
    *id = baton_xstrndup(ref + slash2, end - slash2);
    return 0;
}

char *fhir__ref_id(fhir_ctx_t *c, const json_t *ref, const char *type, const char *path)
{
    if (!ref)
        return NULL;
    char sub[160];
    if (!json_is_object(ref)) {
        fhir__issue(c, "structure", path, "must be a Reference object, not %s", json_kind(ref));
        return NULL;
    }
    snprintf(sub, sizeof sub, "%s.reference", path);
    const char *r = fhir__str(c, ref, "reference", sub);
    const char *rtype = json_string_value(json_object_get(ref, "type"));
    if (r) {
        if (r[0] == '#')
            return NULL; /* contained resource: no identity of its own */
        if (strncmp(r, "urn:uuid:", 9) == 0 || strncmp(r, "urn:oid:", 8) == 0) {
            const json_t *res = c->bundle ? bundle_resource(c, r) : NULL;
            const char *rt = json_string_value(json_object_get(res, "resourceType"));
            const char *rid = json_string_value(json_object_get(res, "id"));
            if (rt && strcmp(rt, type) != 0)
                return NULL;
            if (rid && rid[0])
                return baton_xstrdup(rid);
            const char *tail = r + (r[4] == 'u' ? 9 : 8);
            if (!tail[0]) {
                fhir__issue(c, "value", sub, "is an empty urn reference");
                return NULL;
            }
            return baton_xstrdup(tail);
        }
        char *t, *id;
        if (split_ref(r, &t, &id) != 0) {
            fhir__issue(c, "value", sub, "must be a reference like %s/id", type);
            return NULL;
        }
        char *out = strcmp(t, type) == 0 ? id : NULL;
        if (!out)
            free(id);
        free(t);
        return out;
    }
    if (rtype && strcmp(rtype, type) != 0)
        return NULL;
    snprintf(sub, sizeof sub, "%s.identifier", path);
    const json_t *ident = fhir__obj(c, ref, "identifier", sub);
    if (ident) {
        snprintf(sub, sizeof sub, "%s.identifier.value", path);
        const char *v = fhir__str(c, ident, "value", sub);
        if (v && v[0])
            return baton_xstrdup(v);
    }
    return NULL;
}

char *fhir__ref_short(fhir_ctx_t *c, const json_t *ref, const char *path)
{
    if (!ref)
        return NULL;
    if (!json_is_object(ref)) {
        fhir__issue(c, "structure", path, "must be a Reference object, not %s", json_kind(ref));
        return NULL;
    }
    const char *r = json_string_value(json_object_get(ref, "reference"));
    if (!r || r[0] == '#')
        return NULL;
    if (strncmp(r, "urn:", 4) == 0)
        return fhir__cut(r, 128);
    char *t, *id;
    if (split_ref(r, &t, &id) != 0)
        return NULL;
    char *out = baton_xasprintf("%s/%s", t, id);
    free(t);
    free(id);
    if (strlen(out) > 128) {
        free(out);
        return NULL;
    }
    return out;
}

const char *fhir__cc_code(fhir_ctx_t *c, const json_t *cc, const char *path)
{
    if (!cc)
        return NULL;
    if (!json_is_object(cc)) {
        fhir__issue(c, "structure", path, "must be a CodeableConcept object, not %s",
                    json_kind(cc));
        return NULL;
    }
    size_t i;
    json_t *coding;
    json_array_foreach(json_object_get(cc, "coding"), i, coding)
    {
        const char *code = json_string_value(json_object_get(coding, "code"));
        if (code && code[0])
            return code;
    }
    return NULL;
}

int fhir__cc_has(const json_t *cc, const char *system, const char *code)
{
    size_t i;
    json_t *coding;
    json_array_foreach(json_object_get(cc, "coding"), i, coding)
    {
        const char *sys = json_string_value(json_object_get(coding, "system"));
        const char *cd = json_string_value(json_object_get(coding, "code"));
        if (!cd || strcasecmp(cd, code) != 0)
            continue;
        if (!system || (sys && strcmp(sys, system) == 0))
            return 1;
    }
    return 0;
}

int fhir__cc_text_starts(const json_t *cc, const char *prefix)
{
    const char *text = json_string_value(json_object_get(cc, "text"));
    return text && strncasecmp(text, prefix, strlen(prefix)) == 0;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int fhir__time(fhir_ctx_t *c, const char *s, const char *path, int64_t *ms)
{
    char full[64];
    size_t n = strlen(s);
    int ok;
    if (n == 4 && all_digits(s, 4)) {
        snprintf(full, sizeof full, "%s-01-01T00:00:00Z", s);
    } else if (n == 7 && all_digits(s, 4) && s[4] == '-' && all_digits(s + 5, 2)) {
        snprintf(full, sizeof full, "%s-01T00:00:00Z", s);
    } else if (n == 10 && all_digits(s, 4) && s[4] == '-' && s[7] == '-') {
        snprintf(full, sizeof full, "%sT00:00:00Z", s);
    } else if (n < sizeof full) {
        snprintf(full, sizeof full, "%s", s);
    } else {
        full[0] = '\0';
    }
    ok = full[0] && baton_time_parse(full, ms) == 0;
    if (!ok) {
        fhir__issue(c, "value", path, "is not a valid FHIR dateTime");
        return -1;
    }
    return 0;
}

/* Walk "a.b" from res; returns the string or NULL (wrong types are structure issues). */
static const char *walk(fhir_ctx_t *c, const json_t *res, const char *rel, char *path, size_t plen)
{
    const char *dot = strchr(rel, '.');
    snprintf(path, plen, "%s.%s", c->rtype, rel);
    if (!dot)
        return fhir__str(c, res, rel, path);
    char first[32];
    snprintf(first, sizeof first, "%.*s", (int)(dot - rel), rel);
    char opath[96];
    snprintf(opath, sizeof opath, "%s.%s", c->rtype, first);
    const json_t *o = fhir__obj(c, res, first, opath);
    return o ? fhir__str(c, o, dot + 1, path) : NULL;
}

void fhir__occurred(fhir_ctx_t *c, const json_t *res, const char *const *candidates)
{
    int64_t ms = 0;
    int found = 0;
    char path[128];
    for (size_t i = 0; candidates[i] && !found; i++) {
        const char *s = walk(c, res, candidates[i], path, sizeof path);
        if (!s)
            continue;
        if (fhir__time(c, s, path, &ms) != 0)
            return;
        found = 1;
        free(c->time_path);
        c->time_path = baton_xstrdup(path);
    }
    if (!found && c->fallback_time && baton_time_parse(c->fallback_time, &ms) == 0) {
        found = 1;
        free(c->time_path);
        c->time_path = baton_xstrdup("Bundle.timestamp");
    }
    if (!found)
        ms = c->opts->now_ms ? c->opts->now_ms : baton_now_ms();
    char buf[BATON_RFC3339_LEN];
    if (baton_time_format(ms, buf, sizeof buf) != 0) {
        fhir__issue(c, "value", c->time_path, "is out of range");
        return;
    }
    fhir__set(c, "occurred_at", buf, c->time_path);
}

char *fhir__cut(const char *value, size_t max)
{
    size_t n = strlen(value);
    if (n <= max)
        return baton_xstrdup(value);
    n = max;
    while (n > 0 && ((unsigned char)value[n] & 0xC0) == 0x80)
        n--; /* do not split a UTF-8 sequence */
    return baton_xstrndup(value, n);
}

void fhir__set(fhir_ctx_t *c, const char *member, const char *value, const char *path)
{
    if (!value)
        return;
    json_t *s = json_string(value);
    if (!s)
        return; /* only possible for bytes that did not come from JSON */
    json_object_set_new(c->event, member, s);
    if (path) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/%s", member);
        json_object_set_new(c->paths, ptr, json_string(path));
    }
}

void fhir__attr(fhir_ctx_t *c, const char *key, const char *value, const char *path)
{
    if (!value || !value[0])
        return;
    char *v = fhir__cut(value, BATON_CANON_ATTR_VALUE_MAX);
    json_t *s = json_string(v);
    free(v);
    if (!s)
        return;
    json_object_set_new(c->attrs, key, s);
    if (path) {
        char ptr[96];
        snprintf(ptr, sizeof ptr, "/attributes/%s", key);
        json_object_set_new(c->paths, ptr, json_string(path));
    }
}

char *fhir__slug(const char *text, size_t max)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "");
    int pending_sep = 0;
    for (const char *p = text; *p && b.len < max; p++) {
        char ch = *p;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
            if (pending_sep && b.len > 0) {
                if (b.len + 2 > max)
                    break;
                baton_buf_putc(&b, '_');
            }
            pending_sep = 0;
            baton_buf_putc(&b, ch);
        } else {
            pending_sep = 1;
        }
    }
    return baton_buf_steal(&b);
}

void fhir__need_subject(fhir_ctx_t *c, const char *path, const char *what)
{
    if (!json_object_get(c->event, "patient") && !json_object_get(c->event, "encounter"))
        fhir__issue(c, "required", path, "%s is needed to correlate the event", what);
}
