/* test_router.c — baton-router end to end: real redis-server, baton-devkafka and the router
 * binary, inputs produced into baton.inbound.v1, outputs read back from every topic. The timer
 * service is played by the test: it fires the TimerSchedule commands the router emitted. */
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "test.h"

#define PATHWAYS BATON_SOURCE_DIR "/pathways"
#define WAIT_MS 30000
#define ACK BATON__V1__ACTION__ACTION_ACK
#define COMPLETE BATON__V1__ACTION__ACTION_COMPLETE
#define DECLINE BATON__V1__ACTION__ACTION_DECLINE

static void expect_types(rt_t *t, const char *topic, const char *key, const char *want)
{
    char *got = rt_types(t, topic, key);
    ASSERT_EQ_STR(got, want);
    free(got);
}

static void wait_for(rt_t *t, const char *topic, const char *type, size_t n)
{
    if (rt_wait(t, topic, type, n, WAIT_MS) != 0) {
        char *got = rt_types(t, topic, NULL);
        TEST_FAIL("timed out waiting for %zu x %s on %s; have: %s", n, type ? type : "*", topic,
                  got);
    }
}

/* The TaskRef of the (first) task.assigned of a stage. */
static const Baton__V1__TaskRef *assigned(rt_t *t, const char *stage, size_t nth)
{
    return rt_find(t, BATON_TOPIC_LIFECYCLE, "task.assigned", stage, nth)->task_assigned->task;
}

static void default_roster(rt_t *t)
{
    rt_shift(t, "pharmacist", "", "ph1", 1, 0, 0);
    rt_shift(t, "pharmacy_lead", "", "ld1", 1, 0, 0);
    rt_shift(t, "nurse", UNIT, "rn1", 1, 0, 0);
    rt_shift(t, "charge_nurse", UNIT, "cn1", 1, 0, 0);
    rt_shift(t, "transport", "", "tr1", 1, 0, 0);
    rt_shift(t, "evs", UNIT, "ev1", 1, 0, 0);
}

static void start(rt_t *t)
{
    rt_init(t, PATHWAYS);
    default_roster(t);
    rt_router_start(t);
}

/* Every timer the router scheduled was also cancelled (no clock left running). */
static void expect_all_timers_cancelled(rt_t *t)
{
    size_t n;
    rt_msg_t *v = rt_msgs(t, BATON_TOPIC_TIMERS, &n);
    size_t sched = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].env->type, "timer.schedule") != 0)
            continue;
        sched++;
        int cancelled = 0;
        for (size_t j = 0; j < n; j++)
            cancelled |=
                strcmp(v[j].env->type, "timer.cancel") == 0 &&
                strcmp(v[j].env->timer_cancel->timer_id, v[i].env->timer_schedule->timer_id) == 0;
        if (!cancelled)
            TEST_FAIL("timer %s (%s) was never cancelled", v[i].env->timer_schedule->timer_id,
                      v[i].env->timer_schedule->fire->purpose);
    }
    ASSERT_TRUE(sched > 0);
}

/* Discharge: med_rec and discharge_education run in parallel, placement is skipped (not an
 * SNF discharge), transport waits for all three and is completed by the transport system's
 * event, the room turn by adt.discharge; then the instance completes. */
TEST(router_discharge_parallel_and_skipped_stage)
{
    rt_t t;
    start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E1", "patient_class=inpatient",
                "disposition=home", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 2);
    expect_types(&t, BATON_TOPIC_LIFECYCLE, "acme/E1",
                 "instance.started task.assigned task.skipped task.assigned");
    const Baton__V1__TaskRef *med = assigned(&t, "med_rec", 0);
    const Baton__V1__TaskRef *edu = assigned(&t, "discharge_education", 0);
    ASSERT_EQ_STR(med->owner, "ph1");
    ASSERT_EQ_STR(med->status, "ready");
    ASSERT_EQ_STR(edu->owner, "rn1");
    ASSERT_EQ_STR(rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", "discharge_education", 0)
                      ->task_assigned->resolved_by,
                  "unit_shift");
    ASSERT_EQ_STR(
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.skipped", NULL, 0)->task_skipped->task->stage,
        "placement");
    char iid[BATON_ID_LEN], med_id[BATON_ID_LEN], edu_id[BATON_ID_LEN];
    baton_strlcpy(iid, med->instance_id, sizeof iid);
    baton_strlcpy(med_id, med->task_id, sizeof med_id);
    baton_strlcpy(edu_id, edu->task_id, sizeof edu_id);
    /* deterministic ids: instance from the trigger id, output ids from the input id */
    char want[BATON_ID_LEN];
    baton_derived_id("ev-1", "instance:discharge", want);
    ASSERT_EQ_STR(iid, want);
    ASSERT_EQ_STR(rt_find(&t, BATON_TOPIC_LIFECYCLE, "instance.started", NULL, 0)->causation_id,
                  "ev-1");
    /* ingest can pre-validate a staff action from Redis */
    char *key = baton_xasprintf("baton:task:%s", med_id);
    char *inst_of_task = rt_get(&t, key);
    ASSERT_EQ_STR(inst_of_task, iid);
    free(inst_of_task);
    free(key);

    rt_staff(&t, "ev-2", T0 + 5 * MIN, "E1", iid, med_id, ACK, "ph1", "pharmacist");
    rt_staff(&t, "ev-3", T0 + 20 * MIN, "E1", iid, med_id, COMPLETE, "ph1", "pharmacist");
    rt_staff(&t, "ev-4", T0 + 30 * MIN, "E1", iid, edu_id, COMPLETE, "rn1", "nurse");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 3);
    const Baton__V1__TaskRef *tr = assigned(&t, "transport", 0);
    ASSERT_EQ_STR(tr->owner, "tr1");
    char tr_id[BATON_ID_LEN];
    baton_strlcpy(tr_id, tr->task_id, sizeof tr_id);
    rt_clinical(&t, "ev-5", "transport.completed", T0 + 50 * MIN, "E1", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 4);
    ASSERT_EQ_STR(assigned(&t, "room_turn", 0)->owner, "ev1");
    rt_clinical(&t, "ev-6", "adt.discharge", T0 + 70 * MIN, "E1", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "instance.completed", 1);
    expect_types(&t, BATON_TOPIC_LIFECYCLE, "acme/E1",
                 "instance.started task.assigned task.skipped task.assigned "
                 "task.acknowledged task.completed task.completed task.assigned "
                 "task.completed task.assigned task.completed instance.completed");
    const Baton__V1__TaskCompleted *c =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.completed", "transport", 0)->task_completed;
    ASSERT_EQ_STR(c->by_event_id, "ev-5");
    ASSERT_EQ_STR(c->actor, "");
    ASSERT_EQ_STR(c->task->status, "completed");
    /* one assignment notice per assigned person, in order */
    wait_for(&t, BATON_TOPIC_NOTIFY, NULL, 4);
    expect_types(&t, BATON_TOPIC_NOTIFY, "acme/E1",
                 "notification.requested notification.requested notification.requested "
                 "notification.requested");
    const char *people[] = {"ph1", "rn1", "tr1", "ev1"};
    for (int i = 0; i < 4; i++) {
        const Baton__V1__NotificationRequest *n =
            rt_find(&t, BATON_TOPIC_NOTIFY, "notification.requested", NULL, (size_t)i)
                ->notification_request;
        ASSERT_EQ_STR(n->person, people[i]);
        ASSERT_EQ_STR(n->kind, "assigned");
    }
    rt_pump(&t, 300);
    expect_all_timers_cancelled(&t);
    /* state: completed, no longer an open instance of the key */
    Baton__V1__InstanceState *s = rt_state(&t, iid);
    ASSERT_NOT_NULL(s);
    ASSERT_EQ_STR(s->status, "completed");
    ASSERT_EQ_STR(s->tasks[1]->status, "cancelled");
    ASSERT_EQ_INT(s->tasks[1]->skipped, 1);
    baton_pathway_state_free(s);
    redisReply *r = NULL;
    ASSERT_EQ_INT(baton_redis_command(t.rc, &r, "SCARD baton:corr:acme/E1"), 0);
    ASSERT_EQ_INT(r->integer, 0);
    freeReplyObject(r);
    char *active = rt_get(&t, "baton:router:instances_active");
    ASSERT_EQ_STR(active, "0");
    free(active);
    /* each of the 3 clinical events also comes back once as its copy under acme/P-E1 (the
     * shipped pathways include some correlated by patient) */
    ASSERT_EQ_INT(rt_wait(&t, BATON_TOPIC_INBOUND, NULL, 3 + 3 + 3, WAIT_MS), 0);
    char *m = NULL;
    for (int i = 0; i < 100; i++) { /* until the router has applied the last copy */
        free(m);
        m = rt_metrics(&t);
        if (strstr(m, "baton_router_events_in_total{kind=\"clinical\"} 6"))
            break;
        rt_pump(&t, 100);
    }
    ASSERT_CONTAINS(m, "baton_router_transitions_total{type=\"task.assigned\"} 4");
    ASSERT_CONTAINS(m, "baton_router_events_in_total{kind=\"staff_action\"} 3");
    ASSERT_CONTAINS(m, "baton_router_events_in_total{kind=\"clinical\"} 6");
    ASSERT_CONTAINS(m, "baton_router_instances_active 0");
    free(m);
    rt_free(&t); /* SIGTERM: the router exits 0 */
}

/* The ack window runs out: the deadline is recorded and the owner reminded; escalation step 1
 * notifies the pharmacy lead; step 2 reassigns the task to the lead. The test plays the timer
 * service, firing the TimerSchedule commands the router emitted. */
TEST(router_ack_timeout_notify_then_reassign)
{
    rt_t t;
    start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E2", "patient_class=inpatient", NULL);
    wait_for(&t, BATON_TOPIC_TIMERS, "timer.schedule", 7);
    const Baton__V1__Envelope *ack =
        rt_find(&t, BATON_TOPIC_TIMERS, "timer.schedule", "ack_deadline", 0);
    ASSERT_EQ_STR(ack->timer_schedule->fire->task_id, assigned(&t, "med_rec", 0)->task_id);
    ASSERT_EQ_INT(ack->timer_schedule->due_at_ms, T0 + 15 * MIN);
    rt_fire(&t, ack, T0 + 15 * MIN);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.deadline_missed", 1);
    const Baton__V1__TaskDeadlineMissed *dm =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.deadline_missed", NULL, 0)->task_deadline_missed;
    ASSERT_EQ_STR(dm->deadline, "ack");
    ASSERT_EQ_INT(dm->due_at_ms, T0 + 15 * MIN);
    ASSERT_EQ_STR(dm->task->stage, "med_rec");
    wait_for(&t, BATON_TOPIC_NOTIFY, NULL, 3);
    const Baton__V1__NotificationRequest *n =
        rt_find(&t, BATON_TOPIC_NOTIFY, "notification.requested", NULL, 2)->notification_request;
    ASSERT_EQ_STR(n->kind, "reminder");
    ASSERT_EQ_STR(n->person, "ph1");

    /* the two escalation steps of med_rec: step 0 (15m, notify), step 1 (30m, reassign) */
    const Baton__V1__Envelope *s0 = NULL, *s1 = NULL;
    for (size_t i = 0; i < 8; i++) {
        const Baton__V1__Envelope *e =
            rt_find(&t, BATON_TOPIC_TIMERS, "timer.schedule", "escalation", i);
        const Baton__V1__TimerFired *f = e->timer_schedule->fire;
        if (strcmp(f->task_id, dm->task->task_id) != 0)
            continue;
        if (f->step == 0)
            s0 = e;
        if (f->step == 1) {
            s1 = e;
            break;
        }
    }
    ASSERT_NOT_NULL(s0);
    ASSERT_NOT_NULL(s1);
    rt_fire(&t, s0, T0 + 15 * MIN + 1000);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.escalated", 1);
    const Baton__V1__TaskEscalated *x =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.escalated", NULL, 0)->task_escalated;
    ASSERT_EQ_STR(x->step_action, "notify");
    ASSERT_EQ_STR(x->target_person, "ld1");
    ASSERT_EQ_STR(x->task->owner, "ph1");
    ASSERT_EQ_INT(x->level, 1);
    rt_fire(&t, s1, T0 + 30 * MIN);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.reassigned", 1);
    expect_types(&t, BATON_TOPIC_LIFECYCLE, "acme/E2",
                 "instance.started task.assigned task.skipped task.assigned "
                 "task.deadline_missed task.escalated task.escalated task.reassigned");
    const Baton__V1__TaskReassigned *r =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.reassigned", NULL, 0)->task_reassigned;
    ASSERT_EQ_STR(r->from_person, "ph1");
    ASSERT_EQ_STR(r->to_person, "ld1");
    ASSERT_EQ_STR(r->reason, "escalation");
    ASSERT_EQ_INT(r->task->escalation_level, 2);
    wait_for(&t, BATON_TOPIC_NOTIFY, NULL, 5);
    expect_types(&t, BATON_TOPIC_NOTIFY, "acme/E2",
                 "notification.requested notification.requested notification.requested "
                 "notification.requested notification.requested");
    for (size_t i = 3; i < 5; i++) {
        n = rt_find(&t, BATON_TOPIC_NOTIFY, "notification.requested", NULL, i)
                ->notification_request;
        ASSERT_EQ_STR(n->person, "ld1");
        ASSERT_EQ_STR(n->kind, "escalation");
        ASSERT_EQ_INT(n->urgent, 1);
    }
    /* a replayed firing (the timer service retried) changes nothing */
    rt_fire(&t, s1, T0 + 30 * MIN);
    rt_pump(&t, 1500);
    ASSERT_EQ_INT(rt_count(&t, BATON_TOPIC_LIFECYCLE, "task.escalated"), 2);
    Baton__V1__InstanceState *s = rt_state(&t, x->task->instance_id);
    ASSERT_NOT_NULL(s);
    ASSERT_EQ_STR(s->tasks[0]->owner, "ld1");
    ASSERT_EQ_STR(s->tasks[0]->role, "pharmacy_lead");
    ASSERT_EQ_STR(s->tasks[0]->status, "ready");
    ASSERT_EQ_INT(s->tasks[0]->escalation_level, 2);
    ASSERT_EQ_INT(s->tasks[0]->ack_breached, 1);
    baton_pathway_state_free(s);
    rt_free(&t);
}

/* Decline: the next person of the role (lowest tier first, unit shift before facility shift,
 * a shift that has ended never counts), never the decliner again. */
TEST(router_decline_goes_to_next_person)
{
    rt_t t;
    rt_init(&t, PATHWAYS);
    rt_shift(&t, "pharmacist", "", "ph_old", 1, T0 - 10 * 60 * MIN, T0 - 1); /* ended */
    rt_shift(&t, "pharmacist", "", "ph2", 2, 0, 0);
    rt_shift(&t, "pharmacist", "", "ph1", 1, 0, 0);
    rt_shift(&t, "nurse", "", "rn_fac", 1, 0, 0);
    rt_shift(&t, "nurse", UNIT, "rn_unit", 3, 0, 0);
    rt_router_start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E3", "patient_class=inpatient", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 2);
    const Baton__V1__TaskRef *med = assigned(&t, "med_rec", 0);
    ASSERT_EQ_STR(med->owner, "ph1");
    ASSERT_EQ_STR(assigned(&t, "discharge_education", 0)->owner, "rn_unit");
    rt_staff(&t, "ev-2", T0 + MIN, "E3", med->instance_id, med->task_id, DECLINE, "ph1",
             "pharmacist");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.reassigned", 1);
    expect_types(&t, BATON_TOPIC_LIFECYCLE, "acme/E3",
                 "instance.started task.assigned task.skipped task.assigned task.declined "
                 "task.reassigned");
    const Baton__V1__TaskReassigned *r =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.reassigned", NULL, 0)->task_reassigned;
    ASSERT_EQ_STR(r->from_person, "ph1");
    ASSERT_EQ_STR(r->to_person, "ph2");
    ASSERT_EQ_STR(r->reason, "decline");
    ASSERT_EQ_STR(r->task->status, "ready");
    wait_for(&t, BATON_TOPIC_NOTIFY, NULL, 3);
    const Baton__V1__NotificationRequest *n =
        rt_find(&t, BATON_TOPIC_NOTIFY, "notification.requested", NULL, 2)->notification_request;
    ASSERT_EQ_STR(n->person, "ph2");
    ASSERT_EQ_STR(n->kind, "assigned");
    /* ph1 may not act on it any more as its owner; ph2 acknowledges */
    rt_staff(&t, "ev-3", T0 + 2 * MIN, "E3", med->instance_id, med->task_id, ACK, "ph2",
             "pharmacist");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.acknowledged", 1);
    ASSERT_EQ_STR(rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.acknowledged", NULL, 0)
                      ->task_acknowledged->task->owner,
                  "ph2");
    rt_free(&t);
}

/* complete_on: an EHR event completes the stage only while it is active. */
TEST(router_complete_on_by_ehr_event)
{
    rt_t t;
    start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E4", "patient_class=inpatient", NULL);
    /* too early: transport has not started */
    rt_clinical(&t, "ev-2", "transport.completed", T0 + MIN, "E4", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 2);
    const Baton__V1__TaskRef *med = assigned(&t, "med_rec", 0);
    const Baton__V1__TaskRef *edu = assigned(&t, "discharge_education", 0);
    rt_staff(&t, "ev-3", T0 + 2 * MIN, "E4", med->instance_id, med->task_id, COMPLETE, "ph1",
             "pharmacist");
    rt_staff(&t, "ev-4", T0 + 3 * MIN, "E4", edu->instance_id, edu->task_id, COMPLETE, "rn1",
             "nurse");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 3);
    rt_pump(&t, 500);
    ASSERT_EQ_INT(rt_count(&t, BATON_TOPIC_LIFECYCLE, "task.completed"), 2);
    /* a person may not complete a stage the EHR completes (409), the event does */
    const Baton__V1__TaskRef *tr = assigned(&t, "transport", 0);
    rt_staff(&t, "ev-5", T0 + 4 * MIN, "E4", tr->instance_id, tr->task_id, COMPLETE, "tr1",
             "transport");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "action.rejected", 1);
    ASSERT_EQ_INT(
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "action.rejected", NULL, 0)->action_rejected->status,
        409);
    rt_clinical(&t, "ev-6", "transport.completed", T0 + 40 * MIN, "E4", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.completed", 3);
    const Baton__V1__TaskCompleted *c =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.completed", "transport", 0)->task_completed;
    ASSERT_EQ_STR(c->by_event_id, "ev-6");
    ASSERT_EQ_STR(c->actor, "");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 4);
    expect_types(&t, BATON_TOPIC_LIFECYCLE, "acme/E4",
                 "instance.started task.assigned task.skipped task.assigned task.completed "
                 "task.completed task.assigned action.rejected task.completed task.assigned");
    rt_free(&t);
}

/* cancel_on cancels the instance and its open tasks and stops their clocks; a second trigger
 * while active is ignored (recorded); after the cancel a new trigger starts a new instance. */
TEST(router_cancel_on_and_trigger_ignored)
{
    rt_t t;
    start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E5", "patient_class=inpatient", NULL);
    rt_clinical(&t, "ev-2", "order.discharge", T0 + MIN, "E5", "patient_class=inpatient", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "trigger.ignored", 1);
    const Baton__V1__TriggerIgnored *ti =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "trigger.ignored", NULL, 0)->trigger_ignored;
    char iid[BATON_ID_LEN];
    baton_derived_id("ev-1", "instance:discharge", iid);
    ASSERT_EQ_STR(ti->instance_id, iid);
    ASSERT_EQ_STR(ti->event_id, "ev-2");
    rt_clinical(&t, "ev-3", "adt.cancel_discharge", T0 + 2 * MIN, "E5", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "instance.cancelled", 1);
    expect_types(&t, BATON_TOPIC_LIFECYCLE, "acme/E5",
                 "instance.started task.assigned task.skipped task.assigned trigger.ignored "
                 "task.cancelled task.cancelled instance.cancelled");
    ASSERT_EQ_STR(rt_find(&t, BATON_TOPIC_LIFECYCLE, "instance.cancelled", NULL, 0)
                      ->instance_cancelled->cancel_event_id,
                  "ev-3");
    rt_pump(&t, 300);
    expect_all_timers_cancelled(&t);
    /* acting on a cancelled task: the router's answer is 409 */
    const Baton__V1__TaskRef *med = assigned(&t, "med_rec", 0);
    rt_staff(&t, "ev-4", T0 + 3 * MIN, "E5", med->instance_id, med->task_id, ACK, "ph1",
             "pharmacist");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "action.rejected", 1);
    const Baton__V1__ActionRejected *rj =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "action.rejected", NULL, 0)->action_rejected;
    ASSERT_EQ_INT(rj->status, 409);
    ASSERT_EQ_STR(rj->action_event_id, "ev-4");
    /* a new discharge order starts a fresh instance */
    rt_clinical(&t, "ev-5", "order.discharge", T0 + 10 * MIN, "E5", "patient_class=inpatient",
                NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "instance.started", 2);
    char iid2[BATON_ID_LEN];
    baton_derived_id("ev-5", "instance:discharge", iid2);
    ASSERT_EQ_STR(rt_find(&t, BATON_TOPIC_LIFECYCLE, "instance.started", NULL, 1)
                      ->instance_started->instance_id,
                  iid2);
    Baton__V1__InstanceState *s = rt_state(&t, iid);
    ASSERT_EQ_STR(s->status, "cancelled");
    ASSERT_EQ_STR(s->tasks[0]->status, "cancelled");
    ASSERT_EQ_INT(s->tasks[0]->n_timers, 0);
    baton_pathway_state_free(s);
    redisReply *r = NULL;
    ASSERT_EQ_INT(baton_redis_command(t.rc, &r, "SMEMBERS baton:corr:acme/E5"), 0);
    ASSERT_EQ_INT(r->elements, 1);
    ASSERT_EQ_STR(r->element[0]->str, iid2);
    freeReplyObject(r);
    /* the cancelled instance keeps its state for a while, not forever */
    char *k = baton_xasprintf("PTTL baton:inst:%s", iid);
    ASSERT_EQ_INT(baton_redis_command(t.rc, &r, k), 0);
    ASSERT_TRUE(r->integer > 0 && r->integer <= 7LL * 24 * 3600 * 1000);
    freeReplyObject(r);
    free(k);
    rt_free(&t);
}

/* Nobody covers the role: the task waits on it (no owner, no notice) and a coverage.gap is
 * raised; a role holder who shows up may pick the task up. */
TEST(router_coverage_gap)
{
    rt_t t;
    rt_init(&t, PATHWAYS);
    rt_shift(&t, "nurse", UNIT, "rn1", 1, 0, 0); /* no pharmacist at all */
    rt_router_start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E6", "patient_class=inpatient", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 2);
    expect_types(&t, BATON_TOPIC_LIFECYCLE, "acme/E6",
                 "instance.started task.assigned coverage.gap task.skipped task.assigned");
    const Baton__V1__TaskAssigned *a =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", "med_rec", 0)->task_assigned;
    ASSERT_EQ_STR(a->person, "");
    ASSERT_EQ_STR(a->resolved_by, "none");
    const Baton__V1__CoverageGap *g =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "coverage.gap", NULL, 0)->coverage_gap;
    ASSERT_EQ_STR(g->role, "pharmacist");
    ASSERT_EQ_STR(g->scope, "facility");
    ASSERT_EQ_STR(g->task_id, a->task->task_id);
    ASSERT_EQ_INT(g->at_ms, T0);
    wait_for(&t, BATON_TOPIC_NOTIFY, NULL, 1);
    rt_pump(&t, 300);
    ASSERT_EQ_INT(rt_count(&t, BATON_TOPIC_NOTIFY, NULL), 1); /* only rn1's */
    rt_staff(&t, "ev-2", T0 + MIN, "E6", a->task->instance_id, a->task->task_id, ACK, "ph9",
             "pharmacist");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.acknowledged", 1);
    ASSERT_EQ_STR(rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.acknowledged", NULL, 0)
                      ->task_acknowledged->task->owner,
                  "ph9");
    rt_free(&t);
}

/* What is not an Envelope goes to the DLQ with its bytes, and the partition moves on. */
TEST(router_unparseable_input_to_dlq)
{
    rt_t t;
    start(&t);
    const char junk[] = "\xff\xfe not a protobuf envelope";
    rt_send_raw(&t, "acme/E7", junk, sizeof junk - 1);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E7", "patient_class=inpatient", NULL);
    wait_for(&t, BATON_TOPIC_DLQ, "dead_letter", 1);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "instance.started", 1);
    const Baton__V1__DeadLetter *d =
        rt_find(&t, BATON_TOPIC_DLQ, "dead_letter", NULL, 0)->dead_letter;
    ASSERT_EQ_STR(d->original_topic, BATON_TOPIC_INBOUND);
    ASSERT_EQ_STR(d->original_key, "acme/E7");
    ASSERT_EQ_INT(d->payload.len, sizeof junk - 1);
    ASSERT_TRUE(memcmp(d->payload.data, junk, sizeof junk - 1) == 0);
    ASSERT_TRUE(d->reason[0] != '\0');
    rt_free(&t);
}

/* Redis goes away: the router neither turns the failed role lookups into coverage gaps nor
 * moves on; it reports not ready, retries the batch, and carries on when Redis is back. */
TEST(router_redis_outage_is_retried_not_a_gap)
{
    rt_t t;
    start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E8", "patient_class=inpatient", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 2);
    ASSERT_EQ_INT(harness_redis_stop(&t.redis), 0); /* clean shutdown: the AOF keeps it all */
    rt_clinical(&t, "ev-2", "order.discharge", T0 + MIN, "E9", "patient_class=inpatient", NULL);
    rt_pump(&t, 2500);
    ASSERT_EQ_INT(rt_count(&t, BATON_TOPIC_LIFECYCLE, NULL), 4); /* nothing for E9 yet */
    int status = 0;
    ASSERT_EQ_INT(harness_http_get(t.ops_port, "/readyz", &status, NULL), 0);
    ASSERT_EQ_INT(status, 503);
    ASSERT_EQ_INT(harness_redis_restart(&t.redis), 0);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 4);
    expect_types(&t, BATON_TOPIC_LIFECYCLE, "acme/E9",
                 "instance.started task.assigned task.skipped task.assigned");
    ASSERT_EQ_STR(assigned(&t, "med_rec", 1)->owner, "ph1");
    ASSERT_EQ_INT(rt_count(&t, BATON_TOPIC_LIFECYCLE, "coverage.gap"), 0);
    ASSERT_EQ_INT(harness_wait_http_ok(t.ops_port, "/readyz", 10000), 0);
    char *m = rt_metrics(&t);
    ASSERT_TRUE(strstr(m, "baton_router_retries_total{phase=\"load\"} 0\n") == NULL);
    free(m);
    rt_free(&t);
}

/* An instance whose pathway version is no longer loaded (its definition was removed): inputs
 * for it go to the DLQ, a staff action is answered 409, and the router carries on. */
TEST(router_unknown_pathway_version_to_dlq)
{
    rt_t t;
    start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E10", "patient_class=inpatient", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 2);
    const Baton__V1__TaskRef *med = assigned(&t, "med_rec", 0);
    Baton__V1__InstanceState *s = rt_state(&t, med->instance_id);
    ASSERT_NOT_NULL(s);
    s->pathway_version = 99; /* as if discharge v99 had run and its file were gone */
    size_t len;
    uint8_t *buf = baton_pathway_state_pack(s, &len);
    redisReply *r = NULL;
    ASSERT_EQ_INT(baton_redis_command(t.rc, &r, "SET baton:inst:%s %b", s->instance_id, buf, len),
                  0);
    freeReplyObject(r);
    free(buf);
    baton_pathway_state_free(s);
    rt_staff(&t, "ev-2", T0 + MIN, "E10", med->instance_id, med->task_id, ACK, "ph1", "pharmacist");
    wait_for(&t, BATON_TOPIC_DLQ, "dead_letter", 1);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "action.rejected", 1);
    const Baton__V1__DeadLetter *d =
        rt_find(&t, BATON_TOPIC_DLQ, "dead_letter", NULL, 0)->dead_letter;
    ASSERT_EQ_STR(d->original_event_id, "ev-2");
    ASSERT_CONTAINS(d->reason, "version 99, which is not loaded");
    ASSERT_EQ_INT(
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "action.rejected", NULL, 0)->action_rejected->status,
        409);
    /* the router carries on with other work */
    rt_clinical(&t, "ev-3", "order.discharge", T0 + 2 * MIN, "E11", "patient_class=inpatient",
                NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "instance.started", 2);
    rt_free(&t);
}

/* A staff action that names only its task: the instance is found through baton:task:<id>,
 * read from Redis (one batch at a time: the batch that started it is written and evicted from
 * the cache by then). */
TEST(router_staff_action_by_task_id_only)
{
    rt_t t;
    rt_init(&t, PATHWAYS);
    default_roster(&t);
    t.extra_env[0] = "BATON_ROUTER_PIPELINE=false";
    rt_router_start(&t);
    rt_clinical(&t, "ev-1", "order.discharge", T0, "E12", "patient_class=inpatient", NULL);
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 2);
    const Baton__V1__TaskRef *med = assigned(&t, "med_rec", 0);
    rt_staff(&t, "ev-2", T0 + MIN, "E12", "", med->task_id, ACK, "ph1", "pharmacist");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.acknowledged", 1);
    const Baton__V1__Envelope *a = rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.acknowledged", NULL, 0);
    ASSERT_EQ_STR(a->task_acknowledged->task->instance_id, med->instance_id);
    rt_staff(&t, "ev-3", T0 + 2 * MIN, "E12", "", med->task_id, COMPLETE, "ph1", "pharmacist");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.completed", 1);
    rt_free(&t); /* asserts a clean exit */
}

TEST_MAIN()
