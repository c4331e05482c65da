/* test_http_limits.c — body, header, connection and idle limits; blocking handlers;
 * thread pool mode; draining stop. */
#include "baton/http.h"
#include "http_client.h"
#include "http_fixture.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

TEST(http_body_too_large)
{
    baton_http_config_t cfg = baton_http_config_default();
    cfg.max_body = 1024;
    baton_http_server_t *srv = start_server(&cfg, NULL);
    char *big = baton_xmalloc(100000);
    memset(big, 'x', 100000);
    char *u = url(srv, "/v1/shifts:import");
    atomic_store(&handler_calls, 0);
    reply_t r;

    /* Exactly the limit passes. */
    http_do(NULL, "POST", u, big, 1024, NULL, 0, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(atomic_load(&handler_calls), 1);
    reply_free(&r);

    /* Declared Content-Length over the limit: refused before the body is read. */
    http_do(NULL, "POST", u, big, 100000, NULL, 0, &r);
    ASSERT_EQ_INT(r.status, 413);
    ASSERT_EQ_STR(r.ctype, "application/problem+json");
    ASSERT_EQ_STR(r.body.data,
                  "{\"type\":\"urn:baton:problem:payload-too-large\",\"title\":\"Payload Too "
                  "Large\",\"status\":413,\"detail\":\"the request body is larger than 1024 "
                  "bytes\"}");
    reply_free(&r);

    /* Chunked (no declared size): counted while receiving. */
    http_do(NULL, "POST", u, big, 5000, NULL, 1, &r);
    ASSERT_EQ_INT(r.status, 413);
    ASSERT_CONTAINS(r.body.data, "\"status\":413");
    reply_free(&r);
    ASSERT_EQ_INT(atomic_load(&handler_calls), 1); /* the handler never saw the big bodies */

    /* Without Expect: 100-continue the client sends at once; a moderate excess is drained
     * (not kept), so the client still reads the 413, and the connection stays usable. */
    const char *noexpect[] = {"Expect:", NULL};
    CURL *c = curl_easy_init();
    http_do(c, "POST", u, big, 50000, noexpect, 0, &r);
    ASSERT_EQ_INT(r.rc, CURLE_OK);
    ASSERT_EQ_INT(r.status, 413);
    reply_free(&r);
    http_do(c, "POST", u, big, 50000, noexpect, 1, &r);
    ASSERT_EQ_INT(r.rc, CURLE_OK);
    ASSERT_EQ_INT(r.status, 413);
    ASSERT_EQ_INT(r.new_connections, 0);
    reply_free(&r);
    curl_easy_cleanup(c);
    /* A huge excess (over 4 x max_body + 64 KiB) is cut off: the client may see the 413 or
     * a reset, but never a 2xx, and the handler never runs. */
    http_do(NULL, "POST", u, big, 100000, noexpect, 1, &r);
    ASSERT_NE_INT(r.status, 200);
    reply_free(&r);

    /* A chunked body under the limit is fine. */
    http_do(NULL, "POST", u, big, 800, NULL, 1, &r);
    ASSERT_EQ_INT(r.status, 200);
    reply_free(&r);
    free(u);
    free(big);
    baton_http_server_free(srv);
}

typedef struct {
    char *url;
    reply_t r;
    int64_t done_ms;
} bg_req_t;

static void *bg_get(void *arg)
{
    bg_req_t *b = arg;
    http_do(NULL, "GET", b->url, NULL, 0, NULL, 0, &b->r);
    b->done_ms = baton_mono_ms();
    return NULL;
}

TEST(http_blocking_handlers_run_concurrently)
{
    baton_http_config_t cfg = baton_http_config_default();
    baton_http_server_t *srv = start_server(&cfg, NULL);
    bg_req_t b[4];
    pthread_t t[4];
    int64_t start = baton_mono_ms();
    for (int i = 0; i < 4; i++) {
        b[i].url = url(srv, "/slow");
        pthread_create(&t[i], NULL, bg_get, &b[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ_INT(b[i].r.status, 200);
        reply_free(&b[i].r);
        free(b[i].url);
    }
    /* Four 300 ms handlers on four connections overlap instead of taking 1.2 s. */
    int64_t took = baton_mono_ms() - start;
    if (took >= 1000)
        TEST_FAIL("4 blocking requests took %lld ms", (long long)took);
    baton_http_server_free(srv);
}

TEST(http_stop_drains_in_flight)
{
    baton_http_config_t cfg = baton_http_config_default();
    baton_http_server_t *srv = start_server(&cfg, NULL);
    uint16_t port = baton_http_server_port(srv);
    bg_req_t b = {.url = url(srv, "/slow")};
    pthread_t t;
    pthread_create(&t, NULL, bg_get, &b);
    usleep(100 * 1000); /* the request is inside the handler now */
    int64_t t0 = baton_mono_ms();
    baton_http_server_stop(srv, 5000);
    int64_t stopped_ms = baton_mono_ms();
    pthread_join(t, NULL);
    ASSERT_EQ_INT(b.r.rc, CURLE_OK);
    ASSERT_EQ_INT(b.r.status, 200); /* finished, not cut off */
    ASSERT_TRUE(b.done_ms <=
                stopped_ms + 1000); /* answered before the stop, give or take scheduling */
    ASSERT_TRUE(stopped_ms - t0 < 2000);
    ASSERT_EQ_INT(baton_http_server_port(srv), 0);
    reply_free(&b.r);
    free(b.url);
    /* Nothing listens any more. */
    char *u = baton_xasprintf("http://127.0.0.1:%u/v1/tasks/x", port);
    reply_t r;
    http_do(NULL, "GET", u, NULL, 0, NULL, 0, &r);
    ASSERT_EQ_INT(r.rc, CURLE_COULDNT_CONNECT);
    reply_free(&r);
    free(u);
    baton_http_server_stop(srv, 0); /* idempotent */
    baton_http_server_free(srv);
}

TEST(http_header_size_limit)
{
    baton_http_config_t cfg = baton_http_config_default();
    cfg.memory_limit = 16 * 1024;
    baton_http_server_t *srv = start_server(&cfg, NULL);
    char *big = baton_xmalloc(40000);
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'h', 40000 - 8);
    big[40000 - 1] = '\0';
    const char *hdrs[] = {big, NULL};
    char *u = url(srv, "/v1/tasks/h1");
    reply_t r;
    http_do(NULL, "GET", u, NULL, 0, hdrs, 0, &r);
    ASSERT_EQ_INT(r.status, 431); /* Request Header Fields Too Large, from libmicrohttpd */
    reply_free(&r);
    /* Small headers are fine. */
    http_do(NULL, "GET", u, NULL, 0, NULL, 0, &r);
    ASSERT_EQ_INT(r.status, 200);
    reply_free(&r);
    free(u);
    free(big);
    baton_http_server_free(srv);
}

TEST(http_idle_timeout_and_connection_limit)
{
    baton_http_config_t cfg = baton_http_config_default();
    cfg.timeout_s = 1;
    cfg.max_connections = 2;
    baton_http_server_t *srv = start_server(&cfg, NULL);
    char *u = url(srv, "/v1/tasks/c1");
    CURL *c[3];
    reply_t r;
    for (int i = 0; i < 2; i++) {
        c[i] = curl_easy_init();
        http_do(c[i], "GET", u, NULL, 0, NULL, 0, &r);
        ASSERT_EQ_INT(r.status, 200);
        reply_free(&r);
    }
    /* Two idle keep-alive connections hold the limit: a third is turned away. */
    c[2] = curl_easy_init();
    http_do(c[2], "GET", u, NULL, 0, NULL, 0, &r);
    ASSERT_NE_INT(r.rc, CURLE_OK);
    reply_free(&r);
    /* After the idle timeout the server has closed them; a reused handle reconnects. */
    usleep(2100 * 1000);
    http_do(c[0], "GET", u, NULL, 0, NULL, 0, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(r.new_connections, 1);
    reply_free(&r);
    for (int i = 0; i < 3; i++)
        curl_easy_cleanup(c[i]);
    free(u);
    baton_http_server_free(srv);
}

TEST(http_thread_pool_mode)
{
    baton_http_config_t cfg = baton_http_config_default();
    cfg.threads = 2;
    baton_http_server_t *srv = start_server(&cfg, NULL);
    CURL *c = curl_easy_init();
    char *u = url(srv, "/v1/tasks/p1");
    for (int i = 0; i < 3; i++) {
        reply_t r;
        http_do(c, "GET", u, NULL, 0, NULL, 0, &r);
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_CONTAINS(r.body.data, "\"id\":\"p1\"");
        reply_free(&r);
    }
    curl_easy_cleanup(c);
    free(u);
    baton_http_server_stop(srv, 1000);
    baton_http_server_free(srv);
}

static void v6_hello(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    baton_http_respond(resp, 200, "text/plain", req->remote_addr, strlen(req->remote_addr));
}

TEST(http_ipv6_bind)
{
    baton_http_config_t cfg = baton_http_config_default();
    cfg.bind = "::1";
    char err[256] = "";
    baton_http_server_t *srv = baton_http_server_new(&cfg, err, sizeof err);
    ASSERT_NOT_NULL(srv);
    baton_http_route(srv, "GET", "/who", v6_hello, NULL);
    if (baton_http_server_start(srv, err, sizeof err) != 0) {
        fprintf(stderr, "skipped: no IPv6 loopback (%s)\n", err);
        baton_http_server_free(srv);
        return;
    }
    char *u = baton_xasprintf("http://[::1]:%u/who", baton_http_server_port(srv));
    reply_t r;
    http_do(NULL, "GET", u, NULL, 0, NULL, 0, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.body.data, "::1");
    reply_free(&r);
    free(u);
    baton_http_server_free(srv);
}
