/* audit_int.h — what the audit lib's files share; not part of the public API.
 *
 *   audit_schema.c   migrations
 *   audit_row.c      hash input, month key, row fields of an Envelope
 *   audit_map.c      a small string → index hash map (per-batch keys)
 *   audit_writer.c   one batch: replay / dedup filter, chain, COPY, heads, commit
 *   audit_project.c  projections: per-batch deltas of tasks, instances, notifications
 *   audit_project_write.c  the deltas into PostgreSQL (staging COPY + UPDATE + INSERT)
 *   audit_verify.c   walking the chains */
#ifndef BATON_AUDIT_INT_H
#define BATON_AUDIT_INT_H

#include "baton/audit.h"

#include <baton/v1/events.pb-c.h>

/* ---- audit_row.c ---- */
const Baton__V1__TaskRef *audit__taskref(const Baton__V1__Envelope *e);
/* Borrowed pointers into e, NULL when absent. actor falls back to the envelope's producer. */
void audit__refs(const Baton__V1__Envelope *e, const char **instance, const char **task,
                 const char **actor);

/* ---- audit_map.c ---- */
typedef struct {
    const char **keys; /* borrowed */
    size_t *vals;
    size_t cap, n;
} audit_map_t;

/* The value stored for key, or (size_t)-1. */
size_t audit__map_get(const audit_map_t *m, const char *key);
/* Store key → val (key borrowed; must outlive the map's use). */
void audit__map_put(audit_map_t *m, const char *key, size_t val);
void audit__map_clear(audit_map_t *m); /* keeps memory */
void audit__map_free(audit_map_t *m);

/* ---- audit_project.c ---- */
typedef struct audit_proj audit_proj_t;

audit_proj_t *audit__proj_new(void);
void audit__proj_free(audit_proj_t *p);
/* Fold one newly written event into the batch's deltas (e borrowed until apply/reset). */
void audit__proj_add(audit_proj_t *p, const Baton__V1__Envelope *e);
/* Temp staging tables (after every (re)connect). */
int audit__proj_prepare(baton_pg_t *pg);
/* Write the deltas (inside the caller's transaction), then reset. 0 or a BATON_E*. */
int audit__proj_apply(audit_proj_t *p, baton_pg_t *pg);
void audit__proj_reset(audit_proj_t *p);

/* COPY helper shared by the writer and the projections: a row of n optional values.
 * Strings are borrowed (they must live until baton_pg_copy_row returns); integers are
 * formatted into the row itself. */
#define AUDIT_COPY_MAX 40
typedef struct {
    const char *v[AUDIT_COPY_MAX];
    char num[AUDIT_COPY_MAX][24];
    int n;
} audit_copy_row_t;
void audit__row_str(audit_copy_row_t *r, const char *s); /* NULL → SQL NULL */
void audit__row_int(audit_copy_row_t *r, long long v);
void audit__row_opt_int(audit_copy_row_t *r, long long v, long long absent); /* == absent → NULL */
void audit__row_bool(audit_copy_row_t *r, int v);
void audit__row_clear(audit_copy_row_t *r);

#endif
