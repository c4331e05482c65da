/* rt.c — see rt.h. */
#include "rt.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "baton/roster.h"
#include "test.h"

/* and baton.inbound.v1: the test's own inputs, and clinical events the router re-keyed */
static const char *const out_topics[] = {BATON_TOPIC_LIFECYCLE, BATON_TOPIC_NOTIFY,
                                         BATON_TOPIC_TIMERS, BATON_TOPIC_DLQ, BATON_TOPIC_INBOUND};
#define NTOPICS 5

struct rt_reader {
    rd_kafka_t *rk;
    struct {
        rt_msg_t *v;
        size_t n, cap;
    } t[NTOPICS];
};

static rt_reader_t *reader_new(const char *bootstrap)
{
    char errstr[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(c, "group.id", "rt-reader", errstr, sizeof errstr);
    rd_kafka_conf_set(c, "enable.auto.commit", "false", errstr, sizeof errstr);
    rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof errstr);
    rt_reader_t *r = baton_xcalloc(1, sizeof(*r));
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr);
    if (!r->rk)
        TEST_FAIL("reader: %s", errstr);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < NTOPICS; i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, out_topics[i], NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(r->rk, 0, rkt, &md, 10000);
        if (e || md->topic_cnt != 1 || md->topics[0].partition_cnt < 1)
            TEST_FAIL("reader: metadata of %s: %s", out_topics[i], rd_kafka_err2str(e));
        for (int p = 0; p < md->topics[0].partition_cnt; p++)
            rd_kafka_topic_partition_list_add(l, out_topics[i], p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    ASSERT_EQ_INT(rd_kafka_assign(r->rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    return r;
}

static void reader_take(rt_reader_t *r, rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    int ti = 0;
    while (ti < NTOPICS && strcmp(out_topics[ti], topic) != 0)
        ti++;
    ASSERT_TRUE(ti < NTOPICS);
    char err[128];
    Baton__V1__Envelope *env = baton_kafka_envelope_unpack(m->payload, m->len, err, sizeof err);
    if (!env && strcmp(topic, BATON_TOPIC_INBOUND) == 0)
        return; /* a test's deliberately broken input */
    if (!env)
        TEST_FAIL("%s offset %lld is not an envelope: %s", topic, (long long)m->offset, err);
    if (r->t[ti].n == r->t[ti].cap) {
        r->t[ti].cap = r->t[ti].cap ? r->t[ti].cap * 2 : 256;
        r->t[ti].v = baton_xrealloc(r->t[ti].v, r->t[ti].cap * sizeof(rt_msg_t));
    }
    rt_msg_t *x = &r->t[ti].v[r->t[ti].n++];
    x->topic = (char *)out_topics[ti];
    x->partition = m->partition;
    x->offset = m->offset;
    x->env = env;
    x->raw = baton_xmalloc(m->len ? m->len : 1);
    memcpy(x->raw, m->payload, m->len);
    x->raw_len = m->len;
}

void rt_pump(rt_t *t, int ms)
{
    int64_t until = baton_mono_ms() + ms;
    for (;;) {
        int64_t rem = until - baton_mono_ms();
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->reader->rk, rem > 0 ? (int)rem : 0);
        if (!m) {
            if (rem <= 0)
                return;
            continue;
        }
        if (!m->err)
            reader_take(t->reader, m);
        rd_kafka_message_destroy(m);
    }
}

static int topic_index(const char *topic)
{
    for (int i = 0; i < NTOPICS; i++)
        if (strcmp(out_topics[i], topic) == 0)
            return i;
    TEST_FAIL("unknown topic %s", topic);
    return -1;
}

rt_msg_t *rt_msgs(rt_t *t, const char *topic, size_t *n)
{
    int i = topic_index(topic);
    *n = t->reader->t[i].n;
    return t->reader->t[i].v;
}

size_t rt_count(rt_t *t, const char *topic, const char *type)
{
    size_t n, k = 0;
    rt_msg_t *v = rt_msgs(t, topic, &n);
    for (size_t i = 0; i < n; i++)
        k += !type || strcmp(v[i].env->type, type) == 0;
    return k;
}

int rt_wait(rt_t *t, const char *topic, const char *type, size_t n, int timeout_ms)
{
    int64_t until = baton_mono_ms() + timeout_ms;
    while (rt_count(t, topic, type) < n) {
        if (baton_mono_ms() > until)
            return BATON_ETIMEDOUT;
        rt_pump(t, 50);
    }
    return 0;
}

static int msg_cmp(const void *a, const void *b)
{
    const rt_msg_t *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

char *rt_types(rt_t *t, const char *topic, const char *key)
{
    size_t n;
    rt_msg_t *v = rt_msgs(t, topic, &n);
    rt_msg_t *sel = baton_xcalloc(n + 1, sizeof(*sel));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!key || strcmp(v[i].env->correlation_key, key) == 0)
            sel[k++] = v[i];
    qsort(sel, k, sizeof(*sel), msg_cmp); /* one key: one partition */
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "");
    for (size_t i = 0; i < k; i++)
        baton_buf_appendf(&b, "%s%s", i ? " " : "", sel[i].env->type);
    free(sel);
    return baton_buf_steal(&b);
}

static const char *stage_of(const Baton__V1__Envelope *e)
{
    switch (e->body_case) {
    case BATON__V1__ENVELOPE__BODY_TASK_ASSIGNED:
        return e->task_assigned->task->stage;
    case BATON__V1__ENVELOPE__BODY_TASK_ACKNOWLEDGED:
        return e->task_acknowledged->task->stage;
    case BATON__V1__ENVELOPE__BODY_TASK_COMPLETED:
        return e->task_completed->task->stage;
    case BATON__V1__ENVELOPE__BODY_TASK_DECLINED:
        return e->task_declined->task->stage;
    case BATON__V1__ENVELOPE__BODY_TASK_REASSIGNED:
        return e->task_reassigned->task->stage;
    case BATON__V1__ENVELOPE__BODY_TASK_ESCALATED:
        return e->task_escalated->task->stage;
    case BATON__V1__ENVELOPE__BODY_TASK_CANCELLED:
        return e->task_cancelled->task->stage;
    case BATON__V1__ENVELOPE__BODY_TASK_SKIPPED:
        return e->task_skipped->task->stage;
    case BATON__V1__ENVELOPE__BODY_TASK_DEADLINE_MISSED:
        return e->task_deadline_missed->task->stage;
    case BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST:
        return e->notification_request->stage;
    case BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE:
        return e->timer_schedule->fire ? e->timer_schedule->fire->purpose : "";
    default:
        return "";
    }
}

const Baton__V1__Envelope *rt_find(rt_t *t, const char *topic, const char *type, const char *stage,
                                   size_t nth)
{
    size_t n;
    rt_msg_t *v = rt_msgs(t, topic, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].env->type, type) == 0 && (!stage || strcmp(stage_of(v[i].env), stage) == 0))
            if (nth-- == 0)
                return v[i].env;
    TEST_FAIL("no %s #%zu of type %s (stage %s) on %s", type, nth, type, stage ? stage : "*",
              topic);
    return NULL;
}

/* ---------------------------------------------------------------- processes */

void rt_init(rt_t *t, const char *pathways)
{
    memset(t, 0, sizeof(*t));
    baton_strlcpy(t->pathways, pathways, sizeof t->pathways);
    ASSERT_EQ_INT(harness_redis_start(&t->redis), 0);
    ASSERT_EQ_INT(harness_devkafka_start(&t->kafka), 0);
    char err[256];
    t->rc = baton_redis_new(t->redis.url, NULL, err, sizeof err);
    if (!t->rc)
        TEST_FAIL("redis: %s", err);
    t->kconf = baton_kafka_conf_new(t->kafka.bootstrap);
    t->prod = baton_kafka_producer_new(t->kconf, err, sizeof err);
    if (!t->prod)
        TEST_FAIL("producer: %s", err);
    t->reader = reader_new(t->kafka.bootstrap);
}

void rt_free(rt_t *t)
{
    if (t->router)
        rt_router_stop(t);
    rt_reader_t *r = t->reader;
    if (!r)
        return;
    rd_kafka_destroy(r->rk);
    for (int i = 0; i < NTOPICS; i++) {
        for (size_t j = 0; j < r->t[i].n; j++) {
            baton_kafka_envelope_free(r->t[i].v[j].env);
            free(r->t[i].v[j].raw);
        }
        free(r->t[i].v);
    }
    free(r);
    t->reader = NULL;
    baton_kafka_producer_free(t->prod, 1000);
    baton_kafka_conf_free(t->kconf);
    baton_redis_free(t->rc);
    harness_redis_stop(&t->redis);
    harness_devkafka_stop(&t->kafka);
}

void rt_router_start(rt_t *t)
{
    t->ops_port = harness_free_port();
    char *env[32];
    int n = 0;
    env[n++] = baton_xasprintf("BATON_KAFKA_BOOTSTRAP=%s", t->kafka.bootstrap);
    env[n++] = baton_xasprintf("BATON_REDIS_URL=%s", t->redis.url);
    env[n++] = baton_xasprintf("BATON_PATHWAYS_DIR=%s", t->pathways);
    env[n++] = baton_xasprintf("BATON_OPS_PORT=%d", t->ops_port);
    env[n++] = baton_xstrdup("BATON_OPS_BIND=127.0.0.1");
    env[n++] = baton_xstrdup("BATON_KAFKA_SESSION_TIMEOUT_MS=6000");
    env[n++] = baton_xstrdup("BATON_KAFKA_MAX_POLL_INTERVAL_MS=10000");
    for (int i = 0; i < 8 && t->extra_env[i]; i++)
        env[n++] = baton_xstrdup(t->extra_env[i]);
    env[n] = NULL;
    char *bin = harness_bin_path("baton-router");
    char *log = baton_xasprintf("%s/router-%d.log", harness_tmpdir(), ++t->nrouter_starts);
    char *const argv[] = {bin, NULL};
    t->router = harness_spawn("router", argv, env, log);
    ASSERT_TRUE(t->router > 0);
    if (harness_wait_http_ok(t->ops_port, "/readyz", 20000) != 0) {
        harness_log_tail(log, 30);
        TEST_FAIL("router not ready");
    }
    for (int i = 0; i < n; i++)
        free(env[i]);
    free(bin);
    free(log);
}

void rt_router_kill(rt_t *t)
{
    ASSERT_EQ_INT(harness_kill(t->router, SIGKILL), 0);
    harness_wait_exit(t->router, 5000, NULL);
    t->router = 0;
}

void rt_router_stop(rt_t *t)
{
    int status = 0;
    ASSERT_EQ_INT(harness_kill(t->router, SIGTERM), 0);
    ASSERT_EQ_INT(harness_wait_exit(t->router, 20000, &status), 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
    t->router = 0;
}

char *rt_metrics(rt_t *t)
{
    int status = 0;
    char *body = NULL;
    ASSERT_EQ_INT(harness_http_get(t->ops_port, "/metrics", &status, &body), 0);
    ASSERT_EQ_INT(status, 200);
    return body;
}

/* ---------------------------------------------------------------- rosters */

void rt_shift(rt_t *t, const char *role, const char *unit, const char *person, int tier,
              int64_t start, int64_t end)
{
    char s[32], e[32];
    baton_time_format(start ? start : T0 - 60 * MIN, s, sizeof s);
    baton_time_format(end ? end : T0 + 12 * 60 * MIN, e, sizeof e);
    char *json = baton_xasprintf("[{\"tenant\":\"%s\",\"facility\":\"%s\",%s%s%s\"role\":\"%s\","
                                 "\"person\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"tier\":%d}]",
                                 TENANT, FACILITY, *unit ? "\"unit\":\"" : "", unit,
                                 *unit ? "\"," : "", role, person, s, e, tier);
    baton_roster_shifts_t shifts = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t errs = BATON_ROSTER_ERRORS_INIT;
    int rc = baton_roster_shifts_parse_json(json, strlen(json), TENANT, &shifts, &errs);
    if (rc)
        TEST_FAIL("shift: %s", errs.n ? errs.v[0].detail : "?");
    char err[256];
    rc = baton_roster_shifts_put(t->rc, &shifts, 0, err, sizeof err);
    if (rc)
        TEST_FAIL("shift put: %s", err);
    baton_roster_shifts_free(&shifts);
    baton_roster_errors_free(&errs);
    free(json);
}

/* ---------------------------------------------------------------- inputs */

static Baton__V1__Envelope *envelope(const char *id, const char *type, int64_t at,
                                     const char *encounter)
{
    Baton__V1__Envelope *e = baton_xmalloc(sizeof(*e));
    baton__v1__envelope__init(e);
    e->id = baton_xstrdup(id);
    e->type = baton_xstrdup(type);
    e->tenant = baton_xstrdup(TENANT);
    e->facility = baton_xstrdup(FACILITY);
    e->unit = baton_xstrdup(UNIT);
    e->correlation_key = baton_xasprintf("%s/%s", TENANT, encounter);
    e->occurred_at_ms = at - 1000;
    e->recorded_at_ms = at;
    e->producer = baton_xstrdup("ingest");
    e->schema_version = 1;
    return e;
}

static Baton__V1__Envelope *clinical_v(const char *id, const char *type, int64_t at,
                                       const char *encounter, va_list ap)
{
    Baton__V1__Envelope *e = envelope(id, type, at, encounter);
    Baton__V1__ClinicalEvent *c = baton_xmalloc(sizeof(*c));
    baton__v1__clinical_event__init(c);
    c->event_type = baton_xstrdup(type);
    c->patient = baton_xasprintf("P-%s", encounter);
    c->encounter = baton_xstrdup(encounter);
    c->source = baton_xstrdup("json");
    const char *kv;
    while ((kv = va_arg(ap, const char *))) {
        const char *eq = strchr(kv, '=');
        Baton__V1__ClinicalEvent__AttributesEntry *a = baton_xmalloc(sizeof(*a));
        baton__v1__clinical_event__attributes_entry__init(a);
        a->key = baton_xstrndup(kv, (size_t)(eq - kv));
        a->value = baton_xstrdup(eq + 1);
        c->attributes = baton_xrealloc(c->attributes, (c->n_attributes + 1) * sizeof(a));
        c->attributes[c->n_attributes++] = a;
    }
    e->body_case = BATON__V1__ENVELOPE__BODY_CLINICAL;
    e->clinical = c;
    return e;
}

Baton__V1__Envelope *rt_clinical_env(const char *id, const char *type, int64_t at,
                                     const char *encounter, ...)
{
    va_list ap;
    va_start(ap, encounter);
    Baton__V1__Envelope *e = clinical_v(id, type, at, encounter, ap);
    va_end(ap);
    return e;
}

void rt_clinical(rt_t *t, const char *id, const char *type, int64_t at, const char *encounter, ...)
{
    va_list ap;
    va_start(ap, encounter);
    Baton__V1__Envelope *e = clinical_v(id, type, at, encounter, ap);
    va_end(ap);
    rt_send(t, e);
}

Baton__V1__Envelope *rt_staff_env(const char *id, int64_t at, const char *encounter,
                                  const char *instance_id, const char *task_id,
                                  Baton__V1__Action action, const char *actor, const char *roles,
                                  const char *to)
{
    Baton__V1__Envelope *e = envelope(id, "staff.action", at, encounter);
    Baton__V1__StaffAction *a = baton_xmalloc(sizeof(*a));
    baton__v1__staff_action__init(a);
    a->task_id = baton_xstrdup(task_id);
    a->instance_id = baton_xstrdup(instance_id);
    a->action = action;
    a->actor = baton_xstrdup(actor);
    char *copy = baton_xstrdup(roles ? roles : ""), *save = NULL;
    for (char *r = strtok_r(copy, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        a->actor_roles = baton_xrealloc(a->actor_roles, (a->n_actor_roles + 1) * sizeof(char *));
        a->actor_roles[a->n_actor_roles++] = baton_xstrdup(r);
    }
    free(copy);
    a->to_person = baton_xstrdup(to ? to : "");
    e->body_case = BATON__V1__ENVELOPE__BODY_STAFF_ACTION;
    e->staff_action = a;
    return e;
}

void rt_staff(rt_t *t, const char *id, int64_t at, const char *encounter, const char *instance_id,
              const char *task_id, Baton__V1__Action action, const char *actor, const char *roles)
{
    rt_send(t, rt_staff_env(id, at, encounter, instance_id, task_id, action, actor, roles, NULL));
}

void rt_fire(rt_t *t, const Baton__V1__Envelope *sch, int64_t fired_at)
{
    ASSERT_EQ_INT(sch->body_case, BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE);
    const Baton__V1__TimerSchedule *ts = sch->timer_schedule;
    char id[BATON_ID_LEN];
    char *purpose = baton_xasprintf("fired:%lld", (long long)fired_at);
    baton_derived_id(ts->timer_id, purpose, id);
    free(purpose);
    Baton__V1__Envelope *e = baton_xmalloc(sizeof(*e));
    baton__v1__envelope__init(e);
    e->id = baton_xstrdup(id);
    e->type = baton_xstrdup("timer.fired");
    e->tenant = baton_xstrdup(sch->tenant);
    e->facility = baton_xstrdup(sch->facility);
    e->unit = baton_xstrdup(sch->unit);
    e->correlation_key = baton_xstrdup(sch->correlation_key);
    e->occurred_at_ms = e->recorded_at_ms = fired_at;
    e->causation_id = baton_xstrdup(sch->id);
    e->producer = baton_xstrdup("timer");
    e->schema_version = 1;
    size_t len = baton__v1__timer_fired__get_packed_size(ts->fire);
    uint8_t *buf = baton_xmalloc(len + 1);
    baton__v1__timer_fired__pack(ts->fire, buf);
    e->timer_fired = baton__v1__timer_fired__unpack(NULL, len, buf);
    free(buf);
    e->timer_fired->fired_at_ms = fired_at;
    e->body_case = BATON__V1__ENVELOPE__BODY_TIMER_FIRED;
    rt_send(t, e);
}

void rt_send(rt_t *t, Baton__V1__Envelope *e)
{
    char err[256];
    if (baton_kafka_produce_envelope(t->prod, BATON_TOPIC_INBOUND, e, 10000, err, sizeof err))
        TEST_FAIL("produce: %s", err);
    baton_kafka_envelope_free(e);
}

void rt_send_raw(rt_t *t, const char *key, const void *value, size_t len)
{
    char err[256];
    baton_kafka_record_t rec = {BATON_TOPIC_INBOUND, key, strlen(key), value, len, NULL, 0};
    if (baton_kafka_produce_sync(t->prod, &rec, 10000, err, sizeof err))
        TEST_FAIL("produce: %s", err);
}

/* ---------------------------------------------------------------- Redis */

char *rt_get(rt_t *t, const char *key)
{
    redisReply *r = NULL;
    ASSERT_EQ_INT(baton_redis_command(t->rc, &r, "GET %s", key), 0);
    char *v = r->type == REDIS_REPLY_STRING ? baton_xstrndup(r->str, r->len) : NULL;
    freeReplyObject(r);
    return v;
}

Baton__V1__InstanceState *rt_state(rt_t *t, const char *instance_id)
{
    redisReply *r = NULL;
    ASSERT_EQ_INT(baton_redis_command(t->rc, &r, "GET baton:inst:%s", instance_id), 0);
    Baton__V1__InstanceState *s = r->type == REDIS_REPLY_STRING
                                      ? baton_pathway_state_unpack((uint8_t *)r->str, r->len)
                                      : NULL;
    freeReplyObject(r);
    return s;
}

void rt_send_many(rt_t *t, Baton__V1__Envelope **e, size_t n)
{
    char err[256];
    baton_kafka_envelope_out_t *o = baton_xcalloc(n ? n : 1, sizeof(*o));
    for (size_t i = 0; i < n; i++)
        o[i] = (baton_kafka_envelope_out_t){BATON_TOPIC_INBOUND, e[i]};
    if (baton_kafka_produce_envelopes(t->prod, o, n, 30000, err, sizeof err))
        TEST_FAIL("produce: %s", err);
    free(o);
}
