/* baton/fhir.h — FHIR R4 JSON in, canonical event JSON objects out (the input of
 * baton/canon.h), and FHIR OperationOutcome errors.
 *
 * Accepted: a single Encounter, ServiceRequest or Task, or a Bundle of type batch, transaction
 * or subscription notification (R4 backport: type "history" whose first entry is a Parameters
 * SubscriptionStatus; R4B/R5 type "subscription-notification" also accepted).
 *
 * Encounter (status → type):
 *   planned → adt.preadmit; arrived, triaged, in-progress → adt.admit, or adt.update when
 *   meta.versionId is present and not "1" (the resource has been updated before); onleave →
 *   adt.update; finished → adt.discharge; cancelled, entered-in-error → adt.cancel_admit;
 *   unknown → not-supported. (adt.cancel_discharge needs the previous state and is left to
 *   HL7 A13.)
 *   encounter = Encounter.id, else identifier (use=official first, else the first with a
 *   value); patient = subject (a Patient reference); facility = serviceProvider
 *   (Organization id); unit = the Location id of the last location entry with status active
 *   (else the last one not planned). Display-only and contained ("#x") references are ignored.
 *   attributes: encounter_status (the FHIR code), patient_class (class: IMP/ACUTE/NONAC →
 *   inpatient, AMB → outpatient, EMER → emergency, OBSENC → observation, HH → home_health,
 *   VR → virtual, PRENC → preadmission, SS → short_stay, other → the code folded to
 *   [a-z0-9_]),
 *   disposition (hospitalization.dischargeDisposition: discharge-disposition codes as they are
 *   (home, snf, rehab, ...); SNOMED 306689006 → home; v2-0112 01 → home, 03 → snf,
 *   06 → home_health; any other code as it is), admit_source (hospitalization.admitSource code).
 *   occurred_at: finished → period.end, meta.lastUpdated; admit → period.start,
 *   meta.lastUpdated; update/cancel → meta.lastUpdated, period.start.
 * ServiceRequest:
 *   active → order.discharge when the code is a discharge order (SNOMED 58000006, a coding
 *   code "discharge", or code.text starting with "discharge", any case), else
 *   consult.requested when a category is a consult (SNOMED 11429006, a coding code
 *   "consult"/"consultation", or category text starting with "consult"), else
 *   referral.requested when a category is a referral (SNOMED 3457005 or 103696004, code
 *   "referral", text starting with "referral"), else order.placed; draft → order.draft;
 *   on-hold → order.on_hold; completed → order.completed; revoked, entered-in-error →
 *   order.cancelled; unknown → not-supported.
 *   patient = subject (Patient), encounter = encounter; attributes: order_status, intent,
 *   priority, category (consult | referral | discharge | first category code), order_code
 *   (first code.coding code), specialty (performerType: first coding code, else its text),
 *   requester ("Practitioner/x"), unit (locationReference[0] Location id). occurred_at:
 *   authoredOn, meta.lastUpdated (revoked, completed, entered-in-error: meta.lastUpdated first).
 * Task:
 *   type = <kind>.<status> with the status' '-' turned into '_' (task.completed,
 *   transport.in_progress). kind is Task.code.text, else the first coding code, folded to
 *   [a-z0-9_] (other characters → '_', at most 32, must start with a letter); "task" when
 *   there is none or it would be one of the namespaces adt, order, consult, referral, timer,
 *   task, staff, instance, notify (so a Task cannot pose as an ADT or order event).
 *   patient = for (Patient), encounter = encounter; attributes: task_status, task_kind,
 *   business_status (businessStatus first coding code, else its text, cut to 256 bytes),
 *   intent, priority, focus, owner, requester (as "Type/id"). occurred_at: lastModified,
 *   authoredOn, meta.lastUpdated.
 * All: when none of the time fields is there, the notification-event timestamp (subscription
 * notifications), else Bundle.timestamp, else opts->now_ms. FHIR partial dates count as
 * midnight UTC ("2013-03-11" → 2013-03-11T00:00:00Z). A resource with neither a patient nor
 * an encounter is rejected (`required` at Encounter.subject / ServiceRequest.subject /
 * Task.for): Baton cannot correlate it. References: "Patient/x", ".../Patient/x",
 * ".../Patient/x/_history/n" → "x"; "urn:uuid:x" → the id of the bundle entry with that
 * fullUrl when there is one, else "x"; a Reference with only an identifier → its value.
 *
 * Event id (idempotency): UUIDv8 baton_derived_id(tenant, "fhir:" + type + "/" + id +
 * "/_history/" + versionId) when meta.versionId is present, else over "fhir:" + type + "/" +
 * id + "#" + SHA-256 of the resource (compact, keys sorted) — the same POST again gives the
 * same id, a changed resource a new one. source_message_id: "Type/id[/_history/v]".
 *
 * Bundles: batch → each entry mapped on its own (failures are per-entry outcomes, the rest go
 * on; return 0); transaction → all or nothing: any failing entry makes the call return
 * BATON_EINVAL with result->outcome listing every failing entry (expressions
 * "Bundle.entry[i].resource.status"); its entries that did map become SKIPPED items (nothing
 * may be written). Entries need a resource and request.method POST or PUT.
 * Subscription notifications: handshake, heartbeat, query-status, query-event → no events;
 * event-notification → an event for each entry whose resource is an Encounter, ServiceRequest
 * or Task; entries without a resource (id-only, empty) and other resource types are skipped;
 * an entry that fails is a per-entry outcome (the notification is still accepted). R4 history
 * notifications must carry entry.request and entry.response on every entry (`required`).
 *
 * OperationOutcome issue codes: structure (not JSON, not an object, wrong JSON type), required,
 * value (bad code, date, identifier), not-supported (resource type, status, bundle type,
 * method), invalid (resource type other than the endpoint's), too-costly (limits), processing.
 * Diagnostics never contain values from the resource (no PHI); expressions are FHIRPath. */
#ifndef BATON_FHIR_H
#define BATON_FHIR_H

#include "baton/core.h"
#include <jansson.h>

/* The extension a ServiceRequest or Task may carry to name its facility (FHIR has no field for
 * it there): {"url": BATON_FHIR_EXT_FACILITY, "valueString": "NORTH"} (or valueCode,
 * valueIdentifier, or valueReference to an Organization). An Encounter's serviceProvider wins. */
#define BATON_FHIR_EXT_FACILITY "urn:baton:fhir:extension:facility"

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_FHIR_BODY_MAX (8u << 20) /* bytes; larger → too-costly */
#define BATON_FHIR_ENTRY_MAX 1000      /* Bundle entries; more → too-costly */

/* ---- OperationOutcome helpers (all return new references the caller decrefs) ---- */

/* {"resourceType": "OperationOutcome", "issue": []} */
json_t *baton_fhir_outcome_new(void);
/* Append an issue. severity: "fatal" | "error" | "warning" | "information"; code from the FHIR
 * issue-type value set; diagnostics and expression (FHIRPath) may be NULL. */
void baton_fhir_outcome_add(json_t *outcome, const char *severity, const char *code,
                            const char *diagnostics, const char *expression);
/* A new outcome with one error issue. */
json_t *baton_fhir_outcome_error(const char *code, const char *diagnostics, const char *expression);
/* A new outcome with one information issue (code "informational"). */
json_t *baton_fhir_outcome_info(const char *diagnostics);
/* Append every issue of `from` to `to`, prefixing expressions with `prefix` (e.g.
 * "Bundle.entry[2].resource"): "Encounter.status" becomes "Bundle.entry[2].resource.status". */
void baton_fhir_outcome_merge(json_t *to, const json_t *from, const char *prefix);
/* Number of issues; code of the first issue (or NULL). */
size_t baton_fhir_outcome_count(const json_t *outcome);
const char *baton_fhir_outcome_code(const json_t *outcome);
/* Suggested HTTP status for an error outcome: 413 too-costly, 422 not-supported/processing/
 * invalid, 400 otherwise (structure, required, value). */
int baton_fhir_outcome_http_status(const json_t *outcome);

/* ---- mapping ---- */

typedef struct {
    const char *tenant;      /* required: the caller's tenant (from the API key) */
    const char *expect_type; /* NULL = any; "Encounter" for POST /fhir/r4/Encounter, ... */
    int64_t now_ms;          /* last-resort occurred_at and canonical checks; 0 = clock */
} baton_fhir_opts_t;

typedef enum {
    BATON_FHIR_ITEM_EVENT = 0,   /* event is set */
    BATON_FHIR_ITEM_ERROR = 1,   /* outcome is set */
    BATON_FHIR_ITEM_SKIPPED = 2, /* nothing to do (id-only notification entry, other type) */
} baton_fhir_item_kind_t;

typedef struct {
    baton_fhir_item_kind_t kind;
    int entry;               /* Bundle.entry index, -1 for a single resource */
    json_t *event;           /* canonical event JSON (owned by the result) */
    char *source_message_id; /* "Encounter/f001[/_history/2]": canon opts.source_message_id */
    json_t *outcome;         /* OperationOutcome for this entry (expressions resource-relative) */
} baton_fhir_item_t;

typedef enum {
    BATON_FHIR_RESOURCE = 0,
    BATON_FHIR_BATCH = 1,
    BATON_FHIR_TRANSACTION = 2,
    BATON_FHIR_NOTIFICATION = 3,
} baton_fhir_input_kind_t;

typedef struct {
    baton_fhir_input_kind_t input;
    char notification_type[32]; /* "handshake", "heartbeat", "event-notification", ... or "" */
    baton_fhir_item_t *items;
    size_t n_items;
    size_t n_events; /* items with kind BATON_FHIR_ITEM_EVENT */
    json_t *outcome; /* set when the whole input is rejected (owned by the result) */
} baton_fhir_result_t;

/* Map a request body. Returns 0 (accepted: events in items, possibly per-entry errors for a
 * batch or a notification) or a negative code with result->outcome set: BATON_EPARSE (not
 * JSON), BATON_EINVAL (invalid, or a transaction with a failing entry), BATON_ENOENT
 * (unsupported resource type / bundle type: not-supported), BATON_ETOOBIG (limits).
 * The result must be freed with baton_fhir_result_free whatever the return code. */
int baton_fhir_map(const char *body, size_t len, const baton_fhir_opts_t *opts,
                   baton_fhir_result_t *result);
/* The same for an already parsed document. */
int baton_fhir_map_json(const json_t *doc, const baton_fhir_opts_t *opts,
                        baton_fhir_result_t *result);
void baton_fhir_result_free(baton_fhir_result_t *result);

#ifdef __cplusplus
}
#endif
#endif
