/* pathway_parse.c — one YAML file → baton_pathway_def_t, with every key, type, name and value
 * checked and each problem reported as `file:line: what is wrong`. YAML itself is parsed by
 * libfyaml; this file only walks the document. */
#include <errno.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pathway_int.h"

typedef struct {
    const char *name;
    baton_pathway_errors_t *errs;
    int nerr_start;
} pctx_t;

#define PERR(c, line, ...) baton_pathway__err((c)->errs, (c)->name, (line), __VA_ARGS__)

/* 1-based line of a node: scalars by their token, collections by their first entry. */
static int node_line(struct fy_node *n, int fallback)
{
    if (!n)
        return fallback;
    if (fy_node_is_scalar(n)) {
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *mk = t ? fy_token_start_mark(t) : NULL;
        return mk ? mk->line + 1 : fallback;
    }
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? node_line(fy_node_pair_key(p), fallback) : fallback;
    }
    struct fy_node *first = fy_node_sequence_iterate(n, &it);
    return first ? node_line(first, fallback) : fallback;
}

static const char *scalar(struct fy_node *n)
{
    return n && fy_node_is_scalar(n) && !fy_node_is_alias(n) ? fy_node_get_scalar0(n) : NULL;
}

/* Check a mapping's keys against allowed (NULL-terminated); report unknown ones. */
static void check_keys(pctx_t *c, struct fy_node *map, const char *const *allowed, const char *what)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        const char *ks = scalar(k);
        int ok = 0;
        for (size_t i = 0; ks && allowed[i]; i++)
            ok |= strcmp(ks, allowed[i]) == 0;
        if (ok)
            continue;
        baton_buf_t b = BATON_BUF_INIT;
        for (size_t i = 0; allowed[i]; i++)
            baton_buf_appendf(&b, "%s%s", i ? ", " : "", allowed[i]);
        PERR(c, node_line(k, 1), "unknown key '%s' in %s (expected one of: %s)",
             ks ? ks : "(not a scalar)", what, b.data);
        baton_buf_free(&b);
    }
}

/* The value of key in map (NULL when absent); *line gets the key's line. */
static struct fy_node *get(struct fy_node *map, const char *key, int *line)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        const char *ks = scalar(fy_node_pair_key(p));
        if (ks && strcmp(ks, key) == 0) {
            if (line)
                *line = node_line(fy_node_pair_key(p), 1);
            return fy_node_pair_value(p);
        }
    }
    return NULL;
}

/* A required/optional scalar string. Returns a fresh copy or NULL (error reported when
 * required or present but not a scalar). */
static char *get_str(pctx_t *c, struct fy_node *map, const char *key, int required, int at,
                     const char *what, int *line_out)
{
    int line = at;
    struct fy_node *v = get(map, key, &line);
    if (line_out)
        *line_out = line;
    if (!v) {
        if (required)
            PERR(c, at, "missing required key '%s' in %s", key, what);
        return NULL;
    }
    const char *s = scalar(v);
    if (!s || !*s) {
        PERR(c, line, "'%s' must be a non-empty text value", key);
        return NULL;
    }
    return baton_xstrdup(s);
}

static int64_t get_duration(pctx_t *c, struct fy_node *map, const char *key, int at, int *line_out)
{
    int line = at;
    struct fy_node *v = get(map, key, &line);
    if (line_out)
        *line_out = line;
    if (!v)
        return 0;
    const char *s = scalar(v);
    int64_t ms = 0;
    if (!s || baton_duration_parse(s, &ms) != 0) {
        PERR(c, line, "'%s': '%s' is not a duration (use e.g. 30s, 15m, 2h, 1d)", key,
             s ? s : "(not a scalar)");
        return -1;
    }
    return ms;
}

static char *get_ident(pctx_t *c, struct fy_node *map, const char *key, int required, int at,
                       const char *what, const char *kind)
{
    int line = at;
    char *s = get_str(c, map, key, required, at, what, &line);
    if (s && !baton_pathway__is_ident(s)) {
        PERR(c, line, "%s '%s' must use only a-z, 0-9 and _", kind, s);
        free(s);
        return NULL;
    }
    return s;
}

/* A list of names (a single scalar is accepted as a list of one). */
static char **get_names(pctx_t *c, struct fy_node *map, const char *key, size_t *n, int at,
                        int events, int *line_out)
{
    int line = at;
    struct fy_node *v = get(map, key, &line);
    *n = 0;
    if (line_out)
        *line_out = line;
    if (!v)
        return NULL;
    char **arr = NULL;
    void *it = NULL;
    struct fy_node *item = v;
    int is_seq = fy_node_is_sequence(v);
    if (!is_seq && !fy_node_is_scalar(v)) {
        PERR(c, line, "'%s' must be a list", key);
        return NULL;
    }
    while (is_seq ? (item = fy_node_sequence_iterate(v, &it)) != NULL : item != NULL) {
        const char *s = scalar(item);
        int ok = s && (events ? baton_pathway__is_event_type(s) : baton_pathway__is_ident(s));
        if (!ok)
            PERR(c, node_line(item, line), "'%s': '%s' is not a valid %s", key,
                 s ? s : "(not a scalar)", events ? "event type" : "name");
        else
            baton_pathway__add_str(&arr, n, s);
        if (!is_seq)
            break;
    }
    return arr;
}

/* {attr: value | [values]} */
static void parse_where(pctx_t *c, struct fy_node *v, int line, const char *key, baton_where_t *w)
{
    if (!fy_node_is_mapping(v)) {
        PERR(c, line, "'%s' must be a mapping of attribute: value", key);
        return;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(v, &it))) {
        const char *k = scalar(fy_node_pair_key(p));
        struct fy_node *val = fy_node_pair_value(p);
        int kl = node_line(fy_node_pair_key(p), line);
        if (!k || !*k) {
            PERR(c, kl, "'%s': attribute names must be text", key);
            continue;
        }
        baton_attr_cond_t cond = {baton_xstrdup(k), NULL, 0};
        if (val && fy_node_is_sequence(val)) {
            void *it2 = NULL;
            struct fy_node *item;
            while ((item = fy_node_sequence_iterate(val, &it2))) {
                if (!scalar(item))
                    PERR(c, node_line(item, kl), "'%s': values of '%s' must be text", key, k);
                else
                    baton_pathway__add_str(&cond.values, &cond.nvalues, scalar(item));
            }
            if (fy_node_sequence_item_count(val) == 0)
                PERR(c, kl, "'%s': '%s' lists no values", key, k);
        } else if (scalar(val)) {
            baton_pathway__add_str(&cond.values, &cond.nvalues, scalar(val));
        } else {
            PERR(c, kl, "'%s': the value of '%s' must be text or a list of text", key, k);
        }
        w->conds = baton_xrealloc(w->conds, (w->n + 1) * sizeof(*w->conds));
        w->conds[w->n++] = cond;
    }
}

static int parse_role(pctx_t *c, struct fy_node *v, int line, const char *key, baton_role_ref_t *r)
{
    static const char *const keys[] = {"role", "scope", NULL};
    if (!v || !fy_node_is_mapping(v)) {
        PERR(c, line, "'%s' must be a mapping {role: ..., scope: unit | facility}", key);
        return -1;
    }
    check_keys(c, v, keys, key);
    char what[64];
    snprintf(what, sizeof(what), "'%s'", key);
    r->role = get_ident(c, v, "role", 1, line, what, "role");
    int sl = line;
    char *scope = get_str(c, v, "scope", 1, line, what, &sl);
    if (scope) {
        if (strcmp(scope, "unit") == 0)
            r->scope = BATON_SCOPE_UNIT;
        else if (strcmp(scope, "facility") == 0)
            r->scope = BATON_SCOPE_FACILITY;
        else
            PERR(c, sl, "unknown scope '%s' (expected unit or facility)", scope);
        free(scope);
    }
    return 0;
}

static void parse_step(pctx_t *c, struct fy_node *v, baton_escalation_step_t *st, int at)
{
    static const char *const keys[] = {"after", "unless", "notify", "reassign", "repeat", NULL};
    st->line = node_line(v, at);
    if (!fy_node_is_mapping(v)) {
        PERR(c, st->line, "an escalation step must be a mapping");
        return;
    }
    check_keys(c, v, keys, "escalation step");
    int line = st->line;
    if (!get(v, "after", NULL))
        PERR(c, st->line, "missing required key 'after' in escalation step");
    st->after_ms = get_duration(c, v, "after", st->line, NULL);
    st->repeat_ms = get_duration(c, v, "repeat", st->line, NULL);
    char *unless = get_str(c, v, "unless", 0, st->line, "escalation step", &line);
    if (unless) {
        if (strcmp(unless, "acknowledged") == 0)
            st->unless = BATON_UNLESS_ACKNOWLEDGED;
        else if (strcmp(unless, "completed") == 0)
            st->unless = BATON_UNLESS_COMPLETED;
        else
            PERR(c, line, "unknown 'unless' value '%s' (expected acknowledged or completed)",
                 unless);
        free(unless);
    }
    int nl = st->line, rl = st->line;
    struct fy_node *notify = get(v, "notify", &nl), *reassign = get(v, "reassign", &rl);
    if ((notify != NULL) == (reassign != NULL)) {
        PERR(c, st->line, "an escalation step needs exactly one of 'notify' or 'reassign'");
        return;
    }
    st->reassign = reassign != NULL;
    parse_role(c, notify ? notify : reassign, notify ? nl : rl, notify ? "notify" : "reassign",
               &st->target);
}

static void parse_complete_on(pctx_t *c, struct fy_node *v, int line, baton_stage_def_t *sd)
{
    static const char *const keys[] = {"event", "where", NULL};
    if (!fy_node_is_mapping(v)) {
        PERR(c, line, "'complete_on' must be a mapping {event: ..., where: ...}");
        return;
    }
    check_keys(c, v, keys, "complete_on");
    int el = line;
    sd->complete_on_event = get_str(c, v, "event", 1, line, "complete_on", &el);
    if (sd->complete_on_event && !baton_pathway__is_event_type(sd->complete_on_event))
        PERR(c, el, "'event': '%s' is not a valid event type", sd->complete_on_event);
    int wl = line;
    struct fy_node *w = get(v, "where", &wl);
    if (w)
        parse_where(c, w, wl, "where", &sd->complete_on_where);
}

static void parse_stage(pctx_t *c, struct fy_node *v, baton_stage_def_t *sd, int at)
{
    static const char *const keys[] = {
        "id",         "title",      "owner", "ack_within",  "complete_within",
        "escalation", "depends_on", "when",  "complete_on", "override_roles",
        NULL};
    sd->line = node_line(v, at);
    if (!fy_node_is_mapping(v)) {
        PERR(c, sd->line, "a stage must be a mapping");
        return;
    }
    check_keys(c, v, keys, "stage");
    sd->id = get_ident(c, v, "id", 1, sd->line, "stage", "stage id");
    int l = sd->line;
    get(v, "id", &l);
    sd->line = l;
    sd->title = get_str(c, v, "title", 0, sd->line, "stage", NULL);
    if (!sd->title)
        sd->title = baton_xstrdup(sd->id ? sd->id : "");
    int ol = sd->line;
    struct fy_node *owner = get(v, "owner", &ol);
    if (!owner)
        PERR(c, sd->line, "missing required key 'owner' in stage '%s'", sd->id ? sd->id : "?");
    else
        parse_role(c, owner, ol, "owner", &sd->owner);
    sd->ack_line = sd->complete_line = sd->deps_line = sd->line;
    sd->ack_within_ms = get_duration(c, v, "ack_within", sd->line, &sd->ack_line);
    sd->complete_within_ms = get_duration(c, v, "complete_within", sd->line, &sd->complete_line);
    sd->depends_on = get_names(c, v, "depends_on", &sd->ndeps, sd->line, 0, &sd->deps_line);
    sd->override_roles = get_names(c, v, "override_roles", &sd->noverride, sd->line, 0, NULL);
    int wl = sd->line;
    struct fy_node *when = get(v, "when", &wl);
    if (when) {
        sd->has_when = 1;
        parse_where(c, when, wl, "when", &sd->when);
    }
    int cl = sd->line;
    struct fy_node *con = get(v, "complete_on", &cl);
    if (con)
        parse_complete_on(c, con, cl, sd);
    int el = sd->line;
    struct fy_node *esc = get(v, "escalation", &el);
    if (esc && !fy_node_is_sequence(esc)) {
        PERR(c, el, "'escalation' must be a list of steps");
    } else if (esc) {
        sd->nsteps = (size_t)fy_node_sequence_item_count(esc);
        sd->steps = baton_xcalloc(sd->nsteps ? sd->nsteps : 1, sizeof(*sd->steps));
        void *it = NULL;
        struct fy_node *item;
        for (size_t i = 0; (item = fy_node_sequence_iterate(esc, &it)); i++)
            parse_step(c, item, &sd->steps[i], el);
    }
}

static void parse_version(pctx_t *c, struct fy_node *root, baton_pathway_def_t *def, int at)
{
    int line = at;
    struct fy_node *v = get(root, "version", &line);
    def->version_line = line;
    if (!v) {
        PERR(c, at, "missing required key 'version'");
        return;
    }
    const char *s = scalar(v);
    char *end = NULL;
    errno = 0;
    long long n = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || n < 1 || n > (long long)UINT32_MAX || s[0] == '+') {
        PERR(c, line, "'version' must be a positive integer, got '%s'", s ? s : "(not a scalar)");
        return;
    }
    def->version = (uint32_t)n;
}

static void parse_trigger(pctx_t *c, struct fy_node *root, baton_pathway_def_t *def, int at)
{
    static const char *const keys[] = {"event", "where", NULL};
    int line = at;
    struct fy_node *v = get(root, "trigger", &line);
    if (!v) {
        PERR(c, at, "missing required key 'trigger'");
        return;
    }
    if (!fy_node_is_mapping(v)) {
        PERR(c, line, "'trigger' must be a mapping {event: ..., where: ...}");
        return;
    }
    check_keys(c, v, keys, "trigger");
    int el = line;
    def->trigger_event = get_str(c, v, "event", 1, line, "trigger", &el);
    if (def->trigger_event && !baton_pathway__is_event_type(def->trigger_event))
        PERR(c, el, "'event': '%s' is not a valid event type", def->trigger_event);
    int wl = line;
    struct fy_node *w = get(v, "where", &wl);
    if (w)
        parse_where(c, w, wl, "where", &def->trigger_where);
}

static void parse_root(pctx_t *c, struct fy_node *root, baton_pathway_def_t *def)
{
    static const char *const keys[] = {"pathway",     "version",   "title",  "trigger",
                                       "correlation", "cancel_on", "stages", NULL};
    int at = node_line(root, 1);
    check_keys(c, root, keys, "the pathway");
    def->id = get_ident(c, root, "pathway", 1, at, "the pathway", "pathway id");
    def->line = at;
    get(root, "pathway", &def->line);
    parse_version(c, root, def, at);
    def->title = get_str(c, root, "title", 0, at, "the pathway", NULL);
    if (!def->title)
        def->title = baton_xstrdup(def->id ? def->id : "");
    parse_trigger(c, root, def, at);
    int cl = at;
    char *corr = get_str(c, root, "correlation", 1, at, "the pathway", &cl);
    if (corr) {
        if (strcmp(corr, "encounter") == 0)
            def->correlation = BATON_CORRELATE_ENCOUNTER;
        else if (strcmp(corr, "patient") == 0)
            def->correlation = BATON_CORRELATE_PATIENT;
        else
            PERR(c, cl, "unknown correlation '%s' (expected encounter or patient)", corr);
        free(corr);
    }
    def->cancel_on = get_names(c, root, "cancel_on", &def->ncancel, at, 1, NULL);
    int sl = at;
    struct fy_node *stages = get(root, "stages", &sl);
    if (!stages) {
        PERR(c, at, "missing required key 'stages'");
        return;
    }
    if (!fy_node_is_sequence(stages) || fy_node_sequence_item_count(stages) == 0) {
        PERR(c, sl, "'stages' must be a list of at least one stage");
        return;
    }
    def->nstages = (size_t)fy_node_sequence_item_count(stages);
    def->stages = baton_xcalloc(def->nstages, sizeof(*def->stages));
    void *it = NULL;
    struct fy_node *item;
    for (size_t i = 0; (item = fy_node_sequence_iterate(stages, &it)); i++)
        parse_stage(c, item, &def->stages[i], sl);
}

/* Report the YAML parser's own errors (syntax, duplicate keys) collected by the diag. */
static void report_diag(pctx_t *c, struct fy_diag *diag)
{
    void *it = NULL;
    struct fy_diag_error *e;
    int any = 0;
    while ((e = fy_diag_errors_iterate(diag, &it))) {
        PERR(c, e->line > 0 ? e->line : 1, "YAML: %s", e->msg ? e->msg : "syntax error");
        any = 1;
    }
    if (!any)
        PERR(c, 1, "the file is empty (a pathway file holds one YAML mapping)");
}

/* Errors of one file in line order (stable), however the checks happened to find them. */
static void sort_errors(baton_pathway_errors_t *errs, size_t from, size_t namelen)
{
    for (size_t i = from + 1; i < errs->n; i++) {
        char *cur = errs->items[i];
        long line = strtol(cur + namelen + 1, NULL, 10);
        size_t j = i;
        while (j > from && strtol(errs->items[j - 1] + namelen + 1, NULL, 10) > line) {
            errs->items[j] = errs->items[j - 1];
            j--;
        }
        errs->items[j] = cur;
    }
}

baton_pathway_def_t *baton_pathway__parse_file(const char *path, const char *name,
                                               baton_pathway_errors_t *errs)
{
    pctx_t c = {name, errs, (int)errs->n};
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (!diag) {
        PERR(&c, 1, "cannot set up the YAML parser");
        return NULL;
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pc = {.search_path = NULL, .flags = FYPCF_QUIET, .diag = diag};
    struct fy_document *doc = fy_document_build_from_file(&pc, path);
    baton_pathway_def_t *def = NULL;
    if (!doc) {
        report_diag(&c, diag);
        goto out;
    }
    struct fy_node *root = fy_document_root(doc);
    if (!root || !fy_node_is_mapping(root)) {
        PERR(&c, node_line(root, 1),
             "a pathway file must be a mapping (pathway: ..., stages: ...)");
        goto out;
    }
    def = baton_xcalloc(1, sizeof(*def));
    def->file = baton_xstrdup(path);
    parse_root(&c, root, def);
    if ((int)errs->n == c.nerr_start)
        baton_pathway__validate(def, name, errs);
    if ((int)errs->n != c.nerr_start) {
        baton_pathway__def_free(def);
        def = NULL;
    }
out:
    sort_errors(errs, (size_t)c.nerr_start, strlen(name));
    if (doc)
        fy_document_destroy(doc);
    fy_diag_destroy(diag);
    return def;
}

static void where_free(baton_where_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->conds[i].key);
        for (size_t j = 0; j < w->conds[i].nvalues; j++)
            free(w->conds[i].values[j]);
        free(w->conds[i].values);
    }
    free(w->conds);
}

static void strs_free(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

void baton_pathway__def_free(baton_pathway_def_t *def)
{
    if (!def)
        return;
    for (size_t i = 0; i < def->nstages; i++) {
        baton_stage_def_t *s = &def->stages[i];
        free(s->id);
        free(s->title);
        free(s->owner.role);
        for (size_t j = 0; j < s->nsteps; j++)
            free(s->steps[j].target.role);
        free(s->steps);
        strs_free(s->depends_on, s->ndeps);
        free(s->dep_index);
        where_free(&s->when);
        free(s->complete_on_event);
        where_free(&s->complete_on_where);
        strs_free(s->override_roles, s->noverride);
    }
    free(def->stages);
    free(def->id);
    free(def->title);
    free(def->file);
    free(def->trigger_event);
    where_free(&def->trigger_where);
    strs_free(def->cancel_on, def->ncancel);
    free(def);
}
