/* ServiceRequest → order.* / consult.requested / referral.requested (see baton/fhir.h). */
#include "fhir_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNOMED "http://snomed.info/sct"

static const char *const sr_statuses[] = {"draft",     "active",           "on-hold", "revoked",
                                          "completed", "entered-in-error", "unknown", NULL};

static int any_category(const json_t *cats, int (*pred)(const json_t *))
{
    size_t i;
    json_t *cc;
    json_array_foreach(cats, i, cc) if (pred(cc)) return 1;
    return 0;
}

static int is_consult(const json_t *cc)
{
    return fhir__cc_has(cc, SNOMED, "11429006") || fhir__cc_has(cc, NULL, "consult") ||
           fhir__cc_has(cc, NULL, "consultation") || fhir__cc_text_starts(cc, "consult");
}

static int is_referral(const json_t *cc)
{
    return fhir__cc_has(cc, SNOMED, "3457005") || fhir__cc_has(cc, SNOMED, "103696004") ||
           fhir__cc_has(cc, NULL, "referral") || fhir__cc_text_starts(cc, "referral");
}

static int is_discharge(const json_t *cc)
{
    return fhir__cc_has(cc, SNOMED, "58000006") || fhir__cc_has(cc, NULL, "discharge") ||
           fhir__cc_text_starts(cc, "discharge");
}

/* Type for an active order, and the category attribute. */
static const char *active_type(fhir_ctx_t *c, const json_t *res, const char **category)
{
    const json_t *cats = fhir__arr(c, res, "category", "ServiceRequest.category");
    const json_t *code = fhir__obj(c, res, "code", "ServiceRequest.code");
    if (code && is_discharge(code)) {
        *category = "discharge";
        return "order.discharge";
    }
    if (any_category(cats, is_consult)) {
        *category = "consult";
        return "consult.requested";
    }
    if (any_category(cats, is_referral)) {
        *category = "referral";
        return "referral.requested";
    }
    return "order.placed";
}

static const char *status_type(const char *status)
{
    if (strcmp(status, "draft") == 0)
        return "order.draft";
    if (strcmp(status, "on-hold") == 0)
        return "order.on_hold";
    if (strcmp(status, "completed") == 0)
        return "order.completed";
    if (strcmp(status, "revoked") == 0 || strcmp(status, "entered-in-error") == 0)
        return "order.cancelled";
    return NULL;
}

static void map_attrs(fhir_ctx_t *c, const json_t *res, const char *category)
{
    fhir__attr(c, "intent", fhir__str(c, res, "intent", "ServiceRequest.intent"),
               "ServiceRequest.intent");
    fhir__attr(c, "priority", fhir__str(c, res, "priority", "ServiceRequest.priority"),
               "ServiceRequest.priority");
    const json_t *cats = fhir__arr(c, res, "category", "ServiceRequest.category");
    if (!category && json_array_size(cats))
        category = fhir__cc_code(c, json_array_get(cats, 0), "ServiceRequest.category[0]");
    fhir__attr(c, "category", category, "ServiceRequest.category");
    const json_t *code = fhir__obj(c, res, "code", "ServiceRequest.code");
    fhir__attr(c, "order_code", fhir__cc_code(c, code, "ServiceRequest.code"),
               "ServiceRequest.code");
    const json_t *pt = fhir__obj(c, res, "performerType", "ServiceRequest.performerType");
    const char *spec = fhir__cc_code(c, pt, "ServiceRequest.performerType");
    if (!spec && pt)
        spec = json_string_value(json_object_get(pt, "text"));
    fhir__attr(c, "specialty", spec, "ServiceRequest.performerType");
    char *req = fhir__ref_short(c, json_object_get(res, "requester"), "ServiceRequest.requester");
    fhir__attr(c, "requester", req, "ServiceRequest.requester");
    free(req);
}

void fhir__service_request(fhir_ctx_t *c, const json_t *res)
{
    const char *status = fhir__str(c, res, "status", "ServiceRequest.status");
    if (!json_object_get(res, "status"))
        fhir__issue(c, "required", "ServiceRequest.status", "is required");
    else if (status && !status[0])
        fhir__issue(c, "value", "ServiceRequest.status", "is not a ServiceRequest status code");
    else if (status) {
        size_t i;
        for (i = 0; sr_statuses[i] && strcmp(sr_statuses[i], status) != 0; i++)
            ;
        if (!sr_statuses[i])
            fhir__issue(c, "value", "ServiceRequest.status", "is not a ServiceRequest status code");
        else if (strcmp(status, "unknown") == 0)
            fhir__issue(c, "not-supported", "ServiceRequest.status",
                        "status unknown cannot be mapped to an event");
    }
    char *patient =
        fhir__ref_id(c, json_object_get(res, "subject"), "Patient", "ServiceRequest.subject");
    fhir__set(c, "patient", patient, "ServiceRequest.subject");
    free(patient);
    char *enc =
        fhir__ref_id(c, json_object_get(res, "encounter"), "Encounter", "ServiceRequest.encounter");
    fhir__set(c, "encounter", enc, "ServiceRequest.encounter");
    free(enc);
    fhir__need_subject(c, "ServiceRequest.subject",
                       "a Patient subject reference or an encounter reference");
    const json_t *locs = fhir__arr(c, res, "locationReference", "ServiceRequest.locationReference");
    if (json_array_size(locs)) {
        char *unit = fhir__ref_id(c, json_array_get(locs, 0), "Location",
                                  "ServiceRequest.locationReference[0]");
        fhir__set(c, "unit", unit, "ServiceRequest.locationReference[0]");
        free(unit);
    }
    const char *category = NULL;
    const char *type = status && !c->errors ? status_type(status) : NULL;
    if (status && !c->errors && !type)
        type = active_type(c, res, &category);
    map_attrs(c, res, category);
    if (c->errors || !type)
        return;
    fhir__set(c, "type", type, "ServiceRequest.status");
    fhir__attr(c, "order_status", status, "ServiceRequest.status");
    static const char *const t_new[] = {"authoredOn", "meta.lastUpdated", NULL};
    static const char *const t_change[] = {"meta.lastUpdated", "authoredOn", NULL};
    int changed = strcmp(status, "revoked") == 0 || strcmp(status, "completed") == 0 ||
                  strcmp(status, "entered-in-error") == 0;
    fhir__occurred(c, res, changed ? t_change : t_new);
}
