/* pathway_load.c — a directory of definitions → an immutable set (all or nothing), lookups by
 * (id, version), trigger matching and the correlation key rule. */
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pathway_int.h"

void baton_pathway__err(baton_pathway_errors_t *e, const char *file, int line, const char *fmt, ...)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_appendf(&b, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    baton_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    e->items = baton_xrealloc(e->items, (e->n + 1) * sizeof(char *));
    e->items[e->n++] = baton_buf_steal(&b);
}

void baton_pathway_errors_free(baton_pathway_errors_t *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        free(e->items[i]);
    free(e->items);
    e->items = NULL;
    e->n = 0;
}

void baton_pathway__add_str(char ***arr, size_t *n, const char *s)
{
    *arr = baton_xrealloc(*arr, (*n + 1) * sizeof(char *));
    (*arr)[(*n)++] = baton_xstrdup(s);
}

void baton_pathway_set_free(baton_pathway_set_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        baton_pathway__def_free(set->defs[i]);
    free(set->defs);
    free(set);
}

static int def_cmp(const void *a, const void *b)
{
    const baton_pathway_def_t *x = *(baton_pathway_def_t *const *)a;
    const baton_pathway_def_t *y = *(baton_pathway_def_t *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->version > y->version) - (x->version < y->version);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_yaml(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && ((l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
                           (l > 4 && strcmp(n + l - 4, ".yml") == 0));
}

static void finish_errors(baton_pathway_errors_t *errs, baton_pathway_errors_t *errs_out, char *err,
                          size_t errlen)
{
    if (errs->n == 1)
        baton_seterr(err, errlen, "%s", errs->items[0]);
    else
        baton_seterr(err, errlen, "%s (and %zu more errors)", errs->items[0], errs->n - 1);
    if (errs_out)
        *errs_out = *errs;
    else
        baton_pathway_errors_free(errs);
}

/* Add def to set, reporting a second file with the same (pathway, version). */
static void add_def(baton_pathway_set_t *set, baton_pathway_def_t *def, const char *name,
                    baton_pathway_errors_t *errs)
{
    for (size_t i = 0; i < set->n; i++) {
        const baton_pathway_def_t *o = set->defs[i];
        if (strcmp(o->id, def->id) == 0 && o->version == def->version) {
            const char *on = strrchr(o->file, '/');
            baton_pathway__err(errs, name, def->version_line,
                               "pathway '%s' version %u is already defined in %s:%d", def->id,
                               def->version, on ? on + 1 : o->file, o->version_line);
            baton_pathway__def_free(def);
            return;
        }
    }
    set->defs = baton_xrealloc(set->defs, (set->n + 1) * sizeof(*set->defs));
    set->defs[set->n++] = def;
}

baton_pathway_set_t *baton_pathway_load_dir(const char *dir, baton_pathway_errors_t *errs_out,
                                            char *err, size_t errlen)
{
    baton_pathway_errors_t errs = {NULL, 0};
    if (errs_out)
        *errs_out = errs;
    DIR *d = opendir(dir);
    if (!d) {
        baton_seterr(err, errlen, "%s: cannot open the pathway directory", dir);
        return NULL;
    }
    char **names = NULL;
    size_t nnames = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (is_yaml(de->d_name))
            baton_pathway__add_str(&names, &nnames, de->d_name);
    closedir(d);
    if (nnames == 0) {
        baton_seterr(err, errlen, "%s: no pathway files (*.yaml) in the directory", dir);
        return NULL;
    }
    qsort(names, nnames, sizeof(char *), name_cmp);
    baton_pathway_set_t *set = baton_xcalloc(1, sizeof(*set));
    for (size_t i = 0; i < nnames; i++) {
        char *path = baton_xasprintf("%s/%s", dir, names[i]);
        baton_pathway_def_t *def = baton_pathway__parse_file(path, names[i], &errs);
        if (def)
            add_def(set, def, names[i], &errs);
        free(path);
        free(names[i]);
    }
    free(names);
    if (errs.n) {
        baton_pathway_set_free(set);
        finish_errors(&errs, errs_out, err, errlen);
        return NULL;
    }
    qsort(set->defs, set->n, sizeof(*set->defs), def_cmp);
    return set;
}

baton_pathway_set_t *baton_pathway_load_file(const char *path, baton_pathway_errors_t *errs_out,
                                             char *err, size_t errlen)
{
    baton_pathway_errors_t errs = {NULL, 0};
    if (errs_out)
        *errs_out = errs;
    const char *name = strrchr(path, '/');
    baton_pathway_def_t *def = baton_pathway__parse_file(path, name ? name + 1 : path, &errs);
    if (!def) {
        finish_errors(&errs, errs_out, err, errlen);
        return NULL;
    }
    baton_pathway_set_t *set = baton_xcalloc(1, sizeof(*set));
    set->defs = baton_xcalloc(1, sizeof(*set->defs));
    set->defs[0] = def;
    set->n = 1;
    return set;
}

const baton_pathway_def_t *baton_pathway_get(const baton_pathway_set_t *set, const char *id,
                                             uint32_t version)
{
    for (size_t i = 0; set && id && i < set->n; i++)
        if (set->defs[i]->version == version && strcmp(set->defs[i]->id, id) == 0)
            return set->defs[i];
    return NULL;
}

const baton_pathway_def_t *baton_pathway_latest(const baton_pathway_set_t *set, const char *id)
{
    const baton_pathway_def_t *best = NULL;
    for (size_t i = 0; set && id && i < set->n; i++)
        if (strcmp(set->defs[i]->id, id) == 0 && (!best || set->defs[i]->version > best->version))
            best = set->defs[i];
    return best;
}

size_t baton_pathway_count(const baton_pathway_set_t *set)
{
    return set ? set->n : 0;
}

const baton_pathway_def_t *baton_pathway_at(const baton_pathway_set_t *set, size_t i)
{
    return set && i < set->n ? set->defs[i] : NULL;
}

static const char *entry_get(Baton__V1__ClinicalEvent__AttributesEntry *const *attrs, size_t n,
                             const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (attrs[i]->key && strcmp(attrs[i]->key, key) == 0)
            return attrs[i]->value ? attrs[i]->value : "";
    return NULL;
}

static int cond_holds(const baton_attr_cond_t *c, const char *v)
{
    for (size_t j = 0; v && j < c->nvalues; j++)
        if (strcmp(c->values[j], v) == 0)
            return 1;
    return 0;
}

int baton_pathway_where_matches(const baton_where_t *w,
                                Baton__V1__ClinicalEvent__AttributesEntry *const *attrs,
                                size_t nattrs)
{
    for (size_t i = 0; i < w->n; i++)
        if (!cond_holds(&w->conds[i], entry_get(attrs, nattrs, w->conds[i].key)))
            return 0;
    return 1;
}

const char *baton_pathway__attr_get(const Baton__V1__InstanceState *s, const char *key)
{
    for (size_t i = 0; i < s->n_attributes; i++)
        if (strcmp(s->attributes[i]->key, key) == 0)
            return s->attributes[i]->value;
    return NULL;
}

int baton_pathway__where_state(const baton_where_t *w, const Baton__V1__InstanceState *s)
{
    for (size_t i = 0; i < w->n; i++)
        if (!cond_holds(&w->conds[i], baton_pathway__attr_get(s, w->conds[i].key)))
            return 0;
    return 1;
}

const char *baton_pathway__correlation_id(const baton_pathway_def_t *def,
                                          const Baton__V1__Envelope *env)
{
    return def->correlation == BATON_CORRELATE_PATIENT ? env->clinical->patient
                                                       : env->clinical->encounter;
}

char *baton_pathway_correlation_key(const baton_pathway_def_t *def, const Baton__V1__Envelope *env)
{
    if (!env || env->body_case != BATON__V1__ENVELOPE__BODY_CLINICAL || !env->tenant ||
        !*env->tenant)
        return NULL;
    const char *id = baton_pathway__correlation_id(def, env);
    if (!id || !*id)
        return NULL;
    return baton_xasprintf("%s/%s", env->tenant, id);
}

void baton_pathway_instance_id(const baton_pathway_def_t *def, const char *event_id,
                               char out[BATON_ID_LEN])
{
    char *purpose = baton_xasprintf("instance:%s", def->id);
    baton_derived_id(event_id, purpose, out);
    free(purpose);
}

size_t baton_pathway_match_triggers(const baton_pathway_set_t *set, const Baton__V1__Envelope *env,
                                    const baton_pathway_def_t **out, size_t cap)
{
    size_t n = 0;
    if (!set || !env || env->body_case != BATON__V1__ENVELOPE__BODY_CLINICAL)
        return 0;
    const Baton__V1__ClinicalEvent *c = env->clinical;
    for (size_t i = 0; i < set->n; i++) {
        const baton_pathway_def_t *def = set->defs[i];
        /* defs are sorted by (id, version): only the last of each id starts instances */
        if (i + 1 < set->n && strcmp(set->defs[i + 1]->id, def->id) == 0)
            continue;
        if (!c->event_type || strcmp(c->event_type, def->trigger_event) != 0)
            continue;
        if (!baton_pathway_where_matches(&def->trigger_where, c->attributes, c->n_attributes))
            continue;
        char *key = baton_pathway_correlation_key(def, env);
        if (!key)
            continue;
        free(key);
        if (n < cap)
            out[n] = def;
        n++;
    }
    return n;
}
