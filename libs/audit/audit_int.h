/* audit_int.h — what the audit lib's files share; not part of the public API.
 *
 *   audit_schema.c   migrations
 *   audit_row.c      hash input, month key, row fields of an Envelope
 *   audit_map.c      a small string → index hash map (per-batch keys)
 *   audit_writer.c   one batch: replay / dedup filter, chain, COPY, heads, commit
 *   audit_dedup.c    the batch's new dedup keys into audit_event_ids
 *   audit_project.c  projections: per-batch deltas of tasks, instances, notifications
 *   audit_project_write.c  the deltas into PostgreSQL (unnested arrays: UPDATE + INSERT)
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

/* ---- audit_writer.c / audit_dedup.c ---- */
typedef struct {
    const baton_audit_msg_t *m;
    Baton__V1__Envelope *env; /* NULL: undecodable */
    char *event_id;           /* owned */
    char *payload;            /* owned canonical JSON */
    char id_key[37];          /* dedup key: uuid of SHA-256(topic "\n" event_id) */
    bool keep;
} audit_entry_t;

/* Record the kept entries' dedup keys (seen maps each kept key to its entry). Without upsert,
 * a key recorded before or being added by another writer's open transaction fails with a
 * unique violation (SQLSTATE 23505): write the batch again with upsert, which drops an entry
 * whose key was recorded before (keep = false) and counts it in *duplicates. 0 or a BATON_E*. */
int audit__dedup(baton_pg_t *pg, audit_entry_t *es, size_t n, const audit_map_t *seen, bool upsert,
                 size_t *duplicates);

/* ---- audit_project.c ---- */
typedef struct audit_proj audit_proj_t;

audit_proj_t *audit__proj_new(void);
void audit__proj_free(audit_proj_t *p);
/* Fold one newly written event into the batch's deltas (e borrowed until apply/reset). */
void audit__proj_add(audit_proj_t *p, const Baton__V1__Envelope *e);
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
