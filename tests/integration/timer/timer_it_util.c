/* Helpers of the baton-timer integration cases (see timer_it_util.h). */
#include "timer_it_util.h"

#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIT_PARTITIONS 4 /* baton-devkafka's default for baton.timers.v1 */

void tit_env_start(tit_env_t *e)
{
    memset(e, 0, sizeof *e);
    char err[256] = "";
    if (harness_servers_start(&e->redis, &e->kafka, err, sizeof err) != 0)
        TEST_FAIL("%s", err);
    const char *topics[] = {BATON_TOPIC_INBOUND};
    if (harness_kafka_io_start(&e->io, e->kafka.bootstrap, "timer-it", topics, 1, err,
                               sizeof err) != 0)
        TEST_FAIL("%s", err);
}

void tit_env_stop(tit_env_t *e)
{
    harness_kafka_io_stop(&e->io);
}

void tit_svc_start(tit_env_t *e, tit_svc_t *s, const char *name, bool wait_assigned)
{
    s->ops_port = harness_free_port();
    ASSERT_TRUE(s->ops_port > 0);
    char *bin = harness_bin_path("baton-timer");
    char *vars[] = {
        baton_xasprintf("BATON_KAFKA_BOOTSTRAP=%s", e->kafka.bootstrap),
        baton_xasprintf("BATON_REDIS_URL=%s", e->redis.url),
        baton_xasprintf("BATON_OPS_PORT=%d", s->ops_port),
        baton_xstrdup("BATON_OPS_BIND=127.0.0.1"),
        baton_xstrdup("BATON_KAFKA_SESSION_TIMEOUT_MS=6000"),
        baton_xstrdup("BATON_KAFKA_MAX_POLL_INTERVAL_MS=10000"),
        baton_xstrdup("BATON_KAFKA_HEARTBEAT_INTERVAL_MS=500"),
        baton_xstrdup("BATON_TIMER_LATE_MS=1000"),
        /* TIT_LOG_LEVEL=debug (with BATON_KAFKA_DEBUG=...) to look inside a failing case */
        baton_xasprintf("BATON_LOG_LEVEL=%s",
                        getenv("TIT_LOG_LEVEL") ? getenv("TIT_LOG_LEVEL") : "info"),
        NULL};
    char *const argv[] = {bin, NULL};
    s->pid = harness_spawn(name, argv, vars, NULL);
    for (char **v = vars; *v; v++)
        free(*v);
    free(bin);
    ASSERT_TRUE(s->pid > 0);
    if (harness_wait_http_ok(s->ops_port, "/readyz", 15000) != 0) {
        harness_log_tail(harness_log_path(s->pid), 30);
        TEST_FAIL("baton-timer (%s) did not become ready", name);
    }
    if (!wait_assigned)
        return;
    /* assigned: the pending gauge of some partition exists */
    int64_t deadline = baton_mono_ms() + 15000;
    while (baton_mono_ms() < deadline) {
        int status = 0;
        char *body = NULL;
        if (harness_http_get(s->ops_port, "/metrics", &status, &body) == 0 && body &&
            strstr(body, "baton_timer_pending{partition=")) {
            free(body);
            return;
        }
        free(body);
        usleep(100000);
    }
    harness_log_tail(harness_log_path(s->pid), 30);
    TEST_FAIL("baton-timer (%s) got no partitions", name);
}

void tit_schedule(tit_env_t *e, tit_sched_t *s, size_t n)
{
    Baton__V1__Envelope *envs = baton_xcalloc(n, sizeof *envs);
    Baton__V1__TimerSchedule *ts = baton_xcalloc(n, sizeof *ts);
    Baton__V1__TimerFired *tf = baton_xcalloc(n, sizeof *tf);
    baton_kafka_envelope_out_t *outs = baton_xcalloc(n, sizeof *outs);
    for (size_t i = 0; i < n; i++) {
        baton__v1__envelope__init(&envs[i]);
        baton__v1__timer_schedule__init(&ts[i]);
        baton__v1__timer_fired__init(&tf[i]);
        baton_uuidv7(s[i].env_id);
        tf[i].instance_id = "inst-1";
        tf[i].task_id = "task-1";
        tf[i].purpose = (char *)(s[i].purpose ? s[i].purpose : "ack_deadline");
        tf[i].step = 2;
        ts[i].timer_id = (char *)s[i].timer_id;
        ts[i].due_at_ms = s[i].due_at_ms;
        ts[i].fire = &tf[i];
        envs[i].id = s[i].env_id;
        envs[i].type = "timer.schedule";
        envs[i].tenant = "t1";
        envs[i].facility = "f1";
        envs[i].unit = "u1";
        envs[i].correlation_key = (char *)s[i].key;
        envs[i].producer = "router";
        envs[i].schema_version = 1;
        envs[i].body_case = BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE;
        envs[i].timer_schedule = &ts[i];
        outs[i] = (baton_kafka_envelope_out_t){BATON_TOPIC_TIMERS, &envs[i]};
    }
    char err[256] = "";
    int rc = baton_kafka_produce_envelopes(e->io.producer, outs, n, 10000, err, sizeof err);
    if (rc != 0)
        TEST_FAIL("producing schedules: %s", err);
    free(envs);
    free(ts);
    free(tf);
    free(outs);
}

void tit_cancel(tit_env_t *e, const char *const *ids, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
        Baton__V1__TimerCancel tc = BATON__V1__TIMER_CANCEL__INIT;
        char id[BATON_ID_LEN];
        baton_uuidv7(id);
        tc.timer_id = (char *)ids[i];
        env.id = id;
        env.type = "timer.cancel";
        env.tenant = "t1";
        env.correlation_key = (char *)keys[i];
        env.producer = "router";
        env.schema_version = 1;
        env.body_case = BATON__V1__ENVELOPE__BODY_TIMER_CANCEL;
        env.timer_cancel = &tc;
        char err[256] = "";
        int rc = baton_kafka_produce_envelope(e->io.producer, BATON_TOPIC_TIMERS, &env, 10000, err,
                                              sizeof err);
        if (rc != 0)
            TEST_FAIL("producing a cancel: %s", err);
    }
}

static void record(tit_fired_list_t *l, const baton_kafka_message_t *m)
{
    char err[128];
    Baton__V1__Envelope *env = baton_kafka_envelope_unpack(m->value, m->value_len, err, sizeof err);
    ASSERT_NOT_NULL(env);
    if (env->body_case == BATON__V1__ENVELOPE__BODY_TIMER_FIRED && l->n < TIT_MAX_FIRED) {
        tit_fired_t *f = &l->f[l->n++];
        const Baton__V1__TimerFired *tf = env->timer_fired;
        ASSERT_EQ_STR(env->type, "timer.fired");
        ASSERT_EQ_STR(env->producer, "timer");
        ASSERT_EQ_INT(env->schema_version, 1);
        baton_strlcpy(f->timer_id, tf->timer_id, sizeof f->timer_id);
        baton_strlcpy(f->id, env->id, sizeof f->id);
        baton_strlcpy(f->causation_id, env->causation_id, sizeof f->causation_id);
        baton_strlcpy(f->key, env->correlation_key, sizeof f->key);
        baton_strlcpy(f->purpose, tf->purpose, sizeof f->purpose);
        baton_strlcpy(f->instance_id, tf->instance_id, sizeof f->instance_id);
        f->due_at_ms = tf->due_at_ms;
        f->fired_at_ms = tf->fired_at_ms;
        f->late = tf->late;
        f->step = tf->step;
        f->recv_ms = baton_now_ms();
        /* the Kafka key is the correlation key, so the instance's partition gets it */
        ASSERT_EQ_INT(m->key_len, strlen(env->correlation_key));
        ASSERT_TRUE(memcmp(m->key, env->correlation_key, m->key_len) == 0);
    }
    baton_kafka_envelope_free(env);
}

static void poll_once(tit_env_t *e, tit_fired_list_t *l, int timeout_ms)
{
    baton_kafka_message_t msgs[64];
    int n = baton_kafka_consumer_poll(e->io.reader, msgs, 64, timeout_ms);
    ASSERT_TRUE(n >= 0);
    for (int i = 0; i < n; i++)
        record(l, &msgs[i]);
    baton_kafka_messages_release(msgs, (size_t)n);
}

void tit_collect(tit_env_t *e, tit_fired_list_t *l, int want, int64_t deadline_ms)
{
    while (l->n < want && baton_mono_ms() < deadline_ms)
        poll_once(e, l, 20);
}

void tit_drain(tit_env_t *e, tit_fired_list_t *l, int duration_ms)
{
    int64_t end = baton_mono_ms() + duration_ms;
    while (baton_mono_ms() < end)
        poll_once(e, l, 20);
}

int tit_count(const tit_fired_list_t *l, const char *timer_id)
{
    int n = 0;
    for (int i = 0; i < l->n; i++)
        n += strcmp(l->f[i].timer_id, timer_id) == 0;
    return n;
}

const tit_fired_t *tit_find(const tit_fired_list_t *l, const char *timer_id)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->f[i].timer_id, timer_id) == 0)
            return &l->f[i];
    return NULL;
}

double tit_metric(const tit_svc_t *s, const char *series)
{
    return harness_metric(s->ops_port, series);
}

long long tit_redis_pending(tit_env_t *e)
{
    char err[256] = "";
    baton_redis_t *r = baton_redis_new(e->redis.url, NULL, err, sizeof err);
    if (!r)
        TEST_FAIL("redis: %s", err);
    long long total = 0;
    for (int p = 0; p < TIT_PARTITIONS; p++) {
        redisReply *rep = NULL;
        char key[96];
        snprintf(key, sizeof key, "baton:timer:{%s:%d}:due", BATON_TOPIC_TIMERS, p);
        ASSERT_EQ_INT(baton_redis_command(r, &rep, "ZCARD %s", key), 0);
        total += rep->integer;
        freeReplyObject(rep);
        snprintf(key, sizeof key, "baton:timer:{%s:%d}:fire", BATON_TOPIC_TIMERS, p);
        ASSERT_EQ_INT(baton_redis_command(r, &rep, "HLEN %s", key), 0);
        total += rep->integer; /* bodies and due entries always go together */
        freeReplyObject(rep);
    }
    baton_redis_free(r);
    return total / 2;
}

int tit_wait_pending(tit_env_t *e, long long want, int timeout_ms)
{
    int64_t deadline = baton_mono_ms() + timeout_ms;
    while (baton_mono_ms() < deadline) {
        if (tit_redis_pending(e) == want)
            return 0;
        usleep(50000);
    }
    return BATON_ETIMEDOUT;
}
