/* http_response.c — filling responses: raw, JSON, RFC 9457 problems, FHIR OperationOutcome,
 * and the JSON body parser that answers malformed input with a precise 400. */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>

void http_resp_init(baton_http_resp_t *resp)
{
    memset(resp, 0, sizeof *resp);
}

void http_resp_clear(baton_http_resp_t *resp)
{
    free(resp->content_type);
    baton_buf_free(&resp->body);
    for (size_t i = 0; i < resp->nheaders * 2; i++)
        free(resp->headers[i]);
    free(resp->headers);
    http_resp_init(resp);
}

int baton_http_resp_status(const baton_http_resp_t *resp)
{
    return resp->status;
}

void baton_http_respond(baton_http_resp_t *resp, int status, const char *content_type,
                        const void *body, size_t len)
{
    resp->status = status;
    free(resp->content_type);
    resp->content_type = content_type ? baton_xstrdup(content_type) : NULL;
    baton_buf_reset(&resp->body);
    if (len)
        baton_buf_append(&resp->body, body, len);
}

void baton_http_resp_header(baton_http_resp_t *resp, const char *name, const char *value)
{
    resp->headers = baton_xrealloc(resp->headers, (resp->nheaders + 1) * 2 * sizeof(char *));
    resp->headers[resp->nheaders * 2] = baton_xstrdup(name);
    resp->headers[resp->nheaders * 2 + 1] = baton_xstrdup(value);
    resp->nheaders++;
}

/* Serialize json (stolen) into the response with the given content type. */
static void respond_json(baton_http_resp_t *resp, int status, const char *ctype, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    const char *body = text ? text : "null";
    baton_http_respond(resp, status, ctype, body, strlen(body));
    free(text);
    json_decref(json);
}

void baton_http_json(baton_http_resp_t *resp, int status, json_t *json)
{
    respond_json(resp, status, "application/json", json);
}

static json_t *problem_object(int status, const char *type_suffix, const char *title,
                              const char *detail)
{
    json_t *o = json_object();
    json_object_set_new(o, "type",
                        type_suffix ? json_sprintf("%s%s", BATON_HTTP_PROBLEM_BASE, type_suffix)
                                    : json_string("about:blank"));
    json_object_set_new(o, "title", json_string(title ? title : ""));
    json_object_set_new(o, "status", json_integer(status));
    if (detail)
        json_object_set_new(o, "detail", json_string(detail));
    return o;
}

void baton_http_problem(baton_http_resp_t *resp, int status, const char *type_suffix,
                        const char *title, const char *detail)
{
    respond_json(resp, status, "application/problem+json",
                 problem_object(status, type_suffix, title, detail));
}

void baton_http_problem_errors(baton_http_resp_t *resp, int status, const char *type_suffix,
                               const char *title, const char *detail,
                               const baton_http_field_error_t *errors, size_t nerrors)
{
    json_t *o = problem_object(status, type_suffix, title, detail);
    json_t *arr = json_array();
    for (size_t i = 0; i < nerrors; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "pointer",
                                             errors[i].pointer ? errors[i].pointer : "", "detail",
                                             errors[i].detail ? errors[i].detail : ""));
    json_object_set_new(o, "errors", arr);
    respond_json(resp, status, "application/problem+json", o);
}

void baton_http_fhir_outcome(baton_http_resp_t *resp, int status, const baton_fhir_issue_t *issues,
                             size_t nissues)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < nissues; i++) {
        json_t *issue =
            json_pack("{s:s, s:s}", "severity", issues[i].severity ? issues[i].severity : "error",
                      "code", issues[i].code ? issues[i].code : "processing");
        if (issues[i].diagnostics)
            json_object_set_new(issue, "diagnostics", json_string(issues[i].diagnostics));
        if (issues[i].expression)
            json_object_set_new(issue, "expression", json_pack("[s]", issues[i].expression));
        json_array_append_new(arr, issue);
    }
    json_t *o = json_pack("{s:s, s:o}", "resourceType", "OperationOutcome", "issue", arr);
    respond_json(resp, status, "application/fhir+json", o);
}

json_t *baton_http_parse_json(const baton_http_req_t *req, baton_http_resp_t *resp)
{
    if (req->body_len == 0) {
        baton_http_problem(resp, 400, "malformed-json", "Malformed JSON", "request body is empty");
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(req->body, req->body_len, 0, &jerr);
    if (!j) {
        /* jansson's message ends with "near '<token>'": the token is client data (it could
         * be an identifier), so it is cut to keep problem details free of PHI. */
        char *near = strstr(jerr.text, " near ");
        if (near)
            *near = '\0';
        char detail[256];
        snprintf(detail, sizeof detail, "line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        baton_http_problem(resp, 400, "malformed-json", "Malformed JSON", detail);
    }
    return j;
}
