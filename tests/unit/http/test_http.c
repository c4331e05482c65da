/* test_http.c — the server over loopback with libcurl: routing, params and query decoding,
 * 404/405, error shapes, keep-alive, route metrics. (Limits, concurrency and stop:
 * test_http_limits.c; the ops listener and TLS: test_http_ops.c.) */
#include "baton/http.h"
#include "http_client.h"
#include "http_fixture.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

TEST(http_routes_params_and_query)
{
    baton_http_config_t cfg = baton_http_config_default();
    baton_http_server_t *srv = start_server(&cfg, NULL);
    reply_t r;
    const char *hdrs[] = {"X-Custom-Thing: hello", NULL};
    json_t *j = call_json(srv, "POST", "/v1/tasks/task-42/ack", "{\"note\":\"x\"}", hdrs, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.ctype, "application/json");
    ASSERT_EQ_STR(J_STR(j, "tag"), "ack");
    ASSERT_EQ_STR(J_STR(j, "method"), "POST");
    ASSERT_EQ_STR(J_STR(j, "route"), "/v1/tasks/{id}/ack");
    ASSERT_EQ_STR(J_STR(j, "path"), "/v1/tasks/task-42/ack");
    ASSERT_EQ_STR(J_STR(j, "id"), "task-42");
    ASSERT_EQ_STR(J_STR(j, "body"), "{\"note\":\"x\"}");
    ASSERT_EQ_STR(J_STR(j, "header"), "hello");
    ASSERT_EQ_STR(J_STR(j, "remote"), "127.0.0.1");
    json_decref(j);
    reply_free(&r);

    /* Query parameters are decoded: %20 and + are spaces, a bare key is "". */
    j = call_json(srv, "GET", "/v1/oncall?facility=F%201&role=charge+nurse&flag", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(J_STR(j, "tag"), "oncall");
    ASSERT_EQ_STR(J_STR(j, "facility"), "F 1");
    ASSERT_EQ_STR(J_STR(j, "role"), "charge nurse");
    ASSERT_EQ_STR(J_STR(j, "flag"), "");
    ASSERT_TRUE(json_is_false(json_object_get(j, "missing")));
    ASSERT_TRUE(json_is_null(json_object_get(j, "id")));
    json_decref(j);
    reply_free(&r);

    /* The colon is literal: /v1/shifts:import is its own route, next to PUT /v1/shifts. */
    j = call_json(srv, "POST", "/v1/shifts:import", "a,b\n1,2\n", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(J_STR(j, "tag"), "import");
    ASSERT_EQ_STR(J_STR(j, "body"), "a,b\n1,2\n");
    json_decref(j);
    reply_free(&r);
    j = call_json(srv, "PUT", "/v1/shifts", "[]", NULL, &r);
    ASSERT_EQ_STR(J_STR(j, "tag"), "put-shifts");
    json_decref(j);
    reply_free(&r);
    j = call_json(srv, "PUT", "/v1/people/p%2D1", "{}", NULL, &r);
    ASSERT_EQ_STR(J_STR(j, "tag"), "put-person");
    ASSERT_EQ_STR(J_STR(j, "id"), "p-1"); /* the path is percent-decoded */
    json_decref(j);
    reply_free(&r);

    /* HEAD is answered by GET routes, without a body. */
    char *u = url(srv, "/v1/tasks/t1");
    http_do(NULL, "HEAD", u, NULL, 0, NULL, 0, &r);
    free(u);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.body.data, "");
    reply_free(&r);
    baton_http_server_free(srv);
}

TEST(http_not_found_and_method_not_allowed)
{
    baton_http_config_t cfg = baton_http_config_default();
    baton_http_server_t *srv = start_server(&cfg, NULL);
    reply_t r;
    char hv[128];
    json_t *j = call_json(srv, "GET", "/v1/nothing", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_EQ_STR(r.ctype, "application/problem+json");
    ASSERT_EQ_STR(r.body.data, "{\"type\":\"urn:baton:problem:not-found\",\"title\":\"Not "
                               "Found\",\"status\":404,\"detail\":\"no such resource\"}");
    json_decref(j);
    reply_free(&r);
    /* A pattern prefix or a longer path is not a match. */
    j = call_json(srv, "POST", "/v1/tasks/t1/ack/more", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    json_decref(j);
    reply_free(&r);
    j = call_json(srv, "POST", "/v1/shifts:export", "", NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    json_decref(j);
    reply_free(&r);

    j = call_json(srv, "DELETE", "/v1/tasks/t1/ack", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 405);
    ASSERT_EQ_STR(reply_header(&r, "Allow", hv, sizeof hv), "POST");
    ASSERT_EQ_STR(J_STR(j, "type"), "urn:baton:problem:method-not-allowed");
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "status")), 405);
    json_decref(j);
    reply_free(&r);
    j = call_json(srv, "POST", "/v1/tasks/t1", "{}", NULL, &r);
    ASSERT_EQ_INT(r.status, 405);
    ASSERT_EQ_STR(reply_header(&r, "Allow", hv, sizeof hv), "GET, HEAD");
    json_decref(j);
    reply_free(&r);

    /* A rejected request with a body the client is already sending: the body is drained, the
     * client reads the answer and the connection is kept. */
    CURL *c = curl_easy_init();
    char body[3000];
    memset(body, 'b', sizeof body);
    const char *noexpect[] = {"Expect:", NULL};
    char *u = url(srv, "/v1/nowhere");
    char *u2 = url(srv, "/v1/tasks/t1");
    http_do(c, "POST", u, body, sizeof body, noexpect, 0, &r);
    ASSERT_EQ_INT(r.rc, CURLE_OK);
    ASSERT_EQ_INT(r.status, 404);
    reply_free(&r);
    http_do(c, "PUT", u2, body, sizeof body, noexpect, 1, &r);
    ASSERT_EQ_INT(r.rc, CURLE_OK);
    ASSERT_EQ_INT(r.status, 405);
    ASSERT_EQ_INT(r.new_connections, 0);
    reply_free(&r);
    http_do(c, "GET", u2, NULL, 0, NULL, 0, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(r.new_connections, 0);
    reply_free(&r);
    curl_easy_cleanup(c);
    free(u);
    free(u2);
    baton_http_server_free(srv);
}

TEST(http_malformed_json_problem)
{
    baton_http_config_t cfg = baton_http_config_default();
    baton_http_server_t *srv = start_server(&cfg, NULL);
    reply_t r;
    json_t *j = call_json(srv, "POST", "/v1/events", "{\"id\": \"e1\",\n \"type\": }", NULL, &r);
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_EQ_STR(r.ctype, "application/problem+json");
    ASSERT_EQ_INT(json_object_size(j), 4);
    ASSERT_EQ_STR(J_STR(j, "type"), "urn:baton:problem:malformed-json");
    ASSERT_EQ_STR(J_STR(j, "title"), "Malformed JSON");
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "status")), 400);
    ASSERT_EQ_STR(J_STR(j, "detail"), "line 2, column 10: unexpected token");
    json_decref(j);
    reply_free(&r);

    j = call_json(srv, "POST", "/v1/events", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_EQ_STR(J_STR(j, "detail"), "request body is empty");
    json_decref(j);
    reply_free(&r);

    j = call_json(srv, "POST", "/v1/events", "{\"ok\":[1,2]}", NULL, &r);
    ASSERT_EQ_INT(r.status, 201);
    ASSERT_EQ_STR(r.body.data, "{\"ok\":[1,2]}");
    json_decref(j);
    reply_free(&r);
    baton_http_server_free(srv);
}

TEST(http_problem_shapes_and_headers)
{
    baton_http_config_t cfg = baton_http_config_default();
    baton_http_server_t *srv = start_server(&cfg, NULL);
    reply_t r;
    char hv[64];
    json_t *j = call_json(srv, "GET", "/busy", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 503);
    ASSERT_EQ_STR(reply_header(&r, "Retry-After", hv, sizeof hv), "5");
    ASSERT_EQ_STR(r.body.data, "{\"type\":\"urn:baton:problem:busy\",\"title\":\"Service "
                               "Unavailable\",\"status\":503,\"detail\":\"Kafka is not accepting "
                               "writes\"}");
    json_decref(j);
    reply_free(&r);

    j = call_json(srv, "POST", "/validate", "{}", NULL, &r);
    ASSERT_EQ_INT(r.status, 422);
    ASSERT_EQ_STR(r.ctype, "application/problem+json");
    ASSERT_EQ_STR(r.body.data,
                  "{\"type\":\"urn:baton:problem:validation\",\"title\":\"Invalid "
                  "event\",\"status\":422,\"detail\":\"2 fields are "
                  "invalid\",\"errors\":[{\"pointer\":\"/attributes/"
                  "disposition\",\"detail\":\"must be one of home, snf, "
                  "rehab\"},{\"pointer\":\"/occurred_at\",\"detail\":\"not an RFC 3339 time\"}]}");
    json_decref(j);
    reply_free(&r);

    j = call_json(srv, "POST", "/fhir/r4/Encounter", "{}", NULL, &r);
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_EQ_STR(r.ctype, "application/fhir+json");
    ASSERT_EQ_STR(r.body.data,
                  "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\","
                  "\"code\":\"required\",\"diagnostics\":\"Encounter.status is "
                  "required\",\"expression\":[\"Encounter.status\"]},{\"severity\":\"warning\","
                  "\"code\":\"informational\"}]}");
    json_decref(j);
    reply_free(&r);

    /* A handler that sets nothing yields a 500 problem, not a hang or an empty 200. */
    j = call_json(srv, "GET", "/empty", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 500);
    ASSERT_EQ_STR(J_STR(j, "type"), "urn:baton:problem:internal-error");
    json_decref(j);
    reply_free(&r);
    baton_http_server_free(srv);
}

TEST(http_keepalive_reuses_connection)
{
    baton_http_config_t cfg = baton_http_config_default();
    baton_http_server_t *srv = start_server(&cfg, NULL);
    CURL *c = curl_easy_init();
    char *u = url(srv, "/v1/tasks/k1");
    char *u2 = url(srv, "/v1/tasks/k2/ack");
    long total_new = 0;
    for (int i = 0; i < 6; i++) {
        reply_t r;
        if (i % 2)
            http_do(c, "POST", u2, "{}", 2, NULL, 0, &r);
        else
            http_do(c, "GET", u, NULL, 0, NULL, 0, &r);
        ASSERT_EQ_INT(r.rc, CURLE_OK);
        ASSERT_EQ_INT(r.status, 200);
        total_new += r.new_connections;
        reply_free(&r);
    }
    ASSERT_EQ_INT(total_new, 1); /* six requests, one TCP connection */
    /* An error answer (404 without a body to skip) keeps the connection too. */
    char *u3 = url(srv, "/nope");
    reply_t r;
    http_do(c, "GET", u3, NULL, 0, NULL, 0, &r);
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_EQ_INT(r.new_connections, 0);
    reply_free(&r);
    curl_easy_cleanup(c);
    free(u);
    free(u2);
    free(u3);
    baton_http_server_free(srv);
}

TEST(http_route_metrics_use_patterns)
{
    baton_metrics_t *reg = baton_metrics_new();
    baton_http_config_t cfg = baton_http_config_default();
    baton_http_server_t *srv = start_server(&cfg, reg);
    reply_t r;
    json_t *j = call_json(srv, "POST", "/v1/tasks/secret-id-123/ack", "{}", NULL, &r);
    json_decref(j);
    reply_free(&r);
    j = call_json(srv, "POST", "/v1/tasks/other-id/ack", "{}", NULL, &r);
    json_decref(j);
    reply_free(&r);
    j = call_json(srv, "GET", "/v1/unknown/MRN999", NULL, NULL, &r);
    json_decref(j);
    reply_free(&r);
    baton_buf_t out = BATON_BUF_INIT;
    baton_metrics_render(reg, &out);
    ASSERT_CONTAINS(
        out.data, "baton_http_requests_total{route=\"POST /v1/tasks/{id}/ack\",code=\"2xx\"} 2\n");
    ASSERT_CONTAINS(
        out.data, "baton_http_requests_total{route=\"POST /v1/tasks/{id}/ack\",code=\"4xx\"} 0\n");
    ASSERT_CONTAINS(out.data, "baton_http_requests_total{route=\"unmatched\",code=\"4xx\"} 1\n");
    ASSERT_CONTAINS(out.data, "baton_http_request_duration_seconds_count{route=\"POST "
                              "/v1/tasks/{id}/ack\"} 2\n");
    /* In flight drops at libmicrohttpd's completion notice, just after the send. */
    for (int i = 0; i < 100 && !strstr(out.data, "baton_http_requests_in_flight 0\n"); i++) {
        usleep(10000);
        baton_buf_reset(&out);
        baton_metrics_render(reg, &out);
    }
    ASSERT_CONTAINS(out.data, "baton_http_requests_in_flight 0\n");
    ASSERT_TRUE(strstr(out.data, "secret-id-123") == NULL);
    ASSERT_TRUE(strstr(out.data, "MRN999") == NULL);
    baton_buf_free(&out);
    baton_http_server_free(srv);
    baton_metrics_free(reg);
}

static void noop(baton_http_req_t *req, baton_http_resp_t *resp, void *ud) {}

TEST(http_config_and_route_errors)
{
    char err[256] = "";
    baton_http_config_t cfg = baton_http_config_default();
    cfg.bind = "not-an-ip";
    ASSERT_NULL(baton_http_server_new(&cfg, err, sizeof err));
    ASSERT_EQ_STR(err, "bind address \"not-an-ip\" is not an IPv4 or IPv6 literal");
    cfg.bind = "127.0.0.1";
    cfg.tls_cert_path = "/nonexistent/cert.pem";
    ASSERT_NULL(baton_http_server_new(&cfg, err, sizeof err));
    ASSERT_EQ_STR(err, "TLS needs both a certificate and a key");
    cfg.tls_key_path = "/nonexistent/key.pem";
    ASSERT_NULL(baton_http_server_new(&cfg, err, sizeof err));
    ASSERT_EQ_STR(err, "/nonexistent/cert.pem: No such file or directory");
    cfg.tls_cert_path = cfg.tls_key_path = NULL;

    baton_http_server_t *srv = baton_http_server_new(&cfg, err, sizeof err);
    ASSERT_NOT_NULL(srv);
    ASSERT_EQ_INT(baton_http_route(srv, "GET", "no-slash", noop, NULL), BATON_EINVAL);
    ASSERT_EQ_INT(baton_http_route(srv, "GET", "/a/{}", noop, NULL), BATON_EINVAL);
    ASSERT_EQ_INT(baton_http_route(srv, "GET", "/a/{id}x", noop, NULL), BATON_EINVAL);
    ASSERT_EQ_INT(baton_http_route(srv, "GET", "/a/{id}", noop, NULL), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "GET", "/a/{id}", noop, NULL), BATON_EEXIST);
    ASSERT_EQ_INT(baton_http_route(srv, "POST", "/a/{id}", noop, NULL), 0);
    ASSERT_EQ_INT(baton_http_server_start(srv, err, sizeof err), 0);
    ASSERT_EQ_INT(baton_http_route(srv, "PUT", "/a/{id}", noop, NULL), BATON_EINVAL);

    /* A second server on the same port cannot bind; the reason says so. */
    cfg.port = baton_http_server_port(srv);
    baton_http_server_t *srv2 = baton_http_server_new(&cfg, err, sizeof err);
    ASSERT_NOT_NULL(srv2);
    ASSERT_EQ_INT(baton_http_server_start(srv2, err, sizeof err), BATON_EIO);
    ASSERT_CONTAINS(err, "cannot listen on 127.0.0.1:");
    ASSERT_CONTAINS(err, "ddress already in use");
    baton_http_server_free(srv2);
    baton_http_server_free(srv);
}

TEST_MAIN()
