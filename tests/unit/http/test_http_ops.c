/* test_http_ops.c — the ops listener and HTTPS. */
#include "baton/http.h"
#include "http_client.h"
#include "test.h"

#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_bool ready_flag;

static bool ready(void *ud, char *reason, size_t len)
{
    if (atomic_load(&ready_flag))
        return true;
    baton_strlcpy(reason, (const char *)ud, len);
    return false;
}

static void get(uint16_t port, const char *path, reply_t *r)
{
    char *u = baton_xasprintf("http://127.0.0.1:%u%s", port, path);
    http_do(NULL, "GET", u, NULL, 0, NULL, 0, r);
    free(u);
    ASSERT_EQ_INT(r->rc, CURLE_OK);
}

TEST(http_ops_listener)
{
    baton_metrics_t *reg = baton_metrics_new();
    ASSERT_EQ_INT(baton_metrics_register_process(reg, "router", "1.2.3"), 0);
    baton_counter_inc(baton_metrics_counter_child(
        baton_metrics_counter(reg, "baton_events_total", "Events.", "type", NULL), "adt.admit"));
    char err[256] = "";
    atomic_store(&ready_flag, false);
    baton_ops_t *ops =
        baton_ops_start("127.0.0.1", 0, reg, ready, "kafka not connected", err, sizeof err);
    if (!ops)
        TEST_FAIL("ops_start: %s", err);
    uint16_t port = baton_ops_port(ops);
    ASSERT_NE_INT(port, 0);
    reply_t r;

    get(port, "/metrics", &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    ASSERT_CONTAINS(r.body.data, "# TYPE baton_events_total counter\n"
                                 "baton_events_total{type=\"adt.admit\"} 1\n");
    ASSERT_CONTAINS(r.body.data, "baton_build_info{service=\"router\",version=\"1.2.3\"} 1\n");
    ASSERT_CONTAINS(r.body.data, "process_start_time_seconds ");
    reply_free(&r);

    get(port, "/healthz", &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.body.data, "{\"status\":\"ok\"}");
    reply_free(&r);

    get(port, "/readyz", &r);
    ASSERT_EQ_INT(r.status, 503);
    ASSERT_EQ_STR(r.ctype, "application/json");
    ASSERT_EQ_STR(r.body.data, "{\"status\":\"not ready\",\"reason\":\"kafka not connected\"}");
    reply_free(&r);

    atomic_store(&ready_flag, true);
    get(port, "/readyz", &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.body.data, "{\"status\":\"ready\"}");
    reply_free(&r);

    atomic_store(&ready_flag, false);
    get(port, "/readyz", &r);
    ASSERT_EQ_INT(r.status, 503);
    reply_free(&r);

    get(port, "/other", &r);
    ASSERT_EQ_INT(r.status, 404);
    reply_free(&r);

    baton_ops_stop(ops);
    reply_t r2;
    char *u = baton_xasprintf("http://127.0.0.1:%u/healthz", port);
    http_do(NULL, "GET", u, NULL, 0, NULL, 0, &r2);
    free(u);
    ASSERT_EQ_INT(r2.rc, CURLE_COULDNT_CONNECT);
    reply_free(&r2);
    baton_metrics_free(reg);
}

TEST(http_ops_always_ready_without_fn)
{
    char err[256] = "";
    baton_ops_t *ops = baton_ops_start("127.0.0.1", 0, NULL, NULL, NULL, err, sizeof err);
    ASSERT_NOT_NULL(ops);
    reply_t r;
    get(baton_ops_port(ops), "/readyz", &r);
    ASSERT_EQ_INT(r.status, 200);
    reply_free(&r);
    get(baton_ops_port(ops), "/metrics", &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.body.data, "");
    reply_free(&r);
    baton_ops_stop(ops);
}

static void hello(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    baton_http_respond(resp, 200, "text/plain", "hello tls", 9);
}

TEST(http_tls_self_signed)
{
    char dir[] = "/tmp/baton-http-tls-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char *cert = baton_xasprintf("%s/cert.pem", dir);
    char *key = baton_xasprintf("%s/key.pem", dir);
    char *cmd = baton_xasprintf(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
        "-keyout %s -out %s >/dev/null 2>&1",
        key, cert);
    int rc = system(cmd);
    free(cmd);
    if (rc != 0)
        TEST_FAIL("openssl req failed (%d)", rc);

    baton_http_config_t cfg = baton_http_config_default();
    cfg.bind = "127.0.0.1";
    cfg.tls_cert_path = cert;
    cfg.tls_key_path = key;
    char err[256] = "";
    baton_http_server_t *srv = baton_http_server_new(&cfg, err, sizeof err);
    if (!srv)
        TEST_FAIL("server_new: %s", err);
    baton_http_route(srv, "GET", "/hello", hello, NULL);
    if (baton_http_server_start(srv, err, sizeof err) != 0)
        TEST_FAIL("start: %s", err);

    setenv("HTTP_TEST_CAINFO", cert, 1);
    char *u = baton_xasprintf("https://127.0.0.1:%u/hello", baton_http_server_port(srv));
    CURL *c = curl_easy_init();
    reply_t r;
    for (int i = 0; i < 2; i++) { /* keep-alive over TLS too */
        http_do(c, "GET", u, NULL, 0, NULL, 0, &r);
        ASSERT_EQ_INT(r.rc, CURLE_OK);
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_EQ_STR(r.body.data, "hello tls");
        ASSERT_EQ_INT(r.new_connections, i == 0 ? 1 : 0);
        reply_free(&r);
    }
    curl_easy_cleanup(c);
    unsetenv("HTTP_TEST_CAINFO");
    /* Plain HTTP to the TLS port does not get an answer. */
    char *plain = baton_xasprintf("http://127.0.0.1:%u/hello", baton_http_server_port(srv));
    http_do(NULL, "GET", plain, NULL, 0, NULL, 0, &r);
    ASSERT_NE_INT(r.status, 200);
    reply_free(&r);
    free(plain);
    free(u);
    baton_http_server_free(srv);
    unlink(cert);
    unlink(key);
    rmdir(dir);
    free(cert);
    free(key);
}
