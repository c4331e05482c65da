/* test_timer_it — baton-timer against real redis-server and baton-devkafka: schedules and
 * cancels go in on baton.timers.v1, TimerFired are read back from baton.inbound.v1.
 * Every case checks "never early" (fired_at_ms >= due_at_ms, and received after due_at_ms)
 * and exact ids / counts. */
#include "test.h"
#include "timer_it_util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static tit_fired_list_t got; /* big: not on the stack */

static void assert_never_early(const tit_fired_list_t *l)
{
    for (int i = 0; i < l->n; i++) {
        const tit_fired_t *f = &l->f[i];
        if (f->fired_at_ms < f->due_at_ms || f->recv_ms < f->due_at_ms)
            TEST_FAIL("%s fired early: due %lld fired_at %lld received %lld", f->timer_id,
                      (long long)f->due_at_ms, (long long)f->fired_at_ms, (long long)f->recv_ms);
    }
}

static void dump(const tit_fired_list_t *l)
{
    for (int i = 0; i < l->n; i++)
        fprintf(stderr, "  fired %s due %lld fired_at %lld late %d purpose %s\n", l->f[i].timer_id,
                (long long)l->f[i].due_at_ms, (long long)l->f[i].fired_at_ms, l->f[i].late,
                l->f[i].purpose);
}

#define ASSERT_FIRED_COUNT(l, want)                                                                \
    do {                                                                                           \
        if ((l)->n != (want)) {                                                                    \
            dump(l);                                                                               \
            ASSERT_EQ_INT((l)->n, want);                                                           \
        }                                                                                          \
    } while (0)

static void assert_exactly_once(const tit_fired_list_t *l, const char *timer_id)
{
    int n = tit_count(l, timer_id);
    if (n != 1)
        TEST_FAIL("%s fired %d times, expected once", timer_id, n);
}

/* SIGTERM: the service finishes, commits, closes and exits 0. */
static void stop_clean(tit_svc_t *s)
{
    ASSERT_EQ_INT(harness_kill(s->pid, SIGTERM), 0);
    int status = -1;
    ASSERT_EQ_INT(harness_wait_exit(s->pid, 15000, &status), 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
}

TEST(timer_it_fires_on_time)
{
    tit_env_t e;
    tit_svc_t s;
    tit_env_start(&e);
    tit_svc_start(&e, &s, "timer", true);
    enum { N = 16 };
    static char ids[N][32], keys[N][32];
    tit_sched_t sch[N];
    int64_t now = baton_now_ms();
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "ontime-%d", i);
        snprintf(keys[i], sizeof keys[i], "t1/enc-%d", i % 8);
        sch[i] = (tit_sched_t){ids[i], now + 1500 + i * 100, keys[i], "ack_deadline", ""};
    }
    tit_schedule(&e, sch, N);
    memset(&got, 0, sizeof got);
    tit_collect(&e, &got, N, baton_mono_ms() + 15000);
    tit_drain(&e, &got, 500);
    ASSERT_FIRED_COUNT(&got, N);
    assert_never_early(&got);
    for (int i = 0; i < N; i++) {
        assert_exactly_once(&got, ids[i]);
        const tit_fired_t *f = tit_find(&got, ids[i]);
        char want_id[BATON_ID_LEN], purpose[48];
        snprintf(purpose, sizeof purpose, "fired:%lld", (long long)sch[i].due_at_ms);
        baton_derived_id(ids[i], purpose, want_id);
        ASSERT_EQ_STR(f->id, want_id);
        ASSERT_EQ_STR(f->causation_id, sch[i].env_id);
        ASSERT_EQ_STR(f->key, keys[i]);
        ASSERT_EQ_STR(f->purpose, "ack_deadline");
        ASSERT_EQ_STR(f->instance_id, "inst-1");
        ASSERT_EQ_INT(f->step, 2);
        ASSERT_EQ_INT(f->due_at_ms, sch[i].due_at_ms);
        ASSERT_TRUE(!f->late);
        /* on time: well within the lateness threshold even on a busy machine */
        if (f->fired_at_ms - f->due_at_ms > 500)
            TEST_FAIL("%s fired %lld ms late", ids[i], (long long)(f->fired_at_ms - f->due_at_ms));
    }
    ASSERT_EQ_INT(tit_metric(&s, "baton_timer_schedules_total"), N);
    ASSERT_EQ_INT(tit_metric(&s, "baton_timer_fired_total{late=\"false\"}"), N);
    ASSERT_EQ_INT(tit_metric(&s, "baton_timer_fired_total{late=\"true\"}"), 0);
    ASSERT_EQ_INT(tit_metric(&s, "baton_timer_lateness_seconds_count"), N);
    ASSERT_EQ_INT(tit_redis_pending(&e), 0);
    stop_clean(&s);
    tit_env_stop(&e);
}

TEST(timer_it_cancel)
{
    tit_env_t e;
    tit_svc_t s;
    tit_env_start(&e);
    tit_svc_start(&e, &s, "timer", true);
    enum { N = 10 };
    static char ids[N][32];
    tit_sched_t sch[N];
    const char *cids[N / 2 + 1], *ckeys[N / 2 + 1];
    int64_t now = baton_now_ms();
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "cancel-%d", i);
        sch[i] = (tit_sched_t){ids[i], now + 2500 + i * 20, i % 2 ? "t1/enc-a" : "t1/enc-b",
                               "complete_deadline", ""};
    }
    tit_schedule(&e, sch, N);
    int nc = 0;
    for (int i = 0; i < N; i += 2, nc++)
        cids[nc] = ids[i], ckeys[nc] = sch[i].key;
    cids[nc] = "never-scheduled", ckeys[nc++] = "t1/enc-c"; /* harmless */
    tit_cancel(&e, cids, ckeys, (size_t)nc);
    /* a message that is not an Envelope is skipped (and counted), the rest goes on */
    baton_kafka_record_t junk = {BATON_TOPIC_TIMERS, "t1/enc-a", 8, "\xff\xff\xff\xff", 4, NULL, 0};
    char err[256] = "";
    ASSERT_EQ_INT(baton_kafka_produce_sync(e.io.producer, &junk, 10000, err, sizeof err), 0);
    ASSERT_EQ_INT(tit_wait_pending(&e, N / 2, 3000), 0); /* the cancels are stored */
    memset(&got, 0, sizeof got);
    tit_collect(&e, &got, N / 2, baton_mono_ms() + 10000);
    tit_drain(&e, &got, 1000);
    ASSERT_FIRED_COUNT(&got, N / 2);
    assert_never_early(&got);
    for (int i = 0; i < N; i++) {
        if (i % 2)
            assert_exactly_once(&got, ids[i]);
        else
            ASSERT_EQ_INT(tit_count(&got, ids[i]), 0);
    }
    ASSERT_EQ_INT(tit_metric(&s, "baton_timer_cancels_total"), N / 2 + 1);
    ASSERT_EQ_INT(tit_metric(&s, "baton_timer_invalid_total"), 1);
    ASSERT_EQ_INT(tit_metric(&s, "baton_timer_fired_total{late=\"false\"}"), N / 2);
    ASSERT_EQ_INT(tit_redis_pending(&e), 0);
    stop_clean(&s);
    tit_env_stop(&e);
}

TEST(timer_it_replace)
{
    tit_env_t e;
    tit_svc_t s;
    tit_env_start(&e);
    tit_svc_start(&e, &s, "timer", true);
    int64_t now = baton_now_ms();
    /* first round, stored; D is scheduled twice in one batch (the last one wins) */
    tit_sched_t first[] = {
        {"repl-a", now + 3000, "t1/enc-a", "first", ""},
        {"repl-b", now + 6000, "t1/enc-b", "first", ""},
        {"repl-c", now + 3500, "t1/enc-c", "first", ""},
        {"repl-d", now + 2500, "t1/enc-d", "first", ""},
        {"repl-d", now + 3700, "t1/enc-d", "second", ""},
    };
    tit_schedule(&e, first, 5);
    ASSERT_EQ_INT(tit_wait_pending(&e, 4, 2000), 0);
    /* second round replaces in Redis: A later, B earlier, C the same again (a replay) */
    tit_sched_t second[] = {
        {"repl-a", now + 4500, "t1/enc-a", "second", ""},
        {"repl-b", now + 3200, "t1/enc-b", "second", ""},
        {"repl-c", now + 3500, "t1/enc-c", "first", ""},
    };
    tit_schedule(&e, second, 3);
    memset(&got, 0, sizeof got);
    tit_collect(&e, &got, 4, baton_mono_ms() + 10000);
    int64_t wait_until = now + 6500 - baton_now_ms(); /* past B's first due time too */
    tit_drain(&e, &got, wait_until > 0 ? (int)wait_until : 0);
    ASSERT_FIRED_COUNT(&got, 4);
    assert_never_early(&got);
    const char *names[] = {"repl-a", "repl-b", "repl-c", "repl-d"};
    int64_t dues[] = {now + 4500, now + 3200, now + 3500, now + 3700};
    const char *purposes[] = {"second", "second", "first", "second"};
    for (int i = 0; i < 4; i++) {
        assert_exactly_once(&got, names[i]);
        const tit_fired_t *f = tit_find(&got, names[i]);
        ASSERT_EQ_INT(f->due_at_ms, dues[i]);
        ASSERT_EQ_STR(f->purpose, purposes[i]);
    }
    ASSERT_EQ_INT(tit_redis_pending(&e), 0);
    stop_clean(&s);
    tit_env_stop(&e);
}

/* One produce of schedules and cancels (one record batch: the service polls it at once). */
typedef struct {
    const char *id;
    const char *purpose; /* NULL: a cancel */
    int64_t due_at_ms;
} mixed_t;

static void produce_mixed(tit_env_t *e, const mixed_t *m, size_t n, const char *key)
{
    Baton__V1__Envelope *envs = baton_xcalloc(n, sizeof *envs);
    Baton__V1__TimerSchedule *ts = baton_xcalloc(n, sizeof *ts);
    Baton__V1__TimerCancel *tc = baton_xcalloc(n, sizeof *tc);
    Baton__V1__TimerFired *tf = baton_xcalloc(n, sizeof *tf);
    char(*env_ids)[BATON_ID_LEN] = baton_xcalloc(n, sizeof *env_ids);
    baton_kafka_envelope_out_t *outs = baton_xcalloc(n, sizeof *outs);
    for (size_t i = 0; i < n; i++) {
        baton__v1__envelope__init(&envs[i]);
        baton_uuidv7(env_ids[i]);
        envs[i].id = env_ids[i];
        envs[i].tenant = "t1";
        envs[i].correlation_key = (char *)key;
        envs[i].producer = "router";
        envs[i].schema_version = 1;
        if (m[i].purpose) {
            baton__v1__timer_schedule__init(&ts[i]);
            baton__v1__timer_fired__init(&tf[i]);
            tf[i].instance_id = "inst-1";
            tf[i].purpose = (char *)m[i].purpose;
            ts[i].timer_id = (char *)m[i].id;
            ts[i].due_at_ms = m[i].due_at_ms;
            ts[i].fire = &tf[i];
            envs[i].type = "timer.schedule";
            envs[i].body_case = BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE;
            envs[i].timer_schedule = &ts[i];
        } else {
            baton__v1__timer_cancel__init(&tc[i]);
            tc[i].timer_id = (char *)m[i].id;
            envs[i].type = "timer.cancel";
            envs[i].body_case = BATON__V1__ENVELOPE__BODY_TIMER_CANCEL;
            envs[i].timer_cancel = &tc[i];
        }
        outs[i] = (baton_kafka_envelope_out_t){BATON_TOPIC_TIMERS, &envs[i]};
    }
    char err[256] = "";
    ASSERT_EQ_INT(baton_kafka_produce_envelopes(e->io.producer, outs, n, 10000, err, sizeof err),
                  0);
    free(envs), free(ts), free(tc), free(tf), free(env_ids), free(outs);
}

/* A backlog polled at once goes to Redis in chunks of 1024 messages: cancels, replacements
 * and re-schedules of a timer in another chunk (or the same) apply in arrival order. */
TEST(timer_it_backlog_chunks)
{
    tit_env_t e;
    tit_svc_t s;
    tit_env_start(&e);
    enum { IDS = 1748, CMDS = 2150 };
    static char ids[IDS][32];
    static mixed_t m[CMDS];
    static char want[IDS][8]; /* purpose expected to fire, "" = none */
    int64_t base = baton_now_ms() + 7000;
    size_t n = 0;
    for (int i = 0; i < IDS; i++)
        snprintf(ids[i], sizeof ids[i], "big-%d", i);
#define PUT(from, to, purpose, plus)                                                               \
    for (int i = (from); i < (to); i++)                                                            \
    m[n++] = (mixed_t){ids[i], purpose, base + (plus) + i},                                        \
    snprintf(want[i], sizeof want[i], "%s", (purpose) ? (const char *)(purpose) : "")
    PUT(0, 900, "first", 0);    /* messages 0..899: chunk 0 */
    PUT(0, 200, NULL, 0);       /* 900..1099: cancels in chunk 0 and chunk 1 */
    PUT(0, 100, "again", 500);  /* 1100..1199: re-scheduled after the cancel (chunk 1) */
    PUT(900, IDS, "first", 0);  /* 1200..2047 */
    PUT(50, 100, "third", 700); /* 2048..2097: chunk 2 replaces chunk 1 */
    PUT(900, 952, NULL, 0);     /* 2098..2149: chunk 2 cancels chunk 1 */
#undef PUT
    ASSERT_EQ_INT(n, CMDS);
    produce_mixed(&e, m, n, "t1/enc-big"); /* one key: one partition, one order */
    tit_svc_start(&e, &s, "timer", false); /* the whole backlog is there before it starts */
    int left = 0;
    for (int i = 0; i < IDS; i++)
        left += want[i][0] != 0;
    ASSERT_EQ_INT(left, 50 + 50 + 700 + 796);
    ASSERT_EQ_INT(tit_wait_pending(&e, left, 15000), 0);
    memset(&got, 0, sizeof got);
    tit_collect(&e, &got, left, baton_mono_ms() + 20000);
    tit_drain(&e, &got, 500);
    ASSERT_FIRED_COUNT(&got, left);
    assert_never_early(&got);
    for (int i = 0; i < IDS; i++) {
        if (!want[i][0]) {
            ASSERT_EQ_INT(tit_count(&got, ids[i]), 0);
            continue;
        }
        assert_exactly_once(&got, ids[i]);
        const tit_fired_t *f = tit_find(&got, ids[i]);
        ASSERT_EQ_STR(f->purpose, want[i]);
        int plus = strcmp(want[i], "again") == 0 ? 500 : strcmp(want[i], "third") == 0 ? 700 : 0;
        ASSERT_EQ_INT(f->due_at_ms, base + plus + i);
    }
    ASSERT_EQ_INT(tit_metric(&s, "baton_timer_cancels_total"), 200 + 52);
    ASSERT_EQ_INT(tit_metric(&s, "baton_timer_schedules_total"), CMDS - 252);
    ASSERT_EQ_INT(tit_redis_pending(&e), 0);
    stop_clean(&s);
    tit_env_stop(&e);
}

TEST(timer_it_sigkill_restart)
{
    tit_env_t e;
    tit_svc_t s;
    tit_env_start(&e);
    tit_svc_start(&e, &s, "timer", true);
    enum { OVERDUE = 10, LATER = 10 };
    static char ids[OVERDUE + LATER][32], keys[OVERDUE + LATER][64];
    tit_sched_t sch[OVERDUE + LATER];
    int64_t now = baton_now_ms();
    for (int i = 0; i < OVERDUE + LATER; i++) {
        bool over = i < OVERDUE;
        snprintf(ids[i], sizeof ids[i], "%s-%d", over ? "overdue" : "later", i);
        /* the overdue ones share one key: one inbound partition shows their order */
        snprintf(keys[i], sizeof keys[i], "t1/enc-%.31s", over ? "restart" : ids[i]);
        int64_t due = over ? now + 2500 + (OVERDUE - i) * 37 : now + 16000 + i * 50;
        sch[i] = (tit_sched_t){ids[i], due, keys[i], "escalation", ""};
    }
    tit_schedule(&e, sch, OVERDUE + LATER);
    ASSERT_EQ_INT(tit_wait_pending(&e, OVERDUE + LATER, 3000), 0);
    usleep(300000); /* the offsets get committed */
    ASSERT_EQ_INT(harness_kill(s.pid, SIGKILL), 0);
    ASSERT_EQ_INT(harness_wait_exit(s.pid, 5000, NULL), 0);
    memset(&got, 0, sizeof got);
    int64_t down_until = now + 5000 - baton_now_ms(); /* every overdue one is > 1 s late */
    tit_drain(&e, &got, down_until > 0 ? (int)down_until : 0);
    ASSERT_FIRED_COUNT(&got, 0);
    ASSERT_EQ_INT(tit_redis_pending(&e), OVERDUE + LATER); /* durable while down */

    tit_svc_t s2;
    tit_svc_start(&e, &s2, "timer-restarted", false);
    tit_collect(&e, &got, OVERDUE, baton_mono_ms() + 15000);
    ASSERT_FIRED_COUNT(&got, OVERDUE);
    int64_t prev_due = 0;
    for (int i = 0; i < got.n; i++) { /* in due order, all late */
        ASSERT_TRUE(strncmp(got.f[i].timer_id, "overdue-", 8) == 0);
        ASSERT_TRUE(got.f[i].due_at_ms >= prev_due);
        ASSERT_TRUE(got.f[i].late);
        prev_due = got.f[i].due_at_ms;
    }
    tit_collect(&e, &got, OVERDUE + LATER, baton_mono_ms() + 20000);
    tit_drain(&e, &got, 500);
    ASSERT_FIRED_COUNT(&got, OVERDUE + LATER); /* none lost, none twice */
    assert_never_early(&got);
    for (int i = 0; i < OVERDUE + LATER; i++)
        assert_exactly_once(&got, ids[i]);
    for (int i = OVERDUE; i < OVERDUE + LATER; i++)
        ASSERT_TRUE(!tit_find(&got, ids[i])->late);
    ASSERT_EQ_INT(tit_metric(&s2, "baton_timer_fired_total{late=\"true\"}"), OVERDUE);
    ASSERT_EQ_INT(tit_metric(&s2, "baton_timer_fired_total{late=\"false\"}"), LATER);
    ASSERT_EQ_INT(tit_redis_pending(&e), 0);
    stop_clean(&s2);
    tit_env_stop(&e);
}

TEST(timer_it_rebalance_two_instances)
{
    tit_env_t e;
    tit_svc_t a, b;
    tit_env_start(&e);
    tit_svc_start(&e, &a, "timer-a", true);
    enum { N = 160 };
    static char ids[N][32], keys[N][32];
    tit_sched_t sch[N];
    int64_t now = baton_now_ms();
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "rb-%d", i);
        snprintf(keys[i], sizeof keys[i], "t1/enc-%d", i % 16);
        sch[i] = (tit_sched_t){ids[i], now + 1500 + i * 125, keys[i], "escalation", ""};
    }
    tit_schedule(&e, sch, N);
    memset(&got, 0, sizeof got);
    tit_drain(&e, &got, 2000);
    tit_svc_start(&e, &b, "timer-b", false); /* the group rebalances while timers come due */
    tit_collect(&e, &got, N, baton_mono_ms() + 40000);
    tit_drain(&e, &got, 1000);
    ASSERT_FIRED_COUNT(&got, N); /* every timer fired, none twice */
    assert_never_early(&got);
    for (int i = 0; i < N; i++)
        assert_exactly_once(&got, ids[i]);
    double fa = tit_metric(&a, "baton_timer_fired_total{late=\"false\"}") +
                tit_metric(&a, "baton_timer_fired_total{late=\"true\"}");
    double fb = tit_metric(&b, "baton_timer_fired_total{late=\"false\"}") +
                tit_metric(&b, "baton_timer_fired_total{late=\"true\"}");
    fprintf(stderr, "fired by a: %.0f, by b: %.0f\n", fa, fb);
    ASSERT_EQ_INT(fa + fb, N);
    ASSERT_TRUE(fa > 0);
    ASSERT_TRUE(fb > 0); /* b took partitions over and fired their timers */
    ASSERT_EQ_INT(tit_redis_pending(&e), 0);
    stop_clean(&a);
    stop_clean(&b);
    tit_env_stop(&e);
}

TEST_MAIN()
