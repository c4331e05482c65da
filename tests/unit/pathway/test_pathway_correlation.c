/* test_pathway_correlation.c — an input is applied on the key it came with, and a clinical event
 * keyed by encounter is copied under tenant/patient for the pathways correlated by patient
 * ("Events of one patient" in libs/pathway/pathway_step.c). */
#include <stdlib.h>
#include <string.h>

#include "pw_test.h"
#include "test.h"

#define SHIPPED BATON_SOURCE_DIR "/pathways"
#define COMPLETE BATON__V1__ACTION__ACTION_COMPLETE

static void shipped(pw_world_t *w)
{
    pw_world_init(w, SHIPPED);
    pw_roster_add(&w->roster, "referral_coordinator", "", "rc1");
    pw_roster_add(&w->roster, "referral_lead", "", "rl1");
    pw_roster_add(&w->roster, "primary_care_provider", "", "pcp1");
}

/* One step straight through the library (no re-feeding of copies): outputs into *out. */
static int raw_step(pw_world_t *w, Baton__V1__Envelope *in, baton_pathway_group_t *g,
                    baton_outputs_t *out)
{
    char err[256];
    int rc = baton_pathway_step(w->set, w->st, w->n, in, &w->res, g, out, err, sizeof err);
    protobuf_c_message_free_unpacked(&in->base, NULL);
    return rc;
}

TEST(pathway_patient_event_copied_under_patient_key)
{
    pw_world_t w;
    shipped(&w);
    baton_outputs_t out = BATON_OUTPUTS_INIT;
    baton_pathway_group_t g;
    /* keyed acme/E1 (ingest: the encounter): the referral is not started here ... */
    ASSERT_EQ_INT(raw_step(&w, pw_clinical("r1", "referral.requested", T0, "E1", NULL), &g, &out),
                  0);
    ASSERT_EQ_INT(g.n, 0);
    baton_pathway_group_free(&g);
    /* ... but copied once under acme/P1, with an id of its own derived from the input's */
    ASSERT_EQ_INT(out.n, 1);
    const Baton__V1__Envelope *c = out.items[0].env;
    ASSERT_EQ_STR(out.items[0].topic, BATON_TOPIC_INBOUND);
    ASSERT_EQ_STR(c->correlation_key, "acme/P1");
    ASSERT_EQ_STR(c->type, "referral.requested");
    ASSERT_EQ_STR(c->causation_id, "r1");
    ASSERT_EQ_STR(c->producer, "router");
    ASSERT_EQ_STR(c->tenant, "acme");
    ASSERT_EQ_STR(c->unit, "4W");
    ASSERT_TRUE(strcmp(c->id, "r1") != 0 && *c->id);
    ASSERT_EQ_INT(c->body_case, BATON__V1__ENVELOPE__BODY_CLINICAL);
    ASSERT_EQ_STR(c->clinical->patient, "P1");
    ASSERT_EQ_STR(c->clinical->encounter, "E1");
    ASSERT_EQ_STR(c->clinical->event_type, "referral.requested");
    Baton__V1__Envelope *copy = pw_env_dup(c);

    /* the same input again gives the same copy (a replay after a crash) */
    baton_outputs_t again = BATON_OUTPUTS_INIT;
    ASSERT_EQ_INT(raw_step(&w, pw_clinical("r1", "referral.requested", T0, "E1", NULL), &g, &again),
                  0);
    baton_pathway_group_free(&g);
    ASSERT_EQ_INT(again.n, 1);
    ASSERT_EQ_STR(again.items[0].env->id, copy->id);
    baton_outputs_free(&again);

    /* the copy starts the referral under acme/P1 and is not copied again */
    char *copy_id = baton_xstrdup(copy->id);
    ASSERT_EQ_INT(pw_step(&w, copy), 0);
    ASSERT_EQ_INT(w.n, 1);
    ASSERT_EQ_STR(w.st[0]->pathway, "referral");
    ASSERT_EQ_STR(w.st[0]->correlation_key, "acme/P1");
    ASSERT_EQ_STR(w.st[0]->trigger_event_id, copy_id);
    ASSERT_EQ_INT(pw_count(&w.out, "instance.started"), 1);
    for (size_t i = 0; i < w.out.n; i++)
        ASSERT_TRUE(strcmp(w.out.items[i].topic, BATON_TOPIC_INBOUND) != 0);
    /* and a second delivery of the copy changes nothing */
    ASSERT_EQ_INT(pw_step(&w, pw_env_dup(out.items[0].env)), 0);
    ASSERT_EQ_INT(w.n, 1);
    ASSERT_EQ_INT(w.out.n, 0);
    free(copy_id);
    baton_outputs_free(&out);
    pw_world_free(&w);
}

TEST(pathway_patient_instance_follows_events_of_other_encounters)
{
    pw_world_t w;
    shipped(&w);
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("r1", "referral.requested", T0, "E1", NULL)), 0);
    ASSERT_EQ_INT(w.n, 1);
    for (const char *st = "triage"; st; st = strcmp(st, "triage") == 0 ? "schedule" : NULL) {
        const char *who = strcmp(st, "triage") == 0 ? "rc1" : "sc1";
        ASSERT_EQ_INT(pw_step(&w, pw_staff(st, T0 + MIN, w.st[0], st, COMPLETE, who, "", NULL)), 0);
        ASSERT_EQ_INT(pw_count(&w.out, "action.rejected"), 0);
    }
    ASSERT_EQ_STR(pw_task(&w, 0, "appointment_kept")->status, "ready");

    /* the appointment arrives under another encounter (acme/E7): applied there it would not
     * reach the patient's instance, even when the caller hands that instance over ... */
    baton_outputs_t out = BATON_OUTPUTS_INIT;
    baton_pathway_group_t g;
    ASSERT_EQ_INT(
        raw_step(&w, pw_clinical("a1", "referral.appointment_completed", T0 + 2 * MIN, "E7", NULL),
                 &g, &out),
        0);
    ASSERT_EQ_INT(g.n, 1);
    ASSERT_EQ_INT(g.changed[0], 0);
    ASSERT_EQ_STR(g.states[0]->tasks[2]->status, "ready");
    baton_pathway_group_free(&g);
    ASSERT_EQ_INT(out.n, 1);
    ASSERT_EQ_STR(out.items[0].env->correlation_key, "acme/P1");
    baton_outputs_free(&out);

    /* ... its copy under acme/P1 completes the stage */
    ASSERT_EQ_INT(
        pw_step(&w, pw_clinical("a1", "referral.appointment_completed", T0 + 2 * MIN, "E7", NULL)),
        0);
    ASSERT_EQ_STR(pw_task(&w, 0, "appointment_kept")->status, "completed");
    ASSERT_EQ_STR(pw_task(&w, 0, "close_loop")->status, "ready");
    ASSERT_EQ_STR(pw_task(&w, 0, "close_loop")->owner, "pcp1");
    pw_world_free(&w);
}

TEST(pathway_encounter_pathway_ignores_patient_copy)
{
    pw_world_t w;
    shipped(&w);
    /* a discharge order starts discharge on acme/E1 and is copied under acme/P1, where no
     * encounter-correlated pathway may start it a second time */
    ASSERT_EQ_INT(pw_step(&w, pw_clinical("d1", "order.discharge", T0, "E1",
                                          "patient_class=inpatient", "disposition=home", NULL)),
                  0);
    ASSERT_EQ_INT(w.n, 1);
    ASSERT_EQ_STR(w.st[0]->pathway, "discharge");
    ASSERT_EQ_STR(w.st[0]->correlation_key, "acme/E1");
    ASSERT_EQ_INT(pw_count(&w.out, "instance.started"), 1);
    ASSERT_EQ_INT(pw_count(&w.out, "trigger.ignored"), 0);
    ASSERT_EQ_INT(pw_count(&w.out, "order.discharge"), 1); /* the copy */
    pw_world_free(&w);
}

TEST(pathway_no_copy_without_reason)
{
    pw_world_t w;
    baton_outputs_t out = BATON_OUTPUTS_INIT;
    baton_pathway_group_t g;
    /* no pathway correlates by patient */
    pw_world_init(&w, FIXTURES "/machine/flow.yaml");
    ASSERT_EQ_INT(raw_step(&w, pw_clinical("x1", "lab.result", T0, "E1", NULL), &g, &out), 0);
    ASSERT_EQ_INT(out.n, 0);
    baton_pathway_group_free(&g);
    pw_world_free(&w);

    shipped(&w);
    /* already keyed by the patient (ingest, for an event without an encounter) */
    Baton__V1__Envelope *e = pw_clinical("x2", "referral.requested", T0, "E1", NULL);
    free(e->correlation_key);
    e->correlation_key = baton_xstrdup("acme/P1");
    ASSERT_EQ_INT(raw_step(&w, e, &g, &out), 0);
    ASSERT_EQ_INT(g.n, 1); /* started right here */
    for (size_t i = 0; i < out.n; i++)
        ASSERT_TRUE(strcmp(out.items[i].topic, BATON_TOPIC_INBOUND) != 0);
    baton_pathway_group_free(&g);
    baton_outputs_free(&out);
    /* no patient */
    e = pw_clinical("x3", "referral.requested", T0, "E1", NULL);
    free(e->clinical->patient);
    e->clinical->patient = baton_xstrdup("");
    ASSERT_EQ_INT(raw_step(&w, e, &g, &out), 0);
    ASSERT_EQ_INT(out.n, 0);
    baton_pathway_group_free(&g);
    /* no correlation key at all (a caller that does not partition): applied on every key,
     * copied nowhere */
    e = pw_clinical("x4", "referral.requested", T0, "E1", NULL);
    free(e->correlation_key);
    e->correlation_key = baton_xstrdup("");
    ASSERT_EQ_INT(raw_step(&w, e, &g, &out), 0);
    ASSERT_EQ_INT(g.n, 1);
    ASSERT_EQ_STR(g.states[0]->correlation_key, "acme/P1");
    for (size_t i = 0; i < out.n; i++)
        ASSERT_TRUE(strcmp(out.items[i].topic, BATON_TOPIC_INBOUND) != 0);
    baton_pathway_group_free(&g);
    baton_outputs_free(&out);
    pw_world_free(&w);
}
