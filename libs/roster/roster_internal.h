/* roster_internal.h — what the roster sources share and nothing outside libs/roster sees. */
#ifndef BATON_ROSTER_INTERNAL_H
#define BATON_ROSTER_INTERNAL_H

#include "baton/roster.h"

#include <jansson.h>

/* Append an error (pointer may be NULL for ""); counts past BATON_ROSTER_MAX_ERRORS but only
 * keeps the first ones. */
void baton_roster__err(baton_roster_errors_t *e, const char *pointer, size_t line, const char *fmt,
                       ...) BATON_PRINTF(4, 5);
/* Stable sort of the kept errors by line (CSV reports in line order). */
void baton_roster__err_sort_lines(baton_roster_errors_t *e);

/* The rules of baton_roster_ident_ok / baton_roster_tenant_ok, as error details. */
#define BATON_ROSTER_IDENT_RULE "must be 1-64 characters of A-Z a-z 0-9 . _ : @ -"
#define BATON_ROSTER_TENANT_RULE "must be 1-64 characters of A-Z a-z 0-9 . _ -"

/* Raw fields of one shift as read from JSON or CSV, before validation. NULL = absent. */
typedef struct {
    const char *id, *tenant, *facility, *unit, *role, *person, *start, *end;
    const char *tier_text; /* CSV: the tier as text ("" / NULL = default) */
    long long tier;        /* JSON: the tier when tier_set */
    int tier_set;
} baton_roster__raw_shift_t;

/* A raw field that had the wrong JSON type (already reported): compared by address. */
extern const char baton_roster__wrong_type[];

/* Where a problem with one field goes: (field, detail for JSON, detail for CSV). */
typedef void (*baton_roster__report_fn)(void *ctx, const char *field, const char *json_detail,
                                        const char *csv_detail);

/* Validate raw into out (deriving the id when none was given). Returns the number of problems
 * reported (0 = out is valid). */
int baton_roster__shift_build(const baton_roster__raw_shift_t *raw, baton_roster_shift_t *out,
                              baton_roster__report_fn report, void *ctx);

/* Checks across a batch (a single tenant, equal to `tenant` when not NULL; one content per id)
 * and merges identical duplicates in place. where(i) names item i for messages. */
typedef struct {
    void (*tenant_mismatch)(void *ctx, size_t i, size_t first, int vs_caller);
    void (*dup_conflict)(void *ctx, size_t i, size_t first);
    void *ctx;
} baton_roster__batch_report_t;
/* items[i] valid[i]==1 are checked; returns problems found. Items merged as duplicates get
 * valid[i] = 0 (callers drop them) only when the whole batch is otherwise fine. */
int baton_roster__batch_check(baton_roster_shift_t *items, unsigned char *valid, size_t n,
                              const char *tenant, const baton_roster__batch_report_t *rep);

/* The JSON of a shift (jansson object, new reference). */
json_t *baton_roster__shift_json(const baton_roster_shift_t *s);
/* Parse a shift back from its JSON object (as stored); 0 or BATON_EPARSE. */
int baton_roster__shift_from_json(json_t *o, baton_roster_shift_t *out);

/* 1 when q has a tenant, a facility and a role (non-empty). */
int baton_roster__query_ok(const baton_roster_query_t *q);
/* 1 when q's names could be stored at all (valid identifiers): only then may they go into a
 * Redis key; otherwise nobody can be on shift for them. */
int baton_roster__query_storable(const baton_roster_query_t *q);

/* RFC 3339 with milliseconds as a jansson string (new reference). */
json_t *baton_roster__time_json(int64_t ms);

#endif
