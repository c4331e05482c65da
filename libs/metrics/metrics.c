/* metrics.c — registry, families, children and the atomic updates. */
#include "metrics_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const double baton_metrics_latency_buckets[BATON_METRICS_LATENCY_BUCKETS_N] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

double baton_metrics__bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

uint64_t baton_metrics__double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

/* Atomically add v to a double stored as bits. */
static void atomic_add_double(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    for (;;) {
        uint64_t nw = baton_metrics__double_to_bits(baton_metrics__bits_to_double(old) + v);
        if (atomic_compare_exchange_weak_explicit(bits, &old, nw, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

/* ---- registry ---- */

baton_metrics_t *baton_metrics_new(void)
{
    baton_metrics_t *reg = baton_xcalloc(1, sizeof *reg);
    pthread_mutex_init(&reg->mu, NULL);
    return reg;
}

static void child_free(baton_metric_t *fam, baton_mchild_t *ch)
{
    for (size_t i = 0; i < fam->nlabels; i++)
        free(ch->values[i]);
    free(ch->values);
    if (fam->type == BATON_MT_HISTOGRAM)
        free(((baton_histogram_t *)ch)->counts);
    free(ch);
}

static void family_free(baton_metric_t *fam)
{
    for (size_t i = 0; i < fam->nchildren; i++)
        child_free(fam, fam->children[i]);
    free(fam->children);
    for (size_t i = 0; i < fam->nlabels; i++)
        free(fam->labels[i]);
    free(fam->labels);
    free(fam->bounds);
    free(fam->name);
    free(fam->help);
    pthread_mutex_destroy(&fam->mu);
    free(fam);
}

void baton_metrics_free(baton_metrics_t *reg)
{
    if (!reg)
        return;
    baton_metric_t *f = reg->head;
    while (f) {
        baton_metric_t *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

int baton_metrics_on_collect(baton_metrics_t *reg, baton_metrics_collect_fn fn, void *ud)
{
    int rc = BATON_ERANGE;
    pthread_mutex_lock(&reg->mu);
    if (reg->nhooks < BATON_METRICS_MAX_HOOKS) {
        reg->hooks[reg->nhooks].fn = fn;
        reg->hooks[reg->nhooks].ud = ud;
        reg->nhooks++;
        rc = 0;
    }
    pthread_mutex_unlock(&reg->mu);
    return rc;
}

/* ---- families ---- */

/* Prometheus: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
 * and not starting with "__" (reserved). */
static bool valid_name(const char *s, bool is_label)
{
    if (!s || !*s)
        return false;
    if (is_label && s[0] == '_' && s[1] == '_')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (!is_label && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static bool same_shape(const baton_metric_t *f, baton_mtype_t type, const char *const *labels,
                       size_t nlabels, const double *bounds, size_t nbounds)
{
    if (f->type != type || f->nlabels != nlabels)
        return false;
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return false;
    if (type == BATON_MT_HISTOGRAM) {
        if (f->nbounds != nbounds)
            return false;
        for (size_t i = 0; i < nbounds; i++)
            if (f->bounds[i] != bounds[i])
                return false;
    }
    return true;
}

static bool valid_bounds(const double *b, size_t n)
{
    if (n > BATON_METRICS_MAX_BUCKETS)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (isnan(b[i]) || isinf(b[i]))
            return false;
        if (i > 0 && !(b[i] > b[i - 1]))
            return false;
    }
    return true;
}

static baton_metric_t *family_register(baton_metrics_t *reg, baton_mtype_t type, const char *name,
                                       const char *help, const double *bounds, size_t nbounds,
                                       const char *const *labels, size_t nlabels)
{
    if (!reg || !valid_name(name, false) || nlabels > BATON_METRICS_MAX_LABELS)
        return NULL;
    for (size_t i = 0; i < nlabels; i++) {
        if (!valid_name(labels[i], true))
            return NULL;
        if (type == BATON_MT_HISTOGRAM && strcmp(labels[i], "le") == 0)
            return NULL;
    }
    if (type == BATON_MT_HISTOGRAM && !bounds) {
        bounds = baton_metrics_latency_buckets;
        nbounds = BATON_METRICS_LATENCY_BUCKETS_N;
    }
    if (type == BATON_MT_HISTOGRAM && !valid_bounds(bounds, nbounds))
        return NULL;

    pthread_mutex_lock(&reg->mu);
    for (baton_metric_t *f = reg->head; f; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            bool ok = same_shape(f, type, labels, nlabels, bounds, nbounds);
            pthread_mutex_unlock(&reg->mu);
            return ok ? f : NULL;
        }
    }
    baton_metric_t *f = baton_xcalloc(1, sizeof *f);
    f->type = type;
    f->name = baton_xstrdup(name);
    f->help = baton_xstrdup(help ? help : "");
    f->nlabels = nlabels;
    f->labels = baton_xcalloc(nlabels ? nlabels : 1, sizeof(char *));
    for (size_t i = 0; i < nlabels; i++)
        f->labels[i] = baton_xstrdup(labels[i]);
    if (type == BATON_MT_HISTOGRAM) {
        f->nbounds = nbounds;
        f->bounds = baton_xcalloc(nbounds ? nbounds : 1, sizeof(double));
        if (nbounds)
            memcpy(f->bounds, bounds, nbounds * sizeof(double));
    }
    pthread_mutex_init(&f->mu, NULL);
    if (reg->tail)
        reg->tail->next = f;
    else
        reg->head = f;
    reg->tail = f;
    pthread_mutex_unlock(&reg->mu);
    return f;
}

/* Collect NULL-terminated varargs into arr; returns the count, or SIZE_MAX when too many. */
static size_t collect_labels(va_list ap, const char **arr)
{
    size_t n = 0;
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL) {
        if (n == BATON_METRICS_MAX_LABELS)
            return SIZE_MAX;
        arr[n++] = s;
    }
    return n;
}

#define REGISTER_VARIADIC(last, call)                                                              \
    const char *labels[BATON_METRICS_MAX_LABELS];                                                  \
    va_list ap;                                                                                    \
    va_start(ap, last);                                                                            \
    size_t n = collect_labels(ap, labels);                                                         \
    va_end(ap);                                                                                    \
    if (n == SIZE_MAX)                                                                             \
        return NULL;                                                                               \
    return call

baton_metric_t *baton_metrics_counter(baton_metrics_t *reg, const char *name, const char *help, ...)
{
    REGISTER_VARIADIC(help, family_register(reg, BATON_MT_COUNTER, name, help, NULL, 0, labels, n));
}

baton_metric_t *baton_metrics_gauge(baton_metrics_t *reg, const char *name, const char *help, ...)
{
    REGISTER_VARIADIC(help, family_register(reg, BATON_MT_GAUGE, name, help, NULL, 0, labels, n));
}

baton_metric_t *baton_metrics_histogram(baton_metrics_t *reg, const char *name, const char *help,
                                        const double *buckets, size_t nbuckets, ...)
{
    REGISTER_VARIADIC(nbuckets, family_register(reg, BATON_MT_HISTOGRAM, name, help, buckets,
                                                nbuckets, labels, n));
}

baton_metric_t *baton_metrics_counterv(baton_metrics_t *reg, const char *name, const char *help,
                                       const char *const *labels, size_t nlabels)
{
    return family_register(reg, BATON_MT_COUNTER, name, help, NULL, 0, labels, nlabels);
}

baton_metric_t *baton_metrics_gaugev(baton_metrics_t *reg, const char *name, const char *help,
                                     const char *const *labels, size_t nlabels)
{
    return family_register(reg, BATON_MT_GAUGE, name, help, NULL, 0, labels, nlabels);
}

baton_metric_t *baton_metrics_histogramv(baton_metrics_t *reg, const char *name, const char *help,
                                         const double *buckets, size_t nbuckets,
                                         const char *const *labels, size_t nlabels)
{
    return family_register(reg, BATON_MT_HISTOGRAM, name, help, buckets, nbuckets, labels, nlabels);
}

/* ---- children ---- */

static baton_mchild_t *child_new(baton_metric_t *fam, const char *const *values)
{
    baton_mchild_t *ch;
    switch (fam->type) {
    case BATON_MT_COUNTER:
        ch = baton_xcalloc(1, sizeof(baton_counter_t));
        break;
    case BATON_MT_GAUGE:
        ch = baton_xcalloc(1, sizeof(baton_gauge_t));
        break;
    default: {
        baton_histogram_t *h = baton_xcalloc(1, sizeof *h);
        h->bounds = fam->bounds;
        h->nbounds = fam->nbounds;
        h->counts = baton_xcalloc(fam->nbounds + 1, sizeof(_Atomic uint64_t));
        ch = &h->hdr;
        break;
    }
    }
    ch->values = baton_xcalloc(fam->nlabels ? fam->nlabels : 1, sizeof(char *));
    for (size_t i = 0; i < fam->nlabels; i++)
        ch->values[i] = baton_xstrdup(values[i] ? values[i] : "");
    return ch;
}

static baton_mchild_t *child_get(baton_metric_t *fam, baton_mtype_t type, const char *const *values)
{
    if (!fam || fam->type != type)
        return NULL;
    pthread_mutex_lock(&fam->mu);
    for (size_t i = 0; i < fam->nchildren; i++) {
        baton_mchild_t *ch = fam->children[i];
        size_t j = 0;
        for (; j < fam->nlabels; j++)
            if (strcmp(ch->values[j], values[j] ? values[j] : "") != 0)
                break;
        if (j == fam->nlabels) {
            pthread_mutex_unlock(&fam->mu);
            return ch;
        }
    }
    if (fam->nchildren == fam->capchildren) {
        fam->capchildren = fam->capchildren ? fam->capchildren * 2 : 4;
        fam->children = baton_xrealloc(fam->children, fam->capchildren * sizeof(baton_mchild_t *));
    }
    baton_mchild_t *ch = child_new(fam, values);
    fam->children[fam->nchildren++] = ch;
    pthread_mutex_unlock(&fam->mu);
    return ch;
}

/* Reads exactly fam->nlabels values from the varargs (fam was checked non-NULL). */
#define CHILD_VARIADIC(type_enum, ctype)                                                           \
    if (!fam)                                                                                      \
        return NULL;                                                                               \
    const char *values[BATON_METRICS_MAX_LABELS] = {0};                                            \
    va_list ap;                                                                                    \
    va_start(ap, fam);                                                                             \
    for (size_t i = 0; i < fam->nlabels; i++)                                                      \
        values[i] = va_arg(ap, const char *);                                                      \
    va_end(ap);                                                                                    \
    return (ctype *)child_get(fam, type_enum, values)

baton_counter_t *baton_metrics_counter_child(baton_metric_t *fam, ...)
{
    CHILD_VARIADIC(BATON_MT_COUNTER, baton_counter_t);
}

baton_gauge_t *baton_metrics_gauge_child(baton_metric_t *fam, ...)
{
    CHILD_VARIADIC(BATON_MT_GAUGE, baton_gauge_t);
}

baton_histogram_t *baton_metrics_histogram_child(baton_metric_t *fam, ...)
{
    CHILD_VARIADIC(BATON_MT_HISTOGRAM, baton_histogram_t);
}

baton_counter_t *baton_metrics_counter_childv(baton_metric_t *fam, const char *const *values)
{
    return (baton_counter_t *)child_get(fam, BATON_MT_COUNTER, values);
}

baton_gauge_t *baton_metrics_gauge_childv(baton_metric_t *fam, const char *const *values)
{
    return (baton_gauge_t *)child_get(fam, BATON_MT_GAUGE, values);
}

baton_histogram_t *baton_metrics_histogram_childv(baton_metric_t *fam, const char *const *values)
{
    return (baton_histogram_t *)child_get(fam, BATON_MT_HISTOGRAM, values);
}

/* ---- updates ---- */

void baton_counter_inc(baton_counter_t *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->n, 1, memory_order_relaxed);
}

void baton_counter_add(baton_counter_t *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->n, n, memory_order_relaxed);
}

void baton_counter_add_f(baton_counter_t *c, double v)
{
    if (c && v > 0)
        atomic_add_double(&c->fbits, v);
}

void baton_metrics__counter_set(baton_counter_t *c, double v)
{
    atomic_store_explicit(&c->n, 0, memory_order_relaxed);
    atomic_store_explicit(&c->fbits, baton_metrics__double_to_bits(v), memory_order_relaxed);
}

double baton_counter_value(const baton_counter_t *c)
{
    if (!c)
        return 0;
    uint64_t n = atomic_load_explicit(&((baton_counter_t *)c)->n, memory_order_relaxed);
    uint64_t f = atomic_load_explicit(&((baton_counter_t *)c)->fbits, memory_order_relaxed);
    return (double)n + baton_metrics__bits_to_double(f);
}

void baton_gauge_set(baton_gauge_t *g, double v)
{
    if (g)
        atomic_store_explicit(&g->bits, baton_metrics__double_to_bits(v), memory_order_relaxed);
}

void baton_gauge_add(baton_gauge_t *g, double v)
{
    if (g)
        atomic_add_double(&g->bits, v);
}

void baton_gauge_inc(baton_gauge_t *g)
{
    baton_gauge_add(g, 1);
}

void baton_gauge_dec(baton_gauge_t *g)
{
    baton_gauge_add(g, -1);
}

double baton_gauge_value(const baton_gauge_t *g)
{
    if (!g)
        return 0;
    return baton_metrics__bits_to_double(
        atomic_load_explicit(&((baton_gauge_t *)g)->bits, memory_order_relaxed));
}

void baton_histogram_observe(baton_histogram_t *h, double v)
{
    if (!h || isnan(v))
        return;
    /* Binary search for the first bound >= v (Prometheus buckets are "less or equal"). */
    size_t lo = 0, hi = h->nbounds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v <= h->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed);
    atomic_add_double(&h->sumbits, v);
}

void baton_histogram_observe_since(baton_histogram_t *h, int64_t start_ns)
{
    if (h)
        baton_histogram_observe(h, (double)(baton_mono_ns() - start_ns) / 1e9);
}

uint64_t baton_histogram_count(const baton_histogram_t *h)
{
    if (!h)
        return 0;
    uint64_t total = 0;
    for (size_t i = 0; i <= h->nbounds; i++)
        total += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    return total;
}

double baton_histogram_sum(const baton_histogram_t *h)
{
    if (!h)
        return 0;
    return baton_metrics__bits_to_double(
        atomic_load_explicit(&((baton_histogram_t *)h)->sumbits, memory_order_relaxed));
}
