/* Shared by the fhir_*.c files. */
#ifndef BATON_FHIR_INTERNAL_H
#define BATON_FHIR_INTERNAL_H

#include "baton/canon.h"
#include "baton/fhir.h"

/* State while one resource is mapped. */
typedef struct {
    const baton_fhir_opts_t *opts;
    const json_t *bundle;      /* the enclosing Bundle (urn:uuid references), or NULL */
    const char *fallback_time; /* notification / bundle timestamp, or NULL */
    const char *rtype;         /* "Encounter", "ServiceRequest", "Task" */
    json_t *outcome;           /* issues found (expressions resource-relative) */
    int errors;                /* error issues added */
    int unsupported;           /* a not-supported issue was added */
    json_t *event;             /* the canonical event being built */
    json_t *attrs;             /* its attributes */
    json_t *paths;             /* canonical pointer → FHIRPath of the source element */
    char *time_path;           /* FHIRPath the occurred_at came from */
} fhir_ctx_t;

/* issues */
void fhir__issue(fhir_ctx_t *c, const char *code, const char *expr, const char *fmt, ...)
    BATON_PRINTF(4, 5);

/* Optional string member of obj at FHIRPath path: NULL when absent; a non-string is a
 * structure issue. */
const char *fhir__str(fhir_ctx_t *c, const json_t *obj, const char *member, const char *path);
/* Optional object member (non-object → structure issue). */
const json_t *fhir__obj(fhir_ctx_t *c, const json_t *obj, const char *member, const char *path);
/* Optional array member (non-array → structure issue). */
const json_t *fhir__arr(fhir_ctx_t *c, const json_t *obj, const char *member, const char *path);

/* Id of the `type` resource a Reference points to (owned), or NULL (absent, display-only,
 * contained, other type). path: FHIRPath of the Reference. */
char *fhir__ref_id(fhir_ctx_t *c, const json_t *ref, const char *type, const char *path);
/* "Type/id" form of any Reference, or NULL (owned). */
char *fhir__ref_short(fhir_ctx_t *c, const json_t *ref, const char *path);

/* First coding code of a CodeableConcept (or NULL); its text (or NULL). */
const char *fhir__cc_code(fhir_ctx_t *c, const json_t *cc, const char *path);
/* Does the CodeableConcept have a coding with this system (NULL = any) and code (any case)? */
int fhir__cc_has(const json_t *cc, const char *system, const char *code);
/* Lower-case text of a CodeableConcept starts with prefix? */
int fhir__cc_text_starts(const json_t *cc, const char *prefix);

/* FHIR date / dateTime / instant → ms. 0 or -1 (value issue added at path). */
int fhir__time(fhir_ctx_t *c, const char *s, const char *path, int64_t *ms);
/* Pick occurred_at from the candidate paths ("period.end", "meta.lastUpdated"), relative to the
 * resource, then the fallbacks. */
void fhir__occurred(fhir_ctx_t *c, const json_t *res, const char *const *candidates);

/* Event members (the value is copied; NULL is ignored). path = FHIRPath of the source. */
void fhir__set(fhir_ctx_t *c, const char *member, const char *value, const char *path);
void fhir__attr(fhir_ctx_t *c, const char *key, const char *value, const char *path);
/* A `required` issue at path unless the event has a patient or an encounter. */
void fhir__need_subject(fhir_ctx_t *c, const char *path, const char *what);
/* Owned copy of value cut to at most max bytes at a UTF-8 boundary. */
char *fhir__cut(const char *value, size_t max);

/* Fold text into [a-z0-9_] (max bytes, other runs → '_', trimmed). Owned; "" when nothing. */
char *fhir__slug(const char *text, size_t max);

/* Per-resource mappers: fill c->event / c->attrs or add issues. */
void fhir__encounter(fhir_ctx_t *c, const json_t *res);
void fhir__service_request(fhir_ctx_t *c, const json_t *res);
void fhir__task(fhir_ctx_t *c, const json_t *res);

/* Map one resource into an item (event or outcome). Returns 0, BATON_EINVAL or BATON_ENOENT
 * (unsupported type). */
int fhir__map_resource(const baton_fhir_opts_t *opts, const json_t *res, const json_t *bundle,
                       const char *fallback_time, baton_fhir_item_t *item);
/* Is this resource type one we map? */
int fhir__supported(const char *rtype);

/* Bundles (fhir_bundle.c). */
int fhir__bundle(const baton_fhir_opts_t *opts, const json_t *bundle, baton_fhir_result_t *r);
/* Append an item to a result (takes the item's contents). */
void fhir__push(baton_fhir_result_t *r, baton_fhir_item_t *item);

#endif
