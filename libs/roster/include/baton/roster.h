/* baton/roster.h — on-call rosters: people and shifts kept in Redis, and the rule that resolves
 * a role at time t to a person.
 *
 * Who uses it: ingest validates and writes people (PUT /v1/people/{id}) and shifts
 * (PUT /v1/shifts, POST /v1/shifts:import) and answers GET /v1/oncall; the router resolves an
 * owner or escalation role to a person; the notifier reads a person's contacts and quiet hours.
 *
 * Identifiers (facility, unit, role, person id, shift id) are 1-64 characters of
 * [A-Za-z0-9._:@-]; tenants 1-64 of [A-Za-z0-9._-] (the rules of baton/canon.h, so any event
 * that validates can be resolved). Inside Redis keys ':' in a facility, unit or role is written
 * "%3A"; the other separators used in keys and members ('|', '{', '}', '%', newline) can never
 * occur in an identifier.
 *
 * Resolution rule (DESIGN.md "Rosters"): the candidates are the shifts of (tenant, facility,
 * role) covering t (start <= t < end). Shifts of the asked unit come first (why = unit_shift),
 * then facility-wide shifts, i.e. shifts without a unit (why = facility_shift). Within each
 * group: lowest tier first, then earliest start, then person id, then shift id. The first
 * candidate whose person is not in the exclude list (people who already declined) wins; when
 * there is none the result is a coverage gap (why = none, person ""). A query without a unit
 * (a stage with facility scope) only sees facility-wide shifts.
 *
 * Redis key layout (every key carries the tenant as a hash tag, so one tenant's keys live in
 * one Redis Cluster slot and a multi-key script over them is legal; no call reads a key of a
 * tenant other than the one it was given):
 *
 *   baton:roster:{T}:person:<id>        STRING  canonical person JSON (baton_roster_person_to_json)
 *   baton:roster:{T}:shifts             HASH    shift id -> "<index key>\n<member>\n<shift JSON>"
 *   baton:roster:{T}:ends               ZSET    shift id, score = end (ms) — for pruning
 *   baton:roster:{T}:unit:<F>:<U>:<R>   ZSET    shifts of unit U of facility F for role R
 *   baton:roster:{T}:fac:<F>:<R>        ZSET    facility-wide shifts of facility F for role R
 *
 * Index members are "<end ms>|<tier>|<person>|<shift id>", score = start (ms), so resolution
 * is one pipelined round trip of two ZRANGEBYSCOREs over [t - BATON_ROSTER_MAX_SHIFT_MS, t]
 * (the unit's index and the facility's), filtered by end > t in C. Writes go through one Lua
 * script (all-or-nothing: every shift of a request is validated first, then written in one
 * EVALSHA) which also moves a re-written shift id from its old index entry (that key is read
 * from the shift's record, not declared: it carries the same hash tag, so the same slot), and
 * prunes shifts that ended at least BATON_ROSTER_KEEP_MS before "now" (at most 1000 per call;
 * see baton_roster_prune for the rest).
 *
 * Shift ids: the "id" given in the request (CSV column "shift_id"), else derived from the content
 * (baton_derived_id(tenant, "shift|F|U|R|person|start ms|end ms")), so importing the same
 * roster twice writes the same ids and duplicates nothing; a changed tier overwrites in place.
 *
 * Errors: validation never echoes input values (no PHI in error messages); it names the place
 * (a JSON pointer, or a CSV line) and what is wrong.
 *
 * Threads: the pure functions keep no state and may run concurrently; the Redis calls use the
 * connection they are given (one baton_redis_t per thread, see baton/redis.h). */
#ifndef BATON_ROSTER_H
#define BATON_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "baton/core.h"
#include "baton/redis.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_ROSTER_ID_MAX 64                              /* identifier length limit */
#define BATON_ROSTER_MAX_SHIFTS 10000                       /* shifts per request / import */
#define BATON_ROSTER_MAX_BYTES (4u * 1024 * 1024)           /* JSON body or CSV file */
#define BATON_ROSTER_MAX_ERRORS 100                         /* errors kept (all are counted) */
#define BATON_ROSTER_MAX_SHIFT_MS (14LL * 24 * 3600 * 1000) /* longest shift: 14 days */
#define BATON_ROSTER_KEEP_MS (24LL * 3600 * 1000)           /* ended shifts kept for a day */
#define BATON_ROSTER_MAX_TIER 99
#define BATON_ROSTER_MAX_CONTACTS 16

/* 1 when s (may be NULL) is a valid facility, unit, role, person or shift id:
 * 1..BATON_ROSTER_ID_MAX characters of [A-Za-z0-9._:@-]. */
int baton_roster_ident_ok(const char *s);
/* 1 when s (may be NULL) is a valid tenant: 1..BATON_ROSTER_ID_MAX of [A-Za-z0-9._-]. */
int baton_roster_tenant_ok(const char *s);

/* ---- validation errors ---- */

typedef struct {
    char *pointer; /* JSON pointer ("/contacts/0/channel"); "" for the whole document or CSV */
    size_t line;   /* CSV line (1-based) the record starts on; 0 for JSON */
    char *detail;  /* what is wrong; CSV details read "line 7: end before start" */
} baton_roster_error_t;

typedef struct {
    baton_roster_error_t *v; /* the first BATON_ROSTER_MAX_ERRORS errors, owned */
    size_t n;
    size_t total; /* all errors found, >= n */
} baton_roster_errors_t;

#define BATON_ROSTER_ERRORS_INIT                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }
/* Frees the entries and empties e (e itself is the caller's). */
void baton_roster_errors_free(baton_roster_errors_t *e);
/* The errors as a JSON array for a problem+json "errors" member:
 * [{"pointer": "/x", "detail": "..."}] or [{"line": 7, "detail": "line 7: ..."}].
 * Caller frees. */
char *baton_roster_errors_json(const baton_roster_errors_t *e);

/* ---- people ---- */

typedef enum {
    BATON_ROSTER_WEBHOOK = 0,
    BATON_ROSTER_SMS,
    BATON_ROSTER_EMAIL,
    BATON_ROSTER_PAGER,
} baton_roster_channel_t;

/* "webhook" | "sms" | "email" | "pager"; static. */
const char *baton_roster_channel_name(baton_roster_channel_t c);

typedef struct {
    baton_roster_channel_t channel;
    char *address; /* webhook: http(s) URL; sms: +E.164; email: a@b.c; pager: printable id */
} baton_roster_contact_t;

typedef struct {
    char *tenant;
    char *id;
    char *name;                       /* display name, UTF-8, 1-200 bytes */
    baton_roster_contact_t *contacts; /* in the order given (preference order), 1-16 */
    size_t ncontacts;
    int has_quiet_hours;
    int quiet_start_min; /* minutes after local midnight, 0-1439 */
    int quiet_end_min;   /* may be < start: the window wraps midnight */
    char *quiet_tz;      /* IANA zone name, NULL = UTC */
} baton_roster_person_t;

/* Parse and validate a person body (PUT /v1/people/{id}; id is the path's). The body may
 * repeat "id", which must then equal `id`. Unknown fields are errors.
 * Returns 0 with *out set (free with baton_roster_person_free), BATON_EINVAL with errs
 * filled (errs must be empty or initialised), or BATON_ETOOBIG (body over 64 KiB). */
int baton_roster_person_parse(const char *id, const char *json, size_t len,
                              baton_roster_person_t **out, baton_roster_errors_t *errs);
/* Canonical JSON of a person (with "id"); caller frees. */
char *baton_roster_person_to_json(const baton_roster_person_t *p);
/* Frees p and everything it holds; NULL is fine. */
void baton_roster_person_free(baton_roster_person_t *p);

/* ---- shifts ---- */

typedef struct {
    char id[BATON_ROSTER_ID_MAX + 1];
    char tenant[BATON_ROSTER_ID_MAX + 1];
    char facility[BATON_ROSTER_ID_MAX + 1];
    char unit[BATON_ROSTER_ID_MAX + 1]; /* "" = the whole facility */
    char role[BATON_ROSTER_ID_MAX + 1];
    char person[BATON_ROSTER_ID_MAX + 1];
    int64_t start_ms; /* inclusive */
    int64_t end_ms;   /* exclusive; start < end <= start + BATON_ROSTER_MAX_SHIFT_MS */
    int tier;         /* 1 (first called) .. BATON_ROSTER_MAX_TIER; default 1 */
} baton_roster_shift_t;

typedef struct {
    baton_roster_shift_t *v; /* owned */
    size_t n;
} baton_roster_shifts_t;

#define BATON_ROSTER_SHIFTS_INIT                                                                   \
    {                                                                                              \
        NULL, 0                                                                                    \
    }
void baton_roster_shifts_free(baton_roster_shifts_t *s);

/* Parse and validate PUT /v1/shifts: a JSON array of {"tenant", "facility", "unit"?, "role",
 * "person", "start", "end", "tier"?, "id"?}. All shifts must have the same tenant, and equal
 * `tenant` when it is not NULL (the caller's authenticated tenant). Identical duplicates are
 * merged; two different shifts with one id are an error. All or nothing: returns 0 with *out
 * filled, or BATON_EINVAL / BATON_ETOOBIG with errs filled and *out empty. */
int baton_roster_shifts_parse_json(const char *json, size_t len, const char *tenant,
                                   baton_roster_shifts_t *out, baton_roster_errors_t *errs);

/* Parse and validate POST /v1/shifts:import: CSV (RFC 4180) with a header row naming the
 * columns tenant, facility, unit, role, person, start, end, tier, shift_id (case-insensitive,
 * any order; unit, tier and shift_id optional; other columns, "id" among them, ignored). CRLF, LF
 * or CR line ends, a UTF-8 byte-order mark, blank lines and quoted fields with commas, quotes and
 * line breaks are accepted. Every problem is reported with its line ("line 7: end before start"),
 * in line order. Same contract as baton_roster_shifts_parse_json. */
int baton_roster_shifts_parse_csv(const char *csv, size_t len, const char *tenant,
                                  baton_roster_shifts_t *out, baton_roster_errors_t *errs);

/* A shift as JSON: {"id","tenant","facility","unit"?,"role","person","start","end","tier"}.
 * Caller frees. */
char *baton_roster_shift_to_json(const baton_roster_shift_t *s);

/* ---- resolution (pure) ---- */

typedef enum {
    BATON_ROSTER_NONE = 0,      /* coverage gap */
    BATON_ROSTER_UNIT_SHIFT,    /* the unit's shift */
    BATON_ROSTER_FACILITY_SHIFT /* a facility-wide shift */
} baton_roster_why_t;

/* "none" | "unit_shift" | "facility_shift" (TaskAssigned.resolved_by); static. */
const char *baton_roster_why_name(baton_roster_why_t w);

typedef struct {
    const char *tenant;
    const char *facility;
    const char *unit; /* NULL or "": facility scope, only facility-wide shifts count */
    const char *role;
    int64_t at_ms;
    const char *const *exclude; /* person ids to pass over (declined); may be NULL */
    size_t nexclude;
} baton_roster_query_t;

typedef struct {
    baton_roster_why_t why;
    char person[BATON_ROSTER_ID_MAX + 1]; /* "" on a gap */
    char shift_id[BATON_ROSTER_ID_MAX + 1];
    int tier;
    int64_t start_ms, end_ms;
} baton_roster_resolution_t;

/* Apply the resolution rule to in-memory shifts (shifts of other tenants, facilities, units
 * or roles are ignored). Returns 0 (a gap is a result: why = NONE), or BATON_EINVAL for a
 * query missing tenant, facility or role (NULL or ""). Names that are not valid identifiers
 * are not an error: nobody can be on shift for them, so they resolve to a gap. */
int baton_roster_resolve_in(const baton_roster_query_t *q, const baton_roster_shift_t *shifts,
                            size_t n, baton_roster_resolution_t *out);

/* The candidates covering q->at_ms in resolution order (the exclude list is not applied),
 * as a fresh array (caller frees; *nout may be 0). `why` of each is written to whys[i] when
 * whys is not NULL (caller frees *whys too). */
int baton_roster_rank(const baton_roster_query_t *q, const baton_roster_shift_t *shifts, size_t n,
                      baton_roster_shift_t **out, baton_roster_why_t **whys, size_t *nout);

/* GET /v1/oncall answer for a query over in-memory shifts: {"tenant","facility","unit"?,
 * "role","at","person" (null on a gap),"name"? (when `person` is given),"resolved_by",
 * "shift": {...} | null, "candidates": [{"person","resolved_by","shift_id","tier","start",
 * "end","excluded"}]}. `person` is the resolved person's record or NULL. Caller frees. */
char *baton_roster_oncall_json(const baton_roster_query_t *q, const baton_roster_shift_t *shifts,
                               size_t n, const baton_roster_person_t *person);

/* ---- Redis ---- */

/* Store (replace) a validated person. 0 or BATON_EIO / BATON_EUNAVAIL with err. */
int baton_roster_person_put(baton_redis_t *r, const baton_roster_person_t *p, char *err,
                            size_t errlen);
/* Read a person of `tenant`: 0 with *out (free with baton_roster_person_free), BATON_ENOENT,
 * or BATON_EIO / BATON_EUNAVAIL / BATON_EPARSE (a corrupt record) with err. */
int baton_roster_person_get(baton_redis_t *r, const char *tenant, const char *id,
                            baton_roster_person_t **out, char *err, size_t errlen);
/* 0 or BATON_ENOENT, or an I/O error. */
int baton_roster_person_delete(baton_redis_t *r, const char *tenant, const char *id, char *err,
                               size_t errlen);

/* Write validated shifts (from the parse functions: one tenant) in one atomic script, then
 * prune shifts of that tenant that ended at or before now_ms - BATON_ROSTER_KEEP_MS (up to
 * 1000 per call; now_ms <= BATON_ROSTER_KEEP_MS, e.g. 0, prunes nothing).
 * 0 or BATON_EINVAL (mixed tenants) / BATON_EIO / BATON_EUNAVAIL with err. */
int baton_roster_shifts_put(baton_redis_t *r, const baton_roster_shifts_t *s, int64_t now_ms,
                            char *err, size_t errlen);
/* Read one shift: 0, BATON_ENOENT, or an error. */
int baton_roster_shift_get(baton_redis_t *r, const char *tenant, const char *id,
                           baton_roster_shift_t *out, char *err, size_t errlen);
/* Remove one shift: 0, BATON_ENOENT, or an error. */
int baton_roster_shift_delete(baton_redis_t *r, const char *tenant, const char *id, char *err,
                              size_t errlen);
/* Remove every shift of tenant that ended at or before `ended_by_ms`; *removed (may be NULL)
 * gets the count. 0 or an error. */
int baton_roster_prune(baton_redis_t *r, const char *tenant, int64_t ended_by_ms, size_t *removed,
                       char *err, size_t errlen);

/* Resolve q against Redis (one round trip). 0 with *out (a gap is why = NONE; also for names
 * that are not valid identifiers, without asking Redis), BATON_EINVAL for a query missing
 * tenant, facility or role, or BATON_EIO / BATON_EUNAVAIL / BATON_EPARSE with err. */
int baton_roster_resolve(baton_redis_t *r, const baton_roster_query_t *q,
                         baton_roster_resolution_t *out, char *err, size_t errlen);
/* The shifts of one index — unit `unit` of the facility, or the facility-wide shifts when unit
 * is NULL or "" — that may cover some t in [from_ms, to_ms] (those that started in
 * [from_ms - BATON_ROSTER_MAX_SHIFT_MS, to_ms]; not filtered by end), appended to *out (free
 * with baton_roster_shifts_free). One round trip. For callers that answer many queries from
 * one read with baton_roster_resolve_in (the router's batches). Names that are not valid
 * identifiers give nothing. 0, or BATON_EIO / BATON_EUNAVAIL / BATON_EPARSE with err (then *out
 * is as it was). */
int baton_roster_fetch_index(baton_redis_t *r, const char *tenant, const char *facility,
                             const char *unit, const char *role, int64_t from_ms, int64_t to_ms,
                             baton_roster_shifts_t *out, char *err, size_t errlen);
/* GET /v1/oncall: resolve and describe as JSON (baton_roster_oncall_json, with the person's
 * name when their record exists). 0 with *json_out (caller frees) or an error. */
int baton_roster_oncall(baton_redis_t *r, const baton_roster_query_t *q, char **json_out, char *err,
                        size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
