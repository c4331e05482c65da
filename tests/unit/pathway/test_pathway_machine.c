/* test_pathway_machine.c — the state machine: start, activation along the DAG, skip on `when`,
 * staff actions and every rejection, complete_on, cancel_on, coverage gaps, resolver failure,
 * dedup, version pinning. */
#include <stdlib.h>
#include <string.h>

#include "pw_test.h"
#include "test.h"

#define FLOW FIXTURES "/machine/flow.yaml"
#define ACK BATON__V1__ACTION__ACTION_ACK
#define START BATON__V1__ACTION__ACTION_START
#define COMPLETE BATON__V1__ACTION__ACTION_COMPLETE
#define DECLINE BATON__V1__ACTION__ACTION_DECLINE
#define REASSIGN BATON__V1__ACTION__ACTION_REASSIGN
#define COMMENT BATON__V1__ACTION__ACTION_COMMENT

static void expect_types(pw_world_t *w, const char *want)
{
    char *got = pw_types(&w->out);
    ASSERT_EQ_STR(got, want);
    free(got);
}

static void start_flow(pw_world_t *w, const char *extra)
{
    pw_world_init(w, FLOW);
    ASSERT_EQ_INT(pw_step(w, pw_clinical("trig-1", "order.discharge", T0, "E1",
                                         "patient_class=inpatient", extra, NULL)),
                  0);
    ASSERT_EQ_INT(w->n, 1);
}

/* A staff action; returns the rejection status (0 when accepted). */
static int act(pw_world_t *w, const char *id, int64_t t, const char *stage, Baton__V1__Action a,
               const char *actor, const char *roles, const char *to)
{
    ASSERT_EQ_INT(pw_step(w, pw_staff(id, t, w->st[0], stage, a, actor, roles, to)), 0);
    if (pw_count(&w->out, "action.rejected") == 0)
        return 0;
    ASSERT_EQ_INT(w->out.n, 1);
    return pw_find(&w->out, "action.rejected", 0)->action_rejected->status;
}

TEST(pathway_start_activates_skips_and_schedules)
{
    pw_world_t w;
    start_flow(&w, NULL);
    expect_types(&w, "instance.started task.assigned notification.requested timer.schedule "
                     "timer.schedule timer.schedule timer.schedule timer.schedule task.skipped");
    Baton__V1__InstanceState *s = w.st[0];
    ASSERT_EQ_STR(s->status, "active");
    ASSERT_EQ_STR(s->pathway, "flow");
    ASSERT_EQ_INT(s->pathway_version, 1);
    ASSERT_EQ_STR(s->correlation_key, "acme/E1");
    ASSERT_EQ_INT(s->created_at_ms, T0);
    Baton__V1__TaskState *a = pw_task(&w, 0, "a"), *b = pw_task(&w, 0, "b"),
                         *c = pw_task(&w, 0, "c");
    ASSERT_EQ_STR(a->status, "ready");
    ASSERT_EQ_STR(a->owner, "ph1");
    ASSERT_EQ_STR(a->resolved_by, "facility_shift");
    ASSERT_EQ_INT(a->ack_due_at_ms, T0 + 15 * MIN);
    ASSERT_EQ_INT(a->complete_due_at_ms, T0 + 120 * MIN);
    ASSERT_EQ_INT(a->n_timers, 5);
    ASSERT_EQ_STR(b->status, "cancelled");
    ASSERT_EQ_INT(b->skipped, 1);
    ASSERT_EQ_STR(b->status_reason, "when: disposition=snf (is unset)");
    ASSERT_EQ_STR(c->status, ""); /* waits on a */

    const Baton__V1__Envelope *e = pw_find(&w.out, "task.assigned", 0);
    ASSERT_EQ_STR(e->task_assigned->person, "ph1");
    ASSERT_EQ_STR(e->task_assigned->reason, "activation");
    ASSERT_EQ_STR(e->task_assigned->resolved_by, "facility_shift");
    ASSERT_EQ_STR(e->task_assigned->task->status, "ready");
    ASSERT_EQ_INT(e->task_assigned->ack_due_at_ms, T0 + 15 * MIN);
    ASSERT_EQ_STR(e->tenant, "acme");
    ASSERT_EQ_STR(e->facility, "F1");
    ASSERT_EQ_STR(e->unit, "4W");
    ASSERT_EQ_STR(e->correlation_key, "acme/E1");
    ASSERT_EQ_STR(e->causation_id, "trig-1");
    ASSERT_EQ_STR(e->producer, "router");
    ASSERT_EQ_INT(e->occurred_at_ms, T0);
    const Baton__V1__Envelope *n = pw_find(&w.out, "notification.requested", 0);
    ASSERT_EQ_STR(n->notification_request->person, "ph1");
    ASSERT_EQ_STR(n->notification_request->kind, "assigned");
    ASSERT_EQ_STR(n->notification_request->stage_title, "Stage A");
    ASSERT_EQ_STR(n->notification_request->pathway_title, "Test flow");
    ASSERT_EQ_STR(n->notification_request->notification_id, n->id);
    /* each output on its topic; ids derived from the input and unique */
    for (size_t i = 0; i < w.out.n; i++) {
        const baton_output_t *o = &w.out.items[i];
        const char *want = strncmp(o->env->type, "timer.", 6) == 0  ? BATON_TOPIC_TIMERS
                           : strncmp(o->env->type, "notif", 5) == 0 ? BATON_TOPIC_NOTIFY
                                                                    : BATON_TOPIC_LIFECYCLE;
        ASSERT_EQ_STR(o->topic, want);
        char id[BATON_ID_LEN];
        baton_derived_id("trig-1", o->purpose, id);
        ASSERT_EQ_STR(o->env->id, id);
        for (size_t j = 0; j < i; j++)
            ASSERT_TRUE(strcmp(w.out.items[j].env->id, o->env->id) != 0);
    }
    const Baton__V1__Envelope *ts = pw_find(&w.out, "timer.schedule", 2);
    ASSERT_EQ_STR(ts->timer_schedule->fire->purpose, "escalation");
    ASSERT_EQ_INT(ts->timer_schedule->fire->step, 0);
    ASSERT_EQ_INT(ts->timer_schedule->due_at_ms, T0 + 15 * MIN);
    ASSERT_EQ_STR(ts->timer_schedule->fire->instance_id, s->instance_id);
    ASSERT_EQ_STR(ts->timer_schedule->fire->task_id, a->task_id);
    pw_world_free(&w);
}

TEST(pathway_trigger_filter_ignore_and_replay)
{
    pw_world_t w;
    pw_world_init(&w, FLOW);
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t0", "order.discharge", T0, "E1",
                                          "patient_class=outpatient", NULL)),
                  0);
    ASSERT_EQ_INT(w.n, 0);
    ASSERT_EQ_INT(w.out.n, 0);
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t1", "order.discharge", T0, "E1",
                                          "patient_class=observation", NULL)),
                  0);
    ASSERT_EQ_INT(w.n, 1);
    /* the same trigger again (a replay): nothing */
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t1", "order.discharge", T0, "E1",
                                          "patient_class=observation", NULL)),
                  0);
    ASSERT_EQ_INT(w.n, 1);
    ASSERT_EQ_INT(w.out.n, 0);
    /* another trigger while one is active: recorded as ignored */
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t2", "order.discharge", T0 + MIN, "E1",
                                          "patient_class=inpatient", NULL)),
                  0);
    ASSERT_EQ_INT(w.n, 1);
    expect_types(&w, "trigger.ignored");
    const Baton__V1__TriggerIgnored *ti = pw_find(&w.out, "trigger.ignored", 0)->trigger_ignored;
    ASSERT_EQ_STR(ti->pathway, "flow");
    ASSERT_EQ_STR(ti->instance_id, w.st[0]->instance_id);
    ASSERT_EQ_STR(ti->event_id, "t2");
    pw_world_free(&w);
}

TEST(pathway_full_flow_to_completion)
{
    pw_world_t w;
    start_flow(&w, NULL);
    ASSERT_EQ_INT(act(&w, "s1", T0 + MIN, "a", ACK, "ph1", "pharmacist", NULL), 0);
    expect_types(&w, "task.acknowledged");
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->status, "accepted");
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->acknowledged_at_ms, T0 + MIN);
    ASSERT_EQ_INT(act(&w, "s2", T0 + 2 * MIN, "a", START, "ph1", "pharmacist", NULL), 0);
    expect_types(&w, "task.started");
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->status, "in-progress");
    ASSERT_EQ_INT(act(&w, "s3", T0 + 3 * MIN, "a", COMMENT, "ph1", "pharmacist", NULL), 0);
    expect_types(&w, "task.commented");
    ASSERT_EQ_STR(pw_find(&w.out, "task.commented", 0)->task_commented->note, "note");
    ASSERT_EQ_INT(act(&w, "s4", T0 + 4 * MIN, "a", COMPLETE, "ph1", "pharmacist", NULL), 0);
    expect_types(&w, "task.completed timer.cancel timer.cancel timer.cancel timer.cancel "
                     "timer.cancel task.assigned notification.requested");
    Baton__V1__TaskState *a = pw_task(&w, 0, "a");
    ASSERT_EQ_STR(a->status, "completed");
    ASSERT_EQ_INT(a->n_timers, 0);
    ASSERT_EQ_INT(a->closed_at_ms, T0 + 4 * MIN);
    ASSERT_EQ_STR(a->completed_by, "ph1");
    ASSERT_EQ_STR(pw_task(&w, 0, "c")->owner, "tr1");

    /* complete_on with a `where` that does not match: nothing happens */
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("x1", "transport.completed", T0 + 5 * MIN, "E1",
                                          "mode=ambulatory", NULL)),
                  0);
    ASSERT_EQ_INT(w.out.n, 0);
    ASSERT_EQ_STR(pw_task(&w, 0, "c")->status, "ready");
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("x2", "transport.completed", T0 + 6 * MIN, "E1",
                                          "mode=stretcher", NULL)),
                  0);
    expect_types(&w, "task.completed task.assigned coverage.gap"); /* nobody covers evs */
    const Baton__V1__TaskCompleted *tc = pw_find(&w.out, "task.completed", 0)->task_completed;
    ASSERT_EQ_STR(tc->actor, "");
    ASSERT_EQ_STR(tc->by_event_id, "x2");
    ASSERT_EQ_STR(pw_task(&w, 0, "c")->completed_by_event, "x2");
    const Baton__V1__CoverageGap *g = pw_find(&w.out, "coverage.gap", 0)->coverage_gap;
    ASSERT_EQ_STR(g->role, "evs");
    ASSERT_EQ_STR(g->scope, "unit");
    ASSERT_EQ_INT(g->at_ms, T0 + 6 * MIN);
    ASSERT_EQ_STR(pw_task(&w, 0, "d")->owner, "");
    ASSERT_EQ_STR(pw_task(&w, 0, "d")->status, "ready");

    /* the charge nurse finishes it through override_roles */
    ASSERT_EQ_INT(act(&w, "s5", T0 + 7 * MIN, "d", COMPLETE, "cn1", "charge_nurse", NULL), 0);
    expect_types(&w, "task.completed instance.completed");
    ASSERT_EQ_INT(pw_find(&w.out, "task.completed", 0)->task_completed->override, 1);
    ASSERT_EQ_STR(w.st[0]->status, "completed");
    ASSERT_EQ_INT(w.st[0]->closed_at_ms, T0 + 7 * MIN);
    pw_world_free(&w);
}

TEST(pathway_rejections)
{
    pw_world_t w;
    start_flow(&w, NULL);
    ASSERT_EQ_INT(act(&w, "r1", T0, "a", ACK, "x9", "nurse", NULL), 403);
    const Baton__V1__ActionRejected *r = pw_find(&w.out, "action.rejected", 0)->action_rejected;
    ASSERT_EQ_STR(r->action_event_id, "r1");
    ASSERT_EQ_STR(r->actor, "x9");
    ASSERT_EQ_INT(r->action, ACK);
    ASSERT_EQ_STR(r->task_id, pw_task(&w, 0, "a")->task_id);
    ASSERT_EQ_STR(r->reason,
                  "only the task's owner, a holder of its role or an override role may act on it");
    ASSERT_EQ_INT(act(&w, "r2", T0, "c", ACK, "tr1", "transport", NULL), 409); /* not started */
    ASSERT_EQ_STR(pw_find(&w.out, "action.rejected", 0)->action_rejected->reason,
                  "the stage has not started yet");
    ASSERT_EQ_INT(act(&w, "r3", T0, "b", ACK, "cm1", "case_manager", NULL), 409); /* skipped */
    ASSERT_EQ_INT(act(&w, "r4", T0, "zzz", ACK, "ph1", "pharmacist", NULL), 404);
    ASSERT_EQ_INT(act(&w, "r5", T0, "a", DECLINE, "ph2", "pharmacist", NULL), 403); /* not owner */
    ASSERT_EQ_INT(act(&w, "r6", T0, "a", REASSIGN, "ph1", "pharmacist", ""), 409);
    ASSERT_EQ_INT(act(&w, "r7", T0, "a", REASSIGN, "ph1", "pharmacist", "ph1"), 409);
    ASSERT_EQ_INT(act(&w, "r8", T0, "a", BATON__V1__ACTION__ACTION_UNSPECIFIED, "ph1", "", NULL),
                  409);
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->status, "ready"); /* rejections change nothing */
    ASSERT_EQ_INT(act(&w, "r9", T0, "a", ACK, "ph1", "", NULL), 0);
    ASSERT_EQ_INT(act(&w, "r10", T0, "a", ACK, "ph1", "", NULL), 409); /* ack twice */
    ASSERT_EQ_INT(act(&w, "r11", T0, "a", COMPLETE, "ph1", "", NULL), 0);
    ASSERT_EQ_INT(act(&w, "r12", T0, "a", ACK, "ph1", "", NULL), 409);
    ASSERT_EQ_INT(act(&w, "r13", T0, "a", START, "ph1", "", NULL), 409);
    ASSERT_EQ_INT(act(&w, "r14", T0, "a", COMPLETE, "ph1", "", NULL), 409);
    ASSERT_EQ_STR(pw_find(&w.out, "action.rejected", 0)->action_rejected->reason,
                  "the task is already closed");
    ASSERT_EQ_INT(act(&w, "r15", T0, "a", DECLINE, "ph1", "", NULL), 409);
    ASSERT_EQ_INT(act(&w, "r16", T0, "a", REASSIGN, "ph1", "", "ph2"), 409);
    ASSERT_EQ_INT(act(&w, "r17", T0, "a", COMMENT, "ph1", "", NULL), 0); /* notes after the fact */
    /* complete_on stages are completed by their event, not a click, except by override roles */
    ASSERT_EQ_INT(act(&w, "r18", T0, "c", COMPLETE, "tr1", "transport", NULL), 409);
    ASSERT_EQ_STR(pw_find(&w.out, "action.rejected", 0)->action_rejected->reason,
                  "this stage is completed by an EHR event");
    ASSERT_EQ_INT(act(&w, "r19", T0, "c", START, "tr1", "transport", NULL), 0);
    /* a staff action for an instance that does not exist */
    ASSERT_EQ_INT(pw_step(&w, pw_staff("r20", T0, NULL, "a", ACK, "ph1", "pharmacist", NULL)), 0);
    ASSERT_EQ_INT(pw_find(&w.out, "action.rejected", 0)->action_rejected->status, 404);
    ASSERT_EQ_STR(pw_find(&w.out, "action.rejected", 0)->correlation_key, "acme/E1");
    /* cancelled tasks: 409 */
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("cx", "adt.cancel_discharge", T0, "E1", NULL)), 0);
    ASSERT_EQ_INT(act(&w, "r21", T0, "c", COMPLETE, "cn1", "charge_nurse", NULL), 409);
    pw_world_free(&w);
}

TEST(pathway_authorize_for_ingest)
{
    pw_world_t w;
    start_flow(&w, NULL);
    const baton_pathway_def_t *def = baton_pathway_get(w.set, "flow", 1);
    const char *ph[] = {"pharmacist"}, *cn[] = {"charge_nurse"}, *rn[] = {"nurse"};
    const char *a = pw_task(&w, 0, "a")->task_id, *d = pw_task(&w, 0, "d")->task_id;
    int ov = -1;
    const char *why = NULL;
    ASSERT_EQ_INT(baton_pathway_authorize(w.st[0], a, ACK, "ph1", NULL, 0, def, &ov, &why), 0);
    ASSERT_EQ_INT(ov, 0);
    ASSERT_EQ_STR(why, "ok");
    ASSERT_EQ_INT(baton_pathway_authorize(w.st[0], a, ACK, "ph2", ph, 1, def, &ov, NULL), 0);
    ASSERT_EQ_INT(ov, 0);
    ASSERT_EQ_INT(baton_pathway_authorize(w.st[0], a, ACK, "rn1", rn, 1, def, &ov, NULL),
                  BATON_EPERM);
    ASSERT_EQ_INT(baton_pathway_authorize(w.st[0], a, ACK, "", ph, 1, def, &ov, NULL), BATON_EPERM);
    ASSERT_EQ_INT(baton_pathway_authorize(w.st[0], "nope", ACK, "ph1", ph, 1, def, &ov, NULL),
                  BATON_ENOENT);
    /* d is not active yet: the override role may act on it, but not before it starts */
    ASSERT_EQ_INT(baton_pathway_authorize(w.st[0], d, COMPLETE, "cn1", cn, 1, def, &ov, &why),
                  BATON_ECONFLICT);
    ASSERT_EQ_STR(why, "the stage has not started yet");
    /* the stored bytes are what ingest reads */
    size_t len;
    uint8_t *bytes = baton_pathway_state_pack(w.st[0], &len);
    Baton__V1__InstanceState *copy = baton_pathway_state_unpack(bytes, len);
    ASSERT_NOT_NULL(copy);
    ASSERT_EQ_INT(baton_pathway_authorize(copy, a, COMPLETE, "ph1", NULL, 0, def, &ov, NULL), 0);
    ASSERT_NULL(baton_pathway_state_unpack((const uint8_t *)"\xff\xff\xff", 3));
    baton_pathway_state_free(copy);
    free(bytes);
    pw_world_free(&w);
}

TEST(pathway_role_holder_claims_and_override_does_not)
{
    pw_world_t w;
    start_flow(&w, NULL);
    ASSERT_EQ_INT(act(&w, "c1", T0, "a", ACK, "ph2", "pharmacist", NULL), 0);
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->owner, "ph2");
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->resolved_by, "explicit");
    ASSERT_EQ_INT(pw_find(&w.out, "task.acknowledged", 0)->task_acknowledged->override, 0);
    ASSERT_EQ_INT(act(&w, "c2", T0, "a", COMPLETE, "ph2", "", NULL), 0);
    ASSERT_EQ_INT(act(&w, "c3", T0, "c", START, "cn1", "charge_nurse", NULL), 0);
    ASSERT_EQ_STR(pw_task(&w, 0, "c")->owner, "tr1"); /* override acts, owner stays */
    ASSERT_EQ_INT(pw_find(&w.out, "task.started", 0)->task_started->override, 1);
    ASSERT_EQ_INT(pw_task(&w, 0, "c")->acknowledged_at_ms, T0); /* start implies ack */
    pw_world_free(&w);
}

TEST(pathway_staff_reassign)
{
    pw_world_t w;
    start_flow(&w, NULL);
    ASSERT_EQ_INT(act(&w, "a1", T0, "a", ACK, "ph1", "pharmacist", NULL), 0);
    ASSERT_EQ_INT(act(&w, "a2", T0 + MIN, "a", REASSIGN, "ph1", "pharmacist", "ph7"), 0);
    expect_types(&w, "task.reassigned notification.requested");
    const Baton__V1__TaskReassigned *r = pw_find(&w.out, "task.reassigned", 0)->task_reassigned;
    ASSERT_EQ_STR(r->from_person, "ph1");
    ASSERT_EQ_STR(r->to_person, "ph7");
    ASSERT_EQ_STR(r->actor, "ph1");
    ASSERT_EQ_STR(r->reason, "staff");
    ASSERT_EQ_STR(pw_find(&w.out, "notification.requested", 0)->notification_request->kind,
                  "reassigned");
    Baton__V1__TaskState *a = pw_task(&w, 0, "a");
    ASSERT_EQ_STR(a->owner, "ph7");
    ASSERT_EQ_STR(a->status, "ready"); /* the new owner acknowledges again */
    ASSERT_EQ_INT(a->reassign_count, 1);
    ASSERT_EQ_INT(act(&w, "a3", T0 + 2 * MIN, "a", ACK, "ph7", "", NULL), 0);
    pw_world_free(&w);
}

TEST(pathway_cancel_on)
{
    pw_world_t w;
    start_flow(&w, NULL);
    Baton__V1__Envelope *stale = pw_timer(&w, 0, "a", "escalation", 0, T0 + 15 * MIN);
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("cx", "adt.cancel_discharge", T0 + MIN, "E1", NULL)), 0);
    expect_types(&w, "task.cancelled timer.cancel timer.cancel timer.cancel timer.cancel "
                     "timer.cancel instance.cancelled");
    const Baton__V1__InstanceCancelled *ic =
        pw_find(&w.out, "instance.cancelled", 0)->instance_cancelled;
    ASSERT_EQ_STR(ic->cancel_event_id, "cx");
    ASSERT_EQ_STR(ic->reason, "cancel_on: adt.cancel_discharge");
    ASSERT_EQ_STR(w.st[0]->status, "cancelled");
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->status, "cancelled");
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->status_reason, "instance cancelled by adt.cancel_discharge");
    ASSERT_EQ_STR(pw_task(&w, 0, "c")->status, ""); /* never started: no task to cancel */
    /* the timer that was scheduled is no longer awaited */
    ASSERT_EQ_INT(pw_step(&w, stale), 0);
    ASSERT_EQ_INT(w.out.n, 0);
    /* later events do nothing to a closed instance; a new trigger starts a new one */
    ASSERT_EQ_INT(
        pw_step(&w, pw_clinical("x", "transport.completed", T0, "E1", "mode=stretcher", NULL)), 0);
    ASSERT_EQ_INT(w.out.n, 0);
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t9", "order.discharge", T0 + 2 * MIN, "E1",
                                          "patient_class=inpatient", NULL)),
                  0);
    ASSERT_EQ_INT(w.n, 2);
    ASSERT_EQ_STR(w.st[1]->status, "active");
    ASSERT_TRUE(strcmp(w.st[0]->instance_id, w.st[1]->instance_id) != 0);
    pw_world_free(&w);
}

TEST(pathway_coverage_gap_on_activation)
{
    pw_world_t w;
    pw_world_init(&w, FLOW);
    pw_roster_remove(&w.roster, "pharmacist");
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t1", "order.discharge", T0, "E1",
                                          "patient_class=inpatient", NULL)),
                  0);
    ASSERT_EQ_INT(pw_count(&w.out, "coverage.gap"), 1);
    ASSERT_EQ_INT(pw_count(&w.out, "notification.requested"), 0);
    ASSERT_EQ_STR(pw_find(&w.out, "task.assigned", 0)->task_assigned->person, "");
    ASSERT_EQ_STR(pw_find(&w.out, "task.assigned", 0)->task_assigned->resolved_by, "none");
    ASSERT_EQ_STR(pw_find(&w.out, "coverage.gap", 0)->coverage_gap->role, "pharmacist");
    ASSERT_EQ_STR(pw_find(&w.out, "coverage.gap", 0)->coverage_gap->scope, "facility");
    Baton__V1__TaskState *a = pw_task(&w, 0, "a");
    ASSERT_EQ_STR(a->owner, "");
    ASSERT_EQ_INT(a->n_timers, 5); /* the escalation chain carries on */
    /* the first escalation reaches the lead */
    ASSERT_EQ_INT(pw_fire_until(&w, T0 + 15 * MIN), 2);
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->escalation_level, 1);
    ASSERT_EQ_STR(pw_find(&w.out, "notification.requested", 0)->notification_request->person,
                  "ld1");
    /* a pharmacist who comes on shift picks the task up */
    ASSERT_EQ_INT(act(&w, "p1", T0 + 16 * MIN, "a", ACK, "ph9", "pharmacist", NULL), 0);
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->owner, "ph9");
    pw_world_free(&w);
}

TEST(pathway_resolver_failure_changes_nothing)
{
    pw_world_t w;
    pw_world_init(&w, FLOW);
    w.roster.fail = 1;
    char err[256] = "";
    baton_pathway_group_t g;
    baton_outputs_t out = BATON_OUTPUTS_INIT;
    Baton__V1__Envelope *in =
        pw_clinical("t1", "order.discharge", T0, "E1", "patient_class=inpatient", NULL);
    ASSERT_EQ_INT(baton_pathway_step(w.set, NULL, 0, in, &w.res, &g, &out, err, sizeof(err)),
                  BATON_EIO);
    ASSERT_EQ_INT(out.n, 0);
    ASSERT_EQ_INT(g.n, 0);
    ASSERT_CONTAINS(err, "role resolution failed");
    protobuf_c_message_free_unpacked(&in->base, NULL);
    /* malformed inputs */
    Baton__V1__Envelope bad = BATON__V1__ENVELOPE__INIT;
    ASSERT_EQ_INT(baton_pathway_step(w.set, NULL, 0, &bad, &w.res, &g, &out, err, sizeof(err)),
                  BATON_EINVAL);
    bad.id = "x";
    ASSERT_EQ_INT(baton_pathway_step(w.set, NULL, 0, &bad, &w.res, &g, &out, err, sizeof(err)),
                  BATON_EINVAL);
    ASSERT_CONTAINS(err, "not a clinical event");
    /* mid-instance: a failing decline leaves the stored state as it was */
    w.roster.fail = 0;
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t1", "order.discharge", T0, "E1",
                                          "patient_class=inpatient", NULL)),
                  0);
    w.roster.fail = 1;
    ASSERT_EQ_INT(pw_step(&w, pw_staff("d1", T0, w.st[0], "a", DECLINE, "ph1", "", NULL)),
                  BATON_EIO);
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->owner, "ph1");
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->n_declined_by, 0);
    w.roster.fail = 0; /* the retry of the same input works */
    ASSERT_EQ_INT(pw_step(&w, pw_staff("d1", T0, w.st[0], "a", DECLINE, "ph1", "", NULL)), 0);
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->owner, "ph2");
    pw_world_free(&w);
}

/* In place, a failure part-way (stage a completed, then c's owner cannot be resolved) puts
 * every state back as it was, at the same address, and appends nothing. */
TEST(pathway_inplace_failure_restores_states)
{
    pw_world_t w;
    pw_world_init(&w, FLOW);
    ASSERT_EQ_INT(
        pw_step_inplace(&w, pw_clinical("t1", "order.discharge", T0, "E1",
                                        "patient_class=inpatient", "disposition=home", NULL)),
        0);
    ASSERT_EQ_INT(w.n, 1);
    Baton__V1__InstanceState *st = w.st[0];
    size_t blen, alen;
    uint8_t *before = baton_pathway_state_pack(st, &blen);
    w.roster.fail = 1;
    Baton__V1__Envelope *in =
        pw_staff("c1", T0 + MIN, st, "a", COMPLETE, "ph1", "pharmacist", NULL);
    baton_outputs_t out = BATON_OUTPUTS_INIT;
    baton_pathway_group_t fresh;
    int changed[1] = {7};
    char err[256] = "";
    ASSERT_EQ_INT(baton_pathway_step_inplace(w.set, w.st, 1, in, &w.res, changed, &fresh, &out, err,
                                             sizeof(err)),
                  BATON_EIO);
    ASSERT_CONTAINS(err, "role resolution failed");
    ASSERT_TRUE(w.st[0] == st);
    ASSERT_EQ_INT(out.n, 0);
    ASSERT_EQ_INT(fresh.n, 0);
    ASSERT_EQ_INT(changed[0], 0);
    uint8_t *after = baton_pathway_state_pack(st, &alen);
    ASSERT_EQ_INT(alen, blen);
    ASSERT_TRUE(memcmp(before, after, blen) == 0);
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->status, "ready");
    ASSERT_EQ_STR(pw_task(&w, 0, "c")->status, "");
    free(after);
    /* the retry works, and changes the state in place */
    w.roster.fail = 0;
    ASSERT_EQ_INT(baton_pathway_step_inplace(w.set, w.st, 1, in, &w.res, changed, &fresh, &out, err,
                                             sizeof(err)),
                  0);
    ASSERT_EQ_INT(changed[0], 1);
    ASSERT_TRUE(w.st[0] == st);
    ASSERT_EQ_STR(pw_task(&w, 0, "a")->status, "completed");
    ASSERT_EQ_STR(pw_task(&w, 0, "c")->status, "ready");
    ASSERT_TRUE(out.n > 0);
    /* a replay of it changes nothing and emits nothing */
    size_t nout = out.n;
    ASSERT_EQ_INT(baton_pathway_step_inplace(w.set, w.st, 1, in, &w.res, changed, &fresh, &out, err,
                                             sizeof(err)),
                  0);
    ASSERT_EQ_INT(changed[0], 0);
    ASSERT_EQ_INT(out.n, nout);
    protobuf_c_message_free_unpacked(&in->base, NULL);
    baton_outputs_free(&out);
    free(before);
    pw_world_free(&w);
}

TEST(pathway_dedup_applied_events)
{
    pw_world_t w;
    start_flow(&w, NULL);
    ASSERT_EQ_INT(act(&w, "k1", T0, "a", ACK, "ph1", "", NULL), 0);
    ASSERT_EQ_INT(w.out.n, 1);
    ASSERT_EQ_INT(pw_step(&w, pw_staff("k1", T0, w.st[0], "a", ACK, "ph1", "", NULL)), 0);
    ASSERT_EQ_INT(w.out.n, 0); /* replay: dropped, not a 409 */
    ASSERT_EQ_STR(w.st[0]->applied_event_ids[w.st[0]->n_applied_event_ids - 1], "k1");
    /* a timer for an instance that is not there: ignored */
    Baton__V1__Envelope *tf = pw_timer(&w, 0, "a", "complete_deadline", 0, T0 + 120 * MIN);
    free(tf->timer_fired->instance_id);
    tf->timer_fired->instance_id = baton_xstrdup("gone");
    ASSERT_EQ_INT(pw_step(&w, tf), 0);
    ASSERT_EQ_INT(w.out.n, 0);
    ASSERT_EQ_INT(pw_task(&w, 0, "a")->complete_breached, 0);
    pw_world_free(&w);
}

TEST(pathway_attributes_and_transfer)
{
    pw_world_t w;
    start_flow(&w, "disposition=home");
    ASSERT_EQ_INT(pw_task(&w, 0, "b")->skipped, 1);
    ASSERT_EQ_INT(w.st[0]->n_attributes, 2);
    ASSERT_EQ_STR(w.st[0]->attributes[0]->key, "disposition"); /* sorted */
    Baton__V1__Envelope *tr = pw_clinical("tr", "adt.transfer", T0 + MIN, "E1", "bed=12", NULL);
    free(tr->unit);
    tr->unit = baton_xstrdup("5E");
    ASSERT_EQ_INT(pw_step(&w, tr), 0);
    ASSERT_EQ_STR(w.st[0]->unit, "5E");
    ASSERT_EQ_INT(w.st[0]->n_attributes, 3);
    pw_world_free(&w);

    start_flow(&w, "disposition=snf");
    ASSERT_EQ_STR(pw_task(&w, 0, "b")->status, "ready");
    ASSERT_EQ_STR(pw_task(&w, 0, "b")->owner, "cm1");
    ASSERT_EQ_STR(pw_task(&w, 0, "b")->resolved_by, "unit_shift");
    pw_world_free(&w);
}

TEST(pathway_version_pinning)
{
    pw_world_t w;
    pw_world_init(&w, FIXTURES "/versions/p_v1.yaml");
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t1", "order.discharge", T0, "E1", NULL)), 0);
    ASSERT_EQ_INT(w.st[0]->pathway_version, 1);
    /* deploy version 2 beside it */
    char err[512];
    baton_pathway_set_free(w.set);
    w.set = baton_pathway_load_dir(FIXTURES "/versions", NULL, err, sizeof(err));
    ASSERT_NOT_NULL(w.set);
    /* a new encounter starts on version 2 */
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t2", "order.discharge", T0, "E2", NULL)), 0);
    ASSERT_EQ_INT(w.n, 2);
    ASSERT_EQ_INT(w.st[1]->pathway_version, 2);
    ASSERT_EQ_INT(w.st[1]->n_tasks, 2);
    /* the running instance keeps version 1: completing its only stage completes it */
    ASSERT_EQ_INT(act(&w, "s1", T0, "a", COMPLETE, "rn1", "nurse", NULL), 0);
    expect_types(&w, "task.completed instance.completed");
    ASSERT_EQ_INT(w.st[0]->pathway_version, 1);
    ASSERT_EQ_INT(w.st[0]->n_tasks, 1);
    pw_world_free(&w);
}

TEST(pathway_shipped_discharge_snf_branch)
{
    pw_world_t w;
    pw_world_init(&w, BATON_SOURCE_DIR "/pathways");
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t1", "order.discharge", T0, "E1",
                                          "patient_class=inpatient", "disposition=snf", NULL)),
                  0);
    ASSERT_EQ_INT(w.n, 2); /* discharge and care_transition_snf */
    size_t d = strcmp(w.st[0]->pathway, "discharge") == 0 ? 0 : 1;
    ASSERT_EQ_STR(w.st[d]->pathway, "discharge");
    ASSERT_EQ_STR(pw_task(&w, d, "placement")->status, "ready");
    ASSERT_EQ_STR(pw_task(&w, d, "placement")->owner, "cm1");
    /* the SNF's acceptance completes discharge's placement stage (complete_on) */
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("acc", "snf.accepted", T0 + 60 * MIN, "E1", NULL)), 0);
    ASSERT_EQ_STR(pw_task(&w, d, "placement")->status, "completed");
    pw_world_free(&w);

    pw_world_init(&w, BATON_SOURCE_DIR "/pathways");
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("t1", "order.discharge", T0, "E1",
                                          "patient_class=inpatient", "disposition=home", NULL)),
                  0);
    ASSERT_EQ_INT(w.n, 1);
    ASSERT_EQ_INT(pw_task(&w, 0, "placement")->skipped, 1);
    ASSERT_EQ_STR(pw_task(&w, 0, "med_rec")->owner, "ph1");
    ASSERT_EQ_STR(pw_task(&w, 0, "discharge_education")->owner, "rn1");
    pw_world_free(&w);
}

TEST(pathway_shipped_prior_auth_denial_branch)
{
    pw_world_t w;
    pw_world_init(&w, BATON_SOURCE_DIR "/pathways");
    ASSERT_EQ_INT(
        pw_step(&w, pw_clinical("o1", "order.placed", T0, "E1", "prior_auth_required=true", NULL)),
        0);
    ASSERT_EQ_INT(w.n, 1);
    ASSERT_EQ_STR(w.st[0]->correlation_key, "acme/P1");
    ASSERT_EQ_INT(act(&w, "s1", T0, "gather_documentation", COMPLETE, "pa1", "", NULL), 0);
    ASSERT_EQ_INT(act(&w, "s2", T0, "submit_request", COMPLETE, "pa1", "", NULL), 0);
    /* the payer's denial completes the decision stage and, through `when`, opens peer review */
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("dec", "prior_auth.decided", T0 + MIN, "E1",
                                          "decision=denied", NULL)),
                  0);
    ASSERT_EQ_STR(pw_task(&w, 0, "payer_decision")->status, "completed");
    ASSERT_EQ_STR(pw_task(&w, 0, "peer_to_peer")->status, "ready");
    ASSERT_EQ_STR(pw_task(&w, 0, "peer_to_peer")->owner, "md1");
    ASSERT_EQ_STR(pw_task(&w, 0, "schedule_service")->status, "");
    ASSERT_EQ_INT(act(&w, "s3", T0, "peer_to_peer", COMPLETE, "md1", "", NULL), 0);
    ASSERT_EQ_STR(pw_task(&w, 0, "schedule_service")->owner, "sc1");
    ASSERT_EQ_INT(act(&w, "s4", T0, "schedule_service", COMPLETE, "sc1", "", NULL), 0);
    ASSERT_EQ_STR(w.st[0]->status, "completed");
    pw_world_free(&w);
}

TEST(pathway_shipped_shift_handoff_and_consult)
{
    pw_world_t w;
    pw_world_init(&w, BATON_SOURCE_DIR "/pathways");
    ASSERT_EQ_INT(
        pw_step(&w, pw_clinical("h1", "handoff.given", T0, "E1", "fall_risk=very_high", NULL)), 0);
    ASSERT_EQ_INT(w.n, 1);
    ASSERT_EQ_STR(w.st[0]->pathway, "shift_handoff");
    ASSERT_EQ_STR(pw_task(&w, 0, "accept_handoff")->owner, "rn1");
    ASSERT_EQ_STR(pw_task(&w, 0, "fall_risk_check")->status, "");
    ASSERT_EQ_INT(act(&w, "s1", T0 + MIN, "accept_handoff", COMPLETE, "rn1", "nurse", NULL), 0);
    ASSERT_EQ_STR(pw_task(&w, 0, "confirm_open_tasks")->status, "ready");
    ASSERT_EQ_STR(pw_task(&w, 0, "fall_risk_check")->status, "ready"); /* any of the list */
    ASSERT_EQ_INT(pw_task(&w, 0, "fall_risk_check")->activated_at_ms, T0 + MIN);
    /* a transfer cancels the handoff */
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("tr", "adt.transfer", T0 + 2 * MIN, "E1", NULL)), 0);
    ASSERT_EQ_STR(w.st[0]->status, "cancelled");
    ASSERT_EQ_INT(pw_count(&w.out, "task.cancelled"), 2);
    pw_world_free(&w);

    pw_world_init(&w, BATON_SOURCE_DIR "/pathways");
    pw_roster_add(&w.roster, "consultant", "", "dr1");
    ASSERT_EQ_INT(
        pw_step(&w, pw_clinical("c1", "consult.requested", T0, "E1", "priority=routine", NULL)), 0);
    ASSERT_EQ_STR(pw_task(&w, 0, "accept")->owner, "dr1");
    ASSERT_EQ_INT(pw_task(&w, 0, "stat_callback")->skipped, 1);
    ASSERT_EQ_INT(act(&w, "s1", T0, "accept", COMPLETE, "dr1", "consultant", NULL), 0);
    ASSERT_EQ_INT(act(&w, "s2", T0, "see_patient", COMPLETE, "dr1", "consultant", NULL), 0);
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("n1", "consult.note_signed", T0 + 60 * MIN, "E1", NULL)),
                  0);
    /* last, the note's copy under acme/P1 for the pathways correlated by patient (it starts
     * nothing there) */
    expect_types(&w,
                 "task.completed timer.cancel timer.cancel instance.completed consult.note_signed");
    pw_world_free(&w);
}
