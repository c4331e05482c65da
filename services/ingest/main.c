/* baton-ingest — the front door: canonical JSON, HL7 v2 (HTTP and MLLP), FHIR R4, rosters and
 * staff actions. Validates, authenticates, deduplicates, and answers 202 / AA only once Kafka
 * has acknowledged the event (see ingest.h for the files). */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static ingest_t app;

/* Keys, tokens, sender map, discharge codes, pathway definitions. 0 or a config error. */
static int load_inputs(ingest_t *a, char *err, size_t errlen)
{
    if (ingest_api_keys_parse(ingest_cfg.api_keys, &a->keys, err, errlen) != 0)
        return BATON_EINVAL;
    a->jwt = ingest_jwt_new(ingest_cfg.jwt_secret, ingest_cfg.jwt_public_key_file,
                            ingest_cfg.jwt_jwks_file, ingest_cfg.jwt_issuer,
                            ingest_cfg.jwt_audience, ingest_cfg.jwt_leeway_ms, err, errlen);
    if (!a->jwt)
        return BATON_EINVAL;
    if (ingest_senders_parse(ingest_cfg.hl7_senders, &a->senders, &a->nsenders, err, errlen) != 0)
        return BATON_EINVAL;
    a->discharge_codes = ingest_strv_split(ingest_cfg.hl7_discharge_codes, &a->ndischarge_codes);
    a->hl7map =
        (baton_hl7_map_config_t){a->senders, a->nsenders, (int)ingest_cfg.hl7_tz_offset_min,
                                 (const char *const *)a->discharge_codes, a->ndischarge_codes};
    if (a->ndischarge_codes == 0)
        a->hl7map.discharge_codes = NULL;
    snprintf(a->retry_after, sizeof a->retry_after, "%lld",
             (ingest_cfg.retry_after_ms + 999) / 1000);
    char perr[512];
    a->pathways = baton_pathway_load_dir(ingest_cfg.pathways_dir, NULL, perr, sizeof perr);
    if (!a->pathways)
        LOG_WARN("pathway definitions not loaded (override roles unknown, so only owners and "
                 "role holders may act): %s",
                 perr);
    if (a->keys.n == 0)
        LOG_WARN("BATON_API_KEYS is empty: every source-system request gets 401");
    return 0;
}

/* Kafka producer and the Redis pool. Redis not reachable at start is waited for (not ready
 * meanwhile) rather than a crash loop; a bad URL is fatal. */
static int open_clients(ingest_t *a, char *err, size_t errlen)
{
    /* Every request waits for its acknowledgement: send at once rather than linger (librdkafka
     * still batches what accumulates while requests are in flight). BATON_KAFKA_LINGER_MS wins. */
    baton_kafka_conf_t *kc = baton_svc_kafka_conf(a->svc);
    if (!baton_kafka_conf_get(kc, "linger.ms"))
        baton_kafka_conf_set(kc, "linger.ms", "0");
    a->producer = baton_kafka_producer_new(kc, err, errlen);
    if (!a->producer)
        return BATON_EIO;
    baton_redis_url_t u;
    if (baton_redis_url_parse(ingest_cfg.redis_url, &u, err, errlen) != 0)
        return BATON_EINVAL;
    bool warned = false;
    while (baton_svc_running) {
        a->redis =
            ingest_rpool_new(ingest_cfg.redis_url, (size_t)ingest_cfg.redis_pool, err, errlen);
        if (a->redis)
            return 0;
        baton_svc_set_ready(a->svc, false, "redis: unreachable");
        if (!warned)
            LOG_WARN("redis: %s (retrying every second)", err);
        warned = true;
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    baton_seterr(err, errlen, "stopped while waiting for Redis");
    return BATON_EUNAVAIL;
}

static int start_http(ingest_t *a, char *err, size_t errlen)
{
    baton_http_config_t hc = baton_http_config_default();
    hc.bind = ingest_cfg.http_bind;
    hc.port = (int)ingest_cfg.http_port;
    hc.max_body = (size_t)ingest_cfg.http_max_body;
    hc.memory_limit = (size_t)ingest_cfg.http_max_header;
    hc.max_connections = (unsigned)ingest_cfg.http_max_connections;
    hc.timeout_s = (unsigned)(ingest_cfg.http_timeout_ms / 1000);
    hc.tls_cert_path = *ingest_cfg.tls_cert ? ingest_cfg.tls_cert : NULL;
    hc.tls_key_path = *ingest_cfg.tls_key ? ingest_cfg.tls_key : NULL;
    hc.metrics = baton_svc_metrics(a->svc);
    a->http = baton_http_server_new(&hc, err, errlen);
    if (!a->http)
        return BATON_EINVAL;
    ingest_routes_events(a);
    ingest_routes_hl7(a);
    ingest_routes_fhir(a);
    ingest_routes_rosters(a);
    ingest_routes_tasks(a);
    if (ingest_read_start(a, err, errlen) != 0)
        return BATON_EINVAL;
    if (baton_http_server_start(a->http, err, errlen) != 0)
        return BATON_EIO;
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv_int(&f, "http_port", baton_http_server_port(a->http));
    baton_log_kv(&f, "tls", hc.tls_cert_path ? "on" : "off");
    BATON_LOG(BATON_LOG_INFO, f.data, "API listening");
    baton_buf_free(&f);
    return 0;
}

static int start_mllp(ingest_t *a, char *err, size_t errlen)
{
    if (ingest_cfg.mllp_port < 0)
        return 0;
    a->mllp = ingest_mllp_start(a, ingest_cfg.mllp_bind, (int)ingest_cfg.mllp_port, err, errlen);
    if (!a->mllp)
        return BATON_EIO;
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv_int(&f, "mllp_port", ingest_mllp_port(a->mllp));
    baton_log_kv_int(&f, "senders", (long long)a->nsenders);
    BATON_LOG(BATON_LOG_INFO, f.data, "MLLP listening");
    baton_buf_free(&f);
    return 0;
}

/* Ready when the producer has a broker connection and Redis answers PING. */
static void check_ready(ingest_t *a, baton_redis_t **probe)
{
    baton_kafka_health_t h;
    baton_kafka_producer_health(a->producer, &h);
    redisReply *rep = NULL;
    char err[256];
    if (!*probe)
        *probe = baton_redis_new(ingest_cfg.redis_url, NULL, err, sizeof err);
    int rrc = *probe ? baton_redis_command(*probe, &rep, "PING") : BATON_EUNAVAIL;
    if (rep)
        freeReplyObject(rep);
    if (h.brokers_up <= 0)
        baton_svc_set_ready(a->svc, false,
                            h.brokers_up < 0 ? "kafka: connecting" : "kafka: no broker reachable");
    else if (rrc != 0)
        baton_svc_set_ready(a->svc, false, "redis: unreachable");
    else
        baton_svc_set_ready(a->svc, true, NULL);
}

static int run(ingest_t *a)
{
    baton_redis_t *probe = NULL;
    int64_t next_check = 0;
    while (baton_svc_running) {
        baton_kafka_producer_poll(a->producer, 100);
        if (baton_mono_ms() >= next_check) {
            check_ready(a, &probe);
            next_check = baton_mono_ms() + 500;
        }
        baton_kafka_health_t h;
        baton_kafka_producer_health(a->producer, &h);
        if (h.fatal) {
            LOG_FATAL("kafka producer: fatal error: %s", h.last_error_text);
            baton_redis_free(probe);
            return 1;
        }
    }
    baton_redis_free(probe);
    return 0;
}

/* Stop accepting (HTTP + MLLP), let in-flight requests finish, flush the producer. */
static void shut_down(ingest_t *a)
{
    LOG_INFO("shutting down");
    if (a->svc)
        baton_svc_set_ready(a->svc, false, "shutting down");
    int grace = (int)ingest_cfg.shutdown_grace_ms;
    ingest_mllp_stop(a->mllp); /* stops accepting; connections finish their message */
    if (a->http)
        baton_http_server_stop(a->http, grace);
    if (a->producer && baton_kafka_producer_flush(a->producer, grace) != 0)
        LOG_WARN("kafka: not everything was flushed before the deadline");
    baton_http_server_free(a->http);
    ingest_read_free(a);
    baton_kafka_producer_free(a->producer, 1000);
    ingest_rpool_free(a->redis);
    ingest_api_keys_free(&a->keys);
    ingest_jwt_free(a->jwt);
    ingest_senders_free(a->senders, a->nsenders);
    ingest_strv_free(a->discharge_codes, a->ndischarge_codes);
    baton_pathway_set_free(a->pathways);
}

int main(int argc, char **argv)
{
    int rc;
    char err[512];
    app.svc = baton_svc_init("ingest",
                             "the Baton front door: events, HL7 v2, FHIR, rosters, "
                             "staff actions",
                             argc, argv, ingest_opts, &ingest_cfg.c, &rc);
    if (!app.svc)
        return rc;
    ingest_metrics_init(&app.m, baton_svc_metrics(app.svc));
    rc = 0;
    if (load_inputs(&app, err, sizeof err) != 0) {
        LOG_FATAL("configuration: %s", err);
        rc = 2;
    } else if (open_clients(&app, err, sizeof err) != 0) {
        rc = baton_svc_running ? 1 : 0; /* SIGTERM while waiting for Redis is a clean stop */
        if (rc)
            LOG_FATAL("%s", err);
    } else if (start_http(&app, err, sizeof err) != 0 || start_mllp(&app, err, sizeof err) != 0) {
        LOG_FATAL("%s", err);
        rc = 1;
    } else {
        rc = run(&app);
    }
    shut_down(&app);
    baton_svc_free(app.svc);
    if (rc == 0)
        LOG_INFO("stopped");
    return rc;
}
