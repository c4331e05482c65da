/* nt_util.c — metrics, readiness, the retry backoff, quiet hours, endpoint limits, receipt
 * and dead-letter envelopes, the in-flight id set. */
#include "notifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const outcome_names[NT_OUTCOMES] = {"delivered", "failed", "dead_lettered",
                                                       "suppressed"};

const char *nt_outcome_name(nt_outcome_t o)
{
    return outcome_names[o];
}

/* Delivery latency buckets (seconds): a local sink answers in ms, a retried one in minutes. */
static const double latency_buckets[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5,
                                         1,     2.5,   5,     10,   30,   60,   300, 1800};

void nt_metrics_init(nt_svc_t *s, baton_metrics_t *reg)
{
    nt_metrics_t *m = &s->m;
    baton_metric_t *deliv = baton_metrics_counter(
        reg, "baton_notifier_deliveries_total",
        "Notification outcomes by channel (failed = an attempt failed and will be retried)",
        "channel", "outcome", NULL);
    baton_metric_t *att =
        baton_metrics_counter(reg, "baton_notifier_attempts_total",
                              "Delivery attempts (transfers) by channel", "channel", NULL);
    baton_metric_t *lat = baton_metrics_histogram(
        reg, "baton_notifier_delivery_latency_seconds",
        "Request created until delivered (retries and holds included)", latency_buckets,
        sizeof latency_buckets / sizeof latency_buckets[0], "channel", NULL);
    baton_metric_t *as = baton_metrics_histogram(
        reg, "baton_notifier_attempt_duration_seconds", "Duration of one delivery attempt",
        latency_buckets, sizeof latency_buckets / sizeof latency_buckets[0], "channel", NULL);
    for (int c = 0; c < NT_CHANNELS; c++) {
        const char *cn = baton_roster_channel_name((baton_roster_channel_t)c);
        for (int o = 0; o < NT_OUTCOMES; o++)
            m->deliveries[c][o] = baton_metrics_counter_child(deliv, cn, outcome_names[o]);
        m->attempts[c] = baton_metrics_counter_child(att, cn);
        m->latency[c] = baton_metrics_histogram_child(lat, cn);
        m->attempt_s[c] = baton_metrics_histogram_child(as, cn);
    }
    baton_metric_t *req = baton_metrics_counter(
        reg, "baton_notifier_requests_total",
        "Requests consumed from baton.notify.v1 (duplicate = already pending or finished)",
        "result", NULL);
    m->req_accepted = baton_metrics_counter_child(req, "accepted");
    m->req_duplicate = baton_metrics_counter_child(req, "duplicate");
    m->req_invalid = baton_metrics_counter_child(req, "invalid");
    m->dlq_fam = baton_metrics_counter(reg, "baton_notifier_dlq_total",
                                       "Dead letters written to baton.dlq.v1, by reason class",
                                       "reason", NULL);
    m->bundles = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_notifier_bundles_total", "Bundles sent (several notifications as one)", NULL));
    m->bundled = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_notifier_bundled_total", "Notifications sent inside a bundle", NULL));
    m->held = baton_metrics_counter_child(baton_metrics_counter(
        reg, "baton_notifier_held_total", "Notifications held by quiet hours", NULL));
    m->queue_depth = baton_metrics_gauge_child(
        baton_metrics_gauge(reg, "baton_notifier_retry_queue_depth",
                            "Notifications pending in the Redis schedule (due, leased, held, "
                            "waiting for a retry)",
                            NULL));
    m->inflight = baton_metrics_gauge_child(
        baton_metrics_gauge(reg, "baton_notifier_inflight",
                            "Deliveries in flight or waiting for an endpoint slot", NULL));
    m->outbox = baton_metrics_gauge_child(
        baton_metrics_gauge(reg, "baton_notifier_outbox_pending",
                            "Receipts and dead letters not yet acknowledged by Kafka", NULL));
    baton_metric_t *errs = baton_metrics_counter(reg, "baton_notifier_errors_total",
                                                 "Failed operations (retried)", "op", NULL);
    m->err_redis = baton_metrics_counter_child(errs, "redis");
    m->err_kafka = baton_metrics_counter_child(errs, "produce");
    m->err_commit = baton_metrics_counter_child(errs, "commit");
}

void nt_update_ready(nt_svc_t *s)
{
    if (s->consume_failed)
        baton_svc_set_ready(s->svc, false, "kafka consumer failed");
    else if (!s->kafka_ok)
        baton_svc_set_ready(s->svc, false, "kafka unreachable");
    else if (!s->redis_ok)
        baton_svc_set_ready(s->svc, false, "redis unreachable");
    else
        baton_svc_set_ready(s->svc, true, NULL);
}

int64_t nt_backoff_ms(const nt_cfg_t *cfg, int attempts)
{
    int64_t d = cfg->backoff_base_ms;
    for (int i = 1; i < attempts && d < cfg->backoff_max_ms; i++)
        d *= 2;
    if (d > cfg->backoff_max_ms)
        d = cfg->backoff_max_ms;
    int64_t half = d / 2;
    return d - half + (half > 0 ? (int64_t)(random() % (half + 1)) : 0);
}

/* Local minute of the day in zone tz (NULL = UTC). The TZ switch is process-wide: only the
 * delivery thread converts local times, and log timestamps are formatted in UTC. */
static int local_minute(const char *tz, int64_t now_ms, int *sec)
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    if (!tz || !*tz || strcmp(tz, "UTC") == 0) {
        gmtime_r(&t, &tm);
    } else {
        char *old = getenv("TZ") ? baton_xstrdup(getenv("TZ")) : NULL;
        setenv("TZ", tz, 1);
        tzset();
        localtime_r(&t, &tm);
        if (old)
            setenv("TZ", old, 1);
        else
            unsetenv("TZ");
        tzset();
        free(old);
    }
    *sec = tm.tm_sec;
    return tm.tm_hour * 60 + tm.tm_min;
}

int64_t nt_quiet_until(const baton_roster_person_t *p, int64_t now_ms)
{
    if (!p || !p->has_quiet_hours || p->quiet_start_min == p->quiet_end_min)
        return 0;
    int sec = 0;
    int m = local_minute(p->quiet_tz, now_ms, &sec);
    int st = p->quiet_start_min, en = p->quiet_end_min;
    bool in = st < en ? (m >= st && m < en) : (m >= st || m < en);
    if (!in)
        return 0;
    int left = ((en - m) + 1440) % 1440; /* whole minutes to the end minute */
    return now_ms - (now_ms % 1000) - (int64_t)sec * 1000 + (int64_t)left * 60000;
}

/* "scheme://host[:port]" of url, lower-case scheme; the path and userinfo dropped. */
static char *endpoint_name(const char *url)
{
    const char *p = strstr(url, "://");
    const char *host = p ? p + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    if (at)
        host = at + 1;
    baton_buf_t b = BATON_BUF_INIT;
    if (p)
        baton_buf_append(&b, url, (size_t)(p - url + 3));
    baton_buf_append(&b, host, (size_t)(end - host));
    return baton_buf_steal(&b);
}

/* BATON_NOTIFIER_ENDPOINT_LIMITS: "scheme://host:port=timeout_ms/concurrency,..." (either
 * number may be 0 = the default). */
static void endpoint_override(const nt_cfg_t *cfg, nt_endpoint_t *e)
{
    const char *spec = cfg->endpoint_limits;
    size_t nl = strlen(e->name);
    while (spec && *spec) {
        const char *item_end = spec + strcspn(spec, ",");
        const char *eq = memchr(spec, '=', (size_t)(item_end - spec));
        if (eq && (size_t)(eq - spec) == nl && strncmp(spec, e->name, nl) == 0) {
            long t = 0, c = 0;
            if (sscanf(eq + 1, "%ld/%ld", &t, &c) >= 1) {
                if (t > 0)
                    e->timeout_ms = (int)t;
                if (c > 0)
                    e->limit = (int)c;
            }
        }
        spec = *item_end ? item_end + 1 : item_end;
    }
}

nt_endpoint_t *nt_endpoint(nt_svc_t *s, const char *url)
{
    char *name = endpoint_name(url);
    for (nt_endpoint_t *e = s->endpoints; e; e = e->next)
        if (strcmp(e->name, name) == 0) {
            free(name);
            return e;
        }
    nt_endpoint_t *e = baton_xcalloc(1, sizeof *e);
    e->name = name;
    e->limit = (int)s->cfg->endpoint_concurrency;
    endpoint_override(s->cfg, e);
    e->next = s->endpoints;
    s->endpoints = e;
    return e;
}

/* The parts of an envelope the notifier derives from a request. */
static void derived_env(Baton__V1__Envelope *env, const Baton__V1__Envelope *req, char *id,
                        const char *type)
{
    int64_t now = baton_now_ms();
    env->id = id;
    env->type = (char *)type;
    env->tenant = req ? req->tenant : "";
    env->facility = req ? req->facility : "";
    env->unit = req ? req->unit : "";
    env->correlation_key = req ? req->correlation_key : "";
    env->occurred_at_ms = now;
    env->recorded_at_ms = now;
    env->causation_id = req ? req->id : "";
    env->producer = "notifier";
    env->traceparent = req ? req->traceparent : "";
    env->schema_version = 1;
}

static void out_fill(nt_out_t *out, const char *id, const char *topic,
                     const Baton__V1__Envelope *env)
{
    memset(out, 0, sizeof *out);
    out->field = baton_xstrdup(id);
    out->topic = baton_xstrdup(topic);
    baton_kafka_envelope_pack(env, &out->data, &out->len);
}

static const Baton__V1__DeliveryOutcome outcome_pb[NT_OUTCOMES] = {
    BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DELIVERED,
    BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_FAILED,
    BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DEAD_LETTERED,
    BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_SUPPRESSED};

/* Receipt ids: derived from the notification id, the outcome and the attempt count, so the
 * same outcome replayed after a crash has the same id. */
void nt_receipt(const nt_job_t *job, const char *channel, nt_outcome_t o, int attempts,
                const char *error, const char *bundle_id, nt_out_t *out)
{
    const Baton__V1__NotificationRequest *req = job->env->notification_request;
    char id[BATON_ID_LEN], purpose[64];
    snprintf(purpose, sizeof purpose, "receipt:%s:%d", outcome_names[o], attempts);
    baton_derived_id(job->id, purpose, id);
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    Baton__V1__NotificationReceipt r = BATON__V1__NOTIFICATION_RECEIPT__INIT;
    derived_env(&env, job->env, id, "notification.receipt");
    int64_t created = req->created_at_ms > 0 ? req->created_at_ms : job->accepted_ms;
    r.notification_id = job->id;
    r.person = req->person;
    r.channel = (char *)(channel ? channel : "");
    r.outcome = outcome_pb[o];
    r.attempts = attempts;
    r.latency_ms = created > 0 ? env.recorded_at_ms - created : 0;
    if (r.latency_ms < 0)
        r.latency_ms = 0;
    r.error = (char *)(error ? error : "");
    r.bundle_id = (char *)(bundle_id ? bundle_id : "");
    r.instance_id = req->instance_id;
    r.task_id = req->task_id;
    env.body_case = BATON__V1__ENVELOPE__BODY_NOTIFICATION_RECEIPT;
    env.notification_receipt = &r;
    out_fill(out, id, BATON_TOPIC_LIFECYCLE, &env);
}

void nt_dead_letter(const nt_job_t *job, const char *reason, int attempts, const void *key,
                    size_t key_len, const void *value, size_t value_len, const char *ref,
                    nt_out_t *out)
{
    char id[BATON_ID_LEN];
    baton_derived_id(job ? job->id : ref, "dead_letter", id);
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    Baton__V1__DeadLetter dl = BATON__V1__DEAD_LETTER__INIT;
    derived_env(&env, job ? job->env : NULL, id, "dead_letter");
    char *kcopy = key ? baton_xstrndup(key, key_len) : NULL;
    if (!job && kcopy)
        env.correlation_key = kcopy;
    dl.original_topic = BATON_TOPIC_NOTIFY;
    dl.original_key = job ? job->env->correlation_key : (kcopy ? kcopy : "");
    dl.original_event_id = job ? job->env->id : "";
    dl.reason = (char *)reason;
    dl.attempts = attempts;
    dl.payload.data = (uint8_t *)(job ? job->raw : value);
    dl.payload.len = job ? job->raw_len : value_len;
    env.body_case = BATON__V1__ENVELOPE__BODY_DEAD_LETTER;
    env.dead_letter = &dl;
    out_fill(out, id, BATON_TOPIC_DLQ, &env);
    free(kcopy);
}

void nt_out_free(nt_out_t *o)
{
    while (o) {
        nt_out_t *n = o->next;
        free(o->field);
        free(o->topic);
        free(o->data);
        free(o);
        o = n;
    }
}

void nt_job_free(nt_job_t *j)
{
    while (j) {
        nt_job_t *n = j->next;
        free(j->id);
        free(j->raw);
        baton_kafka_envelope_free(j->env);
        free(j);
        j = n;
    }
}

/* ---- the in-flight id set: open addressing, linear probing, tombstones ----
 * A lookup of an id that is not there probes until an empty slot, so tombstones (deleted
 * slots) must not pile up: under a steady stream the set is never empty, and with tombstones
 * kept until it was, every miss came to scan the whole table. The table is rebuilt without
 * them once they fill a quarter of it. */

static char tomb[1];

static size_t slot_hash(const char *id, size_t cap)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h & (cap - 1));
}

/* The slot holding id, or cap when it is not there. */
static size_t inflight_find(const nt_svc_t *s, const char *id)
{
    for (size_t i = slot_hash(id, s->inflight_cap), k = 0; k < s->inflight_cap;
         k++, i = (i + 1) & (s->inflight_cap - 1)) {
        char *e = s->inflight_ids[i];
        if (!e)
            break;
        if (e != tomb && strcmp(e, id) == 0)
            return i;
    }
    return s->inflight_cap;
}

bool nt_inflight_has(nt_svc_t *s, const char *id)
{
    return s->inflight_cap && inflight_find(s, id) < s->inflight_cap;
}

/* Put the (owned) id in the first free or deleted slot of its probe sequence. */
static void inflight_put(nt_svc_t *s, char *id)
{
    for (size_t i = slot_hash(id, s->inflight_cap);; i = (i + 1) & (s->inflight_cap - 1)) {
        if (!s->inflight_ids[i] || s->inflight_ids[i] == tomb) {
            if (s->inflight_ids[i] == tomb)
                s->inflight_tombs--;
            s->inflight_ids[i] = id;
            s->inflight_n++;
            return;
        }
    }
}

void nt_inflight_add(nt_svc_t *s, const char *id)
{
    if (!s->inflight_cap) {
        size_t cap = 64;
        while (cap < (size_t)s->cfg->max_inflight * 4)
            cap *= 2;
        s->inflight_cap = cap;
        s->inflight_ids = baton_xcalloc(cap, sizeof *s->inflight_ids);
    }
    inflight_put(s, baton_xstrdup(id));
}

/* Rebuild the table without its tombstones (the live ids move over). */
static void inflight_rehash(nt_svc_t *s)
{
    char **old = s->inflight_ids;
    s->inflight_ids = baton_xcalloc(s->inflight_cap, sizeof *s->inflight_ids);
    s->inflight_n = s->inflight_tombs = 0;
    for (size_t i = 0; i < s->inflight_cap; i++)
        if (old[i] && old[i] != tomb)
            inflight_put(s, old[i]);
    free(old);
}

void nt_inflight_del(nt_svc_t *s, const char *id)
{
    if (!s->inflight_cap)
        return;
    size_t i = inflight_find(s, id);
    if (i == s->inflight_cap)
        return;
    free(s->inflight_ids[i]);
    s->inflight_ids[i] = tomb;
    s->inflight_tombs++;
    if (--s->inflight_n == 0) { /* empty: drop the tombstones */
        memset(s->inflight_ids, 0, s->inflight_cap * sizeof *s->inflight_ids);
        s->inflight_tombs = 0;
    } else if (s->inflight_tombs > s->inflight_cap / 4) {
        inflight_rehash(s);
    }
}

void nt_inflight_clear(nt_svc_t *s)
{
    for (size_t i = 0; i < s->inflight_cap; i++)
        if (s->inflight_ids[i] && s->inflight_ids[i] != tomb)
            free(s->inflight_ids[i]);
    free(s->inflight_ids);
    s->inflight_ids = NULL;
    s->inflight_cap = s->inflight_n = s->inflight_tombs = 0;
}
