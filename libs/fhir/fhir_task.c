/* Task → <kind>.<status> events (see baton/fhir.h). */
#include "fhir_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const task_statuses[] = {
    "draft",       "requested", "received", "accepted",  "rejected",         "ready", "cancelled",
    "in-progress", "on-hold",   "failed",   "completed", "entered-in-error", NULL};

static const char *const reserved[] = {"adt",  "order", "consult",  "referral", "timer",
                                       "task", "staff", "instance", "notify",   NULL};

/* The kind slug from Task.code (owned; "" when none). */
static char *task_kind(fhir_ctx_t *c, const json_t *res)
{
    const json_t *code = fhir__obj(c, res, "code", "Task.code");
    if (!code)
        return baton_xstrdup("");
    const char *text = fhir__str(c, code, "text", "Task.code.text");
    char *slug = text ? fhir__slug(text, 32) : baton_xstrdup("");
    if (!slug[0]) {
        free(slug);
        const char *cd = fhir__cc_code(c, code, "Task.code");
        slug = cd ? fhir__slug(cd, 32) : baton_xstrdup("");
    }
    return slug;
}

static int usable_kind(const char *kind)
{
    if (!(kind[0] >= 'a' && kind[0] <= 'z'))
        return 0;
    for (size_t i = 0; reserved[i]; i++)
        if (strcmp(kind, reserved[i]) == 0)
            return 0;
    return 1;
}

static void ref_attr(fhir_ctx_t *c, const json_t *res, const char *member, const char *key)
{
    char path[64];
    snprintf(path, sizeof path, "Task.%s", member);
    char *r = fhir__ref_short(c, json_object_get(res, member), path);
    fhir__attr(c, key, r, path);
    free(r);
}

void fhir__task(fhir_ctx_t *c, const json_t *res)
{
    const char *status = fhir__str(c, res, "status", "Task.status");
    int known = 0;
    if (!json_object_get(res, "status")) {
        fhir__issue(c, "required", "Task.status", "is required");
    } else if (status) {
        for (size_t i = 0; task_statuses[i]; i++)
            known |= strcmp(status, task_statuses[i]) == 0;
        if (!known)
            fhir__issue(c, "value", "Task.status", "is not a Task status code");
    }
    char *patient = fhir__ref_id(c, json_object_get(res, "for"), "Patient", "Task.for");
    fhir__set(c, "patient", patient, "Task.for");
    free(patient);
    char *enc = fhir__ref_id(c, json_object_get(res, "encounter"), "Encounter", "Task.encounter");
    fhir__set(c, "encounter", enc, "Task.encounter");
    free(enc);
    fhir__need_subject(c, "Task.for", "a Patient in Task.for or an encounter reference");
    char *kind = task_kind(c, res);
    fhir__attr(c, "task_kind", kind, "Task.code");
    const json_t *bs = fhir__obj(c, res, "businessStatus", "Task.businessStatus");
    const char *bstat = fhir__cc_code(c, bs, "Task.businessStatus");
    if (!bstat && bs)
        bstat = json_string_value(json_object_get(bs, "text"));
    fhir__attr(c, "business_status", bstat, "Task.businessStatus");
    fhir__attr(c, "intent", fhir__str(c, res, "intent", "Task.intent"), "Task.intent");
    fhir__attr(c, "priority", fhir__str(c, res, "priority", "Task.priority"), "Task.priority");
    ref_attr(c, res, "focus", "focus");
    ref_attr(c, res, "owner", "owner");
    ref_attr(c, res, "requester", "requester");
    if (c->errors || !known) {
        free(kind);
        return;
    }
    char *st = baton_xstrdup(status);
    for (char *p = st; *p; p++)
        if (*p == '-')
            *p = '_';
    char *type = baton_xasprintf("%s.%s", usable_kind(kind) ? kind : "task", st);
    fhir__set(c, "type", type, "Task.code");
    fhir__attr(c, "task_status", status, "Task.status");
    free(type);
    free(st);
    free(kind);
    static const char *const t_task[] = {"lastModified", "authoredOn", "meta.lastUpdated", NULL};
    fhir__occurred(c, res, t_task);
}
