/* Helpers of the baton-notifier integration cases (see nit_util.h). */
#include "nit_util.h"

#include "baton/roster.h"
#include "test.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void add_rec(nit_recs_t *l, const baton_kafka_message_t *m);

/* ---------------------------------------------------------------- the HTTP sink */

static volatile int sink_stopping;

static void record(nit_sink_t *s, baton_http_req_t *req)
{
    pthread_mutex_lock(&s->lock);
    if (s->n < NIT_MAX_HITS) {
        nit_hit_t *h = &s->hits[s->n++];
        baton_strlcpy(h->path, req->path, sizeof h->path);
        h->body = baton_xstrndup(req->body, req->body_len);
        const char *v = baton_http_header(req, "X-Baton-Signature");
        baton_strlcpy(h->signature, v ? v : "", sizeof h->signature);
        v = baton_http_header(req, "Content-Type");
        baton_strlcpy(h->content_type, v ? v : "", sizeof h->content_type);
        v = baton_http_header(req, "Authorization");
        baton_strlcpy(h->auth, v ? v : "", sizeof h->auth);
        h->at_ms = baton_now_ms();
    }
    pthread_mutex_unlock(&s->lock);
}

static void on_hook(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    nit_sink_t *s = ud;
    const char *mode = req->route + 6; /* after "POST /" is not in route: route is the pattern */
    (void)mode;
    int n = atoi(baton_http_param(req, "n"));
    record(s, req);
    if (strncmp(req->path, "/fail/", 6) == 0) {
        pthread_mutex_lock(&s->lock);
        int seen = n >= 0 && n < 16 ? ++s->fail_seen[n] : 0;
        pthread_mutex_unlock(&s->lock);
        if (seen <= n) {
            baton_http_respond(resp, 503, "text/plain", "busy", 4);
            return;
        }
    } else if (strncmp(req->path, "/status/", 8) == 0) {
        baton_http_respond(resp, 500, "text/plain", "broken", 6);
        return;
    } else if (strncmp(req->path, "/hang/", 6) == 0) {
        while (!sink_stopping)
            usleep(20000);
        baton_http_respond(resp, 504, "text/plain", "late", 4);
        return;
    } else if (strncmp(req->path, "/slow/", 6) == 0) {
        usleep(300000);
    }
    baton_http_respond(resp, 200, "application/json", "{}", 2);
}

static void on_sms(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    record(ud, req);
    baton_http_respond(resp, 202, "application/json", "{\"queued\":true}", 15);
}

static void on_wctp(baton_http_req_t *req, baton_http_resp_t *resp, void *ud)
{
    record(ud, req);
    static const char ok[] =
        "<?xml version=\"1.0\"?>\n<wctp-Operation wctpVersion=\"wctp-dtd-v1r3\">"
        "<wctp-Confirmation><wctp-Success successCode=\"200\" successText=\"Accepted\"/>"
        "</wctp-Confirmation></wctp-Operation>";
    baton_http_respond(resp, 200, "text/xml", ok, sizeof ok - 1);
}

void nit_sink_start(nit_sink_t *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    sink_stopping = 0;
    baton_http_config_t cfg = baton_http_config_default();
    cfg.bind = "127.0.0.1";
    cfg.port = 0;
    char err[256] = "";
    s->srv = baton_http_server_new(&cfg, err, sizeof err);
    if (!s->srv)
        TEST_FAIL("sink: %s", err);
    const char *modes[] = {"/ok/{n}", "/fail/{n}", "/status/{n}", "/hang/{n}", "/slow/{n}"};
    for (size_t i = 0; i < 5; i++)
        ASSERT_EQ_INT(baton_http_route(s->srv, "POST", modes[i], on_hook, s), 0);
    ASSERT_EQ_INT(baton_http_route(s->srv, "POST", "/sms", on_sms, s), 0);
    ASSERT_EQ_INT(baton_http_route(s->srv, "POST", "/wctp", on_wctp, s), 0);
    if (baton_http_server_start(s->srv, err, sizeof err) != 0)
        TEST_FAIL("sink: %s", err);
    s->port = baton_http_server_port(s->srv);
}

void nit_sink_stop(nit_sink_t *s)
{
    sink_stopping = 1;
    baton_http_server_free(s->srv);
    for (int i = 0; i < s->n; i++)
        free(s->hits[i].body);
    pthread_mutex_destroy(&s->lock);
}

int nit_sink_count(nit_sink_t *s, const char *path_prefix, const char *needle)
{
    int c = 0;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n; i++) {
        if (path_prefix && strncmp(s->hits[i].path, path_prefix, strlen(path_prefix)) != 0)
            continue;
        if (needle && !strstr(s->hits[i].body, needle))
            continue;
        c++;
    }
    pthread_mutex_unlock(&s->lock);
    return c;
}

int nit_sink_wait(nit_sink_t *s, const char *path_prefix, const char *needle, int want,
                  int timeout_ms)
{
    int64_t end = baton_mono_ms() + timeout_ms;
    while (baton_mono_ms() < end) {
        if (nit_sink_count(s, path_prefix, needle) >= want)
            return 0;
        usleep(20000);
    }
    return BATON_ETIMEDOUT;
}

/* ---------------------------------------------------------------- servers and the service */

void nit_env_start(nit_env_t *e)
{
    memset(e, 0, sizeof *e);
    char err[256] = "";
    if (harness_servers_start(&e->redis, &e->kafka, err, sizeof err) != 0)
        TEST_FAIL("%s", err);
    const char *topics[] = {BATON_TOPIC_LIFECYCLE, BATON_TOPIC_DLQ};
    if (harness_kafka_io_start(&e->io, e->kafka.bootstrap, "notifier-it", topics, 2, err,
                               sizeof err) != 0)
        TEST_FAIL("%s", err);
    e->stash = baton_xcalloc(1, sizeof *e->stash);
    e->r = baton_redis_new(e->redis.url, NULL, err, sizeof err);
    if (!e->r)
        TEST_FAIL("redis: %s", err);
}

void nit_env_stop(nit_env_t *e)
{
    harness_kafka_io_stop(&e->io);
    baton_redis_free(e->r);
    free(e->stash);
}

void nit_svc_start(nit_env_t *e, nit_svc_t *s, const char *name, char *const extra[])
{
    s->ops_port = harness_free_port();
    ASSERT_TRUE(s->ops_port > 0);
    char *bin = harness_bin_path("baton-notifier");
    char *vars[64] = {baton_xasprintf("BATON_KAFKA_BOOTSTRAP=%s", e->kafka.bootstrap),
                      baton_xasprintf("BATON_REDIS_URL=%s", e->redis.url),
                      baton_xasprintf("BATON_OPS_PORT=%d", s->ops_port),
                      baton_xstrdup("BATON_OPS_BIND=127.0.0.1"),
                      baton_xstrdup("BATON_WEBHOOK_SECRET=" NIT_SECRET),
                      baton_xstrdup("BATON_KAFKA_SESSION_TIMEOUT_MS=6000"),
                      baton_xstrdup("BATON_KAFKA_MAX_POLL_INTERVAL_MS=10000"),
                      baton_xstrdup("BATON_KAFKA_HEARTBEAT_INTERVAL_MS=500"),
                      baton_xstrdup("BATON_NOTIFIER_BACKOFF_BASE=100"),
                      baton_xstrdup("BATON_NOTIFIER_BACKOFF_MAX=400"),
                      baton_xstrdup("BATON_NOTIFIER_MAX_ATTEMPTS=4"),
                      baton_xstrdup("BATON_NOTIFIER_WEBHOOK_TIMEOUT=500"),
                      baton_xstrdup("BATON_NOTIFIER_LEASE=3000"),
                      baton_xstrdup("BATON_NOTIFIER_BUNDLE_WINDOW=0"),
                      baton_xstrdup("BATON_NOTIFIER_PERSON_CACHE=0"),
                      baton_xstrdup("BATON_LOG_LEVEL=info"),
                      NULL};
    int nv = 0;
    while (vars[nv])
        nv++;
    for (int i = 0; extra && extra[i] && nv < 63; i++)
        vars[nv++] = baton_xstrdup(extra[i]); /* later entries override earlier ones */
    vars[nv] = NULL;
    char *const argv[] = {bin, NULL};
    s->pid = harness_spawn(name, argv, vars, NULL);
    for (char **v = vars; *v; v++)
        free(*v);
    free(bin);
    ASSERT_TRUE(s->pid > 0);
    if (harness_wait_http_ok(s->ops_port, "/readyz", 15000) != 0) {
        harness_log_tail(harness_log_path(s->pid), 30);
        TEST_FAIL("baton-notifier (%s) did not become ready", name);
    }
    /* the consumer owns partitions once the log says so; meanwhile the test's reader joins
     * its group too (polling it before it has partitions cannot lose a message) */
    int64_t deadline = baton_mono_ms() + 15000;
    while (baton_mono_ms() < deadline) {
        baton_kafka_partition_t *parts = NULL;
        size_t np = 0;
        if (baton_kafka_consumer_assignment(e->io.reader, &parts, &np) == 0 && np == 0) {
            baton_kafka_message_t m[16];
            int n = baton_kafka_consumer_poll(e->io.reader, m, 16, 100);
            ASSERT_TRUE(n >= 0);
            for (int i = 0; i < n; i++) /* kept for the next nit_read */
                add_rec(e->stash, &m[i]);
            baton_kafka_messages_release(m, (size_t)n);
        } else {
            usleep(100000);
        }
        baton_kafka_partitions_free(parts, np);
        char *log = harness_read_file(harness_log_path(s->pid));
        bool ok = log && strstr(log, "partitions assigned") != NULL;
        free(log);
        if (ok)
            return;
    }
}

void nit_svc_stop_clean(nit_svc_t *s)
{
    ASSERT_EQ_INT(harness_kill(s->pid, SIGTERM), 0);
    int status = -1;
    ASSERT_EQ_INT(harness_wait_exit(s->pid, 15000, &status), 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
}

/* ---------------------------------------------------------------- people and requests */

void nit_person(nit_env_t *e, const char *id, const char *const *contacts, size_t n,
                const char *quiet, const char *tz)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_appendf(&b, "{\"tenant\":\"%s\",\"name\":\"Dr Person %s\",\"contacts\":[", NIT_TENANT,
                      id);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(contacts[i], '=');
        ASSERT_NOT_NULL(eq);
        baton_buf_appendf(&b, "%s{\"channel\":\"%.*s\",\"address\":\"%s\"}", i ? "," : "",
                          (int)(eq - contacts[i]), contacts[i], eq + 1);
    }
    baton_buf_puts(&b, "]");
    if (quiet) {
        baton_buf_appendf(&b, ",\"quiet_hours\":{\"start\":\"%.5s\",\"end\":\"%.5s\"", quiet,
                          quiet + 6);
        if (tz)
            baton_buf_appendf(&b, ",\"tz\":\"%s\"", tz);
        baton_buf_puts(&b, "}");
    }
    baton_buf_puts(&b, "}");
    baton_roster_person_t *p = NULL;
    baton_roster_errors_t errs = BATON_ROSTER_ERRORS_INIT;
    int rc = baton_roster_person_parse(id, b.data, b.len, &p, &errs);
    if (rc != 0) {
        char *j = baton_roster_errors_json(&errs);
        TEST_FAIL("person %s: %s", b.data, j);
    }
    char err[256] = "";
    ASSERT_EQ_INT(baton_roster_person_put(e->r, p, err, sizeof err), 0);
    baton_roster_person_free(p);
    baton_buf_free(&b);
}

void nit_request(nit_env_t *e, const nit_req_t *reqs, size_t n)
{
    Baton__V1__Envelope *envs = baton_xcalloc(n, sizeof *envs);
    Baton__V1__NotificationRequest *rq = baton_xcalloc(n, sizeof *rq);
    baton_kafka_envelope_out_t *outs = baton_xcalloc(n, sizeof *outs);
    char(*ids)[BATON_ID_LEN] = baton_xcalloc(n, BATON_ID_LEN);
    int64_t now = baton_now_ms();
    for (size_t i = 0; i < n; i++) {
        baton__v1__envelope__init(&envs[i]);
        baton__v1__notification_request__init(&rq[i]);
        baton_derived_id(reqs[i].id, "request-envelope", ids[i]);
        rq[i].notification_id = (char *)reqs[i].id;
        rq[i].person = (char *)reqs[i].person;
        rq[i].kind = (char *)(reqs[i].kind ? reqs[i].kind : "assigned");
        rq[i].task_id = "task-42";
        rq[i].instance_id = "inst-7";
        rq[i].pathway = "discharge";
        rq[i].stage = "med_rec";
        rq[i].level = reqs[i].level;
        rq[i].urgent = reqs[i].urgent;
        rq[i].stage_title = "Medication reconciliation";
        rq[i].pathway_title = "Discharge";
        rq[i].created_at_ms = reqs[i].created_at_ms ? reqs[i].created_at_ms : now;
        envs[i].id = ids[i];
        envs[i].type = "notification.requested";
        envs[i].tenant = NIT_TENANT;
        envs[i].facility = "F1";
        envs[i].unit = "4W";
        envs[i].correlation_key = (char *)(reqs[i].key ? reqs[i].key : "t1/enc-1");
        envs[i].producer = "router";
        envs[i].schema_version = 1;
        envs[i].occurred_at_ms = now;
        envs[i].recorded_at_ms = now;
        envs[i].body_case = BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST;
        envs[i].notification_request = &rq[i];
        outs[i] = (baton_kafka_envelope_out_t){BATON_TOPIC_NOTIFY, &envs[i]};
    }
    char err[256] = "";
    int rc = baton_kafka_produce_envelopes(e->io.producer, outs, n, 10000, err, sizeof err);
    if (rc != 0)
        TEST_FAIL("producing requests: %s", err);
    free(envs);
    free(rq);
    free(outs);
    free(ids);
}

void nit_produce_raw(nit_env_t *e, const char *key, const void *value, size_t len)
{
    baton_kafka_record_t rec = {BATON_TOPIC_NOTIFY, key, strlen(key), value, len, NULL, 0};
    char err[256] = "";
    ASSERT_EQ_INT(baton_kafka_produce_sync(e->io.producer, &rec, 10000, err, sizeof err), 0);
}

/* ---------------------------------------------------------------- reading back */

static void add_rec(nit_recs_t *l, const baton_kafka_message_t *m)
{
    char err[128];
    Baton__V1__Envelope *env = baton_kafka_envelope_unpack(m->value, m->value_len, err, sizeof err);
    ASSERT_NOT_NULL(env);
    if (l->n >= NIT_MAX_RECS) {
        baton_kafka_envelope_free(env);
        return;
    }
    nit_rec_t *r = &l->r[l->n];
    memset(r, 0, sizeof *r);
    baton_strlcpy(r->env_id, env->id, sizeof r->env_id);
    baton_strlcpy(r->key, env->correlation_key, sizeof r->key);
    if (env->body_case == BATON__V1__ENVELOPE__BODY_NOTIFICATION_RECEIPT) {
        const Baton__V1__NotificationReceipt *x = env->notification_receipt;
        ASSERT_EQ_STR(env->type, "notification.receipt");
        ASSERT_EQ_STR(env->producer, "notifier");
        baton_strlcpy(r->notification_id, x->notification_id, sizeof r->notification_id);
        baton_strlcpy(r->channel, x->channel, sizeof r->channel);
        r->outcome = x->outcome;
        r->attempts = x->attempts;
        r->latency_ms = x->latency_ms;
        baton_strlcpy(r->error, x->error, sizeof r->error);
        baton_strlcpy(r->bundle_id, x->bundle_id, sizeof r->bundle_id);
        baton_strlcpy(r->instance_id, x->instance_id, sizeof r->instance_id);
        baton_strlcpy(r->task_id, x->task_id, sizeof r->task_id);
        l->n++;
    } else if (env->body_case == BATON__V1__ENVELOPE__BODY_DEAD_LETTER) {
        const Baton__V1__DeadLetter *x = env->dead_letter;
        ASSERT_EQ_STR(env->type, "dead_letter");
        r->dlq = true;
        baton_strlcpy(r->reason, x->reason, sizeof r->reason);
        baton_strlcpy(r->original_event_id, x->original_event_id, sizeof r->original_event_id);
        r->attempts = x->attempts;
        r->payload_len = x->payload.len;
        /* the payload is the original request: its notification id identifies the record */
        Baton__V1__Envelope *orig =
            baton_kafka_envelope_unpack(x->payload.data, x->payload.len, err, sizeof err);
        if (orig && orig->body_case == BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST)
            baton_strlcpy(r->notification_id, orig->notification_request->notification_id,
                          sizeof r->notification_id);
        baton_kafka_envelope_free(orig);
        l->n++;
    }
    baton_kafka_envelope_free(env);
}

void nit_read(nit_env_t *e, nit_recs_t *l, int duration_ms)
{
    for (int i = 0; i < e->stash->n && l->n < NIT_MAX_RECS; i++)
        l->r[l->n++] = e->stash->r[i];
    e->stash->n = 0;
    int64_t end = baton_mono_ms() + duration_ms;
    do {
        baton_kafka_message_t msgs[128];
        int n = baton_kafka_consumer_poll(e->io.reader, msgs, 128, 20);
        ASSERT_TRUE(n >= 0);
        for (int i = 0; i < n; i++)
            add_rec(l, &msgs[i]);
        baton_kafka_messages_release(msgs, (size_t)n);
    } while (baton_mono_ms() < end);
}

int nit_count(const nit_recs_t *l, const char *id, int outcome)
{
    int c = 0;
    for (int i = 0; i < l->n; i++)
        if (!l->r[i].dlq && strcmp(l->r[i].notification_id, id) == 0 &&
            (outcome < 0 || l->r[i].outcome == outcome))
            c++;
    return c;
}

int nit_count_dlq(const nit_recs_t *l, const char *id)
{
    int c = 0;
    for (int i = 0; i < l->n; i++)
        if (l->r[i].dlq && strcmp(l->r[i].notification_id, id) == 0)
            c++;
    return c;
}

const nit_rec_t *nit_find(const nit_recs_t *l, const char *id, int outcome, int attempts)
{
    for (int i = 0; i < l->n; i++)
        if (!l->r[i].dlq && strcmp(l->r[i].notification_id, id) == 0 &&
            l->r[i].outcome == outcome && (attempts < 0 || l->r[i].attempts == attempts))
            return &l->r[i];
    return NULL;
}

int nit_wait_receipt(nit_env_t *e, nit_recs_t *l, const char *id, int outcome, int timeout_ms)
{
    int64_t end = baton_mono_ms() + timeout_ms;
    while (baton_mono_ms() < end) {
        if (nit_count(l, id, outcome) > 0)
            return 0;
        nit_read(e, l, 0);
    }
    return nit_count(l, id, outcome) > 0 ? 0 : BATON_ETIMEDOUT;
}

int nit_wait_dlq(nit_env_t *e, nit_recs_t *l, const char *id, int timeout_ms)
{
    int64_t end = baton_mono_ms() + timeout_ms;
    while (baton_mono_ms() < end && nit_count_dlq(l, id) == 0)
        nit_read(e, l, 0);
    return nit_count_dlq(l, id) > 0 ? 0 : BATON_ETIMEDOUT;
}

double nit_metric(const nit_svc_t *s, const char *series)
{
    return harness_metric(s->ops_port, series);
}

/* ---------------------------------------------------------------- case helpers */

void nit_hmac_hex(const char *body, char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), NIT_SECRET, (int)strlen(NIT_SECRET), (const unsigned char *)body,
         strlen(body), mac, &n);
    size_t k = (size_t)snprintf(out, outlen, "sha256=");
    for (unsigned i = 0; i < n && k + 2 < outlen; i++)
        k += (size_t)snprintf(out + k, outlen - k, "%02x", mac[i]);
}

char *nit_webhook_contact(const nit_sink_t *s, const char *path)
{
    return baton_xasprintf("webhook=http://127.0.0.1:%d%s", s->port, path);
}

void nit_person_webhook(nit_env_t *e, const nit_sink_t *s, const char *id, const char *path)
{
    char *c = nit_webhook_contact(s, path);
    const char *contacts[] = {c};
    nit_person(e, id, contacts, 1, NULL, NULL);
    free(c);
}

const nit_hit_t *nit_hit_for(nit_sink_t *s, const char *id, int nth)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\"id\":\"%s\"", id);
    const nit_hit_t *found = NULL;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n && !found; i++)
        if (strstr(s->hits[i].body, needle) && nth-- == 0)
            found = &s->hits[i];
    pthread_mutex_unlock(&s->lock);
    return found;
}

int nit_hits_for(nit_sink_t *s, const char *id)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\"id\":\"%s\"", id);
    return nit_sink_count(s, NULL, needle);
}

void nit_expect_receipt_id(const nit_rec_t *r, const char *id, const char *outcome, int attempts)
{
    char want[BATON_ID_LEN], purpose[64];
    snprintf(purpose, sizeof purpose, "receipt:%s:%d", outcome, attempts);
    baton_derived_id(id, purpose, want);
    ASSERT_EQ_STR(r->env_id, want);
}
