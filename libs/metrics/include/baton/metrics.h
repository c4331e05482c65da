/* baton/metrics.h — a Prometheus metrics registry: counters, gauges and histograms, each a
 * family with an optional fixed list of label names, and one child per set of label values.
 *
 * Hot path: look the child up once (a mutex-protected search) and keep the pointer; after
 * that every update is a lock-free atomic on the child. Children live as long as the
 * registry, so cached pointers stay valid until baton_metrics_free().
 *
 *   baton_metrics_t *reg = baton_metrics_new();
 *   baton_metric_t *deliv = baton_metrics_counter(reg, "baton_deliveries_total",
 *                              "Notifications by channel and outcome", "channel", "outcome", NULL);
 *   baton_counter_t *ok = baton_metrics_counter_child(deliv, "webhook", "delivered");
 *   baton_counter_inc(ok);
 *   baton_buf_t out = BATON_BUF_INIT;
 *   baton_metrics_render(reg, &out);   // Prometheus text format 0.0.4
 *
 * Names are prefixed `baton_` by convention (process_* are the Prometheus standard names).
 * Label values must not carry PHI (no patient / encounter ids, no names). */
#ifndef BATON_METRICS_H
#define BATON_METRICS_H

#include "baton/core.h"
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct baton_metrics baton_metrics_t;     /* the registry */
typedef struct baton_metric baton_metric_t;       /* a family: name, help, label names */
typedef struct baton_counter baton_counter_t;     /* one child of a counter family */
typedef struct baton_gauge baton_gauge_t;         /* one child of a gauge family */
typedef struct baton_histogram baton_histogram_t; /* one child of a histogram family */

#define BATON_METRICS_MAX_LABELS 8
#define BATON_METRICS_MAX_BUCKETS 64

/* The Content-Type of baton_metrics_render's output. */
#define BATON_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Default latency buckets, in seconds: 5ms .. 10s (count: BATON_METRICS_LATENCY_BUCKETS_N). */
extern const double baton_metrics_latency_buckets[];
#define BATON_METRICS_LATENCY_BUCKETS_N 11

/* A new, empty registry (never NULL). Free with baton_metrics_free, after every thread that
 * updates its children has stopped. */
baton_metrics_t *baton_metrics_new(void);
void baton_metrics_free(baton_metrics_t *reg);

/* Register a family. The variadic arguments are the label names, NULL-terminated (just NULL
 * for none; at most BATON_METRICS_MAX_LABELS). Strings are copied.
 * Registering an existing name again with the same type and label names returns the same
 * family (so two components may share one). Returns NULL — a programmer error — when the
 * name or a label name is invalid, or the name exists with another type or other labels.
 * Families are owned by the registry. */
baton_metric_t *baton_metrics_counter(baton_metrics_t *reg, const char *name, const char *help, ...)
    __attribute__((sentinel));
baton_metric_t *baton_metrics_gauge(baton_metrics_t *reg, const char *name, const char *help, ...)
    __attribute__((sentinel));
/* buckets: strictly increasing upper bounds (without +Inf, which is always added), or NULL
 * for baton_metrics_latency_buckets; nbuckets at most BATON_METRICS_MAX_BUCKETS. */
baton_metric_t *baton_metrics_histogram(baton_metrics_t *reg, const char *name, const char *help,
                                        const double *buckets, size_t nbuckets, ...)
    __attribute__((sentinel));
/* Array forms: labels has nlabels names. */
baton_metric_t *baton_metrics_counterv(baton_metrics_t *reg, const char *name, const char *help,
                                       const char *const *labels, size_t nlabels);
baton_metric_t *baton_metrics_gaugev(baton_metrics_t *reg, const char *name, const char *help,
                                     const char *const *labels, size_t nlabels);
baton_metric_t *baton_metrics_histogramv(baton_metrics_t *reg, const char *name, const char *help,
                                         const double *buckets, size_t nbuckets,
                                         const char *const *labels, size_t nlabels);

/* The child for one set of label values: exactly as many values as the family has label
 * names (none for a family without labels), in the same order. Created on first use (then
 * it renders, with value 0, from then on). Returns NULL when fam is NULL or of another type.
 * Thread-safe; takes the family's mutex, so callers keep the pointer for the hot path. */
baton_counter_t *baton_metrics_counter_child(baton_metric_t *fam, ...);
baton_gauge_t *baton_metrics_gauge_child(baton_metric_t *fam, ...);
baton_histogram_t *baton_metrics_histogram_child(baton_metric_t *fam, ...);
/* Array forms: values has as many entries as the family has label names. */
baton_counter_t *baton_metrics_counter_childv(baton_metric_t *fam, const char *const *values);
baton_gauge_t *baton_metrics_gauge_childv(baton_metric_t *fam, const char *const *values);
baton_histogram_t *baton_metrics_histogram_childv(baton_metric_t *fam, const char *const *values);

/* Updates: lock-free atomics, safe from any thread. NULL children are ignored, so a lookup
 * that failed does not crash the hot path. */
void baton_counter_inc(baton_counter_t *c);
void baton_counter_add(baton_counter_t *c, uint64_t n);
void baton_counter_add_f(baton_counter_t *c, double v); /* v < 0 is ignored */
double baton_counter_value(const baton_counter_t *c);

void baton_gauge_set(baton_gauge_t *g, double v);
void baton_gauge_add(baton_gauge_t *g, double v);
void baton_gauge_inc(baton_gauge_t *g);
void baton_gauge_dec(baton_gauge_t *g);
double baton_gauge_value(const baton_gauge_t *g);

void baton_histogram_observe(baton_histogram_t *h, double v);
/* Observe the seconds elapsed since start_ns (a baton_mono_ns() reading). */
void baton_histogram_observe_since(baton_histogram_t *h, int64_t start_ns);
uint64_t baton_histogram_count(const baton_histogram_t *h);
double baton_histogram_sum(const baton_histogram_t *h);

/* Called at the start of every render, e.g. to sample a queue depth into a gauge.
 * At most 16 hooks; returns 0 or BATON_ERANGE. */
typedef void (*baton_metrics_collect_fn)(baton_metrics_t *reg, void *ud);
int baton_metrics_on_collect(baton_metrics_t *reg, baton_metrics_collect_fn fn, void *ud);

/* Append the whole registry to out in the Prometheus text exposition format 0.0.4: families
 * in registration order, each with # HELP and # TYPE, children in creation order, histograms
 * as cumulative _bucket{le=...} lines ending with le="+Inf", then _sum and _count.
 * Returns 0. Safe while other threads update. */
int baton_metrics_render(baton_metrics_t *reg, baton_buf_t *out);

/* The process-level set:
 *   process_start_time_seconds            gauge, set now
 *   baton_build_info{service,version} 1   gauge
 *   process_resident_memory_bytes, process_open_fds, process_cpu_seconds_total
 *                                         sampled from /proc at every render
 * Returns 0, or BATON_EINVAL when a name is already registered with another shape. */
int baton_metrics_register_process(baton_metrics_t *reg, const char *service, const char *version);

#ifdef __cplusplus
}
#endif
#endif
