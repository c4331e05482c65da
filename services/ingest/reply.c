/* reply.c — answer shapes shared by the handlers: RFC 9457 problems with extension members,
 * 503 + Retry-After, content-type checks. */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ingest_reply_problem(baton_http_resp_t *resp, int status, const char *type_suffix,
                          const char *title, const char *detail, json_t *extra)
{
    json_t *p = json_object();
    char *type = type_suffix ? baton_xasprintf(BATON_HTTP_PROBLEM_BASE "%s", type_suffix)
                             : baton_xstrdup("about:blank");
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(title));
    json_object_set_new(p, "status", json_integer(status));
    if (detail)
        json_object_set_new(p, "detail", json_string(detail));
    if (extra)
        json_object_update(p, extra);
    json_decref(extra);
    free(type);
    char *text = json_dumps(p, JSON_COMPACT);
    baton_http_respond(resp, status, "application/problem+json", text, strlen(text));
    free(text);
    json_decref(p);
}

void ingest_reply_unavailable(ingest_t *app, baton_http_resp_t *resp, const char *what)
{
    baton_http_resp_header(resp, "Retry-After", app->retry_after);
    char detail[160];
    snprintf(detail, sizeof detail,
             "%s is not reachable right now; nothing was written, retry later", what);
    baton_http_problem(resp, 503, "unavailable", "Service Unavailable", detail);
}

json_t *ingest_problems_json(const baton_canon_problems_t *p)
{
    return baton_canon_problems_json(p);
}

bool ingest_content_type_is(const baton_http_req_t *req, const char *const *types,
                            bool allow_missing)
{
    const char *ct = baton_http_header(req, "Content-Type");
    if (!ct || !*ct)
        return allow_missing;
    size_t n = strcspn(ct, "; \t");
    for (size_t i = 0; types[i]; i++)
        if (strlen(types[i]) == n && strncasecmp(ct, types[i], n) == 0)
            return true;
    return false;
}
