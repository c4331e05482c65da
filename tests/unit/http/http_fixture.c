/* http_fixture.c — the test server shared by test_http*.c: a route table over handlers that
 * echo the request object or produce each error shape. */
#include "http_fixture.h"
#include "test.h"

#include <unistd.h>

atomic_int handler_calls;

/* Echo what the request object says, as JSON. */
static void echo(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    atomic_fetch_add(&handler_calls, 1);
    const char *id = baton_http_param(req, "id");
    const char *f = baton_http_query(req, "facility");
    const char *role = baton_http_query(req, "role");
    const char *flag = baton_http_query(req, "flag");
    const char *h = baton_http_header(req, "x-custom-thing");
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s%, s:s, s:o, s:o, s:o, s:o, s:o}", "tag", (const char *)ud, "method",
        req->method, "route", req->route, "body", req->body, req->body_len, "remote",
        req->remote_addr, "id", id ? json_string(id) : json_null(), "facility",
        f ? json_string(f) : json_null(), "role", role ? json_string(role) : json_null(), "flag",
        flag ? json_string(flag) : json_null(), "header", h ? json_string(h) : json_null());
    json_object_set_new(o, "path", json_string(req->path));
    json_object_set_new(o, "missing", baton_http_query(req, "nope") ? json_true() : json_false());
    baton_http_json(resp, 200, o);
}

static void parse_json_handler(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    json_t *body = baton_http_parse_json(req, resp);
    if (!body)
        return;
    baton_http_json(resp, 201, body);
}

static void busy_handler(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    baton_http_resp_header(resp, "Retry-After", "5");
    baton_http_problem(resp, 503, "busy", "Service Unavailable", "Kafka is not accepting writes");
}

static void validation_handler(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    const baton_http_field_error_t errs[] = {
        {"/attributes/disposition", "must be one of home, snf, rehab"},
        {"/occurred_at", "not an RFC 3339 time"},
    };
    baton_http_problem_errors(resp, 422, "validation", "Invalid event", "2 fields are invalid",
                              errs, 2);
}

static void fhir_handler(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    const baton_fhir_issue_t issues[] = {
        {"error", "required", "Encounter.status is required", "Encounter.status"},
        {"warning", "informational", NULL, NULL},
    };
    baton_http_fhir_outcome(resp, 400, issues, 2);
}

static void empty_handler(baton_http_req_t *req, baton_http_resp_t *resp, void *ud) {}

static void slow_handler(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    usleep(300 * 1000);
    baton_http_json(resp, 200, json_pack("{s:b}", "slow", 1));
}

baton_http_server_t *start_server(baton_http_config_t *cfg, baton_metrics_t *reg)
{
    char err[256] = "";
    cfg->bind = "127.0.0.1";
    cfg->port = 0;
    cfg->metrics = reg;
    baton_http_server_t *srv = baton_http_server_new(cfg, err, sizeof err);
    if (!srv)
        TEST_FAIL("server_new: %s", err);
    ASSERT_EQ_INT(baton_http_route(srv, "GET", "/v1/tasks/{id}", echo, "get-task"), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "POST", "/v1/tasks/{id}/ack", echo, "ack"), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "PUT", "/v1/people/{id}", echo, "put-person"), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "POST", "/v1/shifts:import", echo, "import"), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "PUT", "/v1/shifts", echo, "put-shifts"), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "GET", "/v1/oncall", echo, "oncall"), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "POST", "/v1/events", parse_json_handler, NULL), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "GET", "/busy", busy_handler, NULL), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "POST", "/validate", validation_handler, NULL), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "POST", "/fhir/r4/Encounter", fhir_handler, NULL), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "GET", "/empty", empty_handler, NULL), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "GET", "/slow", slow_handler, NULL), 0);
    if (baton_http_server_start(srv, err, sizeof err) != 0)
        TEST_FAIL("start: %s", err);
    ASSERT_NE_INT(baton_http_server_port(srv), 0);
    return srv;
}

char *url(baton_http_server_t *srv, const char *path)
{
    return baton_xasprintf("http://127.0.0.1:%u%s", baton_http_server_port(srv), path);
}

/* GET/POST path and parse the JSON answer. */
json_t *call_json(baton_http_server_t *srv, const char *method, const char *path, const char *body,
                  const char *const *hdrs, reply_t *r)
{
    char *u = url(srv, path);
    http_do(NULL, method, u, body, body ? strlen(body) : 0, hdrs, 0, r);
    free(u);
    ASSERT_EQ_INT(r->rc, CURLE_OK);
    json_error_t e;
    json_t *j = json_loads(r->body.data, 0, &e);
    if (!j)
        TEST_FAIL("not JSON (%s): %s", e.text, r->body.data);
    return j;
}
