/* baton-notifier — notification requests from baton.notify.v1 delivered over webhook, SMS,
 * email and pager, with retries, bundling and quiet hours; receipts to baton.lifecycle.v1,
 * dead letters to baton.dlq.v1. See README.md for the design, notifier.h for the files. */
#include "notifier.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    baton_svc_common_t c;
    nt_cfg_t n;
} cfg;

#define NT_OPT_STR(name, env, def, help, field)                                                    \
    {                                                                                              \
        name, env, BATON_CFG_STR, def, 0, 0, help, &cfg.n.field                                    \
    }
#define NT_OPT_SECRET(name, env, def, help, field)                                                 \
    {                                                                                              \
        name, env, BATON_CFG_SECRET, def, 0, 0, help, &cfg.n.field                                 \
    }
#define NT_OPT_MS(name, env, def, lo, hi, help, field)                                             \
    {                                                                                              \
        name, env, BATON_CFG_DURATION, def, lo, hi, help, &cfg.n.field                             \
    }
#define NT_OPT_INT(name, env, def, lo, hi, help, field)                                            \
    {                                                                                              \
        name, env, BATON_CFG_INT, def, lo, hi, help, &cfg.n.field                                  \
    }

static const baton_config_opt_t opts[] = {
    BATON_SVC_COMMON_OPTS(cfg.c, "9104"),
    NT_OPT_STR("redis_url", "BATON_REDIS_URL", "redis://127.0.0.1:6379",
               "Redis: rosters (read) and the notifier's queue", redis_url),
    NT_OPT_STR("group_id", "BATON_GROUP_ID", "baton-notifier", "Kafka consumer group", group_id),
    NT_OPT_STR("key_prefix", "BATON_NOTIFIER_KEY_PREFIX", "baton:notify",
               "prefix of the notifier's Redis keys", key_prefix),
    NT_OPT_SECRET("webhook_secret", "BATON_WEBHOOK_SECRET", NULL,
                  "HMAC-SHA256 key of X-Baton-Signature", webhook_secret),
    NT_OPT_STR("templates_dir", "BATON_NOTIFIER_TEMPLATES_DIR", "",
               "directory of <kind>.<channel>.txt / <kind>.txt / subject.email.txt templates "
               "(empty: built-in texts)",
               templates_dir),
    NT_OPT_INT("max_attempts", "BATON_NOTIFIER_MAX_ATTEMPTS", "8", 1, 100,
               "attempts before a notification is dead-lettered", max_attempts),
    NT_OPT_MS("backoff_base_ms", "BATON_NOTIFIER_BACKOFF_BASE", "1000", 1, 3600000,
              "first retry delay (doubles per attempt, upper half jittered)", backoff_base_ms),
    NT_OPT_MS("backoff_max_ms", "BATON_NOTIFIER_BACKOFF_MAX", "300000", 1, 86400000,
              "longest retry delay", backoff_max_ms),
    NT_OPT_MS("lease_ms", "BATON_NOTIFIER_LEASE", "60000", 100, 3600000,
              "a claimed delivery is claimed again after this (crash recovery); keep it above "
              "the longest timeout",
              lease_ms),
    NT_OPT_MS("dedup_ttl_ms", "BATON_NOTIFIER_DEDUP_TTL", "7d", 1000, 90LL * 86400000,
              "how long a finished notification id is remembered", dedup_ttl_ms),
    NT_OPT_MS("bundle_window_ms", "BATON_NOTIFIER_BUNDLE_WINDOW", "2000", 0, 3600000,
              "non-urgent notifications for one person within this go out as one (0 = off)",
              bundle_window_ms),
    NT_OPT_INT("max_inflight", "BATON_NOTIFIER_MAX_INFLIGHT", "1000", 1, 100000,
               "deliveries in flight (or waiting for an endpoint) at once", max_inflight),
    NT_OPT_INT("endpoint_concurrency", "BATON_NOTIFIER_ENDPOINT_CONCURRENCY", "64", 1, 10000,
               "transfers in flight per endpoint (scheme://host:port)", endpoint_concurrency),
    NT_OPT_STR("endpoint_limits", "BATON_NOTIFIER_ENDPOINT_LIMITS", "",
               "per-endpoint overrides: scheme://host:port=timeout_ms/concurrency,...",
               endpoint_limits),
    NT_OPT_MS("connect_timeout_ms", "BATON_NOTIFIER_CONNECT_TIMEOUT", "3000", 1, 600000,
              "connection timeout", connect_timeout_ms),
    NT_OPT_MS("webhook_timeout_ms", "BATON_NOTIFIER_WEBHOOK_TIMEOUT", "10000", 1, 600000,
              "webhook attempt timeout", webhook_timeout_ms),
    NT_OPT_MS("sms_timeout_ms", "BATON_NOTIFIER_SMS_TIMEOUT", "10000", 1, 600000,
              "SMS gateway attempt timeout", sms_timeout_ms),
    NT_OPT_MS("smtp_timeout_ms", "BATON_NOTIFIER_SMTP_TIMEOUT", "30000", 1, 600000,
              "SMTP attempt timeout", smtp_timeout_ms),
    NT_OPT_MS("wctp_timeout_ms", "BATON_NOTIFIER_WCTP_TIMEOUT", "10000", 1, 600000,
              "WCTP attempt timeout", wctp_timeout_ms),
    NT_OPT_INT("consume_batch", "BATON_NOTIFIER_CONSUME_BATCH", "1000", 1, 100000,
               "most requests stored (and committed) per Kafka poll", consume_batch),
    NT_OPT_INT("claim_batch", "BATON_NOTIFIER_CLAIM_BATCH", "500", 1, 100000,
               "most due notifications claimed per round", claim_batch),
    NT_OPT_MS("person_cache_ms", "BATON_NOTIFIER_PERSON_CACHE", "1000", 0, 3600000,
              "how long a person record read from Redis is reused", person_cache_ms),
    NT_OPT_MS("shutdown_grace_ms", "BATON_NOTIFIER_SHUTDOWN_GRACE", "10000", 0, 600000,
              "on SIGTERM, how long in-flight deliveries may finish", shutdown_grace_ms),
    NT_OPT_MS("redis_retry_ms", "BATON_NOTIFIER_REDIS_RETRY", "5000", 0, 600000,
              "how long to retry storing a batch while Redis is down before exiting",
              redis_retry_ms),
    NT_OPT_MS("produce_timeout_ms", "BATON_NOTIFIER_PRODUCE_TIMEOUT", "10000", 100, 300000,
              "wait for Kafka's acks of receipts and dead letters", produce_timeout_ms),
    NT_OPT_MS("poll_ms", "BATON_NOTIFIER_POLL", "100", 1, 1000, "longest wait of one loop turn",
              poll_ms),
    NT_OPT_MS("claim_poll_ms", "BATON_NOTIFIER_CLAIM_POLL", "1000", 10, 60000,
              "look at the Redis schedule at least this often (jobs released by other "
              "instances)",
              claim_poll_ms),
    NT_OPT_STR("sms_url", "BATON_NOTIFIER_SMS_URL", "", "SMS gateway URL (empty: SMS off)",
               sms_url),
    NT_OPT_STR("sms_format", "BATON_NOTIFIER_SMS_FORMAT", "form", "form | json", sms_format),
    NT_OPT_STR("sms_to_field", "BATON_NOTIFIER_SMS_TO_FIELD", "to", "recipient field name",
               sms_to_field),
    NT_OPT_STR("sms_text_field", "BATON_NOTIFIER_SMS_TEXT_FIELD", "text", "text field name",
               sms_text_field),
    NT_OPT_STR("sms_from", "BATON_NOTIFIER_SMS_FROM", "", "sender (empty: not sent)", sms_from),
    NT_OPT_STR("sms_from_field", "BATON_NOTIFIER_SMS_FROM_FIELD", "from", "sender field name",
               sms_from_field),
    NT_OPT_SECRET("sms_auth_header", "BATON_NOTIFIER_SMS_AUTH_HEADER", "",
                  "Authorization header value for the gateway (e.g. \"Bearer ...\")",
                  sms_auth_header),
    NT_OPT_STR("sms_user", "BATON_NOTIFIER_SMS_USER", "", "basic auth user", sms_user),
    NT_OPT_SECRET("sms_password", "BATON_NOTIFIER_SMS_PASSWORD", "", "basic auth password",
                  sms_password),
    NT_OPT_STR("smtp_url", "BATON_NOTIFIER_SMTP_URL", "",
               "SMTP server, smtp://host:port or smtps://host:port (empty: email off)", smtp_url),
    NT_OPT_STR("smtp_from", "BATON_NOTIFIER_SMTP_FROM", "baton@localhost", "envelope and From",
               smtp_from),
    NT_OPT_STR("smtp_user", "BATON_NOTIFIER_SMTP_USER", "", "SMTP AUTH user", smtp_user),
    NT_OPT_SECRET("smtp_password", "BATON_NOTIFIER_SMTP_PASSWORD", "", "SMTP AUTH password",
                  smtp_password),
    {"smtp_tls", "BATON_NOTIFIER_SMTP_STARTTLS", BATON_CFG_BOOL, "false", 0, 0,
     "require STARTTLS on smtp://", &cfg.n.smtp_tls},
    NT_OPT_STR("wctp_url", "BATON_NOTIFIER_WCTP_URL", "", "WCTP gateway URL (empty: pager off)",
               wctp_url),
    NT_OPT_STR("wctp_sender", "BATON_NOTIFIER_WCTP_SENDER", "baton", "wctp-Originator senderID",
               wctp_sender),
    NT_OPT_SECRET("wctp_security_code", "BATON_NOTIFIER_WCTP_SECURITY_CODE", "",
                  "wctp-Originator securityCode", wctp_security_code),
    {0}};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A Redis connection, waiting for Redis while it is down (until SIGTERM). */
static baton_redis_t *redis_open(nt_svc_t *s)
{
    char err[256] = "";
    baton_redis_t *r;
    while (!(r = baton_redis_new(s->cfg->redis_url, NULL, err, sizeof err)) && baton_svc_running) {
        baton_svc_set_ready(s->svc, false, "redis unreachable");
        LOG_ERROR("redis: %s (retrying)", err);
        sleep_ms(1000);
    }
    return r;
}

static int check_config(const nt_cfg_t *c)
{
    char err[256] = "";
    if (!*c->webhook_secret) {
        LOG_FATAL("configuration: BATON_WEBHOOK_SECRET must not be empty");
        return 2;
    }
    if (strcmp(c->sms_format, "form") != 0 && strcmp(c->sms_format, "json") != 0) {
        LOG_FATAL("configuration: BATON_NOTIFIER_SMS_FORMAT: expected form or json");
        return 2;
    }
    if (nt_text_init(c, err, sizeof err) != 0) {
        LOG_FATAL("configuration: %s", err);
        return 2;
    }
    return 0;
}

/* Three Redis connections (consumer, deliveries, outbox), the producer, the consumer. */
static int open_clients(nt_svc_t *s)
{
    char err[256] = "";
    if (!(s->redis_c = redis_open(s)) || !(s->redis_d = redis_open(s)) ||
        !(s->redis_o = redis_open(s)))
        return 1;
    if (nt_store_init(s, s->redis_c) != 0 || nt_store_init(s, s->redis_d) != 0) {
        LOG_FATAL("redis: loading scripts: %s", baton_redis_errstr(s->redis_c));
        return 1;
    }
    baton_kafka_conf_t *kc = baton_svc_kafka_conf(s->svc);
    if (!baton_kafka_conf_get(kc, "linger.ms")) /* receipts leave at once */
        baton_kafka_conf_set(kc, "linger.ms", "1");
    /* requests arrive at once: a real broker answers a fetch as soon as data is there, the
     * mock cluster only when fetch.wait.max.ms has run out (2 ms: ~500 idle fetches/s) */
    if (!baton_kafka_conf_get(kc, "fetch.wait.max.ms"))
        baton_kafka_conf_set(kc, "fetch.wait.max.ms", "2");
    if (!(s->producer = baton_kafka_producer_new(kc, err, sizeof err))) {
        LOG_FATAL("kafka producer: %s", err);
        return 1;
    }
    baton_kafka_conf_set_rebalance_cb(kc, nt_on_rebalance, s);
    s->consumer = baton_kafka_consumer_new(kc, s->cfg->group_id, err, sizeof err);
    const char *topics[] = {BATON_TOPIC_NOTIFY};
    if (!s->consumer || baton_kafka_consumer_subscribe(s->consumer, topics, 1, err, sizeof err)) {
        LOG_FATAL("kafka consumer: %s", err);
        return 1;
    }
    if (!(s->multi = curl_multi_init())) {
        LOG_FATAL("curl_multi_init failed");
        return 1;
    }
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->cfg->max_inflight);
    return 0;
}

static bool outbox_started;

/* The three threads: outbox, consumer, and the delivery loop on this one. */
static int run(nt_svc_t *s)
{
    s->kafka_ok = 1;
    s->redis_ok = 1;
    if (nt_outbox_start(s) != 0)
        return 1;
    outbox_started = true;
    if (nt_consume_start(s) != 0)
        return 1;
    nt_update_ready(s);
    nt_deliver_run(s);
    nt_consume_join(s);
    return s->consume_failed ? 1 : 0;
}

static void close_clients(nt_svc_t *s)
{
    nt_deliver_free(s); /* writes what finished; releases what is still running */
    if (outbox_started)
        nt_outbox_stop(s); /* receipts out (bounded), the rest stays in the Redis outbox */
    baton_kafka_consumer_free(s->consumer);
    baton_kafka_producer_free(s->producer, 5000);
    baton_redis_free(s->redis_c);
    baton_redis_free(s->redis_d);
    baton_redis_free(s->redis_o);
    free(s->kp);
    nt_text_free();
}

int main(int argc, char **argv)
{
    int rc;
    baton_svc_t *svc = baton_svc_init("notifier",
                                      "notifications: baton.notify.v1 in; webhook, SMS, email, "
                                      "pager out; receipts and dead letters back to Kafka",
                                      argc, argv, opts, &cfg.c, &rc);
    if (!svc)
        return rc;
    if ((rc = check_config(&cfg.n)) != 0) {
        baton_svc_free(svc);
        return rc;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srandom((unsigned)baton_now_ms() ^ (unsigned)getpid());
    nt_svc_t s = {.cfg = &cfg.n, .svc = svc};
    pthread_mutex_init(&s.out_lock, NULL);
    pthread_cond_init(&s.out_cond, NULL);
    pthread_mutex_init(&s.ho_lock, NULL);
    nt_metrics_init(&s, baton_svc_metrics(svc));
    rc = open_clients(&s);
    if (rc == 0)
        rc = run(&s);
    close_clients(&s);
    pthread_mutex_destroy(&s.out_lock);
    pthread_cond_destroy(&s.out_cond);
    pthread_mutex_destroy(&s.ho_lock);
    curl_global_cleanup();
    LOG_INFO("stopped");
    baton_svc_free(svc);
    return rc;
}
