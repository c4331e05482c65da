/* test_ops.c — back-pressure (broker down → 503 + Retry-After, never 202), readiness, metrics,
 * clean SIGTERM. */
#include "fixture.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#define EV(id)                                                                                     \
    "{\"id\":\"" id "\",\"type\":\"adt.admit\",\"tenant\":\"acme\",\"patient\":\"P1\","            \
    "\"encounter\":\"E1\",\"occurred_at\":\"2026-11-21T10:00:00Z\"}"

TEST(ingest_ops_kafka_down_503)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    fx_resp_t r;
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", EV("before"), &r);
    ASSERT_EQ_INT(r.status, 202);
    fx_resp_free(&r);
    ASSERT_EQ_INT(harness_devkafka_pause(&f.kafka), 0);
    /* the signal is asynchronous: once readiness reports the broker gone, it is gone */
    int st = 0;
    for (int i = 0; i < 100 && st != 503; i++) {
        ASSERT_EQ_INT(harness_http_get(f.ops_port, "/readyz", &st, NULL), 0);
        if (st != 503)
            usleep(100000);
    }
    ASSERT_EQ_INT(st, 503);
    /* every answer while the broker is down is a 503 with Retry-After, never a 202 */
    int saw503 = 0;
    int64_t until = baton_mono_ms() + 6000;
    for (int i = 0; baton_mono_ms() < until; i++) {
        char id[32], body[256];
        snprintf(id, sizeof id, "down-%d", i);
        snprintf(body, sizeof body, EV("%s"), id);
        fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", body, &r);
        if (r.status == 503) {
            ASSERT_EQ_STR(fx_header(&r, "Retry-After"), "2");
            json_t *j = fx_json(&r);
            ASSERT_EQ_STR(fx_jstr(j, "type"), "urn:baton:problem:unavailable");
            json_decref(j);
            saw503++;
        } else {
            TEST_FAIL("answer %ld while the broker is down: %s", r.status, r.body);
        }
        fx_resp_free(&r);
        if (saw503 >= 3)
            break;
    }
    ASSERT_TRUE(saw503 >= 3);
    /* HL7 over HTTP: AR with ERR-3 207 and 503 */
    const char *hl7 = "MSH|^~\\&|A|F|B|B|20251121100000||ADT^A03|H1|P|2.5\r"
                      "EVN|A03|20251121100000\rPID|1||MRN1\rPV1|1|I|4W^1^1^F1||||||||||||||||E1\r";
    fx_post(&f, "/v1/hl7v2", FX_KEY_ALL, "x-application/hl7-v2+er7", hl7, &r);
    ASSERT_EQ_INT(r.status, 503);
    ASSERT_EQ_STR(fx_hl7_field(r.body, "MSA", 1), "AR");
    ASSERT_TRUE(strncmp(fx_hl7_field(r.body, "ERR", 3), "207^", 4) == 0);
    fx_resp_free(&r);
    ASSERT_EQ_INT(harness_devkafka_resume(&f.kafka), 0);
    int ok = 0;
    for (int i = 0; i < 150 && !ok; i++) {
        fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", EV("after"), &r);
        ASSERT_TRUE(r.status == 202 || r.status == 503);
        ok = r.status == 202;
        fx_resp_free(&r);
        if (!ok)
            usleep(200000);
    }
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(harness_wait_http_ok(f.ops_port, "/readyz", 10000), 0);
    /* nothing answered 503 was written: only "before" and "after" */
    int n = 0;
    Baton__V1__Envelope *e;
    while ((e = fx_reader_next(rd, 2000, NULL, 0, NULL, 0)) != NULL) {
        ASSERT_TRUE(strcmp(e->id, "before") == 0 || strcmp(e->id, "after") == 0);
        baton_kafka_envelope_free(e);
        n++;
    }
    ASSERT_EQ_INT(n, 2);
    fx_reader_free(rd);
}

TEST(ingest_ops_metrics)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", EV("m1"), &r);
    ASSERT_EQ_INT(r.status, 202);
    fx_resp_free(&r);
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", EV("m1"), &r);
    fx_resp_free(&r);
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", "{}", &r);
    fx_resp_free(&r);
    int st;
    char *body = NULL;
    ASSERT_EQ_INT(harness_http_get(f.ops_port, "/metrics", &st, &body), 0);
    ASSERT_EQ_INT(st, 200);
    ASSERT_CONTAINS(body, "baton_ingest_events_accepted_total{source=\"json\",family=\"adt\"} 1");
    ASSERT_CONTAINS(body, "baton_ingest_dedup_hits_total{source=\"json\"} 1");
    ASSERT_CONTAINS(body,
                    "baton_ingest_events_rejected_total{source=\"json\",reason=\"invalid\"} 1");
    ASSERT_CONTAINS(body, "baton_ingest_kafka_produce_seconds_count 1");
    ASSERT_CONTAINS(body, "baton_http_requests_total{route=\"POST /v1/events\",code=\"2xx\"} 2");
    ASSERT_CONTAINS(body, "baton_ingest_mllp_connections 0");
    ASSERT_CONTAINS(body, "baton_ready 1");
    /* no PHI in metrics or logs */
    ASSERT_TRUE(strstr(body, "P1") == NULL);
    free(body);
    char *log = harness_read_file(harness_log_path(f.pid));
    ASSERT_NOT_NULL(log);
    ASSERT_TRUE(strstr(log, "\"P1\"") == NULL && strstr(log, "E1\"") == NULL);
    free(log);
}

TEST(ingest_ops_sigterm_exit0)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_resp_t r;
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", EV("t1"), &r);
    ASSERT_EQ_INT(r.status, 202);
    fx_resp_free(&r);
    int fd = fx_mllp_connect(&f); /* an idle MLLP connection must not hold up the exit */
    ASSERT_EQ_INT(harness_kill(f.pid, SIGTERM), 0);
    int status = 0;
    ASSERT_EQ_INT(harness_wait_exit(f.pid, 10000, &status), 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
    close(fd);
    char *log = harness_read_file(harness_log_path(f.pid));
    ASSERT_CONTAINS(log, "\"msg\":\"stopped\"");
    free(log);
}

TEST(ingest_ops_config_errors_exit2)
{
    fx_t f;
    fx_start(&f, NULL);
    harness_stop(f.pid, 5000);
    char *bin = harness_bin_path("baton-ingest");
    char *const argv[] = {bin, NULL};
    char *const env[] = {"BATON_API_KEYS=broken-entry", "BATON_OPS_PORT=0", NULL};
    pid_t pid = harness_spawn("ingest-bad", argv, env, NULL);
    int status = 0;
    ASSERT_EQ_INT(harness_wait_exit(pid, 10000, &status), 0);
    ASSERT_EQ_INT(WEXITSTATUS(status), 2);
    char *const env2[] = {"BATON_HL7_SENDERS=no-equals-sign", "BATON_OPS_PORT=0", NULL};
    pid = harness_spawn("ingest-bad2", argv, env2, NULL);
    ASSERT_EQ_INT(harness_wait_exit(pid, 10000, &status), 0);
    ASSERT_EQ_INT(WEXITSTATUS(status), 2);
    /* --help exits 0 */
    char *const argv3[] = {bin, "--help", NULL};
    pid = harness_spawn("ingest-help", argv3, NULL, NULL);
    ASSERT_EQ_INT(harness_wait_exit(pid, 10000, &status), 0);
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
    free(bin);
}

/* An HTTP/1.1 keep-alive request on a raw socket; returns the bytes read (0 = closed). */
static ssize_t raw_get(int fd, const char *path)
{
    char req[256];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " FX_KEY_ALL "\r\n\r\n", path);
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    return recv(fd, buf, sizeof buf, 0);
}

static int raw_connect(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ASSERT_EQ_INT(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
    return s;
}

TEST(ingest_ops_header_and_connection_limits)
{
    fx_t f;
    const char *extra[] = {"BATON_HTTP_MAX_CONNECTIONS=2", NULL};
    fx_start(&f, extra);
    /* two keep-alive connections being served: a third is not */
    int s1 = raw_connect(f.http_port);
    ASSERT_TRUE(raw_get(s1, "/v1/oncall?facility=F1&role=nurse") > 0);
    int s2 = raw_connect(f.http_port);
    ASSERT_TRUE(raw_get(s2, "/v1/oncall?facility=F1&role=nurse") > 0);
    int s3 = raw_connect(f.http_port);
    ASSERT_TRUE(raw_get(s3, "/v1/oncall?facility=F1&role=nurse") <= 0); /* closed, no answer */
    close(s1);
    close(s2);
    close(s3);
    /* capacity comes back once the server has seen the closes */
    int served = 0;
    for (int i = 0; i < 30 && !served; i++) {
        int s = raw_connect(f.http_port);
        served = raw_get(s, "/v1/oncall?facility=F1&role=nurse") > 0;
        close(s);
        if (!served)
            usleep(100000);
    }
    ASSERT_TRUE(served);
    /* headers over the limit get 431 (one stale slot at most: the limit of 2 still fits) */
    fx_resp_t r;
    size_t n = 100000;
    char *h = baton_xmalloc(n + 8);
    memcpy(h, "X-Big: ", 7);
    memset(h + 7, 'a', n);
    h[n + 7] = '\0';
    const char *hs[] = {h, NULL};
    fx_http(&f, "POST", "/v1/events", hs, "{}", 2, &r);
    ASSERT_EQ_INT(r.status, 431);
    fx_resp_free(&r);
    free(h);
}

TEST(ingest_ops_redis_down_503)
{
    fx_t f;
    fx_start(&f, NULL);
    ASSERT_EQ_INT(harness_redis_stop(&f.redis), 0);
    fx_resp_t r;
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", EV("r1"), &r);
    ASSERT_EQ_INT(r.status, 503);
    ASSERT_EQ_STR(fx_header(&r, "Retry-After"), "2");
    fx_resp_free(&r);
    int st = 0;
    for (int i = 0; i < 50 && st != 503; i++) {
        ASSERT_EQ_INT(harness_http_get(f.ops_port, "/readyz", &st, NULL), 0);
        if (st != 503)
            usleep(100000);
    }
    ASSERT_EQ_INT(st, 503);
    ASSERT_EQ_INT(harness_redis_restart(&f.redis), 0);
    ASSERT_EQ_INT(harness_wait_http_ok(f.ops_port, "/readyz", 15000), 0);
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", EV("r2"), &r);
        ok = r.status == 202;
        fx_resp_free(&r);
        if (!ok)
            usleep(200000);
    }
    ASSERT_TRUE(ok);
}

TEST(ingest_ops_tls)
{
    char *cert = harness_path("tls-cert.pem"), *key = harness_path("tls-key.pem");
    char *cmd = baton_xasprintf("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
                                "-days 2 -keyout %s -out %s 2>/dev/null",
                                key, cert);
    ASSERT_EQ_INT(system(cmd), 0);
    char *e1 = baton_xasprintf("BATON_TLS_CERT=%s", cert),
         *e2 = baton_xasprintf("BATON_TLS_KEY=%s", key);
    const char *extra[] = {e1, e2, NULL};
    fx_t f;
    fx_start(&f, extra);
    f.https = 1;
    fx_resp_t r;
    fx_post(&f, "/v1/events", FX_KEY_ALL, "application/json", EV("tls-1"), &r);
    ASSERT_EQ_INT(r.status, 202);
    ASSERT_EQ_STR(r.body, "{\"event_id\":\"tls-1\"}");
    fx_resp_free(&r);
    free(cmd), free(cert), free(key), free(e1), free(e2);
}
