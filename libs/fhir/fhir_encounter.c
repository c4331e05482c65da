/* Encounter → adt.* events (the table is in baton/fhir.h). */
#include "fhir_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const encounter_statuses[] = {
    "planned",  "arrived",   "triaged",          "in-progress", "onleave",
    "finished", "cancelled", "entered-in-error", "unknown",     NULL};

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static const char *class_name(const char *code)
{
    static const char *const map[][2] = {
        {"IMP", "inpatient"},  {"ACUTE", "inpatient"}, {"NONAC", "inpatient"},
        {"AMB", "outpatient"}, {"EMER", "emergency"},  {"OBSENC", "observation"},
        {"HH", "home_health"}, {"VR", "virtual"},      {"PRENC", "preadmission"},
        {"SS", "short_stay"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(code, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static void map_class(fhir_ctx_t *c, const json_t *res)
{
    const json_t *cls = fhir__obj(c, res, "class", "Encounter.class");
    if (!cls)
        return;
    const char *code = fhir__str(c, cls, "code", "Encounter.class.code");
    if (!code || !code[0])
        return;
    const char *name = class_name(code);
    if (name) {
        fhir__attr(c, "patient_class", name, "Encounter.class");
        return;
    }
    char *lower = fhir__slug(code, 64);
    fhir__attr(c, "patient_class", lower, "Encounter.class");
    free(lower);
}

static const char *disposition(const json_t *cc)
{
    static const char *const dd = "http://terminology.hl7.org/CodeSystem/discharge-disposition";
    static const char *const v2 = "http://terminology.hl7.org/CodeSystem/v2-0112";
    if (fhir__cc_has(cc, "http://snomed.info/sct", "306689006"))
        return "home";
    if (fhir__cc_has(cc, v2, "01"))
        return "home";
    if (fhir__cc_has(cc, v2, "03"))
        return "snf";
    if (fhir__cc_has(cc, v2, "06"))
        return "home_health";
    size_t i;
    json_t *coding;
    json_array_foreach(json_object_get(cc, "coding"), i, coding)
    {
        const char *sys = json_string_value(json_object_get(coding, "system"));
        const char *code = json_string_value(json_object_get(coding, "code"));
        if (code && code[0] && sys && strcmp(sys, dd) == 0)
            return code;
    }
    return NULL;
}

static void map_hospitalization(fhir_ctx_t *c, const json_t *res)
{
    const json_t *h = fhir__obj(c, res, "hospitalization", "Encounter.hospitalization");
    if (!h)
        return;
    const json_t *dd =
        fhir__obj(c, h, "dischargeDisposition", "Encounter.hospitalization.dischargeDisposition");
    if (dd) {
        const char *d = disposition(dd);
        if (!d)
            d = fhir__cc_code(c, dd, "Encounter.hospitalization.dischargeDisposition");
        fhir__attr(c, "disposition", d, "Encounter.hospitalization.dischargeDisposition");
    }
    const json_t *as = fhir__obj(c, h, "admitSource", "Encounter.hospitalization.admitSource");
    if (as)
        fhir__attr(c, "admit_source", fhir__cc_code(c, as, "Encounter.hospitalization.admitSource"),
                   "Encounter.hospitalization.admitSource");
}

/* unit: last active location, else the last one that is not planned. */
static void map_location(fhir_ctx_t *c, const json_t *res)
{
    const json_t *locs = fhir__arr(c, res, "location", "Encounter.location");
    size_t i;
    json_t *l;
    char *best = NULL;
    int best_active = 0;
    char path[96];
    json_array_foreach(locs, i, l)
    {
        const char *status = json_string_value(json_object_get(l, "status"));
        if (status && strcmp(status, "planned") == 0)
            continue;
        int active = status && strcmp(status, "active") == 0;
        if (best && best_active && !active)
            continue;
        snprintf(path, sizeof path, "Encounter.location[%zu].location", i);
        char *id = fhir__ref_id(c, json_object_get(l, "location"), "Location", path);
        if (!id)
            continue;
        free(best);
        best = id;
        best_active = active;
        json_object_set_new(c->paths, "/unit", json_string(path));
    }
    if (best)
        fhir__set(c, "unit", best, NULL);
    free(best);
}

static const char *identifier_value(const json_t *res)
{
    const json_t *ids = json_object_get(res, "identifier");
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        const char *use = json_string_value(json_object_get(id, "use"));
        const char *v = json_string_value(json_object_get(id, "value"));
        if (v && v[0] && use && strcmp(use, "official") == 0)
            return v;
    }
    json_array_foreach(ids, i, id)
    {
        const char *v = json_string_value(json_object_get(id, "value"));
        if (v && v[0])
            return v;
    }
    return NULL;
}

static const char *event_type(const char *status, const json_t *res, int *update)
{
    const char *version =
        json_string_value(json_object_get(json_object_get(res, "meta"), "versionId"));
    *update = 0;
    if (strcmp(status, "planned") == 0)
        return "adt.preadmit";
    if (strcmp(status, "finished") == 0)
        return "adt.discharge";
    if (strcmp(status, "cancelled") == 0 || strcmp(status, "entered-in-error") == 0)
        return "adt.cancel_admit";
    if (strcmp(status, "onleave") == 0 || (version && strcmp(version, "1") != 0)) {
        *update = 1;
        return "adt.update";
    }
    return "adt.admit";
}

void fhir__encounter(fhir_ctx_t *c, const json_t *res)
{
    const char *status = fhir__str(c, res, "status", "Encounter.status");
    if (!json_object_get(res, "status"))
        fhir__issue(c, "required", "Encounter.status", "is required");
    else if (status && !in_list(status, encounter_statuses))
        fhir__issue(c, "value", "Encounter.status", "is not an Encounter status code");
    else if (status && strcmp(status, "unknown") == 0)
        fhir__issue(c, "not-supported", "Encounter.status",
                    "status unknown cannot be mapped to an event");

    const char *id = json_string_value(json_object_get(res, "id"));
    if (id && id[0])
        fhir__set(c, "encounter", id, "Encounter.id");
    else
        fhir__set(c, "encounter", identifier_value(res), "Encounter.identifier");
    char *patient =
        fhir__ref_id(c, json_object_get(res, "subject"), "Patient", "Encounter.subject");
    fhir__set(c, "patient", patient, "Encounter.subject");
    free(patient);
    fhir__need_subject(c, "Encounter.subject", "a Patient subject or an Encounter id/identifier");
    char *facility = fhir__ref_id(c, json_object_get(res, "serviceProvider"), "Organization",
                                  "Encounter.serviceProvider");
    fhir__set(c, "facility", facility, "Encounter.serviceProvider");
    free(facility);
    map_location(c, res);
    map_class(c, res);
    map_hospitalization(c, res);
    if (c->errors || !status)
        return;

    int update;
    const char *type = event_type(status, res, &update);
    fhir__set(c, "type", type, "Encounter.status");
    fhir__attr(c, "encounter_status", status, "Encounter.status");
    static const char *const t_finished[] = {"period.end", "meta.lastUpdated", NULL};
    static const char *const t_admit[] = {"period.start", "meta.lastUpdated", NULL};
    static const char *const t_other[] = {"meta.lastUpdated", "period.start", NULL};
    if (strcmp(type, "adt.discharge") == 0)
        fhir__occurred(c, res, t_finished);
    else if (strcmp(type, "adt.admit") == 0 || strcmp(type, "adt.preadmit") == 0)
        fhir__occurred(c, res, t_admit);
    else
        fhir__occurred(c, res, t_other);
}
