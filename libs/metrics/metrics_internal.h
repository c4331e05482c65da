/* metrics_internal.h — the registry's insides, shared by metrics.c (registration, updates),
 * metrics_render.c (text exposition) and metrics_process.c (the process set). */
#ifndef BATON_METRICS_INTERNAL_H
#define BATON_METRICS_INTERNAL_H

#include "baton/metrics.h"
#include <pthread.h>
#include <stdatomic.h>

typedef enum { BATON_MT_COUNTER, BATON_MT_GAUGE, BATON_MT_HISTOGRAM } baton_mtype_t;

/* Every child starts with this header so one list holds any type. */
typedef struct baton_mchild {
    char **values; /* nlabels copies */
} baton_mchild_t;

struct baton_counter {
    baton_mchild_t hdr;
    _Atomic uint64_t n;     /* integer increments: fetch_add */
    _Atomic uint64_t fbits; /* fractional adds: a double's bits, CAS loop */
};

struct baton_gauge {
    baton_mchild_t hdr;
    _Atomic uint64_t bits; /* a double's bits */
};

struct baton_histogram {
    baton_mchild_t hdr;
    const double *bounds; /* the family's, nbounds entries */
    size_t nbounds;
    _Atomic uint64_t *counts; /* nbounds + 1 (the last is +Inf), not cumulative */
    _Atomic uint64_t sumbits;
};

struct baton_metric {
    baton_mtype_t type;
    char *name;
    char *help;
    char **labels;
    size_t nlabels;
    double *bounds; /* histograms */
    size_t nbounds;
    pthread_mutex_t mu; /* guards children/nchildren (not the values) */
    baton_mchild_t **children;
    size_t nchildren, capchildren;
    struct baton_metric *next;
};

#define BATON_METRICS_MAX_HOOKS 16

struct baton_metrics {
    pthread_mutex_t mu; /* guards the family list and hooks */
    baton_metric_t *head, *tail;
    struct {
        baton_metrics_collect_fn fn;
        void *ud;
    } hooks[BATON_METRICS_MAX_HOOKS];
    size_t nhooks;
};

double baton_metrics__bits_to_double(uint64_t b);
uint64_t baton_metrics__double_to_bits(double d);
/* Overwrite a counter's value (for counters sampled from elsewhere, e.g. /proc CPU time). */
void baton_metrics__counter_set(baton_counter_t *c, double v);

#endif
