/* test_pathway_escalation.c — clocks and escalation: ack / completion reminders, notify and
 * reassign steps with `unless`, repeats, stale timers, and the decline chain. */
#include <stdlib.h>
#include <string.h>

#include "pw_test.h"
#include "test.h"

#define FLOW FIXTURES "/machine/flow.yaml"

static void start(pw_world_t *w)
{
    pw_world_init(w, FLOW);
    ASSERT_EQ_INT(pw_step(w, pw_clinical("trig-1", "order.discharge", T0, "E1",
                                         "patient_class=inpatient", NULL)),
                  0);
}

static void expect_types(pw_world_t *w, const char *want)
{
    char *got = pw_types(&w->out);
    ASSERT_EQ_STR(got, want);
    free(got);
}

static void staff(pw_world_t *w, const char *id, int64_t t, const char *stage, Baton__V1__Action a,
                  const char *actor, const char *roles)
{
    ASSERT_EQ_INT(pw_step(w, pw_staff(id, t, w->st[0], stage, a, actor, roles, NULL)), 0);
    ASSERT_EQ_INT(pw_count(&w->out, "action.rejected"), 0);
}

TEST(pathway_escalation_timing)
{
    pw_world_t w;
    start(&w);
    /* nothing is due before 15m */
    ASSERT_EQ_INT(pw_fire_until(&w, T0 + 15 * MIN - 1), 0);
    /* 15m: the ack deadline passes (reminder to the owner), then step 1 notifies the lead */
    ASSERT_EQ_INT(pw_step(&w, pw_timer(&w, 0, "a", "ack_deadline", 0, T0 + 15 * MIN)), 0);
    expect_types(&w, "task.deadline_missed notification.requested");
    const Baton__V1__NotificationRequest *n =
        pw_find(&w.out, "notification.requested", 0)->notification_request;
    ASSERT_EQ_STR(n->kind, "reminder");
    ASSERT_EQ_STR(n->person, "ph1");
    ASSERT_EQ_INT(n->urgent, 0);
    ASSERT_EQ_INT(n->created_at_ms, T0 + 15 * MIN);
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->ack_breached, 1);
    ASSERT_EQ_INT(pw_step(&w, pw_timer(&w, 0, "a", "escalation", 0, T0 + 15 * MIN + 7)), 0);
    expect_types(&w, "task.escalated notification.requested");
    const Baton__V1__TaskEscalated *x = pw_find(&w.out, "task.escalated", 0)->task_escalated;
    ASSERT_EQ_INT(x->level, 1);
    ASSERT_EQ_INT(x->step, 0);
    ASSERT_EQ_STR(x->step_action, "notify");
    ASSERT_EQ_STR(x->target_role, "lead");
    ASSERT_EQ_STR(x->target_person, "ld1");
    ASSERT_EQ_INT(x->repeat, 0);
    ASSERT_EQ_STR(x->task->owner, "ph1"); /* notify keeps the owner */
    n = pw_find(&w.out, "notification.requested", 0)->notification_request;
    ASSERT_EQ_STR(n->kind, "escalation");
    ASSERT_EQ_STR(n->person, "ld1");
    ASSERT_EQ_INT(n->urgent, 1);
    ASSERT_EQ_INT(n->level, 1);
    /* the transition's "now" is the timer's fired_at, not the envelope's recorded time */
    ASSERT_EQ_INT(pw_find(&w.out, "task.escalated", 0)->occurred_at_ms, T0 + 15 * MIN + 7);

    /* 30m, still not acknowledged: reassigned to the lead */
    ASSERT_EQ_INT(pw_fire_until(&w, T0 + 30 * MIN), 1);
    expect_types(&w, "task.escalated task.reassigned notification.requested");
    const Baton__V1__TaskReassigned *r = pw_find(&w.out, "task.reassigned", 0)->task_reassigned;
    ASSERT_EQ_STR(r->from_person, "ph1");
    ASSERT_EQ_STR(r->to_person, "ld1");
    ASSERT_EQ_STR(r->actor, "");
    ASSERT_EQ_STR(r->reason, "escalation");
    Baton__V1__TaskState *a = pw_task(&w, 0, "a");
    ASSERT_EQ_STR(a->owner, "ld1");
    ASSERT_EQ_STR(a->role, "lead");
    ASSERT_EQ_INT(a->escalation_level, 2);
    ASSERT_EQ_STR(a->status, "ready");

    staff(&w, "ack", T0 + 40 * MIN, "a", BATON__V1__ACTION__ACTION_ACK, "ld1", "lead");
    /* 2h: the completion deadline passes and step 3 (unless completed) fires, then repeats */
    ASSERT_EQ_INT(pw_fire_until(&w, T0 + 120 * MIN), 2);
    a = pw_task(&w, 0, "a");
    ASSERT_EQ_INT(a->complete_breached, 1);
    ASSERT_EQ_INT(a->escalation_level, 3);
    expect_types(&w, "task.escalated notification.requested timer.schedule");
    const Baton__V1__TimerSchedule *ts = pw_find(&w.out, "timer.schedule", 0)->timer_schedule;
    ASSERT_EQ_INT(ts->due_at_ms, T0 + 150 * MIN);
    ASSERT_EQ_INT(ts->fire->repeat, 1);
    ASSERT_EQ_STR(pw_find(&w.out, "notification.requested", 0)->notification_request->person,
                  "cn1");
    ASSERT_EQ_INT(pw_fire_until(&w, T0 + 150 * MIN), 1);
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->escalation_level, 4);
    ASSERT_EQ_INT(pw_find(&w.out, "task.escalated", 0)->task_escalated->repeat, 1);
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->step_fired[2], 2);
    /* a repeat that fires late (an outage) does not replay the missed ones */
    Baton__V1__Envelope *late = pw_timer(&w, 0, "a", "escalation", 2, T0 + 250 * MIN);
    ASSERT_EQ_INT(late->timer_fired->due_at_ms, T0 + 180 * MIN);
    ASSERT_EQ_INT(pw_step(&w, late), 0);
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->escalation_level, 5);
    ASSERT_EQ_INT(pw_find(&w.out, "timer.schedule", 0)->timer_schedule->due_at_ms, T0 + 270 * MIN);

    /* completion cancels the pending repeat; the timer, if it still fires, is ignored */
    Baton__V1__Envelope *stale = pw_timer(&w, 0, "a", "escalation", 2, T0 + 280 * MIN);
    char want_id[64];
    snprintf(want_id, sizeof(want_id), "%s", stale->timer_fired->timer_id);
    staff(&w, "done", T0 + 260 * MIN, "a", BATON__V1__ACTION__ACTION_COMPLETE, "ld1", "");
    ASSERT_EQ_STR(pw_find(&w.out, "timer.cancel", 0)->timer_cancel->timer_id, want_id);
    ASSERT_EQ_INT(pw_step(&w, stale), 0);
    ASSERT_EQ_INT(w.out.n, 0);
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->escalation_level, 5);
    pw_world_free(&w);
}

TEST(pathway_escalation_unless_acknowledged)
{
    pw_world_t w;
    start(&w);
    staff(&w, "ack", T0 + 10 * MIN, "a", BATON__V1__ACTION__ACTION_ACK, "ph1", "");
    /* ack deadline and steps 1-2 find the task acknowledged: no output, no level */
    ASSERT_EQ_INT(pw_fire_until(&w, T0 + 60 * MIN), 3);
    ASSERT_EQ_INT(w.out.n, 0);
    Baton__V1__TaskState *a = pw_task(&w, 0, "a");
    ASSERT_EQ_INT(a->escalation_level, 0);
    ASSERT_EQ_INT(a->ack_breached, 0);
    ASSERT_EQ_INT(a->n_timers, 2); /* completion deadline and step 3 remain */
    pw_world_free(&w);
}

TEST(pathway_timer_ids_are_deterministic)
{
    pw_world_t w1, w2;
    start(&w1);
    start(&w2);
    Baton__V1__TaskState *a1 = pw_task(&w1, 0, "a"), *a2 = pw_task(&w2, 0, "a");
    ASSERT_EQ_INT(a1->n_timers, a2->n_timers);
    for (size_t i = 0; i < a1->n_timers; i++) {
        ASSERT_EQ_STR(a1->timers[i]->timer_id, a2->timers[i]->timer_id);
        for (size_t j = 0; j < i; j++)
            ASSERT_TRUE(strcmp(a1->timers[i]->timer_id, a1->timers[j]->timer_id) != 0);
    }
    char want[BATON_ID_LEN];
    baton_derived_id(w1.st[0]->instance_id, "timer:a:escalation:1:0", want);
    ASSERT_EQ_STR(a1->timers[3]->timer_id, want);
    pw_world_free(&w1);
    pw_world_free(&w2);
}

TEST(pathway_decline_chain)
{
    pw_world_t w;
    start(&w);
    /* ph1 declines: the role's next person */
    staff(&w, "d1", T0 + MIN, "a", BATON__V1__ACTION__ACTION_DECLINE, "ph1", "pharmacist");
    expect_types(&w, "task.declined task.reassigned notification.requested");
    ASSERT_EQ_STR(pw_find(&w.out, "task.declined", 0)->task_declined->actor, "ph1");
    const Baton__V1__TaskReassigned *r = pw_find(&w.out, "task.reassigned", 0)->task_reassigned;
    ASSERT_EQ_STR(r->from_person, "ph1");
    ASSERT_EQ_STR(r->to_person, "ph2");
    ASSERT_EQ_STR(r->reason, "decline");
    ASSERT_EQ_STR(pw_find(&w.out, "notification.requested", 0)->notification_request->person,
                  "ph2");
    Baton__V1__TaskState *a = pw_task(&w, 0, "a");
    ASSERT_EQ_STR(a->owner, "ph2");
    ASSERT_EQ_STR(a->status, "ready");
    ASSERT_EQ_INT(a->n_declined_by, 1);
    ASSERT_EQ_INT(a->escalation_level, 0);

    /* ph2 accepts, then declines: no pharmacist left, so up the chain (the reassign step) */
    staff(&w, "k2", T0 + 2 * MIN, "a", BATON__V1__ACTION__ACTION_ACK, "ph2", "");
    staff(&w, "d2", T0 + 3 * MIN, "a", BATON__V1__ACTION__ACTION_DECLINE, "ph2", "pharmacist");
    expect_types(&w, "task.declined timer.cancel task.escalated task.reassigned "
                     "notification.requested");
    a = pw_task(&w, 0, "a");
    ASSERT_EQ_STR(a->owner, "ld1");
    ASSERT_EQ_STR(a->role, "lead");
    ASSERT_EQ_INT(a->escalation_level, 1);
    ASSERT_EQ_INT(a->step_fired[1], 1);
    ASSERT_EQ_INT(a->n_timers, 4); /* the reassign step's timer is gone */
    ASSERT_EQ_STR(pw_find(&w.out, "task.reassigned", 0)->task_reassigned->from_person, "ph2");

    /* the lead declines too: nobody left and no reassign step: the task waits on the role */
    staff(&w, "d3", T0 + 4 * MIN, "a", BATON__V1__ACTION__ACTION_DECLINE, "ld1", "lead");
    expect_types(&w, "task.declined task.reassigned coverage.gap");
    a = pw_task(&w, 0, "a");
    ASSERT_EQ_STR(a->owner, "");
    ASSERT_EQ_STR(a->status, "ready");
    ASSERT_EQ_INT(a->n_declined_by, 3);
    ASSERT_EQ_STR(a->declined_by[2], "ld1");
    ASSERT_EQ_STR(pw_find(&w.out, "coverage.gap", 0)->coverage_gap->role, "lead");
    /* nobody owns it: decline is a 409; a role holder may pick it up */
    ASSERT_EQ_INT(pw_step(&w, pw_staff("d4", T0, w.st[0], "a", BATON__V1__ACTION__ACTION_DECLINE,
                                       "ph1", "pharmacist", NULL)),
                  0);
    ASSERT_EQ_INT(pw_find(&w.out, "action.rejected", 0)->action_rejected->status, 409);
    staff(&w, "k5", T0 + 5 * MIN, "a", BATON__V1__ACTION__ACTION_ACK, "ld2", "lead");
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->owner, "ld2");
    pw_world_free(&w);
}

TEST(pathway_escalation_reassign_gap_keeps_owner)
{
    pw_world_t w;
    start(&w);
    pw_roster_remove(&w.roster, "lead");
    ASSERT_EQ_INT(pw_fire_until(&w, T0 + 30 * MIN), 3);
    /* step 1 notify and step 2 reassign both find nobody: gaps, level rises, owner stays */
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->owner, "ph1");
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->role, "pharmacist");
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->escalation_level, 2);
    expect_types(&w, "task.escalated coverage.gap");
    ASSERT_EQ_STR(pw_find(&w.out, "task.escalated", 0)->task_escalated->target_person, "");
    pw_world_free(&w);
}

/* The ack / completion windows running out are recorded as task.deadline_missed (an SLA
 * breach), once per window, before the reminder; a window that was met records nothing. */
TEST(pathway_deadline_missed)
{
    pw_world_t w;
    start(&w);
    const char *task_id = pw_task(&w, 0, "a")->task_id;
    char tid[BATON_ID_LEN];
    baton_strlcpy(tid, task_id, sizeof(tid));
    ASSERT_EQ_INT(pw_step(&w, pw_timer(&w, 0, "a", "ack_deadline", 0, T0 + 15 * MIN + 3)), 0);
    expect_types(&w, "task.deadline_missed notification.requested");
    const Baton__V1__Envelope *e = pw_find(&w.out, "task.deadline_missed", 0);
    ASSERT_EQ_INT(e->body_case, BATON__V1__ENVELOPE__BODY_TASK_DEADLINE_MISSED);
    ASSERT_EQ_STR(e->causation_id, "tf-1");
    ASSERT_EQ_STR(e->producer, "router");
    ASSERT_EQ_INT(e->occurred_at_ms, T0 + 15 * MIN + 3);
    const Baton__V1__TaskDeadlineMissed *d = e->task_deadline_missed;
    ASSERT_EQ_STR(d->deadline, "ack");
    ASSERT_EQ_INT(d->due_at_ms, T0 + 15 * MIN); /* the window's end, not the firing time */
    ASSERT_EQ_STR(d->task->task_id, tid);
    ASSERT_EQ_STR(d->task->stage, "a");
    ASSERT_EQ_STR(d->task->status, "ready");
    ASSERT_EQ_STR(d->task->owner, "ph1");
    ASSERT_EQ_STR(d->task->pathway, "flow");
    ASSERT_EQ_INT(d->task->escalation_level, 0);
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->ack_breached, 1);
    /* the id is derived from the input: the same firing gives the same id */
    char want[BATON_ID_LEN];
    char *purpose = baton_xasprintf("%s/task.deadline_missed/a#0", w.st[0]->instance_id);
    baton_derived_id("tf-1", purpose, want);
    free(purpose);
    ASSERT_EQ_STR(e->id, want);

    /* acknowledged late, then the completion window runs out: deadline "complete" */
    staff(&w, "ack", T0 + 20 * MIN, "a", BATON__V1__ACTION__ACTION_ACK, "ph1", "");
    ASSERT_EQ_INT(pw_step(&w, pw_timer(&w, 0, "a", "complete_deadline", 0, T0 + 120 * MIN)), 0);
    expect_types(&w, "task.deadline_missed notification.requested");
    d = pw_find(&w.out, "task.deadline_missed", 0)->task_deadline_missed;
    ASSERT_EQ_STR(d->deadline, "complete");
    ASSERT_EQ_INT(d->due_at_ms, T0 + 120 * MIN);
    ASSERT_EQ_STR(d->task->status, "accepted");
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->complete_breached, 1);
    pw_world_free(&w);

    /* windows that were met: the deadline timers find nothing to record */
    start(&w);
    staff(&w, "ack", T0 + MIN, "a", BATON__V1__ACTION__ACTION_ACK, "ph1", "");
    ASSERT_EQ_INT(pw_step(&w, pw_timer(&w, 0, "a", "ack_deadline", 0, T0 + 15 * MIN)), 0);
    ASSERT_EQ_INT(w.out.n, 0);
    staff(&w, "done", T0 + 2 * MIN, "a", BATON__V1__ACTION__ACTION_COMPLETE, "ph1", "");
    ASSERT_EQ_INT(pw_count(&w.out, "task.deadline_missed"), 0);
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->ack_breached, 0);
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->complete_breached, 0);
    pw_world_free(&w);
}
