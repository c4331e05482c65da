/* pathway_validate.c — checks that need the whole definition: stage ids unique, depends_on
 * naming known stages and forming no cycle, escalation `after` strictly increasing,
 * complete_within not shorter than ack_within. Also the small name/attribute helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pathway_int.h"

int baton_pathway__is_ident(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

int baton_pathway__is_event_type(const char *s)
{
    if (!s || !*s || *s == '.')
        return 0;
    char prev = 0;
    for (; *s; prev = *s, s++) {
        if (*s == '.' && prev == '.')
            return 0;
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.'))
            return 0;
    }
    return prev != '.';
}

const char *baton_pathway__scope_name(baton_scope_t s)
{
    return s == BATON_SCOPE_FACILITY ? "facility" : "unit";
}

int baton_pathway_stage_index(const baton_pathway_def_t *def, const char *stage_id)
{
    for (size_t i = 0; stage_id && i < def->nstages; i++)
        if (def->stages[i].id && strcmp(def->stages[i].id, stage_id) == 0)
            return (int)i;
    return -1;
}

static void fmt_duration(int64_t ms, char *buf, size_t len)
{
    if (baton_duration_format(ms, buf, len) != 0)
        snprintf(buf, len, "%lldms", (long long)ms);
}

/* DFS colouring: 0 new, 1 on the path, 2 done. Reports each cycle once, at the line of the
 * depends_on that closes it. */
static void dfs(baton_pathway_def_t *def, size_t i, int *color, size_t *path, size_t depth,
                const char *name, baton_pathway_errors_t *errs)
{
    color[i] = 1;
    path[depth] = i;
    baton_stage_def_t *s = &def->stages[i];
    for (size_t d = 0; d < s->ndeps; d++) {
        size_t j = s->dep_index[d];
        if (color[j] == 1) {
            baton_buf_t b = BATON_BUF_INIT;
            size_t k = 0;
            while (path[k] != j)
                k++;
            for (; k <= depth; k++)
                baton_buf_appendf(&b, "%s -> ", def->stages[path[k]].id);
            baton_buf_puts(&b, def->stages[j].id);
            baton_pathway__err(errs, name, s->deps_line, "depends_on forms a cycle: %s", b.data);
            baton_buf_free(&b);
        } else if (color[j] == 0) {
            dfs(def, j, color, path, depth + 1, name, errs);
        }
    }
    color[i] = 2;
}

static int resolve_deps(baton_pathway_def_t *def, const char *name, baton_pathway_errors_t *errs)
{
    int ok = 1;
    for (size_t i = 0; i < def->nstages; i++) {
        baton_stage_def_t *s = &def->stages[i];
        s->dep_index = baton_xcalloc(s->ndeps ? s->ndeps : 1, sizeof(size_t));
        for (size_t d = 0; d < s->ndeps; d++) {
            int j = baton_pathway_stage_index(def, s->depends_on[d]);
            if (j < 0) {
                baton_pathway__err(errs, name, s->deps_line,
                                   "stage '%s' depends on unknown stage '%s'", s->id,
                                   s->depends_on[d]);
                ok = 0;
            }
            s->dep_index[d] = j < 0 ? 0 : (size_t)j;
        }
    }
    return ok;
}

static void check_stage(const baton_stage_def_t *s, const char *name, baton_pathway_errors_t *errs)
{
    char a[32], b[32];
    if (s->ack_within_ms > 0 && s->complete_within_ms > 0 &&
        s->complete_within_ms < s->ack_within_ms) {
        fmt_duration(s->complete_within_ms, a, sizeof(a));
        fmt_duration(s->ack_within_ms, b, sizeof(b));
        baton_pathway__err(errs, name, s->complete_line,
                           "stage '%s': complete_within %s is shorter than ack_within %s", s->id, a,
                           b);
    }
    for (size_t k = 1; k < s->nsteps; k++) {
        if (s->steps[k].after_ms > s->steps[k - 1].after_ms)
            continue;
        fmt_duration(s->steps[k].after_ms, a, sizeof(a));
        fmt_duration(s->steps[k - 1].after_ms, b, sizeof(b));
        baton_pathway__err(errs, name, s->steps[k].line,
                           "stage '%s': escalation step %zu: after %s is not later than the "
                           "previous step's %s",
                           s->id, k + 1, a, b);
    }
}

void baton_pathway__validate(baton_pathway_def_t *def, const char *name,
                             baton_pathway_errors_t *errs)
{
    for (size_t i = 0; i < def->nstages; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(def->stages[i].id, def->stages[j].id) == 0) {
                baton_pathway__err(errs, name, def->stages[i].line,
                                   "duplicate stage id '%s' (first at line %d)", def->stages[i].id,
                                   def->stages[j].line);
                break;
            }
        }
        check_stage(&def->stages[i], name, errs);
    }
    if (!resolve_deps(def, name, errs))
        return;
    int *color = baton_xcalloc(def->nstages, sizeof(int));
    size_t *path = baton_xcalloc(def->nstages + 1, sizeof(size_t));
    for (size_t i = 0; i < def->nstages; i++)
        if (color[i] == 0)
            dfs(def, i, color, path, 0, name, errs);
    free(color);
    free(path);
}
