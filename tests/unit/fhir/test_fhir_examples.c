/* The public FHIR examples in shared/testdata: every one is either mapped to the expected
 * canonical event type or rejected with the expected OperationOutcome. */
#include "fhir_test_util.h"

#include <dirent.h>

#define SPEC_DIR BATON_SHARED_DIR "/testdata/fhir/hl7-fhir-r4-spec-examples"
#define INFERNO_DIR BATON_SHARED_DIR "/testdata/fhir/inferno-subscriptions-test-kit"

/* expect: an event type, or "!code@expression" for a rejection. */
static const struct {
    const char *file;
    const char *expect;
} spec_expect[] = {
    {"encounter-example-emerg.json", "adt.admit"},
    {"encounter-example-f001-heart.json", "adt.discharge"},
    {"encounter-example-f002-lung.json", "adt.discharge"},
    {"encounter-example-f003-abscess.json", "adt.discharge"},
    {"encounter-example-f201-20130404.json", "adt.discharge"},
    {"encounter-example-f202-20130128.json", "adt.discharge"},
    {"encounter-example-f203-20130311.json", "adt.discharge"},
    {"encounter-example-home.json", "adt.discharge"},
    {"encounter-example-xcda.json", "adt.discharge"},
    {"encounter-example.json", "adt.admit"},
    {"servicerequest-example-ambulation.json", "order.completed"},
    /* subject carries only a display name: nothing to correlate on (and a name is PHI) */
    {"servicerequest-example-appendectomy.json", "!required@ServiceRequest.subject"},
    {"servicerequest-example-colonoscopy-bx.json", "order.completed"},
    {"servicerequest-example-colonoscopy.json", "order.completed"},
    {"servicerequest-example-di.json", "order.placed"},
    {"servicerequest-example-edu.json", "!required@ServiceRequest.subject"},
    {"servicerequest-example-ft4.json", "order.placed"},
    {"servicerequest-example-implant.json", "order.completed"},
    {"servicerequest-example-lipid.json", "order.placed"},
    {"servicerequest-example-myringotomy.json", "referral.requested"},
    {"servicerequest-example-ob.json", "!required@ServiceRequest.subject"},
    {"servicerequest-example-pgx.json", "order.placed"},
    {"servicerequest-example-pt.json", "order.completed"},
    {"servicerequest-example-subrequest.json", "order.placed"},
    {"servicerequest-example-ventilation.json", "order.completed"},
    {"servicerequest-example.json", "order.completed"},
    {"servicerequest-example2.json", "order.completed"},
    {"servicerequest-example3.json", "order.placed"},
    {"servicerequest-example4.json", "order.placed"},
    /* financial-management Tasks are about claims: no patient, no encounter */
    {"task-example-fm-cancel.json", "!required@Task.for"},
    {"task-example-fm-poll.json", "!required@Task.for"},
    {"task-example-fm-release.json", "!required@Task.for"},
    {"task-example-fm-reprocess.json", "!required@Task.for"},
    {"task-example-fm-status-resp.json", "!required@Task.for"},
    {"task-example-fm-status.json", "!required@Task.for"},
    {"task-example1.json", "lipid_panel.in_progress"},
    {"task-example2.json", "specimen_collection.accepted"},
    {"task-example3.json", "refill_request.draft"},
    {"task-example4.json", "specimen_collection.completed"},
    {"task-example5.json", "lipid_panel.in_progress"},
    {"task-example6.json", "lipid_panel.completed"},
};

static const char *expected_for(const char *file)
{
    for (size_t i = 0; i < sizeof spec_expect / sizeof spec_expect[0]; i++)
        if (strcmp(spec_expect[i].file, file) == 0)
            return spec_expect[i].expect;
    return NULL;
}

static int map_file(const char *dir, const char *file, baton_fhir_result_t *r)
{
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *body = read_file(path, &len);
    baton_fhir_opts_t o = fhir_opts();
    int rc = baton_fhir_map(body, len, &o, r);
    free(body);
    return rc;
}

TEST(fhir_spec_examples_all)
{
    DIR *d = opendir(SPEC_DIR);
    ASSERT_NOT_NULL(d);
    struct dirent *de;
    int mapped = 0, rejected = 0, unsupported = 0;
    char buf[256];
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t n = strlen(name);
        if (n < 6 || strcmp(name + n - 5, ".json") != 0)
            continue;
        baton_fhir_result_t r;
        int rc = map_file(SPEC_DIR, name, &r);
        const char *want = expected_for(name);
        if (!want) {
            /* Patient, Appointment, Subscription, MessageHeader */
            if (rc != BATON_ENOENT)
                TEST_FAIL("%s: rc %d, want not-supported", name, rc);
            ASSERT_EQ_STR(baton_fhir_outcome_code(r.outcome), "not-supported");
            ASSERT_EQ_INT(baton_fhir_outcome_http_status(r.outcome), 422);
            unsupported++;
        } else if (want[0] == '!') {
            if (rc != BATON_EINVAL)
                TEST_FAIL("%s: rc %d, want EINVAL", name, rc);
            ASSERT_EQ_INT(baton_fhir_outcome_count(r.outcome), 1);
            ASSERT_EQ_STR(issue_str(r.outcome, 0, buf, sizeof buf), want + 1);
            ASSERT_EQ_INT(r.n_events, 0);
            rejected++;
        } else {
            if (rc != 0)
                TEST_FAIL("%s: rc %d: %s", name, rc,
                          r.outcome ? issue_str(r.outcome, 0, buf, sizeof buf) : "");
            ASSERT_EQ_INT(r.n_events, 1);
            if (strcmp(ev_str(&r, 0, "type"), want) != 0)
                TEST_FAIL("%s: type %s, want %s", name, ev_str(&r, 0, "type"), want);
            ASSERT_EQ_STR(ev_str(&r, 0, "tenant"), "acme");
            assert_events_convert(&r);
            mapped++;
        }
        baton_fhir_result_free(&r);
    }
    closedir(d);
    ASSERT_EQ_INT(mapped, 32);
    ASSERT_EQ_INT(rejected, 9);
    ASSERT_EQ_INT(unsupported, 27);
}

TEST(fhir_spec_encounter_fields)
{
    baton_fhir_result_t r;
    ASSERT_EQ_INT(map_file(SPEC_DIR, "encounter-example-emerg.json", &r), 0);
    ASSERT_EQ_STR(ev_str(&r, 0, "encounter"), "emerg");
    ASSERT_EQ_STR(ev_str(&r, 0, "patient"), "example");
    ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2017-01-31T21:15:00.000Z"); /* period.start */
    ASSERT_NULL(ev_str(&r, 0, "unit")); /* locations are display-only */
    ASSERT_EQ_STR(ev_attr(&r, 0, "patient_class"), "inpatient");
    ASSERT_EQ_STR(ev_attr(&r, 0, "encounter_status"), "in-progress");
    ASSERT_EQ_STR(r.items[0].source_message_id, "Encounter/emerg");
    baton_fhir_result_free(&r);

    ASSERT_EQ_INT(map_file(SPEC_DIR, "encounter-example-f001-heart.json", &r), 0);
    ASSERT_EQ_STR(ev_str(&r, 0, "facility"), "f001");
    ASSERT_EQ_STR(ev_str(&r, 0, "patient"), "f001");
    ASSERT_EQ_STR(ev_attr(&r, 0, "disposition"), "home"); /* SNOMED 306689006 */
    ASSERT_EQ_STR(ev_attr(&r, 0, "patient_class"), "outpatient");
    ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2026-11-21T10:00:00.000Z"); /* no time: now */
    baton_fhir_result_free(&r);

    ASSERT_EQ_INT(map_file(SPEC_DIR, "encounter-example-f203-20130311.json", &r), 0);
    ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2013-03-20T00:00:00.000Z"); /* period.end date */
    ASSERT_EQ_STR(ev_str(&r, 0, "facility"), "2");
    baton_fhir_result_free(&r);

    ASSERT_EQ_INT(map_file(SPEC_DIR, "encounter-example-home.json", &r), 0);
    ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2015-01-17T06:30:00.000Z");
    ASSERT_EQ_STR(ev_attr(&r, 0, "patient_class"), "home_health");
    ASSERT_NULL(ev_str(&r, 0, "unit")); /* "#home" is a contained resource */
    baton_fhir_result_free(&r);
}

TEST(fhir_spec_order_and_task_fields)
{
    baton_fhir_result_t r;
    ASSERT_EQ_INT(map_file(SPEC_DIR, "servicerequest-example-lipid.json", &r), 0);
    ASSERT_EQ_STR(ev_str(&r, 0, "patient"), "example");
    ASSERT_EQ_STR(ev_str(&r, 0, "encounter"), "example");
    ASSERT_EQ_STR(ev_attr(&r, 0, "order_code"), "LIPID");
    ASSERT_EQ_STR(ev_attr(&r, 0, "requester"), "Practitioner/example");
    ASSERT_EQ_STR(ev_attr(&r, 0, "intent"), "original-order");
    ASSERT_EQ_STR(ev_attr(&r, 0, "order_status"), "active");
    baton_fhir_result_free(&r);

    ASSERT_EQ_INT(map_file(SPEC_DIR, "servicerequest-example-myringotomy.json", &r), 0);
    ASSERT_EQ_STR(ev_str(&r, 0, "patient"), "77662"); /* absolute URL reference */
    ASSERT_NULL(ev_str(&r, 0, "encounter"));          /* display-only */
    ASSERT_EQ_STR(ev_attr(&r, 0, "specialty"), "ent");
    ASSERT_EQ_STR(ev_attr(&r, 0, "category"), "referral");
    ASSERT_EQ_STR(ev_attr(&r, 0, "priority"), "routine");
    ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2014-02-14T00:00:00.000Z");
    baton_fhir_result_free(&r);

    ASSERT_EQ_INT(map_file(SPEC_DIR, "servicerequest-example-subrequest.json", &r), 0);
    ASSERT_EQ_STR(ev_attr(&r, 0, "specialty"), "Nurse"); /* no code: the text */
    baton_fhir_result_free(&r);

    ASSERT_EQ_INT(map_file(SPEC_DIR, "task-example1.json", &r), 0);
    ASSERT_EQ_STR(ev_str(&r, 0, "patient"), "example");
    ASSERT_EQ_STR(ev_str(&r, 0, "encounter"), "example");
    ASSERT_EQ_STR(ev_attr(&r, 0, "business_status"), "waiting for specimen");
    ASSERT_EQ_STR(ev_attr(&r, 0, "focus"), "ServiceRequest/lipid");
    ASSERT_EQ_STR(ev_attr(&r, 0, "task_status"), "in-progress");
    ASSERT_EQ_STR(ev_attr(&r, 0, "task_kind"), "lipid_panel");
    ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2016-10-30T23:45:05.000Z"); /* lastModified */
    baton_fhir_result_free(&r);
}

TEST(fhir_inferno_notifications)
{
    baton_fhir_result_t r;
    char buf[256];
    /* handshake and heartbeat: accepted, nothing to emit */
    ASSERT_EQ_INT(map_file(INFERNO_DIR, "handshake_bundle_example.json", &r), 0);
    ASSERT_EQ_INT(r.input, BATON_FHIR_NOTIFICATION);
    ASSERT_EQ_STR(r.notification_type, "handshake");
    ASSERT_EQ_INT(r.n_items, 0);
    baton_fhir_result_free(&r);
    ASSERT_EQ_INT(map_file(INFERNO_DIR, "heartbeat_bundle_example.json", &r), 0);
    ASSERT_EQ_STR(r.notification_type, "heartbeat");
    ASSERT_EQ_INT(r.n_items, 0);
    baton_fhir_result_free(&r);
    /* empty: an event-notification with no resources */
    ASSERT_EQ_INT(map_file(INFERNO_DIR, "empty_notification_bundle_example.json", &r), 0);
    ASSERT_EQ_STR(r.notification_type, "event-notification");
    ASSERT_EQ_INT(r.n_events, 0);
    baton_fhir_result_free(&r);
    /* id-only: the entry has no resource: skipped, accepted */
    ASSERT_EQ_INT(map_file(INFERNO_DIR, "id_only_notification_bundle_example.json", &r), 0);
    ASSERT_EQ_INT(r.n_items, 1);
    ASSERT_EQ_INT(r.items[0].kind, BATON_FHIR_ITEM_SKIPPED);
    ASSERT_EQ_INT(r.items[0].entry, 1);
    ASSERT_EQ_INT(r.n_events, 0);
    baton_fhir_result_free(&r);
    /* full-resource: the Encounter becomes an event, timed by its notification-event */
    ASSERT_EQ_INT(map_file(INFERNO_DIR, "full_resource_notification_bundle_example.json", &r), 0);
    ASSERT_EQ_INT(r.n_events, 1);
    ASSERT_EQ_INT(r.items[0].entry, 1);
    ASSERT_EQ_STR(ev_str(&r, 0, "type"), "adt.admit");
    ASSERT_EQ_STR(ev_str(&r, 0, "encounter"), "86009987-eabe-42bf-8c02-b112b18cb616");
    ASSERT_EQ_STR(ev_str(&r, 0, "patient"), "1599eb66-431a-447c-a3de-6897fe9ae9a1");
    ASSERT_EQ_STR(ev_attr(&r, 0, "patient_class"), "virtual");
    ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2020-05-29T16:44:13.188Z");
    assert_events_convert(&r);
    baton_fhir_result_free(&r);
    /* non-conformant: the history bundle entry lacks request and response */
    ASSERT_EQ_INT(
        map_file(INFERNO_DIR, "empty_notification_bundle_non_conformant_example.json", &r),
        BATON_EINVAL);
    ASSERT_EQ_INT(baton_fhir_outcome_count(r.outcome), 2);
    ASSERT_EQ_STR(issue_str(r.outcome, 0, buf, sizeof buf), "required@Bundle.entry[0].request");
    ASSERT_EQ_STR(issue_str(r.outcome, 1, buf, sizeof buf), "required@Bundle.entry[0].response");
    ASSERT_EQ_INT(baton_fhir_outcome_http_status(r.outcome), 400);
    baton_fhir_result_free(&r);
    /* a $status searchset is not a notification */
    ASSERT_EQ_INT(map_file(INFERNO_DIR, "subscription_status_example.json", &r), BATON_ENOENT);
    ASSERT_EQ_STR(issue_str(r.outcome, 0, buf, sizeof buf), "not-supported@Bundle.type");
    baton_fhir_result_free(&r);
    const char *others[] = {"Subscription_empty.json", "Subscription_full-resource.json",
                            "Subscription_id-only.json", "capability_statement_example.json",
                            "subscription_resource_example.json"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        ASSERT_EQ_INT(map_file(INFERNO_DIR, others[i], &r), BATON_ENOENT);
        ASSERT_EQ_STR(baton_fhir_outcome_code(r.outcome), "not-supported");
        baton_fhir_result_free(&r);
    }
}
