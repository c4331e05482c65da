/* Shifts: validation shared by the JSON and CSV readers, batch checks (one tenant, one content
 * per id), content-derived ids, JSON in and out; and the validation error list. */
#include "roster_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

void baton_roster__err(baton_roster_errors_t *e, const char *pointer, size_t line, const char *fmt,
                       ...)
{
    e->total++;
    if (e->n >= BATON_ROSTER_MAX_ERRORS)
        return;
    if (!e->v)
        e->v = baton_xcalloc(BATON_ROSTER_MAX_ERRORS, sizeof *e->v);
    baton_buf_t b = BATON_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    baton_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    baton_roster_error_t *x = &e->v[e->n++];
    x->pointer = baton_xstrdup(pointer ? pointer : "");
    x->line = line;
    x->detail = b.data ? baton_buf_steal(&b) : baton_xstrdup("");
}

void baton_roster__err_sort_lines(baton_roster_errors_t *e)
{
    for (size_t i = 1; i < e->n; i++) { /* insertion sort: stable, n <= 100 */
        baton_roster_error_t x = e->v[i];
        size_t j = i;
        while (j > 0 && e->v[j - 1].line > x.line) {
            e->v[j] = e->v[j - 1];
            j--;
        }
        e->v[j] = x;
    }
}

void baton_roster_errors_free(baton_roster_errors_t *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].pointer);
        free(e->v[i].detail);
    }
    free(e->v);
    e->v = NULL;
    e->n = e->total = 0;
}

char *baton_roster_errors_json(const baton_roster_errors_t *e)
{
    json_t *a = json_array();
    for (size_t i = 0; e && i < e->n; i++) {
        json_t *o = json_object();
        if (e->v[i].line)
            json_object_set_new(o, "line", json_integer((json_int_t)e->v[i].line));
        else
            json_object_set_new(o, "pointer", json_string(e->v[i].pointer));
        json_object_set_new(o, "detail", json_string(e->v[i].detail));
        json_array_append_new(a, o);
    }
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (!s)
        abort(); /* only fails on out-of-memory */
    return s;
}

/* ---- small shared checks ---- */

static int charset_ok(const char *s, const char *extra)
{
    size_t n = 0;
    for (; s && s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= BATON_ROSTER_ID_MAX || c > 0x7f || !(isalnum(c) || strchr(extra, c)))
            return 0;
    }
    return n > 0;
}

int baton_roster_ident_ok(const char *s)
{
    return charset_ok(s, "._:@-");
}

int baton_roster_tenant_ok(const char *s)
{
    return charset_ok(s, "._-");
}

json_t *baton_roster__time_json(int64_t ms)
{
    char t[BATON_RFC3339_LEN];
    if (baton_time_format(ms, t, sizeof t) != 0)
        t[0] = '\0';
    return json_string(t);
}

/* ---- one shift ---- */

const char baton_roster__wrong_type[] = "";

/* csv_name: the field's CSV column name when it differs from its JSON name. */
static int check_ident_as(const char *field, const char *csv_name, const char *v, int required,
                          char *dst, baton_roster__report_fn report, void *ctx)
{
    int tenant = !strcmp(field, "tenant");
    const char *rule = tenant ? BATON_ROSTER_TENANT_RULE : BATON_ROSTER_IDENT_RULE;
    char csv[128];
    if (v == baton_roster__wrong_type)
        return 1;
    if (!v || !*v) {
        if (!required)
            return 0;
        snprintf(csv, sizeof csv, "missing %s", csv_name);
        report(ctx, field, "required", csv);
        return 1;
    }
    if (tenant ? !baton_roster_tenant_ok(v) : !baton_roster_ident_ok(v)) {
        snprintf(csv, sizeof csv, "%s %s", csv_name, rule);
        report(ctx, field, rule, csv);
        return 1;
    }
    baton_strlcpy(dst, v, BATON_ROSTER_ID_MAX + 1);
    return 0;
}

static int check_ident(const char *field, const char *v, int required, char *dst,
                       baton_roster__report_fn report, void *ctx)
{
    return check_ident_as(field, field, v, required, dst, report, ctx);
}

static int check_time(const char *field, const char *v, int64_t *ms, baton_roster__report_fn report,
                      void *ctx)
{
    char csv[128];
    if (v == baton_roster__wrong_type)
        return 1;
    if (!v || !*v) {
        snprintf(csv, sizeof csv, "missing %s", field);
        report(ctx, field, "required", csv);
        return 1;
    }
    if (baton_time_parse(v, ms) != 0) {
        snprintf(csv, sizeof csv, "%s is not an RFC 3339 time", field);
        report(ctx, field, "must be an RFC 3339 time", csv);
        return 1;
    }
    return 0;
}

static int check_tier(const baton_roster__raw_shift_t *raw, int *tier,
                      baton_roster__report_fn report, void *ctx)
{
    long long v = 1;
    int ok = 1;
    if (raw->tier_text && *raw->tier_text) {
        const char *p = raw->tier_text;
        v = 0;
        for (; *p && ok; p++) {
            ok = isdigit((unsigned char)*p) && v <= BATON_ROSTER_MAX_TIER;
            v = v * 10 + (*p - '0');
        }
    } else if (raw->tier_set) {
        v = raw->tier;
    }
    if (!ok || v < 1 || v > BATON_ROSTER_MAX_TIER) {
        report(ctx, "tier", "must be an integer from 1 to 99",
               "tier must be an integer from 1 to 99");
        return 1;
    }
    *tier = (int)v;
    return 0;
}

static void derive_id(baton_roster_shift_t *s)
{
    char purpose[512], id[BATON_ID_LEN];
    snprintf(purpose, sizeof purpose, "shift|%s|%s|%s|%s|%lld|%lld", s->facility, s->unit, s->role,
             s->person, (long long)s->start_ms, (long long)s->end_ms);
    baton_derived_id(s->tenant, purpose, id);
    baton_strlcpy(s->id, id, sizeof s->id);
}

int baton_roster__shift_build(const baton_roster__raw_shift_t *raw, baton_roster_shift_t *out,
                              baton_roster__report_fn report, void *ctx)
{
    memset(out, 0, sizeof *out);
    int bad = 0, tbad = 0;
    bad += check_ident_as("id", "shift_id", raw->id, 0, out->id, report, ctx);
    bad += check_ident("tenant", raw->tenant, 1, out->tenant, report, ctx);
    bad += check_ident("facility", raw->facility, 1, out->facility, report, ctx);
    bad += check_ident("unit", raw->unit, 0, out->unit, report, ctx);
    bad += check_ident("role", raw->role, 1, out->role, report, ctx);
    bad += check_ident("person", raw->person, 1, out->person, report, ctx);
    tbad += check_time("start", raw->start, &out->start_ms, report, ctx);
    tbad += check_time("end", raw->end, &out->end_ms, report, ctx);
    if (!tbad) {
        if (out->end_ms < out->start_ms) {
            report(ctx, "end", "end before start", "end before start");
            tbad++;
        } else if (out->end_ms == out->start_ms) {
            report(ctx, "end", "end equals start", "end equals start");
            tbad++;
        } else if (out->end_ms - out->start_ms > BATON_ROSTER_MAX_SHIFT_MS) {
            report(ctx, "end", "shift longer than 14 days", "shift longer than 14 days");
            tbad++;
        }
    }
    bad += tbad + check_tier(raw, &out->tier, report, ctx);
    if (!bad && !out->id[0])
        derive_id(out);
    return bad;
}

/* ---- batch checks ---- */

static int shift_same(const baton_roster_shift_t *a, const baton_roster_shift_t *b)
{
    return !strcmp(a->id, b->id) && !strcmp(a->tenant, b->tenant) &&
           !strcmp(a->facility, b->facility) && !strcmp(a->unit, b->unit) &&
           !strcmp(a->role, b->role) && !strcmp(a->person, b->person) &&
           a->start_ms == b->start_ms && a->end_ms == b->end_ms && a->tier == b->tier;
}

static int by_id_then_index(const void *pa, const void *pb, void *arg)
{
    const baton_roster_shift_t *items = arg;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int c = strcmp(items[a].id, items[b].id);
    return c ? c : (a < b ? -1 : a > b);
}

int baton_roster__batch_check(baton_roster_shift_t *items, unsigned char *valid, size_t n,
                              const char *tenant, const baton_roster__batch_report_t *rep)
{
    int problems = 0;
    size_t first = n, nv = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid[i])
            continue;
        nv++;
        if (tenant && strcmp(items[i].tenant, tenant) != 0) {
            rep->tenant_mismatch(rep->ctx, i, 0, 1);
            problems++;
        } else if (first == n) {
            first = i;
        } else if (strcmp(items[i].tenant, items[first].tenant) != 0) {
            rep->tenant_mismatch(rep->ctx, i, first, 0);
            problems++;
        }
    }
    size_t *idx = baton_xcalloc(nv ? nv : 1, sizeof *idx);
    unsigned char *dup = baton_xcalloc(n ? n : 1, 1);
    nv = 0;
    for (size_t i = 0; i < n; i++)
        if (valid[i])
            idx[nv++] = i;
    qsort_r(idx, nv, sizeof *idx, by_id_then_index, items);
    for (size_t k = 1, run = 0; k < nv; k++) {
        if (strcmp(items[idx[k]].id, items[idx[run]].id) != 0) {
            run = k;
            continue;
        }
        if (shift_same(&items[idx[k]], &items[idx[run]])) {
            dup[idx[k]] = 1;
        } else {
            rep->dup_conflict(rep->ctx, idx[k], idx[run]);
            problems++;
        }
    }
    if (!problems)
        for (size_t i = 0; i < n; i++)
            if (dup[i])
                valid[i] = 0;
    free(idx);
    free(dup);
    return problems;
}

/* Moves the valid items to out (in order). */
static void collect(baton_roster_shift_t *items, const unsigned char *valid, size_t n,
                    baton_roster_shifts_t *out)
{
    out->v = baton_xcalloc(n ? n : 1, sizeof *out->v);
    out->n = 0;
    for (size_t i = 0; i < n; i++)
        if (valid[i])
            out->v[out->n++] = items[i];
}

void baton_roster_shifts_free(baton_roster_shifts_t *s)
{
    if (!s)
        return;
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* ---- JSON in ---- */

typedef struct {
    baton_roster_errors_t *errs;
    size_t index;
} json_ctx_t;

static void json_report(void *vctx, const char *field, const char *json_detail,
                        const char *csv_detail)
{
    json_ctx_t *c = vctx;
    char ptr[96];
    snprintf(ptr, sizeof ptr, "/%zu/%s", c->index, field);
    baton_roster__err(c->errs, ptr, 0, "%s", json_detail);
}

static void json_tenant_mismatch(void *vctx, size_t i, size_t first, int vs_caller)
{
    json_ctx_t *c = vctx;
    char ptr[64];
    snprintf(ptr, sizeof ptr, "/%zu/tenant", i);
    if (vs_caller)
        baton_roster__err(c->errs, ptr, 0, "does not match the caller's tenant");
    else
        baton_roster__err(c->errs, ptr, 0, "differs from /%zu/tenant (one tenant per request)",
                          first);
}

static void json_dup_conflict(void *vctx, size_t i, size_t first)
{
    json_ctx_t *c = vctx;
    char ptr[64];
    snprintf(ptr, sizeof ptr, "/%zu", i);
    baton_roster__err(c->errs, ptr, 0, "same shift id as /%zu with different content", first);
}

/* Reads one array item into raw (strings borrowed from o); type problems reported. */
static int json_raw(json_t *o, size_t i, baton_roster__raw_shift_t *raw,
                    baton_roster_errors_t *errs)
{
    static const char *const names[] = {"id",   "tenant", "facility", "unit",
                                        "role", "person", "start",    "end"};
    const char **slots[] = {&raw->id,   &raw->tenant, &raw->facility, &raw->unit,
                            &raw->role, &raw->person, &raw->start,    &raw->end};
    int bad = 0;
    const char *key;
    json_t *v;
    memset(raw, 0, sizeof *raw);
    json_object_foreach(o, key, v)
    {
        baton_buf_t ptr = BATON_BUF_INIT;
        baton_buf_appendf(&ptr, "/%zu", i);
        baton_json_pointer_append(&ptr, key);
        size_t k = 0;
        while (k < 8 && strcmp(key, names[k]) != 0)
            k++;
        if (k < 8) {
            if (json_is_string(v)) {
                *slots[k] = json_string_value(v);
            } else if (!(json_is_null(v) && slots[k] == &raw->unit)) { /* null unit: none */
                bad++;
                *slots[k] = baton_roster__wrong_type;
                baton_roster__err(errs, ptr.data, 0, "must be a string");
            }
        } else if (!strcmp(key, "tier")) {
            if (json_is_integer(v)) {
                raw->tier_set = 1;
                raw->tier = json_integer_value(v);
            } else {
                bad++;
                baton_roster__err(errs, ptr.data, 0, "must be an integer");
            }
        } else {
            bad++;
            baton_roster__err(errs, ptr.data, 0, "unknown field");
        }
        baton_buf_free(&ptr);
    }
    return bad;
}

static int fail(baton_roster_shifts_t *out, int rc)
{
    out->v = NULL;
    out->n = 0;
    return rc;
}

int baton_roster_shifts_parse_json(const char *json, size_t len, const char *tenant,
                                   baton_roster_shifts_t *out, baton_roster_errors_t *errs)
{
    if (len > BATON_ROSTER_MAX_BYTES) {
        baton_roster__err(errs, "", 0, "body larger than %u bytes", BATON_ROSTER_MAX_BYTES);
        return fail(out, BATON_ETOOBIG);
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) { /* jerr.text may quote the input: report the place only */
        baton_roster__err(errs, "", 0, "invalid JSON at line %d column %d", jerr.line, jerr.column);
        return fail(out, BATON_EINVAL);
    }
    size_t n = json_is_array(root) ? json_array_size(root) : 0;
    if (!json_is_array(root) || n == 0 || n > BATON_ROSTER_MAX_SHIFTS) {
        int big = n > BATON_ROSTER_MAX_SHIFTS;
        baton_roster__err(errs, "", 0, "%s",
                          !json_is_array(root) ? "must be an array of shifts"
                          : big                ? "more than 10000 shifts"
                                               : "must be a non-empty array of shifts");
        json_decref(root);
        return fail(out, big ? BATON_ETOOBIG : BATON_EINVAL);
    }
    size_t before = errs->total;
    baton_roster_shift_t *items = baton_xcalloc(n, sizeof *items);
    unsigned char *valid = baton_xcalloc(n, 1);
    json_ctx_t ctx = {errs, 0};
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(root, i);
        baton_roster__raw_shift_t raw;
        ctx.index = i;
        if (!json_is_object(o)) {
            char ptr[32];
            snprintf(ptr, sizeof ptr, "/%zu", i);
            baton_roster__err(errs, ptr, 0, "must be an object");
            continue;
        }
        int bad = json_raw(o, i, &raw, errs);
        bad += baton_roster__shift_build(&raw, &items[i], json_report, &ctx);
        valid[i] = bad == 0;
    }
    baton_roster__batch_report_t rep = {json_tenant_mismatch, json_dup_conflict, &ctx};
    baton_roster__batch_check(items, valid, n, tenant, &rep);
    json_decref(root);
    int rc = errs->total > before ? BATON_EINVAL : 0;
    if (rc == 0)
        collect(items, valid, n, out);
    else
        fail(out, rc);
    free(items);
    free(valid);
    return rc;
}

/* ---- JSON out ---- */

json_t *baton_roster__shift_json(const baton_roster_shift_t *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "tenant", json_string(s->tenant));
    json_object_set_new(o, "facility", json_string(s->facility));
    if (s->unit[0])
        json_object_set_new(o, "unit", json_string(s->unit));
    json_object_set_new(o, "role", json_string(s->role));
    json_object_set_new(o, "person", json_string(s->person));
    json_object_set_new(o, "start", baton_roster__time_json(s->start_ms));
    json_object_set_new(o, "end", baton_roster__time_json(s->end_ms));
    json_object_set_new(o, "tier", json_integer(s->tier));
    return o;
}

char *baton_roster_shift_to_json(const baton_roster_shift_t *s)
{
    json_t *o = baton_roster__shift_json(s);
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!txt)
        abort(); /* only fails on out-of-memory */
    return txt;
}

static void noop_report(void *ctx, const char *f, const char *j, const char *c)
{
    (void)ctx, (void)f, (void)j, (void)c;
}

int baton_roster__shift_from_json(json_t *o, baton_roster_shift_t *out)
{
    baton_roster__raw_shift_t raw;
    baton_roster_errors_t errs = BATON_ROSTER_ERRORS_INIT;
    int bad = !json_is_object(o) || json_raw(o, 0, &raw, &errs) != 0 || !raw.id ||
              baton_roster__shift_build(&raw, out, noop_report, NULL) != 0;
    baton_roster_errors_free(&errs);
    return bad ? BATON_EPARSE : 0;
}
