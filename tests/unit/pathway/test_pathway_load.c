/* test_pathway_load.c — the pathway language: every load-time check with its exact
 * `file:line: message`, all-or-nothing directories, versions side by side, the shipped set,
 * trigger matching and the correlation key. */
#include <stdlib.h>
#include <string.h>

#include "pw_test.h"
#include "test.h"

TEST_MAIN()

/* Load one fixture of fixtures/bad and compare every error, in order. */
static void expect_errors(const char *file, const char *const *want)
{
    char path[512], err[1024];
    snprintf(path, sizeof(path), "%s/bad/%s", FIXTURES, file);
    baton_pathway_errors_t errs;
    baton_pathway_set_t *set = baton_pathway_load_file(path, &errs, err, sizeof(err));
    ASSERT_NULL(set);
    size_t n = 0;
    while (want[n])
        n++;
    for (size_t i = 0; i < errs.n && i < n; i++)
        ASSERT_EQ_STR(errs.items[i], want[i]);
    ASSERT_EQ_INT(errs.n, n);
    ASSERT_EQ_STR(err, n == 1 ? want[0] : err); /* err holds the first one */
    ASSERT_TRUE(strncmp(err, want[0], strlen(want[0])) == 0);
    baton_pathway_errors_free(&errs);
}

#define EXPECT(file, ...)                                                                          \
    do {                                                                                           \
        static const char *const w_[] = {__VA_ARGS__, NULL};                                       \
        expect_errors(file, w_);                                                                   \
    } while (0)

TEST(pathway_load_unknown_keys)
{
    EXPECT("unknown_key.yaml",
           "unknown_key.yaml:5: unknown key 'colour' in the pathway (expected one of: pathway, "
           "version, title, trigger, correlation, cancel_on, stages)",
           "unknown_key.yaml:9: unknown key 'ack_whithin' in stage (expected one of: id, title, "
           "owner, ack_within, complete_within, escalation, depends_on, when, complete_on, "
           "override_roles)");
}

TEST(pathway_load_missing_required_keys)
{
    EXPECT("missing_key.yaml", "missing_key.yaml:1: missing required key 'trigger'",
           "missing_key.yaml:5: missing required key 'owner' in stage 'a'");
}

TEST(pathway_load_duplicate_stage)
{
    EXPECT("dup_stage.yaml", "dup_stage.yaml:8: duplicate stage id 'a' (first at line 6)");
}

TEST(pathway_load_unknown_dependency)
{
    EXPECT("unknown_dep.yaml", "unknown_dep.yaml:8: stage 'a' depends on unknown stage 'b'");
}

TEST(pathway_load_cycle)
{
    EXPECT("cycle.yaml", "cycle.yaml:11: depends_on forms a cycle: a -> c -> b -> a");
}

TEST(pathway_load_escalation_not_increasing)
{
    EXPECT("esc_order.yaml", "esc_order.yaml:11: stage 'a': escalation step 2: after 30m is not "
                             "later than the previous step's 30m");
}

TEST(pathway_load_bad_duration)
{
    EXPECT("bad_duration.yaml", "bad_duration.yaml:8: 'ack_within': '15 minutes' is not a "
                                "duration (use e.g. 30s, 15m, 2h, 1d)");
}

TEST(pathway_load_unknown_scope)
{
    EXPECT("bad_scope.yaml", "bad_scope.yaml:7: unknown scope 'ward' (expected unit or facility)");
}

TEST(pathway_load_complete_within_shorter_than_ack)
{
    EXPECT("windows.yaml",
           "windows.yaml:9: stage 'a': complete_within 30m is shorter than ack_within 1h");
}

TEST(pathway_load_bad_names_and_values)
{
    EXPECT("bad_ids.yaml", "bad_ids.yaml:1: pathway id 'Discharge' must use only a-z, 0-9 and _",
           "bad_ids.yaml:2: 'version' must be a positive integer, got '0'",
           "bad_ids.yaml:3: 'event': 'Order Discharge' is not a valid event type",
           "bad_ids.yaml:4: unknown correlation 'visit' (expected encounter or patient)",
           "bad_ids.yaml:6: stage id 'med-rec' must use only a-z, 0-9 and _",
           "bad_ids.yaml:7: role 'Pharmacist' must use only a-z, 0-9 and _");
}

TEST(pathway_load_bad_escalation_step)
{
    EXPECT("bad_step.yaml",
           "bad_step.yaml:9: an escalation step needs exactly one of 'notify' or 'reassign'",
           "bad_step.yaml:10: unknown 'unless' value 'seen' (expected acknowledged or completed)",
           "bad_step.yaml:14: 'repeat': 'often' is not a duration (use e.g. 30s, 15m, 2h, 1d)");
}

TEST(pathway_load_bad_where_when_complete_on)
{
    EXPECT("bad_where.yaml",
           "bad_where.yaml:5: 'where': the value of 'patient_class' must be text or a list of text",
           "bad_where.yaml:10: 'when' must be a mapping of attribute: value",
           "bad_where.yaml:11: missing required key 'event' in complete_on");
}

TEST(pathway_load_yaml_errors)
{
    EXPECT("syntax.yaml", "syntax.yaml:6: YAML: missing comma in flow mapping");
    EXPECT("dup_key.yaml", "dup_key.yaml:3: YAML: duplicate key");
    EXPECT("empty.yaml", "empty.yaml:1: the file is empty (a pathway file holds one YAML mapping)");
    EXPECT("not_mapping.yaml",
           "not_mapping.yaml:1: a pathway file must be a mapping (pathway: ..., stages: ...)");
}

TEST(pathway_load_dir_all_or_nothing)
{
    char err[1024];
    baton_pathway_errors_t errs;
    baton_pathway_set_t *set = baton_pathway_load_dir(FIXTURES "/dup", &errs, err, sizeof(err));
    ASSERT_NULL(set);
    /* every error of every file, files in name order */
    ASSERT_EQ_INT(errs.n, 2);
    ASSERT_EQ_STR(errs.items[0], "second.yaml:2: pathway 'p' version 1 is already defined in "
                                 "first.yaml:2");
    ASSERT_EQ_STR(errs.items[1], "third.yaml:11: depends_on forms a cycle: a -> c -> b -> a");
    ASSERT_EQ_STR(err, "second.yaml:2: pathway 'p' version 1 is already defined in first.yaml:2 "
                       "(and 1 more errors)");
    baton_pathway_errors_free(&errs);
    ASSERT_NULL(baton_pathway_load_dir(FIXTURES "/empty", NULL, err, sizeof(err)));
    ASSERT_CONTAINS(err, "no pathway files");
    ASSERT_NULL(baton_pathway_load_dir(FIXTURES "/nope", NULL, err, sizeof(err)));
    ASSERT_CONTAINS(err, "cannot open");
}

TEST(pathway_load_versions_side_by_side)
{
    char err[512];
    baton_pathway_set_t *set = baton_pathway_load_dir(FIXTURES "/versions", NULL, err, sizeof(err));
    ASSERT_NOT_NULL(set);
    ASSERT_EQ_INT(baton_pathway_count(set), 2);
    const baton_pathway_def_t *v1 = baton_pathway_get(set, "p", 1);
    const baton_pathway_def_t *v2 = baton_pathway_get(set, "p", 2);
    ASSERT_NOT_NULL(v1);
    ASSERT_NOT_NULL(v2);
    ASSERT_EQ_INT(v1->nstages, 1);
    ASSERT_EQ_INT(v2->nstages, 2);
    ASSERT_TRUE(baton_pathway_latest(set, "p") == v2);
    ASSERT_NULL(baton_pathway_get(set, "p", 3));
    ASSERT_NULL(baton_pathway_latest(set, "q"));
    ASSERT_TRUE(baton_pathway_at(set, 0) == v1);
    ASSERT_TRUE(baton_pathway_at(set, 1) == v2);
    ASSERT_NULL(baton_pathway_at(set, 2));
    baton_pathway_set_free(set);
}

TEST(pathway_load_shipped_definitions)
{
    char err[1024];
    baton_pathway_errors_t errs;
    baton_pathway_set_t *set =
        baton_pathway_load_dir(BATON_SOURCE_DIR "/pathways", &errs, err, sizeof(err));
    if (!set)
        TEST_FAIL("shipped pathways: %s", err);
    static const char *const ids[] = {"care_transition_snf", "consult_response", "discharge",
                                      "prior_authorization", "referral",         "shift_handoff"};
    ASSERT_EQ_INT(baton_pathway_count(set), 6);
    for (size_t i = 0; i < 6; i++)
        ASSERT_EQ_STR(baton_pathway_at(set, i)->id, ids[i]);
    const baton_pathway_def_t *d = baton_pathway_latest(set, "discharge");
    ASSERT_EQ_INT(d->nstages, 5);
    ASSERT_EQ_STR(d->stages[0].id, "med_rec");
    ASSERT_EQ_INT(d->stages[0].ack_within_ms, 15 * MIN);
    ASSERT_EQ_INT(d->stages[0].nsteps, 3);
    ASSERT_EQ_INT(d->stages[0].steps[1].reassign, 1);
    ASSERT_EQ_INT(d->stages[0].steps[2].repeat_ms, 30 * MIN);
    ASSERT_EQ_INT(d->stages[0].steps[0].unless, BATON_UNLESS_ACKNOWLEDGED);
    ASSERT_EQ_INT(d->stages[0].steps[2].unless, BATON_UNLESS_COMPLETED);
    ASSERT_EQ_INT(d->stages[1].has_when, 1);
    ASSERT_EQ_STR(d->stages[3].complete_on_event, "transport.completed");
    ASSERT_EQ_INT(d->stages[3].ndeps, 3);
    ASSERT_EQ_INT(d->stages[3].dep_index[1], 1);
    ASSERT_EQ_INT(d->correlation, BATON_CORRELATE_ENCOUNTER);
    ASSERT_EQ_INT(baton_pathway_latest(set, "referral")->correlation, BATON_CORRELATE_PATIENT);
    baton_pathway_set_free(set);
}

TEST(pathway_match_triggers_and_correlation_key)
{
    char err[512];
    baton_pathway_set_t *set =
        baton_pathway_load_dir(BATON_SOURCE_DIR "/pathways", NULL, err, sizeof(err));
    ASSERT_NOT_NULL(set);
    const baton_pathway_def_t *out[8];
    Baton__V1__Envelope *e = pw_clinical("e1", "order.discharge", T0, "E1",
                                         "patient_class=inpatient", "disposition=snf", NULL);
    ASSERT_EQ_INT(baton_pathway_match_triggers(set, e, out, 8), 2);
    ASSERT_EQ_STR(out[0]->id, "care_transition_snf");
    ASSERT_EQ_STR(out[1]->id, "discharge");
    char *key = baton_pathway_correlation_key(out[1], e);
    ASSERT_EQ_STR(key, "acme/E1");
    free(key);
    protobuf_c_message_free_unpacked(&e->base, NULL);

    e = pw_clinical("e2", "order.discharge", T0, "E1", "patient_class=outpatient", NULL);
    ASSERT_EQ_INT(baton_pathway_match_triggers(set, e, out, 8), 0);
    protobuf_c_message_free_unpacked(&e->base, NULL);

    e = pw_clinical("e3", "referral.requested", T0, "", NULL);
    ASSERT_EQ_INT(baton_pathway_match_triggers(set, e, out, 8), 1);
    key = baton_pathway_correlation_key(out[0], e);
    ASSERT_EQ_STR(key, "acme/P1"); /* referral correlates on the patient */
    free(key);
    protobuf_c_message_free_unpacked(&e->base, NULL);

    /* no encounter: a pathway correlated by encounter cannot start */
    e = pw_clinical("e4", "consult.requested", T0, "", NULL);
    ASSERT_EQ_INT(baton_pathway_match_triggers(set, e, out, 8), 0);
    protobuf_c_message_free_unpacked(&e->base, NULL);
    baton_pathway_set_free(set);
}
