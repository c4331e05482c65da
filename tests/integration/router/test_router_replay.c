/* test_router_replay.c — a router killed with SIGKILL in the middle of its work and restarted
 * produces, as a set, exactly the events of a fault-free run (an id may appear twice on a
 * topic, with identical bytes, never with different content), loses none, and leaves exactly
 * the fault-free run's instance states in Redis. */
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "test.h"

#define PATHWAYS BATON_SOURCE_DIR "/pathways"
#define NENC 400
#define STEPS 6

typedef struct {
    char **ids;
    uint8_t **raw;
    size_t *len;
    size_t n;
} idset_t;

typedef struct {
    idset_t topics[3]; /* lifecycle, notify, timers: distinct ids */
    size_t total[3];   /* messages seen, duplicates included */
    idset_t states;    /* baton:inst:<id> → bytes */
    size_t lifecycle_at_kill;
} result_t;

static const char *const topics[3] = {BATON_TOPIC_LIFECYCLE, BATON_TOPIC_NOTIFY,
                                      BATON_TOPIC_TIMERS};

/* Every input of the run, in production order: step-major, so one batch holds many keys and
 * every key's inputs stay in order. Task ids are derived the way the router derives them. */
static Baton__V1__Envelope **make_inputs(size_t *n)
{
    Baton__V1__Envelope **v = baton_xcalloc(NENC * STEPS, sizeof(*v));
    size_t k = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int e = 0; e < NENC; e++) {
            char enc[16], trig[32], id[32], iid[BATON_ID_LEN], med[BATON_ID_LEN], edu[BATON_ID_LEN];
            snprintf(enc, sizeof enc, "K%03d", e);
            snprintf(trig, sizeof trig, "k-%03d-0", e);
            snprintf(id, sizeof id, "k-%03d-%d", e, step);
            baton_derived_id(trig, "instance:discharge", iid);
            baton_derived_id(iid, "task:med_rec", med);
            baton_derived_id(iid, "task:discharge_education", edu);
            int64_t at = T0 + step * 10 * MIN + e * 100;
            switch (step) {
            case 0:
                v[k++] = rt_clinical_env(id, "order.discharge", at, enc, "patient_class=inpatient",
                                         NULL);
                break;
            case 1:
                v[k++] = rt_staff_env(id, at, enc, iid, med, BATON__V1__ACTION__ACTION_ACK, "ph1",
                                      "pharmacist", NULL);
                break;
            case 2:
                v[k++] = rt_staff_env(id, at, enc, iid, med, BATON__V1__ACTION__ACTION_COMPLETE,
                                      "ph1", "pharmacist", NULL);
                break;
            case 3:
                v[k++] = rt_staff_env(id, at, enc, iid, edu, BATON__V1__ACTION__ACTION_COMPLETE,
                                      "rn1", "nurse", NULL);
                break;
            case 4:
                v[k++] = rt_clinical_env(id, "transport.completed", at, enc, NULL);
                break;
            default:
                v[k++] = rt_clinical_env(id, "adt.discharge", at, enc, NULL);
            }
        }
    }
    *n = k;
    return v;
}

static void idset_add(idset_t *s, const char *id, const uint8_t *raw, size_t len)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->ids[i], id) != 0)
            continue;
        if (s->len[i] != len || memcmp(s->raw[i], raw, len) != 0)
            TEST_FAIL("event %s appeared twice with different content", id);
        return;
    }
    s->ids = baton_xrealloc(s->ids, (s->n + 1) * sizeof(char *));
    s->raw = baton_xrealloc(s->raw, (s->n + 1) * sizeof(uint8_t *));
    s->len = baton_xrealloc(s->len, (s->n + 1) * sizeof(size_t));
    s->ids[s->n] = baton_xstrdup(id);
    s->raw[s->n] = baton_xmalloc(len ? len : 1);
    memcpy(s->raw[s->n], raw, len);
    s->len[s->n++] = len;
}

static void idset_free(idset_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->ids[i]);
        free(s->raw[i]);
    }
    free(s->ids);
    free(s->raw);
    free(s->len);
}

static void result_free(result_t *r)
{
    for (int k = 0; k < 3; k++)
        idset_free(&r->topics[k]);
    idset_free(&r->states);
}

static void idset_expect_equal(const idset_t *a, const idset_t *b, const char *what)
{
    for (size_t i = 0; i < a->n; i++) {
        size_t j = 0;
        while (j < b->n && strcmp(a->ids[i], b->ids[j]) != 0)
            j++;
        if (j == b->n)
            TEST_FAIL("%s: %s of the fault-free run is missing after the crash", what, a->ids[i]);
        if (a->len[i] != b->len[j] || memcmp(a->raw[i], b->raw[j], a->len[i]) != 0)
            TEST_FAIL("%s: %s differs from the fault-free run", what, a->ids[i]);
    }
    if (a->n != b->n)
        TEST_FAIL("%s: %zu distinct after the crash, %zu in the fault-free run", what, b->n, a->n);
}

static void collect(rt_t *t, result_t *res)
{
    for (int k = 0; k < 3; k++) {
        size_t n;
        rt_msg_t *v = rt_msgs(t, topics[k], &n);
        res->total[k] = n;
        for (size_t i = 0; i < n; i++)
            idset_add(&res->topics[k], v[i].env->id, v[i].raw, v[i].raw_len);
    }
    redisReply *keys = NULL;
    ASSERT_EQ_INT(baton_redis_command(t->rc, &keys, "KEYS baton:inst:*"), 0);
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *r = NULL;
        ASSERT_EQ_INT(baton_redis_command(t->rc, &r, "GET %s", keys->element[i]->str), 0);
        idset_add(&res->states, keys->element[i]->str, (uint8_t *)r->str, r->len);
        freeReplyObject(r);
    }
    freeReplyObject(keys);
}

/* Wait until every instance completed and nothing more comes for a second. */
static void wait_done(rt_t *t)
{
    if (rt_wait(t, BATON_TOPIC_LIFECYCLE, "instance.completed", NENC, 60000) != 0)
        TEST_FAIL("only %zu of %d instances completed",
                  rt_count(t, BATON_TOPIC_LIFECYCLE, "instance.completed"), NENC);
    size_t before;
    do {
        before = rt_count(t, BATON_TOPIC_LIFECYCLE, NULL) + rt_count(t, BATON_TOPIC_TIMERS, NULL);
        rt_pump(t, 1000);
    } while (rt_count(t, BATON_TOPIC_LIFECYCLE, NULL) + rt_count(t, BATON_TOPIC_TIMERS, NULL) !=
             before);
}

static void run(result_t *res, Baton__V1__Envelope **in, size_t nin, size_t kill_at)
{
    rt_t t;
    rt_init(&t, PATHWAYS);
    rt_shift(&t, "pharmacist", "", "ph1", 1, 0, 0);
    rt_shift(&t, "nurse", UNIT, "rn1", 1, 0, 0);
    rt_shift(&t, "transport", "", "tr1", 1, 0, 0);
    rt_shift(&t, "evs", UNIT, "ev1", 1, 0, 0);
    t.extra_env[0] = "BATON_ROUTER_BATCH_MAX=25"; /* many batches: the kill lands inside one */
    /* the crash run pipelines (batch N+1 computed while N is produced), the clean one does
     * not: both modes must give the same events and states */
    t.extra_env[1] = kill_at ? "BATON_ROUTER_PIPELINE=true" : "BATON_ROUTER_PIPELINE=false";
    rt_send_many(&t, in, nin);
    rt_router_start(&t);
    if (kill_at) {
        ASSERT_EQ_INT(rt_wait(&t, BATON_TOPIC_LIFECYCLE, NULL, kill_at, 60000), 0);
        rt_router_kill(&t);
        rt_pump(&t, 200);
        res->lifecycle_at_kill = rt_count(&t, BATON_TOPIC_LIFECYCLE, NULL);
        rt_router_start(&t);
    }
    wait_done(&t);
    collect(&t, res);
    char *active = rt_get(&t, "baton:router:instances_active");
    ASSERT_EQ_STR(active, "0");
    free(active);
    rt_free(&t);
}

TEST(router_sigkill_mid_batch_replays_exactly)
{
    size_t nin;
    Baton__V1__Envelope **in = make_inputs(&nin);
    result_t clean, crash;
    memset(&clean, 0, sizeof clean);
    memset(&crash, 0, sizeof crash);
    run(&clean, in, nin, 0);
    ASSERT_EQ_INT(clean.states.n, NENC);
    ASSERT_EQ_INT(clean.total[0], clean.topics[0].n); /* no duplicates without a crash */
    run(&crash, in, nin, clean.total[0] / 20);
    fprintf(stderr, "lifecycle: %zu distinct, %zu on the topic after the crash (killed at %zu)\n",
            crash.topics[0].n, crash.total[0], crash.lifecycle_at_kill);
    ASSERT_TRUE(crash.lifecycle_at_kill < clean.total[0]); /* the kill came mid-run */
    for (int k = 0; k < 3; k++) {
        idset_expect_equal(&clean.topics[k], &crash.topics[k], topics[k]);
        ASSERT_TRUE(crash.total[k] >= clean.total[k]);
    }
    idset_expect_equal(&clean.states, &crash.states, "instance states");
    for (size_t i = 0; i < nin; i++)
        baton_kafka_envelope_free(in[i]);
    free(in);
    result_free(&clean);
    result_free(&crash);
}

/* A trigger delivered again after its instance closed (an interface engine resending an old
 * message once ingest's idempotency window has passed) starts nothing: the instance it names
 * is loaded whatever its status, also by a router that never saw it (fresh cache). A new
 * trigger of the same encounter still starts a new instance. */
TEST(router_trigger_again_after_close_starts_nothing)
{
    rt_t t;
    rt_init(&t, PATHWAYS);
    rt_router_start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E6", "patient_class=inpatient", NULL);
    rt_clinical(&t, "ev-2", "adt.cancel_discharge", T0 + MIN, "E6", NULL);
    ASSERT_EQ_INT(rt_wait(&t, BATON_TOPIC_LIFECYCLE, "instance.cancelled", 1, 30000), 0);
    rt_router_stop(&t);
    rt_router_start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0 + 2 * MIN, "E6", "patient_class=inpatient", NULL);
    /* same key, same partition: once ev-3's instance starts, the resent ev-1 was applied */
    rt_clinical(&t, "ev-3", "order.discharge", T0 + 3 * MIN, "E6", "patient_class=inpatient", NULL);
    ASSERT_EQ_INT(rt_wait(&t, BATON_TOPIC_LIFECYCLE, "instance.started", 2, 30000), 0);
    rt_pump(&t, 500);
    char first[BATON_ID_LEN], second[BATON_ID_LEN];
    baton_derived_id("ev-1", "instance:discharge", first);
    baton_derived_id("ev-3", "instance:discharge", second);
    ASSERT_EQ_INT(rt_count(&t, BATON_TOPIC_LIFECYCLE, "instance.started"), 2);
    ASSERT_EQ_STR(rt_find(&t, BATON_TOPIC_LIFECYCLE, "instance.started", NULL, 1)
                      ->instance_started->instance_id,
                  second);
    Baton__V1__InstanceState *s = rt_state(&t, first);
    ASSERT_NOT_NULL(s);
    ASSERT_EQ_STR(s->status, "cancelled");
    baton_pathway_state_free(s);
    rt_free(&t);
}
