/* config.c — baton-ingest's configuration table and the parsing of the structured variables
 * (BATON_HL7_SENDERS, BATON_HL7_DISCHARGE_CODES). BATON_API_KEYS is parsed in auth.c. */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

ingest_config_t ingest_cfg;

#define MiB (1024LL * 1024)

const baton_config_opt_t ingest_opts[] = {
    BATON_SVC_COMMON_OPTS(ingest_cfg.c, "9101"),
    {"http_bind", "BATON_HTTP_BIND", BATON_CFG_STR, "0.0.0.0", 0, 0, "address of the API",
     &ingest_cfg.http_bind},
    {"http_port", "BATON_HTTP_PORT", BATON_CFG_INT, "8080", 0, 65535,
     "port of the API (0 = any free port)", &ingest_cfg.http_port},
    {"http_max_body", "BATON_HTTP_MAX_BODY", BATON_CFG_INT, "8388608", 1024, 64 * MiB,
     "largest request body in bytes (413 above); /v1/events JSON is limited to 64 KiB",
     &ingest_cfg.http_max_body},
    {"http_max_header", "BATON_HTTP_MAX_HEADER", BATON_CFG_INT, "65536", 8192, 1 * MiB,
     "bytes per connection for the request line and headers (431 above)",
     &ingest_cfg.http_max_header},
    {"http_max_connections", "BATON_HTTP_MAX_CONNECTIONS", BATON_CFG_INT, "512", 1, 65536,
     "concurrent HTTP connections (one thread each)", &ingest_cfg.http_max_connections},
    {"http_timeout", "BATON_HTTP_TIMEOUT", BATON_CFG_DURATION, "60s", 1000, 3600000,
     "idle keep-alive / slow client timeout", &ingest_cfg.http_timeout_ms},
    {"tls_cert", "BATON_TLS_CERT", BATON_CFG_STR, "", 0, 0,
     "PEM certificate (chain) for HTTPS; with BATON_TLS_KEY", &ingest_cfg.tls_cert},
    {"tls_key", "BATON_TLS_KEY", BATON_CFG_STR, "", 0, 0, "PEM private key for HTTPS",
     &ingest_cfg.tls_key},
    {"mllp_bind", "BATON_MLLP_BIND", BATON_CFG_STR, "0.0.0.0", 0, 0, "address of the MLLP listener",
     &ingest_cfg.mllp_bind},
    {"mllp_port", "BATON_MLLP_PORT", BATON_CFG_INT, "2575", -1, 65535,
     "HL7 v2 over MLLP (0 = any free port, -1 = off)", &ingest_cfg.mllp_port},
    {"mllp_max_connections", "BATON_MLLP_MAX_CONNECTIONS", BATON_CFG_INT, "64", 1, 4096,
     "concurrent MLLP connections (more are closed at once)", &ingest_cfg.mllp_max_connections},
    {"mllp_max_message", "BATON_MLLP_MAX_MESSAGE", BATON_CFG_INT, "1048576", 1024, 64 * MiB,
     "largest HL7 message in bytes (AR above)", &ingest_cfg.mllp_max_message},
    {"mllp_idle_timeout", "BATON_MLLP_IDLE_TIMEOUT", BATON_CFG_DURATION, "5m", 1000, 86400000,
     "close an MLLP connection idle this long", &ingest_cfg.mllp_idle_timeout_ms},
    {"redis_url", "BATON_REDIS_URL", BATON_CFG_STR, "redis://127.0.0.1:6379", 0, 0,
     "Redis (idempotency records, rosters, task state)", &ingest_cfg.redis_url},
    {"redis_pool", "BATON_REDIS_POOL", BATON_CFG_INT, "16", 1, 1024,
     "Redis connections shared by the request threads", &ingest_cfg.redis_pool},
    {"pg_dsn", "BATON_PG_DSN", BATON_CFG_SECRET, "", 0, 0,
     "PostgreSQL for the read API (GET /v1/instances, /v1/tasks, /v1/stats...): a read-only role "
     "on baton-audit's database; empty turns the read API off",
     &ingest_cfg.pg_dsn},
    {"pg_pool", "BATON_PG_POOL", BATON_CFG_INT, "4", 1, 64,
     "PostgreSQL connections shared by the read API's request threads", &ingest_cfg.pg_pool},
    {"pathways_dir", "BATON_PATHWAYS_DIR", BATON_CFG_STR, "/etc/baton/pathways", 0, 0,
     "pathway definitions (override roles for staff actions)", &ingest_cfg.pathways_dir},
    {"api_keys", "BATON_API_KEYS", BATON_CFG_SECRET, "", 0, 0,
     "source-system keys: id:tenant:scope+scope:salt:hex(sha256(salt+key)), ';'-separated",
     &ingest_cfg.api_keys},
    {"jwt_secret", "BATON_JWT_SECRET", BATON_CFG_SECRET, "", 0, 0, "HS256 secret for staff tokens",
     &ingest_cfg.jwt_secret},
    {"jwt_public_key_file", "BATON_JWT_PUBLIC_KEY_FILE", BATON_CFG_STR, "", 0, 0,
     "PEM RSA public key for RS256 staff tokens", &ingest_cfg.jwt_public_key_file},
    {"jwt_jwks_file", "BATON_JWT_JWKS_FILE", BATON_CFG_STR, "", 0, 0,
     "JWKS file (RSA keys, chosen by kid) for RS256 staff tokens", &ingest_cfg.jwt_jwks_file},
    {"jwt_issuer", "BATON_JWT_ISSUER", BATON_CFG_STR, "", 0, 0,
     "required iss claim (empty = not checked)", &ingest_cfg.jwt_issuer},
    {"jwt_audience", "BATON_JWT_AUDIENCE", BATON_CFG_STR, "", 0, 0,
     "required aud claim (empty = not checked)", &ingest_cfg.jwt_audience},
    {"jwt_leeway", "BATON_JWT_LEEWAY", BATON_CFG_DURATION, "30s", 0, 600000,
     "clock skew allowed on exp / nbf", &ingest_cfg.jwt_leeway_ms},
    {"hl7_senders", "BATON_HL7_SENDERS", BATON_CFG_STR, "", 0, 0,
     "HL7 sender -> tenant: FACILITY[^APPLICATION]=tenant, ','-separated, '*' = any",
     &ingest_cfg.hl7_senders},
    {"hl7_tz_offset", "BATON_HL7_TZ_OFFSET", BATON_CFG_INT, "0", -840, 840,
     "minutes east of UTC for HL7 times without an offset", &ingest_cfg.hl7_tz_offset_min},
    {"hl7_discharge_codes", "BATON_HL7_DISCHARGE_CODES", BATON_CFG_STR, "", 0, 0,
     "OBR-4 codes of discharge orders, ','-separated (empty = DISCHARGE,DISCH,DC_ORDER,DCPATIENT)",
     &ingest_cfg.hl7_discharge_codes},
    {"ndjson_max_lines", "BATON_NDJSON_MAX_LINES", BATON_CFG_INT, "1000", 1, 100000,
     "events per NDJSON batch (413 above)", &ingest_cfg.ndjson_max_lines},
    {"produce_timeout", "BATON_PRODUCE_TIMEOUT", BATON_CFG_DURATION, "5s", 100, 120000,
     "how long a request waits for Kafka's acknowledgement before 503",
     &ingest_cfg.produce_timeout_ms},
    {"retry_after", "BATON_RETRY_AFTER", BATON_CFG_DURATION, "2s", 1000, 3600000,
     "Retry-After sent with 503 answers", &ingest_cfg.retry_after_ms},
    {"idem_ttl", "BATON_IDEMPOTENCY_TTL", BATON_CFG_DURATION, "1d", 60000, 90LL * 86400000,
     "how long an accepted id is remembered", &ingest_cfg.idem_ttl_ms},
    {"action_recheck", "BATON_ACTION_RECHECK", BATON_CFG_DURATION, "300", 0, 10000,
     "a staff action the router's state refuses (404/403/409) is checked again for up to this "
     "long before the refusal is answered (0 = answer at once)",
     &ingest_cfg.action_recheck_ms},
    {"shutdown_grace", "BATON_SHUTDOWN_GRACE", BATON_CFG_DURATION, "15s", 0, 600000,
     "on SIGTERM: time for in-flight requests and the producer flush",
     &ingest_cfg.shutdown_grace_ms},
    {0}};

char **ingest_strv_split(const char *spec, size_t *n)
{
    char **v = NULL;
    *n = 0;
    const char *p = spec ? spec : "";
    while (*p) {
        const char *e = p + strcspn(p, ",");
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (t > p) {
            v = baton_xrealloc(v, (*n + 1) * sizeof *v);
            v[(*n)++] = baton_xstrndup(p, (size_t)(t - p));
        }
        p = *e ? e + 1 : e;
    }
    return v;
}

void ingest_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* "FACILITY[^APPLICATION]=tenant": facility and application may be "*" (any). */
static int sender_parse(const char *item, baton_hl7_sender_t *s, char *err, size_t errlen,
                        size_t idx)
{
    const char *eq = strchr(item, '=');
    if (!eq || eq == item || !eq[1]) {
        baton_seterr(err, errlen, "BATON_HL7_SENDERS: entry %zu: expected FACILITY[^APP]=tenant",
                     idx + 1);
        return BATON_EINVAL;
    }
    char *lhs = baton_xstrndup(item, (size_t)(eq - item));
    char *caret = strchr(lhs, '^');
    if (caret)
        *caret = '\0';
    s->facility = baton_xstrdup(lhs);
    s->application = baton_xstrdup(caret && caret[1] ? caret + 1 : "*");
    s->tenant = baton_xstrdup(eq + 1);
    free(lhs);
    for (const char *t = s->tenant; *t; t++) {
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
              *t == '.' || *t == '_' || *t == '-')) {
            baton_seterr(err, errlen, "BATON_HL7_SENDERS: entry %zu: bad tenant name", idx + 1);
            return BATON_EINVAL;
        }
    }
    return 0;
}

int ingest_senders_parse(const char *spec, baton_hl7_sender_t **out, size_t *n, char *err,
                         size_t errlen)
{
    size_t ni = 0;
    char *s = baton_xstrdup(spec ? spec : "");
    for (char *p = s; *p; p++) /* ';' works as a separator too */
        if (*p == ';')
            *p = ',';
    char **items = ingest_strv_split(s, &ni);
    free(s);
    baton_hl7_sender_t *v = baton_xcalloc(ni ? ni : 1, sizeof *v);
    int rc = 0;
    for (size_t i = 0; i < ni && rc == 0; i++)
        rc = sender_parse(items[i], &v[i], err, errlen, i);
    ingest_strv_free(items, ni);
    if (rc) {
        ingest_senders_free(v, ni);
        *out = NULL;
        *n = 0;
        return rc;
    }
    *out = v;
    *n = ni;
    return 0;
}

void ingest_senders_free(baton_hl7_sender_t *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free((char *)s[i].facility);
        free((char *)s[i].application);
        free((char *)s[i].tenant);
    }
    free(s);
}
