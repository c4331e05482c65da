/* baton/canon.h — the canonical event: strict validation of the JSON that POST /v1/events
 * accepts, and its conversion into a protobuf Envelope with a ClinicalEvent body.
 *
 * Input (one JSON object, see shared API.md):
 *   {"id": "evt-1", "type": "order.discharge", "tenant": "acme", "facility": "F1", "unit": "4W",
 *    "patient": "MRN123", "encounter": "ENC9", "occurred_at": "2026-11-21T10:00:00Z",
 *    "attributes": {"disposition": "snf", "patient_class": "inpatient"}}
 *
 * Validation rules (every problem is reported, not just the first):
 *   - the document is a JSON object; members other than the nine above are rejected
 *     ("unknown member"). A member whose value is null counts as absent.
 *   - type        required; 3..64 bytes; lowercase dotted words:
 * ^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$ (e.g. "adt.discharge", "task.in_progress").
 *   - id          optional in the body; 1..128 bytes of [A-Za-z0-9._:-], first one alphanumeric.
 *                 opts->idempotency_key (the Idempotency-Key header) follows the same rule and
 *                 supplies the id when the body has none; when both are given they must be
 *                 equal. Neither: opts->require_id ? "/id" required : a fresh UUIDv7 is minted.
 *   - tenant      required; 1..64 bytes of [A-Za-z0-9._-], first one alphanumeric; must equal
 *                 opts->auth_tenant, otherwise the call returns BATON_EPERM (the HTTP layer
 *                 answers 403 or 404) — even when there are other problems too.
 *   - facility, unit   optional; 1..64 bytes of [A-Za-z0-9._:-], first one alphanumeric.
 *   - patient, encounter   optional, at least one required; 1..128 bytes of visible ASCII
 *                 (0x21..0x7e). Missing both is reported at "/patient".
 *   - occurred_at required; RFC 3339 with a time zone (baton_time_parse), at most 40 bytes,
 *                 not before 1970-01-01T00:00:00Z and not more than 24 h after opts->now_ms.
 *   - attributes  optional object of at most 32 members; keys ^[a-z][a-z0-9_]{0,63}$; values
 *                 string (at most 256 bytes), number or boolean, converted to strings: integers
 *                 in decimal, reals in the shortest form that reads back the same ("%.15g" or
 *                 "%.17g"), booleans "true"/"false". null, objects and arrays are rejected at
 *                 their own pointer ("/attributes/x"). Keys plus values at most 4096 bytes.
 * Problem details name what is wrong and never echo a value (no PHI); pointers are RFC 6901
 * ("/attributes/a~1b" for the key "a/b").
 *
 * Output (baton_canon_convert): an Envelope with id, type, tenant, facility, unit,
 * correlation_key = tenant "/" encounter, or tenant "/" patient when there is no encounter,
 * occurred_at_ms, recorded_at_ms = opts->now_ms (or the clock), producer "ingest",
 * schema_version 1, traceparent = opts->traceparent when it is a well-formed W3C traceparent
 * (otherwise dropped, as W3C trace context says), causation_id "", and a ClinicalEvent body:
 * event_type = type, patient, encounter, attributes sorted by key, source = opts->source
 * ("json" when NULL), source_message_id = opts->source_message_id or else the event id. */
#ifndef BATON_CANON_H
#define BATON_CANON_H

#include "baton/core.h"
#include <baton/v1/events.pb-c.h>
#include <jansson.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_CANON_TYPE_MIN 3
#define BATON_CANON_TYPE_MAX 64
#define BATON_CANON_ID_MAX 128
#define BATON_CANON_TENANT_MAX 64
#define BATON_CANON_PLACE_MAX 64 /* facility, unit */
#define BATON_CANON_REF_MAX 128  /* patient, encounter */
#define BATON_CANON_TIME_MAX 40
#define BATON_CANON_ATTR_COUNT_MAX 32
#define BATON_CANON_ATTR_KEY_MAX 64
#define BATON_CANON_ATTR_VALUE_MAX 256
#define BATON_CANON_ATTR_TOTAL_MAX 4096
#define BATON_CANON_BODY_MAX 65536 /* baton_canon_parse: larger bodies are BATON_ETOOBIG */
#define BATON_CANON_FUTURE_MS (24LL * 3600 * 1000)

/* One validation problem: an RFC 9457 `errors` entry. */
typedef struct {
    char *pointer; /* RFC 6901 pointer into the request body ("" = the whole body) */
    char *detail;  /* what is wrong; never contains a field value */
} baton_canon_problem_t;

/* A growable list of problems. Zero-initialise (BATON_CANON_PROBLEMS_INIT), free with
 * baton_canon_problems_free (which also makes it reusable). */
typedef struct {
    baton_canon_problem_t *items;
    size_t n;
    size_t cap;
} baton_canon_problems_t;
#define BATON_CANON_PROBLEMS_INIT                                                                  \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void baton_canon_problems_free(baton_canon_problems_t *p);
/* Append a problem (both strings copied). */
void baton_canon_problems_add(baton_canon_problems_t *p, const char *pointer, const char *detail);
/* The list as a JSON array [{"pointer": ..., "detail": ...}] (new reference, caller decrefs). */
json_t *baton_canon_problems_json(const baton_canon_problems_t *p);

/* Problem title for a return code of baton_canon_validate/convert/parse, for the RFC 9457
 * `title` ("Invalid event", "Tenant not allowed", "Malformed JSON", "Body too large"). */
const char *baton_canon_title(int rc);

typedef struct {
    const char *auth_tenant;       /* required: the tenant the caller authenticated as */
    const char *idempotency_key;   /* NULL or the Idempotency-Key header */
    bool require_id;               /* no id and no key: problem at "/id" instead of a UUIDv7 */
    const char *traceparent;       /* NULL or the W3C traceparent header */
    const char *source;            /* ClinicalEvent.source: NULL = "json"; "fhir", "hl7v2" */
    const char *source_message_id; /* NULL = the event id */
    const char *producer;          /* NULL = "ingest" */
    int64_t now_ms;                /* recorded_at and the future bound; 0 = baton_now_ms() */
} baton_canon_opts_t;

/* Validate `event` against the rules above, appending every problem to `problems`.
 * Returns 0 (valid, nothing appended), BATON_EINVAL (problems appended) or BATON_EPERM (the
 * tenant is well-formed but not opts->auth_tenant; a "/tenant" problem is appended along with
 * any others). */
int baton_canon_validate(const json_t *event, const baton_canon_opts_t *opts,
                         baton_canon_problems_t *problems);

/* Validate and convert. On 0, *out is a new Envelope the caller frees with
 * baton_canon_envelope_free. On error *out is NULL and the return code is as for validate. */
int baton_canon_convert(const json_t *event, const baton_canon_opts_t *opts,
                        Baton__V1__Envelope **out, baton_canon_problems_t *problems);

/* Parse a request body (UTF-8 JSON, an optional UTF-8 byte order mark is skipped, duplicate
 * keys and NUL characters are rejected) and convert it. Extra errors: BATON_ETOOBIG (more than
 * BATON_CANON_BODY_MAX bytes) and BATON_EPARSE (not JSON: one problem at "" naming the line
 * and column, never the text). */
int baton_canon_parse(const char *body, size_t len, const baton_canon_opts_t *opts,
                      Baton__V1__Envelope **out, baton_canon_problems_t *problems);

/* Free an Envelope built by baton_canon_convert/parse (NULL is fine). Not for envelopes from
 * baton__v1__envelope__unpack, which have their own free. */
void baton_canon_envelope_free(Baton__V1__Envelope *env);

/* The value of attribute `key` in a converted envelope, or NULL. */
const char *baton_canon_attribute(const Baton__V1__Envelope *env, const char *key);

/* ---- NDJSON bodies (application/x-ndjson: one event per line) ----
 * Lines end in "\n" or "\r\n" (a lone trailing "\r" is stripped); the last line needs no
 * newline; a UTF-8 byte order mark at the very start is skipped; lines holding only spaces,
 * tabs or "\r" are skipped. Line numbers are 1-based physical lines, blank ones included. */
typedef struct {
    const char *body;
    size_t len;
    size_t pos;
    size_t line_no;   /* physical line of the last line returned */
    size_t count;     /* non-blank lines returned so far */
    size_t max_lines; /* 0 = unlimited */
} baton_canon_ndjson_t;

void baton_canon_ndjson_init(baton_canon_ndjson_t *it, const char *body, size_t len,
                             size_t max_lines);
/* Next non-blank line: returns 1 and sets *line / *line_len (not NUL-terminated, without the
 * line end) and *line_no; returns 0 at the end; returns BATON_ETOOBIG when the line would be
 * number max_lines + 1 (then *line_no is its line number and the iterator stays there). */
int baton_canon_ndjson_next(baton_canon_ndjson_t *it, const char **line, size_t *line_len,
                            size_t *line_no);

#ifdef __cplusplus
}
#endif
#endif
