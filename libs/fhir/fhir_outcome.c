/* OperationOutcome construction. */
#include "baton/fhir.h"

#include <stdlib.h>
#include <string.h>

json_t *baton_fhir_outcome_new(void)
{
    return json_pack("{s:s, s:[]}", "resourceType", "OperationOutcome", "issue");
}

void baton_fhir_outcome_add(json_t *outcome, const char *severity, const char *code,
                            const char *diagnostics, const char *expression)
{
    json_t *issue = json_pack("{s:s, s:s}", "severity", severity, "code", code);
    if (diagnostics)
        json_object_set_new(issue, "diagnostics", json_string(diagnostics));
    if (expression)
        json_object_set_new(issue, "expression", json_pack("[s]", expression));
    json_array_append_new(json_object_get(outcome, "issue"), issue);
}

json_t *baton_fhir_outcome_error(const char *code, const char *diagnostics, const char *expression)
{
    json_t *oo = baton_fhir_outcome_new();
    baton_fhir_outcome_add(oo, "error", code, diagnostics, expression);
    return oo;
}

json_t *baton_fhir_outcome_info(const char *diagnostics)
{
    json_t *oo = baton_fhir_outcome_new();
    baton_fhir_outcome_add(oo, "information", "informational", diagnostics, NULL);
    return oo;
}

/* "Encounter.status" with prefix P → "P.status"; an expression without a dot → P. */
static char *prefixed(const char *prefix, const char *expr)
{
    const char *dot = strchr(expr, '.');
    return dot ? baton_xasprintf("%s%s", prefix, dot) : baton_xstrdup(prefix);
}

void baton_fhir_outcome_merge(json_t *to, const json_t *from, const char *prefix)
{
    size_t i;
    json_t *issue;
    json_array_foreach(json_object_get(from, "issue"), i, issue)
    {
        json_t *copy = json_deep_copy(issue);
        json_t *exprs = json_object_get(copy, "expression");
        if (prefix && json_is_array(exprs)) {
            size_t j;
            json_t *e;
            json_array_foreach(exprs, j, e)
            {
                char *p = prefixed(prefix, json_string_value(e));
                json_array_set_new(exprs, j, json_string(p));
                free(p);
            }
        } else if (prefix && !exprs) {
            json_object_set_new(copy, "expression", json_pack("[s]", prefix));
        }
        json_array_append_new(json_object_get(to, "issue"), copy);
    }
}

size_t baton_fhir_outcome_count(const json_t *outcome)
{
    return json_array_size(json_object_get(outcome, "issue"));
}

const char *baton_fhir_outcome_code(const json_t *outcome)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(outcome, "issue"), 0), "code"));
}

int baton_fhir_outcome_http_status(const json_t *outcome)
{
    const char *code = baton_fhir_outcome_code(outcome);
    if (!code)
        return 400;
    if (strcmp(code, "too-costly") == 0)
        return 413;
    if (strcmp(code, "not-supported") == 0 || strcmp(code, "processing") == 0 ||
        strcmp(code, "invalid") == 0)
        return 422;
    return 400;
}
