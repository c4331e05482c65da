/* fixture.c — see fixture.h. */
#include "fixture.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jwt.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char *key_entry(const char *id, const char *tenant, const char *scopes, const char *salt,
                       const char *key)
{
    char *cat = baton_xasprintf("%s%s", salt, key), hex[65];
    baton_sha256_hex(cat, strlen(cat), hex);
    free(cat);
    return baton_xasprintf("%s:%s:%s:%s:%s", id, tenant, scopes, salt, hex);
}

/* Every environment string made here, freed at exit (fixtures live on test stacks). */
static char *allocated[256];
static int nallocated;

static void free_envs(void)
{
    for (int i = 0; i < nallocated; i++)
        free(allocated[i]);
    nallocated = 0;
    curl_global_cleanup();
}

static void add_env(fx_t *f, char *kv)
{
    ASSERT_TRUE(f->nenv < 31 && nallocated < 256);
    allocated[nallocated++] = kv;
    /* a later KEY= replaces an earlier one */
    size_t kl = strcspn(kv, "=");
    for (int i = 0; i < f->nenv; i++) {
        if (strncmp(f->env[i], kv, kl + 1) == 0) {
            f->env[i] = kv;
            return;
        }
    }
    f->env[f->nenv++] = kv;
    f->env[f->nenv] = NULL;
}

void fx_restart_ingest(fx_t *f)
{
    char *bin = harness_bin_path("baton-ingest");
    char *const argv[] = {bin, NULL};
    f->pid = harness_spawn("ingest", argv, f->env, NULL);
    free(bin);
    ASSERT_TRUE(f->pid > 0);
    if (harness_wait_http_ok(f->ops_port, "/readyz", 20000) != 0) {
        harness_log_tail(harness_log_path(f->pid), 30);
        TEST_FAIL("baton-ingest did not become ready");
    }
}

void fx_start(fx_t *f, const char *const *extra)
{
    memset(f, 0, sizeof *f);
    static int registered;
    if (!registered)
        atexit(free_envs);
    registered = 1;
    curl_global_init(CURL_GLOBAL_ALL);
    ASSERT_EQ_INT(harness_redis_start(&f->redis), 0);
    ASSERT_EQ_INT(harness_devkafka_start(&f->kafka), 0);
    f->http_port = harness_free_port();
    f->ops_port = harness_free_port();
    f->mllp_port = harness_free_port();
    char *k1 = key_entry("all", "acme", "events+rosters+read", "salt1", FX_KEY_ALL);
    char *k2 = key_entry("ev", "acme", "events", "salt2", FX_KEY_EVENTS);
    char *k3 = key_entry("rd", "acme", "read", "salt3", FX_KEY_READ);
    char *k4 = key_entry("gx", "globex", "events+rosters+read", "salt4", FX_KEY_OTHER);
    add_env(f, baton_xasprintf("BATON_API_KEYS=%s;%s;%s;%s", k1, k2, k3, k4));
    free(k1), free(k2), free(k3), free(k4);
    add_env(f, baton_xasprintf("BATON_KAFKA_BOOTSTRAP=%s", f->kafka.bootstrap));
    add_env(f, baton_xasprintf("BATON_REDIS_URL=%s", f->redis.url));
    add_env(f, baton_xasprintf("BATON_HTTP_BIND=127.0.0.1"));
    add_env(f, baton_xasprintf("BATON_HTTP_PORT=%d", f->http_port));
    add_env(f, baton_xasprintf("BATON_OPS_BIND=127.0.0.1"));
    add_env(f, baton_xasprintf("BATON_OPS_PORT=%d", f->ops_port));
    add_env(f, baton_xasprintf("BATON_MLLP_BIND=127.0.0.1"));
    add_env(f, baton_xasprintf("BATON_MLLP_PORT=%d", f->mllp_port));
    add_env(f, baton_xasprintf("BATON_HL7_SENDERS=*^*=acme"));
    add_env(f, baton_xasprintf("BATON_JWT_SECRET=%s", FX_JWT_SECRET));
    add_env(f, baton_xasprintf("BATON_PATHWAYS_DIR=%s/pathways", BATON_SOURCE_DIR));
    add_env(f, baton_xasprintf("BATON_PRODUCE_TIMEOUT=3s"));
    add_env(f, baton_xasprintf("BATON_SHUTDOWN_GRACE=5s"));
    add_env(f, baton_xasprintf("BATON_LOG_LEVEL=debug"));
    for (size_t i = 0; extra && extra[i]; i++)
        add_env(f, baton_xstrdup(extra[i]));
    fx_restart_ingest(f);
}

char *fx_write_tmp(const char *name, const char *content)
{
    char *p = harness_path(name);
    FILE *fp = fopen(p, "w");
    ASSERT_NOT_NULL(fp);
    fputs(content, fp);
    fclose(fp);
    return p;
}

/* ---- HTTP ---- */

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    baton_buf_append(ud, p, sz * n);
    return sz * n;
}

void fx_http(fx_t *f, const char *method, const char *path, const char *const *headers,
             const char *body, size_t len, fx_resp_t *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", f->https ? "https" : "http", f->http_port,
             path);
    if (f->https) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    baton_buf_t b = BATON_BUF_INIT, h = BATON_BUF_INIT;
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        TEST_FAIL("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    baton_buf_puts(&b, "");
    baton_buf_puts(&h, "");
    out->body = baton_buf_steal(&b);
    out->headers = baton_buf_steal(&h);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

void fx_post(fx_t *f, const char *path, const char *key, const char *ctype, const char *body,
             fx_resp_t *out)
{
    char *auth = key ? baton_xasprintf("Authorization: Bearer %s", key) : NULL;
    char *ct = baton_xasprintf("Content-Type: %s", ctype);
    const char *hs[] = {ct, auth, NULL};
    fx_http(f, "POST", path, hs, body, strlen(body), out);
    free(auth);
    free(ct);
}

const char *fx_header(const fx_resp_t *r, const char *name)
{
    static char val[1024];
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *e = strstr(p, "\r\n");
        size_t ll = e ? (size_t)(e - p) : strlen(p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = ll - (size_t)(v - p);
            if (vl >= sizeof val)
                vl = sizeof val - 1;
            memcpy(val, v, vl);
            val[vl] = '\0';
            return val;
        }
        p = e ? e + 2 : p + ll;
    }
    return NULL;
}

json_t *fx_json(const fx_resp_t *r)
{
    json_error_t je;
    json_t *j = json_loads(r->body, 0, &je);
    if (!j)
        TEST_FAIL("not JSON (%s): %s", je.text, r->body);
    return j;
}

void fx_resp_free(fx_resp_t *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

static json_t *jget(json_t *doc, const char *path)
{
    char *copy = baton_xstrdup(path), *save = NULL;
    json_t *cur = doc;
    for (char *t = strtok_r(copy, "/", &save); t && cur; t = strtok_r(NULL, "/", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)atol(t));
        else
            cur = json_object_get(cur, t);
    }
    free(copy);
    return cur;
}

const char *fx_jstr(json_t *doc, const char *path)
{
    return json_string_value(jget(doc, path));
}

long long fx_jint(json_t *doc, const char *path)
{
    json_t *v = jget(doc, path);
    return v ? json_integer_value(v) : -1;
}

void fx_assert_problem(const fx_resp_t *r, int status, const char *type_suffix, const char *pointer)
{
    if (r->status != status)
        TEST_FAIL("status %ld != %d: %s", r->status, status, r->body);
    const char *ct = fx_header(r, "Content-Type");
    ASSERT_NOT_NULL(ct);
    ASSERT_CONTAINS(ct, "application/problem+json");
    json_t *j = fx_json(r);
    char type[128];
    snprintf(type, sizeof type, "urn:baton:problem:%s", type_suffix);
    ASSERT_EQ_STR(fx_jstr(j, "type"), type);
    ASSERT_EQ_INT(fx_jint(j, "status"), status);
    ASSERT_NOT_NULL(fx_jstr(j, "title"));
    if (pointer) {
        int found = 0;
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(j, "errors"), i, e)
        {
            const char *p = json_string_value(json_object_get(e, "pointer"));
            found |= p && strcmp(p, pointer) == 0;
        }
        if (!found)
            TEST_FAIL("no error at pointer %s: %s", pointer, r->body);
    }
    json_decref(j);
}

/* ---- Kafka ---- */

struct fx_reader {
    rd_kafka_t *rk;
};

fx_reader_t *fx_reader_new(fx_t *f)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", f->kafka.bootstrap, err, sizeof err);
    rd_kafka_conf_set(c, "group.id", "fx-reader", err, sizeof err);
    rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(c, "log_level", "3", err, sizeof err);
    rd_kafka_conf_set(c, "fetch.wait.max.ms", "10", err, sizeof err); /* records show up at once */
    fx_reader_t *r = baton_xcalloc(1, sizeof *r);
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    ASSERT_NOT_NULL(r->rk);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(r->rk, BATON_TOPIC_INBOUND, NULL);
    ASSERT_EQ_INT(rd_kafka_metadata(r->rk, 0, t, &md, 10000), 0);
    ASSERT_EQ_INT(md->topic_cnt, 1);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, BATON_TOPIC_INBOUND,
                                          md->topics[0].partitions[i].id)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
    ASSERT_TRUE(md->topics[0].partition_cnt > 0);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    ASSERT_EQ_INT(rd_kafka_assign(r->rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    return r;
}

Baton__V1__Envelope *fx_reader_next(fx_reader_t *r, int timeout_ms, char *key_out, size_t keylen,
                                    char *type_out, size_t typelen)
{
    int64_t deadline = baton_mono_ms() + timeout_ms;
    while (baton_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        char err[128];
        Baton__V1__Envelope *env = baton_kafka_envelope_unpack(m->payload, m->len, err, sizeof err);
        if (!env)
            TEST_FAIL("record is not an Envelope: %s", err);
        if (key_out)
            snprintf(key_out, keylen, "%.*s", (int)m->key_len, m->key ? (char *)m->key : "");
        if (type_out) {
            rd_kafka_headers_t *h = NULL;
            const void *v;
            size_t vl;
            type_out[0] = '\0';
            if (rd_kafka_message_headers(m, &h) == 0 &&
                rd_kafka_header_get_last(h, "event-type", &v, &vl) == 0)
                snprintf(type_out, typelen, "%.*s", (int)vl, (const char *)v);
        }
        rd_kafka_message_destroy(m);
        return env;
    }
    return NULL;
}

int fx_reader_drain(fx_reader_t *r, int timeout_ms)
{
    int n = 0;
    Baton__V1__Envelope *e;
    while ((e = fx_reader_next(r, timeout_ms, NULL, 0, NULL, 0)) != NULL) {
        baton_kafka_envelope_free(e);
        n++;
    }
    return n;
}

void fx_reader_free(fx_reader_t *r)
{
    if (!r)
        return;
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    free(r);
}

/* ---- MLLP ---- */

int fx_mllp_connect(fx_t *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)f->mllp_port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ASSERT_EQ_INT(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

void fx_send_chunked(int fd, const char *data, size_t len, size_t chunk)
{
    if (chunk == 0)
        chunk = len;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        ASSERT_EQ_INT(send(fd, data + off, n, MSG_NOSIGNAL), (long long)n);
        if (chunk < len) {
            struct timespec ts = {0, 2 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

char *fx_mllp_read_frame(int fd, int timeout_ms)
{
    baton_buf_t b = BATON_BUF_INIT;
    int64_t deadline = baton_mono_ms() + timeout_ms;
    bool in = false;
    while (baton_mono_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        char c;
        if (recv(fd, &c, 1, 0) != 1)
            break;
        if (c == 0x0b) {
            in = true;
            baton_buf_reset(&b);
        } else if (c == 0x1c && in) {
            char cr;
            ASSERT_EQ_INT(recv(fd, &cr, 1, 0), 1);
            ASSERT_EQ_INT(cr, 0x0d);
            baton_buf_puts(&b, "");
            return baton_buf_steal(&b);
        } else if (in) {
            baton_buf_putc(&b, c);
        }
    }
    baton_buf_free(&b);
    return NULL;
}

const char *fx_hl7_field(const char *msg, const char *seg, int field)
{
    static char out[512];
    out[0] = '\0';
    for (const char *p = msg; p && *p;) {
        const char *e = p + strcspn(p, "\r\n");
        if ((size_t)(e - p) >= 3 && strncmp(p, seg, 3) == 0) {
            const char *f = p;
            int idx = 0;
            while (f < e && idx < field) {
                f = memchr(f, '|', (size_t)(e - f));
                if (!f)
                    return out;
                f++;
                idx++;
            }
            const char *fe = memchr(f, '|', (size_t)(e - f));
            size_t n = (size_t)((fe ? fe : e) - f);
            if (n >= sizeof out)
                n = sizeof out - 1;
            memcpy(out, f, n);
            out[n] = '\0';
            return out;
        }
        p = *e ? e + 1 : e;
    }
    return out;
}

/* ---- files and tokens ---- */

char *fx_read_file(const char *path, size_t *len)
{
    char *s = harness_read_file(path);
    if (!s)
        TEST_FAIL("cannot read %s", path);
    if (len)
        *len = strlen(s);
    return s;
}

static char *make_jwt(jwt_alg_t alg, const unsigned char *key, size_t keylen, const char *kid,
                      const char *sub, const char *tenant, const char *roles, long exp_s)
{
    jwt_t *j = NULL;
    ASSERT_EQ_INT(jwt_new(&j), 0);
    if (sub)
        jwt_add_grant(j, "sub", sub);
    if (tenant)
        jwt_add_grant(j, "tenant", tenant);
    jwt_add_grant_int(j, "exp", (long)time(NULL) + exp_s);
    jwt_add_grant_int(j, "iat", (long)time(NULL));
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "{\"roles\":[");
    char *copy = baton_xstrdup(roles ? roles : ""), *save = NULL;
    int first = 1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        baton_buf_appendf(&b, "%s\"%s\"", first ? "" : ",", t);
        first = 0;
    }
    baton_buf_puts(&b, "]}");
    free(copy);
    ASSERT_EQ_INT(jwt_add_grants_json(j, b.data), 0);
    baton_buf_free(&b);
    if (kid)
        jwt_add_header(j, "kid", kid);
    ASSERT_EQ_INT(jwt_set_alg(j, alg, key, (int)keylen), 0);
    char *s = jwt_encode_str(j);
    ASSERT_NOT_NULL(s);
    jwt_free(j);
    char *out = baton_xstrdup(s);
    free(s);
    return out;
}

char *fx_jwt_hs256(const char *secret, const char *sub, const char *tenant, const char *roles,
                   long exp_s)
{
    return make_jwt(JWT_ALG_HS256, (const unsigned char *)secret, strlen(secret), NULL, sub, tenant,
                    roles, exp_s);
}

char *fx_jwt_rs256(const char *pem_private, const char *kid, const char *sub, const char *tenant,
                   const char *roles, long exp_s)
{
    return make_jwt(JWT_ALG_RS256, (const unsigned char *)pem_private, strlen(pem_private), kid,
                    sub, tenant, roles, exp_s);
}
