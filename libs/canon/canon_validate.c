/* Validation of a canonical event (the rules are in baton/canon.h). */
#include "canon_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const baton_canon_opts_t *opts;
    baton_canon_problems_t *problems;
    int nproblems;
    int tenant_mismatch;
} check_t;

static void problem(check_t *c, const char *pointer, const char *detail)
{
    baton_canon_problems_add(c->problems, pointer, detail);
    c->nproblems++;
}

static int is_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* Characters allowed after the first (alphanumeric) one. */
static int charset_ok(const char *s, const char *extra)
{
    if (!is_alnum(s[0]))
        return 0;
    for (const char *p = s + 1; *p; p++)
        if (!is_alnum(*p) && !strchr(extra, *p))
            return 0;
    return 1;
}

static int visible_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return 0;
    return 1;
}

static int type_ok(const char *s)
{
    /* ^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$ */
    int dots = 0, at_word_start = 1;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (at_word_start) {
            if (!(ch >= 'a' && ch <= 'z'))
                return 0;
            at_word_start = 0;
        } else if (ch == '.') {
            dots++;
            at_word_start = 1;
        } else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) {
            return 0;
        }
    }
    return dots > 0 && !at_word_start;
}

static int attr_key_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > BATON_CANON_ATTR_KEY_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

/* Fetch an optional string member: NULL when absent or null; reports a wrong type. */
static const char *get_str(check_t *c, const json_t *ev, const char *key, int *present)
{
    json_t *v = json_object_get(ev, key);
    char ptr[32];
    snprintf(ptr, sizeof ptr, "/%s", key);
    *present = v && !json_is_null(v);
    if (!*present)
        return NULL;
    if (!json_is_string(v)) {
        problem(c, ptr, "must be a string");
        return NULL;
    }
    return json_string_value(v);
}

/* Length and charset; NULL s (absent or wrong type) is not checked here. */
static int check_len(check_t *c, const char *key, const char *s, size_t min, size_t max)
{
    char ptr[32], msg[96];
    snprintf(ptr, sizeof ptr, "/%s", key);
    size_t n = strlen(s);
    if (n < min || n > max) {
        if (n == 0)
            snprintf(msg, sizeof msg, "must not be empty");
        else
            snprintf(msg, sizeof msg, "must be %zu to %zu characters long", min, max);
        problem(c, ptr, msg);
        return -1;
    }
    return 0;
}

static const char *check_token(check_t *c, const json_t *ev, const char *key, size_t max,
                               const char *extra, const char *desc, int required)
{
    int present;
    char ptr[32], msg[128];
    snprintf(ptr, sizeof ptr, "/%s", key);
    const char *s = get_str(c, ev, key, &present);
    if (!present) {
        if (required)
            problem(c, ptr, "required");
        return NULL;
    }
    if (!s || check_len(c, key, s, 1, max))
        return NULL;
    if (!charset_ok(s, extra)) {
        snprintf(msg, sizeof msg, "must start with a letter or digit and contain only %s", desc);
        problem(c, ptr, msg);
        return NULL;
    }
    return s;
}

#define ID_EXTRA "._:-"
#define ID_DESC "letters, digits and . _ : -"

static void check_id(check_t *c, const json_t *ev, baton_canon__fields_t *f)
{
    const char *body_id = check_token(c, ev, "id", BATON_CANON_ID_MAX, ID_EXTRA, ID_DESC, 0);
    const char *key = c->opts->idempotency_key;
    int body_present = json_object_get(ev, "id") && !json_is_null(json_object_get(ev, "id"));
    if (key) {
        size_t n = strlen(key);
        if (n < 1 || n > BATON_CANON_ID_MAX || !charset_ok(key, ID_EXTRA)) {
            problem(c, "/id",
                    "the Idempotency-Key header must be 1 to 128 letters, digits and . _ : -, "
                    "starting with a letter or digit");
            return;
        }
        if (body_id && strcmp(body_id, key) != 0) {
            problem(c, "/id", "differs from the Idempotency-Key header");
            return;
        }
        f->id = key;
        return;
    }
    if (body_id) {
        f->id = body_id;
        return;
    }
    if (!body_present && c->opts->require_id)
        problem(c, "/id", "required (or send an Idempotency-Key header)");
}

static void check_type(check_t *c, const json_t *ev, baton_canon__fields_t *f)
{
    int present;
    const char *s = get_str(c, ev, "type", &present);
    if (!present) {
        problem(c, "/type", "required");
        return;
    }
    if (!s || check_len(c, "type", s, BATON_CANON_TYPE_MIN, BATON_CANON_TYPE_MAX))
        return;
    if (!type_ok(s)) {
        problem(c, "/type",
                "must be lowercase dotted words like \"adt.discharge\" ([a-z][a-z0-9_]* "
                "joined by dots, at least two)");
        return;
    }
    f->type = s;
}

static void check_tenant(check_t *c, const json_t *ev, baton_canon__fields_t *f)
{
    const char *s =
        check_token(c, ev, "tenant", BATON_CANON_TENANT_MAX, "._-", "letters, digits and . _ -", 1);
    if (!s)
        return;
    if (!c->opts->auth_tenant || strcmp(s, c->opts->auth_tenant) != 0) {
        problem(c, "/tenant", "is not the tenant these credentials belong to");
        c->tenant_mismatch = 1;
        return;
    }
    f->tenant = s;
}

static const char *check_ref(check_t *c, const json_t *ev, const char *key)
{
    int present;
    char ptr[32];
    snprintf(ptr, sizeof ptr, "/%s", key);
    const char *s = get_str(c, ev, key, &present);
    if (!s || check_len(c, key, s, 1, BATON_CANON_REF_MAX))
        return NULL;
    if (!visible_ascii(s)) {
        problem(c, ptr, "must contain only visible ASCII characters (no spaces)");
        return NULL;
    }
    return s;
}

static void check_subject(check_t *c, const json_t *ev, baton_canon__fields_t *f)
{
    f->patient = check_ref(c, ev, "patient");
    f->encounter = check_ref(c, ev, "encounter");
    json_t *p = json_object_get(ev, "patient"), *e = json_object_get(ev, "encounter");
    if ((!p || json_is_null(p)) && (!e || json_is_null(e)))
        problem(c, "/patient", "patient or encounter is required");
}

static void check_time(check_t *c, const json_t *ev, baton_canon__fields_t *f)
{
    int present;
    const char *s = get_str(c, ev, "occurred_at", &present);
    if (!present) {
        problem(c, "/occurred_at", "required");
        return;
    }
    if (!s)
        return;
    int64_t ms;
    if (strlen(s) > BATON_CANON_TIME_MAX || baton_time_parse(s, &ms) != 0) {
        problem(c, "/occurred_at",
                "must be an RFC 3339 date-time with a time zone, e.g. 2026-11-21T10:00:00Z");
        return;
    }
    int64_t now = c->opts->now_ms ? c->opts->now_ms : baton_now_ms();
    if (ms < 0) {
        problem(c, "/occurred_at", "must not be before 1970-01-01T00:00:00Z");
        return;
    }
    if (ms > now + BATON_CANON_FUTURE_MS) {
        problem(c, "/occurred_at", "must not be more than 24 hours in the future");
        return;
    }
    f->occurred_ms = ms;
}

/* Shortest decimal form of a real that reads back the same. */
static char *real_string(double d)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, sizeof buf, "%.17g", d);
    return baton_xstrdup(buf);
}

/* Converts one attribute value, or reports why it cannot be. */
static char *attr_value(check_t *c, const char *ptr, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (json_string_length(v) > BATON_CANON_ATTR_VALUE_MAX) {
            problem(c, ptr, "must be at most 256 bytes long");
            return NULL;
        }
        return baton_xstrndup(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return baton_xasprintf("%lld", (long long)json_integer_value(v));
    case JSON_REAL:
        if (!isfinite(json_real_value(v))) {
            problem(c, ptr, "must be a finite number");
            return NULL;
        }
        return real_string(json_real_value(v));
    case JSON_TRUE:
        return baton_xstrdup("true");
    case JSON_FALSE:
        return baton_xstrdup("false");
    case JSON_OBJECT:
    case JSON_ARRAY:
        problem(c, ptr,
                "nested objects and arrays are not allowed; use a string, number or "
                "boolean");
        return NULL;
    default:
        problem(c, ptr, "must be a string, number or boolean (null is not allowed)");
        return NULL;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_attributes(check_t *c, const json_t *ev, baton_canon__fields_t *f)
{
    json_t *attrs = json_object_get(ev, "attributes");
    if (!attrs || json_is_null(attrs))
        return;
    if (!json_is_object(attrs)) {
        problem(c, "/attributes", "must be an object");
        return;
    }
    size_t n = json_object_size(attrs), total = 0;
    if (n > BATON_CANON_ATTR_COUNT_MAX) {
        problem(c, "/attributes", "must have at most 32 members");
        return;
    }
    /* sort keys so the output does not depend on hash order */
    const char **keys = baton_xcalloc(n ? n : 1, sizeof *keys);
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(attrs, key, v) keys[k++] = key;
    qsort(keys, k, sizeof *keys, cmp_str);
    f->keys = baton_xcalloc(k ? k : 1, sizeof *f->keys);
    f->vals = baton_xcalloc(k ? k : 1, sizeof *f->vals);
    int bad = 0;
    baton_buf_t ptr = BATON_BUF_INIT;
    for (size_t i = 0; i < k; i++) {
        baton_buf_reset(&ptr);
        baton_buf_puts(&ptr, "/attributes");
        baton_json_pointer_append(&ptr, keys[i]);
        if (!attr_key_ok(keys[i])) {
            problem(c, ptr.data, "attribute names must match ^[a-z][a-z0-9_]{0,63}$");
            bad = 1;
            continue;
        }
        char *val = attr_value(c, ptr.data, json_object_get(attrs, keys[i]));
        if (!val) {
            bad = 1;
            continue;
        }
        total += strlen(keys[i]) + strlen(val);
        f->keys[f->n_attrs] = baton_xstrdup(keys[i]);
        f->vals[f->n_attrs] = val;
        f->n_attrs++;
    }
    baton_buf_free(&ptr);
    free(keys);
    if (!bad && total > BATON_CANON_ATTR_TOTAL_MAX)
        problem(c, "/attributes", "names and values together must be at most 4096 bytes");
}

static const char *const known_members[] = {"id",        "type",        "tenant",
                                            "facility",  "unit",        "patient",
                                            "encounter", "occurred_at", "attributes"};

static void check_unknown(check_t *c, const json_t *ev)
{
    const char *key;
    json_t *v;
    baton_buf_t ptr = BATON_BUF_INIT;
    /* collect and sort so the problem order is stable */
    size_t n = json_object_size(ev), k = 0;
    const char **unknown = baton_xcalloc(n ? n : 1, sizeof *unknown);
    json_object_foreach((json_t *)ev, key, v)
    {
        size_t i;
        for (i = 0; i < sizeof known_members / sizeof known_members[0]; i++)
            if (strcmp(key, known_members[i]) == 0)
                break;
        if (i == sizeof known_members / sizeof known_members[0])
            unknown[k++] = key;
    }
    qsort(unknown, k, sizeof *unknown, cmp_str);
    for (size_t i = 0; i < k; i++) {
        baton_buf_reset(&ptr);
        baton_json_pointer_append(&ptr, unknown[i]);
        problem(c, ptr.data, "unknown member");
    }
    free(unknown);
    baton_buf_free(&ptr);
}

void baton_canon__fields_free(baton_canon__fields_t *f)
{
    for (size_t i = 0; i < f->n_attrs; i++) {
        free(f->keys[i]);
        free(f->vals[i]);
    }
    free(f->keys);
    free(f->vals);
    memset(f, 0, sizeof *f);
}

int baton_canon__check(const json_t *ev, const baton_canon_opts_t *opts,
                       baton_canon_problems_t *problems, baton_canon__fields_t *f)
{
    check_t c = {.opts = opts, .problems = problems};
    memset(f, 0, sizeof *f);
    if (!json_is_object(ev)) {
        problem(&c, "", "the event must be a JSON object");
        return BATON_EINVAL;
    }
    check_id(&c, ev, f);
    check_type(&c, ev, f);
    check_tenant(&c, ev, f);
    f->facility = check_token(&c, ev, "facility", BATON_CANON_PLACE_MAX, ID_EXTRA, ID_DESC, 0);
    f->unit = check_token(&c, ev, "unit", BATON_CANON_PLACE_MAX, ID_EXTRA, ID_DESC, 0);
    check_subject(&c, ev, f);
    check_time(&c, ev, f);
    check_attributes(&c, ev, f);
    check_unknown(&c, ev);
    if (c.tenant_mismatch) {
        baton_canon__fields_free(f);
        return BATON_EPERM;
    }
    if (c.nproblems) {
        baton_canon__fields_free(f);
        return BATON_EINVAL;
    }
    return 0;
}

int baton_canon_validate(const json_t *event, const baton_canon_opts_t *opts,
                         baton_canon_problems_t *problems)
{
    baton_canon__fields_t f;
    int rc = baton_canon__check(event, opts, problems, &f);
    if (rc == 0)
        baton_canon__fields_free(&f);
    return rc;
}
