/* test_router_patient.c — a pathway correlated by patient through baton-router when the
 * patient's events carry different encounters: each event keyed by encounter is copied onto
 * baton.inbound.v1 under tenant/patient, and only that copy reaches the instance, so every
 * input of the instance is applied on one partition ("Events of one patient" in
 * libs/pathway/pathway_step.c). */
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "test.h"

#define PATHWAYS BATON_SOURCE_DIR "/pathways"
#define WAIT_MS 30000
#define COMPLETE BATON__V1__ACTION__ACTION_COMPLETE
#define PATIENT_KEY TENANT "/P-77"

static void wait_for(rt_t *t, const char *topic, const char *type, size_t n)
{
    if (rt_wait(t, topic, type, n, WAIT_MS) != 0) {
        char *got = rt_types(t, topic, NULL);
        TEST_FAIL("timed out waiting for %zu x %s on %s; have: %s", n, type ? type : "*", topic,
                  got);
    }
}

/* A clinical event of patient P-77 under encounter enc (keyed TENANT/enc, as ingest does). */
static void patient_event(rt_t *t, const char *id, const char *type, int64_t at, const char *enc)
{
    Baton__V1__Envelope *e = rt_clinical_env(id, type, at, enc, NULL);
    free(e->clinical->patient);
    e->clinical->patient = baton_xstrdup("P-77");
    rt_send(t, e);
}

/* The copy of event id on baton.inbound.v1 (asserts there is exactly one). */
static const rt_msg_t *copy_of(rt_t *t, const char *id)
{
    size_t n;
    rt_msg_t *v = rt_msgs(t, BATON_TOPIC_INBOUND, &n);
    const rt_msg_t *found = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].env->causation_id, id) != 0)
            continue;
        ASSERT_NULL(found);
        found = &v[i];
    }
    ASSERT_NOT_NULL(found);
    return found;
}

TEST(router_patient_pathway_across_encounters)
{
    rt_t t;
    rt_init(&t, PATHWAYS);
    rt_shift(&t, "referral_coordinator", "", "rc1", 1, 0, 0);
    rt_shift(&t, "referral_lead", "", "rl1", 1, 0, 0);
    rt_shift(&t, "scheduler", "", "sc1", 1, 0, 0);
    rt_shift(&t, "primary_care_provider", "", "pcp1", 1, 0, 0);
    rt_router_start(&t);

    patient_event(&t, "ref-1", "referral.requested", T0, "E-1");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 1);
    /* started from the copy under the patient's key, on that key's partition */
    const rt_msg_t *c1 = copy_of(&t, "ref-1");
    ASSERT_EQ_STR(c1->env->correlation_key, PATIENT_KEY);
    ASSERT_EQ_STR(c1->env->producer, "router");
    ASSERT_EQ_STR(c1->env->clinical->encounter, "E-1");
    const Baton__V1__Envelope *started =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "instance.started", NULL, 0);
    ASSERT_EQ_STR(started->correlation_key, PATIENT_KEY);
    ASSERT_EQ_STR(started->instance_started->trigger_event_id, c1->env->id);
    size_t nlc;
    rt_msg_t *lc = rt_msgs(&t, BATON_TOPIC_LIFECYCLE, &nlc);
    ASSERT_EQ_INT(lc[0].partition, c1->partition); /* same key, same partition count */

    /* triage and scheduling by staff (ingest keys them by the instance's key) */
    const Baton__V1__TaskRef *tri =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", "triage", 0)->task_assigned->task;
    rt_staff(&t, "st-1", T0 + MIN, "P-77", tri->instance_id, tri->task_id, COMPLETE, "rc1",
             "referral_coordinator");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 2);
    const Baton__V1__TaskRef *sch =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", "schedule", 0)->task_assigned->task;
    rt_staff(&t, "st-2", T0 + 2 * MIN, "P-77", sch->instance_id, sch->task_id, COMPLETE, "sc1",
             "scheduler");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 3);

    /* the specialist's visit arrives under another encounter: its copy completes the stage */
    patient_event(&t, "appt-1", "referral.appointment_completed", T0 + 3 * MIN, "E-2");
    wait_for(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", 4);
    const rt_msg_t *c2 = copy_of(&t, "appt-1");
    ASSERT_EQ_STR(c2->env->correlation_key, PATIENT_KEY);
    ASSERT_EQ_INT(c2->partition, c1->partition);
    const Baton__V1__TaskCompleted *done =
        rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.completed", "appointment_kept", 0)->task_completed;
    ASSERT_EQ_STR(done->by_event_id, c2->env->id);
    ASSERT_EQ_STR(rt_find(&t, BATON_TOPIC_LIFECYCLE, "task.assigned", "close_loop", 0)
                      ->task_assigned->task->owner,
                  "pcp1");
    char *types = rt_types(&t, BATON_TOPIC_LIFECYCLE, PATIENT_KEY);
    ASSERT_EQ_STR(types, "instance.started task.assigned task.completed task.assigned "
                         "task.completed task.assigned task.completed task.assigned");
    free(types);
    /* nothing of the referral under the encounters' keys */
    types = rt_types(&t, BATON_TOPIC_LIFECYCLE, TENANT "/E-1");
    ASSERT_EQ_STR(types, "");
    free(types);
    rt_free(&t);
}
