/* metrics_render.c — the Prometheus text exposition format 0.0.4. */
#include "metrics_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Shortest text that reads back as the same double; +Inf / -Inf / NaN as Prometheus spells them. */
static void put_double(baton_buf_t *out, double v)
{
    if (isnan(v)) {
        baton_buf_puts(out, "NaN");
        return;
    }
    if (isinf(v)) {
        baton_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char tmp[40];
    if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
        baton_buf_appendf(out, "%lld", (long long)v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    baton_buf_puts(out, tmp);
}

/* HELP text escapes backslash and newline; label values also escape the double quote. */
static void put_escaped(baton_buf_t *out, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            baton_buf_puts(out, "\\\\");
        else if (*s == '\n')
            baton_buf_puts(out, "\\n");
        else if (quote && *s == '"')
            baton_buf_puts(out, "\\\"");
        else
            baton_buf_putc(out, *s);
    }
}

/* {a="x",b="y"[,le="..."]} or nothing when there are no labels at all. */
static void put_labels(baton_buf_t *out, const baton_metric_t *fam, const baton_mchild_t *ch,
                       const char *le)
{
    if (fam->nlabels == 0 && !le)
        return;
    baton_buf_putc(out, '{');
    for (size_t i = 0; i < fam->nlabels; i++) {
        if (i)
            baton_buf_putc(out, ',');
        baton_buf_puts(out, fam->labels[i]);
        baton_buf_puts(out, "=\"");
        put_escaped(out, ch->values[i], 1);
        baton_buf_putc(out, '"');
    }
    if (le) {
        if (fam->nlabels)
            baton_buf_putc(out, ',');
        baton_buf_puts(out, "le=\"");
        baton_buf_puts(out, le);
        baton_buf_putc(out, '"');
    }
    baton_buf_putc(out, '}');
}

static void render_histogram(baton_buf_t *out, const baton_metric_t *fam, baton_histogram_t *h)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        baton_buf_t le = BATON_BUF_INIT;
        if (i < h->nbounds)
            put_double(&le, h->bounds[i]);
        else
            baton_buf_puts(&le, "+Inf");
        baton_buf_appendf(out, "%s_bucket", fam->name);
        put_labels(out, fam, &h->hdr, le.data);
        baton_buf_appendf(out, " %llu\n", (unsigned long long)cum);
        baton_buf_free(&le);
    }
    baton_buf_appendf(out, "%s_sum", fam->name);
    put_labels(out, fam, &h->hdr, NULL);
    baton_buf_putc(out, ' ');
    put_double(out, baton_histogram_sum(h));
    baton_buf_appendf(out, "\n%s_count", fam->name);
    put_labels(out, fam, &h->hdr, NULL);
    baton_buf_appendf(out, " %llu\n", (unsigned long long)cum);
}

static void render_family(baton_buf_t *out, baton_metric_t *fam)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    baton_buf_appendf(out, "# HELP %s ", fam->name);
    put_escaped(out, fam->help, 0);
    baton_buf_appendf(out, "\n# TYPE %s %s\n", fam->name, type_names[fam->type]);
    pthread_mutex_lock(&fam->mu);
    for (size_t i = 0; i < fam->nchildren; i++) {
        baton_mchild_t *ch = fam->children[i];
        if (fam->type == BATON_MT_HISTOGRAM) {
            render_histogram(out, fam, (baton_histogram_t *)ch);
            continue;
        }
        baton_buf_puts(out, fam->name);
        put_labels(out, fam, ch, NULL);
        baton_buf_putc(out, ' ');
        if (fam->type == BATON_MT_COUNTER)
            put_double(out, baton_counter_value((baton_counter_t *)ch));
        else
            put_double(out, baton_gauge_value((baton_gauge_t *)ch));
        baton_buf_putc(out, '\n');
    }
    pthread_mutex_unlock(&fam->mu);
}

int baton_metrics_render(baton_metrics_t *reg, baton_buf_t *out)
{
    /* Hooks run without the registry lock so they may look up children or register. */
    pthread_mutex_lock(&reg->mu);
    size_t nhooks = reg->nhooks;
    baton_metrics_collect_fn fns[BATON_METRICS_MAX_HOOKS];
    void *uds[BATON_METRICS_MAX_HOOKS];
    for (size_t i = 0; i < nhooks; i++) {
        fns[i] = reg->hooks[i].fn;
        uds[i] = reg->hooks[i].ud;
    }
    pthread_mutex_unlock(&reg->mu);
    for (size_t i = 0; i < nhooks; i++)
        fns[i](reg, uds[i]);

    /* Families are only ever appended, so walking from head with the lock held is simple. */
    pthread_mutex_lock(&reg->mu);
    for (baton_metric_t *f = reg->head; f; f = f->next)
        render_family(out, f);
    pthread_mutex_unlock(&reg->mu);
    if (!out->data)
        baton_buf_puts(out, "");
    return 0;
}
