/* FHIR mapping rules, OperationOutcomes, bundles and ids, on hand-written resources. */
#include "fhir_test_util.h"

/* Map `body`, expect rc and a single issue "code@expression". */
static void expect_issue(const char *body, int want_rc, const char *want)
{
    baton_fhir_result_t r;
    char buf[256];
    int rc = map_str(body, &r);
    if (rc != want_rc)
        TEST_FAIL("rc %d, want %d for %s", rc, want_rc, body);
    ASSERT_NOT_NULL(r.outcome);
    ASSERT_EQ_STR(json_string_value(json_object_get(r.outcome, "resourceType")),
                  "OperationOutcome");
    ASSERT_EQ_STR(issue_str(r.outcome, 0, buf, sizeof buf), want);
    ASSERT_EQ_STR(json_string_value(json_object_get(
                      json_array_get(json_object_get(r.outcome, "issue"), 0), "severity")),
                  "error");
    baton_fhir_result_free(&r);
}

#define ENC(extra)                                                                                 \
    "{\"resourceType\": \"Encounter\", \"id\": \"e1\", \"subject\": {\"reference\": "              \
    "\"Patient/p1\"}" extra "}"

TEST(fhir_malformed_and_structure)
{
    expect_issue("{\"resourceType\": \"Encounter\",", BATON_EPARSE, "structure@-");
    expect_issue("[1]", BATON_EINVAL, "structure@-");
    expect_issue("{\"id\": \"x\"}", BATON_EINVAL, "required@-");
    expect_issue("{\"resourceType\": 5}", BATON_EINVAL, "structure@-");
    expect_issue("{\"resourceType\": \"Patient\", \"id\": \"p\"}", BATON_ENOENT, "not-supported@-");
    expect_issue(ENC(""), BATON_EINVAL, "required@Encounter.status");
    expect_issue(ENC(", \"status\": 3"), BATON_EINVAL, "structure@Encounter.status");
    expect_issue(ENC(", \"status\": \"done\""), BATON_EINVAL, "value@Encounter.status");
    expect_issue(ENC(", \"status\": \"unknown\""), BATON_ENOENT, "not-supported@Encounter.status");
    expect_issue("{\"resourceType\": \"Encounter\", \"status\": \"finished\", \"subject\": "
                 "\"Patient/p1\"}",
                 BATON_EINVAL, "structure@Encounter.subject");
    expect_issue(ENC(", \"status\": \"finished\", \"period\": {\"end\": \"2026-13-01\"}"),
                 BATON_EINVAL, "value@Encounter.period.end");
    expect_issue(ENC(", \"status\": \"finished\", \"period\": \"2026\""), BATON_EINVAL,
                 "structure@Encounter.period");
    expect_issue(ENC(", \"status\": \"finished\", \"class\": [{\"code\": \"IMP\"}]"), BATON_EINVAL,
                 "structure@Encounter.class");
    expect_issue("{\"resourceType\": \"Encounter\", \"id\": \"bad id!\", \"status\": "
                 "\"finished\"}",
                 BATON_EINVAL, "value@Encounter.id");
    expect_issue("{\"resourceType\": \"Encounter\", \"status\": \"finished\"}", BATON_EINVAL,
                 "required@Encounter.subject");
    expect_issue("{\"resourceType\": \"ServiceRequest\", \"status\": \"active\", \"subject\": "
                 "{\"reference\": \"Group/g1\"}}",
                 BATON_EINVAL, "required@ServiceRequest.subject");
    expect_issue("{\"resourceType\": \"Task\", \"status\": \"completed\", \"for\": "
                 "{\"reference\": \"p1\"}}",
                 BATON_EINVAL, "value@Task.for.reference");
    expect_issue("{\"resourceType\": \"Task\", \"status\": \"closed\", \"for\": "
                 "{\"reference\": \"Patient/p1\"}}",
                 BATON_EINVAL, "value@Task.status");
    /* 8 MiB + 1 */
    size_t big = BATON_FHIR_BODY_MAX + 1;
    char *b = malloc(big);
    memset(b, ' ', big);
    baton_fhir_result_t r;
    baton_fhir_opts_t o = fhir_opts();
    ASSERT_EQ_INT(baton_fhir_map(b, big, &o, &r), BATON_ETOOBIG);
    ASSERT_EQ_STR(baton_fhir_outcome_code(r.outcome), "too-costly");
    ASSERT_EQ_INT(baton_fhir_outcome_http_status(r.outcome), 413);
    baton_fhir_result_free(&r);
    free(b);
}

TEST(fhir_endpoint_type_mismatch)
{
    baton_fhir_opts_t o = fhir_opts();
    o.expect_type = "Encounter";
    const char *body = "{\"resourceType\": \"Task\", \"status\": \"completed\"}";
    baton_fhir_result_t r;
    ASSERT_EQ_INT(baton_fhir_map(body, strlen(body), &o, &r), BATON_EINVAL);
    ASSERT_EQ_STR(baton_fhir_outcome_code(r.outcome), "invalid");
    ASSERT_EQ_STR(json_string_value(json_object_get(
                      json_array_get(json_object_get(r.outcome, "issue"), 0), "diagnostics")),
                  "this endpoint takes Encounter resources, not Task");
    baton_fhir_result_free(&r);
}

TEST(fhir_encounter_status_table)
{
    static const struct {
        const char *status, *extra, *type;
    } rows[] = {
        {"planned", "", "adt.preadmit"},
        {"arrived", "", "adt.admit"},
        {"triaged", "", "adt.admit"},
        {"in-progress", "", "adt.admit"},
        {"in-progress", ", \"meta\": {\"versionId\": \"1\"}", "adt.admit"},
        {"in-progress", ", \"meta\": {\"versionId\": \"4\"}", "adt.update"},
        {"onleave", "", "adt.update"},
        {"finished", "", "adt.discharge"},
        {"cancelled", "", "adt.cancel_admit"},
        {"entered-in-error", "", "adt.cancel_admit"},
    };
    char body[512];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"resourceType\": \"Encounter\", \"id\": \"e1\", \"status\": \"%s\", "
                 "\"subject\": {\"reference\": \"Patient/p1\"}%s}",
                 rows[i].status, rows[i].extra);
        baton_fhir_result_t r;
        ASSERT_EQ_INT(map_str(body, &r), 0);
        ASSERT_EQ_STR(ev_str(&r, 0, "type"), rows[i].type);
        ASSERT_EQ_STR(ev_attr(&r, 0, "encounter_status"), rows[i].status);
        baton_fhir_result_free(&r);
    }
}

TEST(fhir_encounter_places_and_disposition)
{
    const char *body =
        "{\"resourceType\": \"Encounter\", \"id\": \"e1\", \"status\": \"finished\", "
        "\"meta\": {\"versionId\": \"7\", \"lastUpdated\": \"2026-11-21T09:00:00Z\"}, "
        "\"subject\": {\"reference\": \"https://ehr.example/fhir/Patient/p1/_history/3\"}, "
        "\"serviceProvider\": {\"reference\": \"Organization/F1\"}, "
        "\"class\": {\"system\": \"http://terminology.hl7.org/CodeSystem/v3-ActCode\", "
        "\"code\": \"EMER\"}, "
        "\"location\": [{\"location\": {\"reference\": \"Location/ED\"}, \"status\": "
        "\"completed\"}, {\"location\": {\"reference\": \"Location/4W\"}, \"status\": "
        "\"active\"}, {\"location\": {\"reference\": \"Location/5E\"}, \"status\": \"planned\"}, "
        "{\"location\": {\"display\": \"Somewhere\"}}], "
        "\"period\": {\"start\": \"2026-11-19T08:00:00Z\", \"end\": \"2026-11-21T08:30:00Z\"}, "
        "\"hospitalization\": {\"dischargeDisposition\": {\"coding\": [{\"system\": "
        "\"http://terminology.hl7.org/CodeSystem/discharge-disposition\", \"code\": \"snf\"}]}, "
        "\"admitSource\": {\"coding\": [{\"code\": \"emd\"}]}}}";
    baton_fhir_result_t r;
    ASSERT_EQ_INT(map_str(body, &r), 0);
    ASSERT_EQ_STR(ev_str(&r, 0, "type"), "adt.discharge");
    ASSERT_EQ_STR(ev_str(&r, 0, "patient"), "p1");
    ASSERT_EQ_STR(ev_str(&r, 0, "facility"), "F1");
    ASSERT_EQ_STR(ev_str(&r, 0, "unit"), "4W");
    ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2026-11-21T08:30:00.000Z");
    ASSERT_EQ_STR(ev_attr(&r, 0, "disposition"), "snf");
    ASSERT_EQ_STR(ev_attr(&r, 0, "admit_source"), "emd");
    ASSERT_EQ_STR(ev_attr(&r, 0, "patient_class"), "emergency");
    ASSERT_EQ_STR(r.items[0].source_message_id, "Encounter/e1/_history/7");
    /* the id is derived from tenant + resource version */
    char want[BATON_ID_LEN];
    baton_derived_id("acme", "fhir:Encounter/e1/_history/7", want);
    ASSERT_EQ_STR(ev_str(&r, 0, "id"), want);
    assert_events_convert(&r);
    baton_fhir_result_free(&r);

    /* v2-0112 disposition, identifier as the encounter when there is no id */
    const char *b2 = "{\"resourceType\": \"Encounter\", \"status\": \"finished\", "
                     "\"identifier\": [{\"use\": \"temp\", \"value\": \"T1\"}, {\"use\": "
                     "\"official\", \"value\": \"V100\"}], "
                     "\"hospitalization\": {\"dischargeDisposition\": {\"coding\": [{\"system\": "
                     "\"http://terminology.hl7.org/CodeSystem/v2-0112\", \"code\": \"03\"}]}}}";
    ASSERT_EQ_INT(map_str(b2, &r), 0);
    ASSERT_EQ_STR(ev_str(&r, 0, "encounter"), "V100");
    ASSERT_NULL(ev_str(&r, 0, "patient"));
    ASSERT_EQ_STR(ev_attr(&r, 0, "disposition"), "snf");
    ASSERT_EQ_INT(strncmp(r.items[0].source_message_id, "Encounter#", 10), 0);
    baton_fhir_result_free(&r);
}

TEST(fhir_ids_are_deterministic)
{
    const char *a = ENC(", \"status\": \"in-progress\"");
    const char *b = ENC(", \"status\": \"finished\"");
    /* same content, other key order and spacing */
    const char *a2 = "{\"status\":\"in-progress\",\"subject\":{\"reference\":\"Patient/p1\"},"
                     "\"id\":\"e1\",\"resourceType\":\"Encounter\"}";
    baton_fhir_result_t ra, rb, ra2;
    ASSERT_EQ_INT(map_str(a, &ra), 0);
    ASSERT_EQ_INT(map_str(b, &rb), 0);
    ASSERT_EQ_INT(map_str(a2, &ra2), 0);
    ASSERT_EQ_STR(ev_str(&ra, 0, "id"), ev_str(&ra2, 0, "id"));
    ASSERT_TRUE(strcmp(ev_str(&ra, 0, "id"), ev_str(&rb, 0, "id")) != 0);
    ASSERT_EQ_STR(ra.items[0].source_message_id, "Encounter/e1");
    /* another tenant, another id */
    baton_fhir_opts_t o = fhir_opts();
    o.tenant = "other";
    baton_fhir_result_t rc;
    ASSERT_EQ_INT(baton_fhir_map(a, strlen(a), &o, &rc), 0);
    ASSERT_TRUE(strcmp(ev_str(&ra, 0, "id"), ev_str(&rc, 0, "id")) != 0);
    ASSERT_EQ_STR(ev_str(&rc, 0, "tenant"), "other");
    baton_fhir_result_free(&ra);
    baton_fhir_result_free(&rb);
    baton_fhir_result_free(&ra2);
    baton_fhir_result_free(&rc);
}

#define SR(status, extra)                                                                          \
    "{\"resourceType\": \"ServiceRequest\", \"id\": \"sr1\", \"status\": \"" status "\", "         \
    "\"intent\": \"order\", \"subject\": {\"reference\": \"Patient/p1\"}, \"encounter\": "         \
    "{\"reference\": \"Encounter/e1\"}, \"authoredOn\": \"2026-11-21T07:00:00Z\"" extra "}"

TEST(fhir_service_request_table)
{
    static const struct {
        const char *body, *type, *category;
    } rows[] = {
        {SR("active", ""), "order.placed", NULL},
        {SR("active", ", \"category\": [{\"coding\": [{\"system\": \"http://snomed.info/sct\", "
                      "\"code\": \"11429006\"}]}], \"performerType\": {\"coding\": [{\"code\": "
                      "\"cardiology\"}]}"),
         "consult.requested", "consult"},
        {SR("active", ", \"category\": [{\"text\": \"Consult - inpatient\"}]"), "consult.requested",
         "consult"},
        {SR("active", ", \"category\": [{\"coding\": [{\"code\": \"referral\"}]}]"),
         "referral.requested", "referral"},
        {SR("active", ", \"code\": {\"coding\": [{\"system\": \"http://snomed.info/sct\", "
                      "\"code\": \"58000006\"}]}"),
         "order.discharge", "discharge"},
        {SR("active", ", \"code\": {\"text\": \"Discharge patient today\"}"), "order.discharge",
         "discharge"},
        {SR("draft", ""), "order.draft", NULL},
        {SR("on-hold", ""), "order.on_hold", NULL},
        {SR("completed", ""), "order.completed", NULL},
        {SR("revoked", ", \"category\": [{\"coding\": [{\"code\": \"consult\"}]}]"),
         "order.cancelled", "consult"},
        {SR("entered-in-error", ""), "order.cancelled", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        baton_fhir_result_t r;
        ASSERT_EQ_INT(map_str(rows[i].body, &r), 0);
        ASSERT_EQ_STR(ev_str(&r, 0, "type"), rows[i].type);
        ASSERT_EQ_STR(ev_str(&r, 0, "encounter"), "e1");
        ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2026-11-21T07:00:00.000Z");
        if (rows[i].category)
            ASSERT_EQ_STR(ev_attr(&r, 0, "category"), rows[i].category);
        else
            ASSERT_NULL(ev_attr(&r, 0, "category"));
        assert_events_convert(&r);
        baton_fhir_result_free(&r);
    }
    baton_fhir_result_t r;
    ASSERT_EQ_INT(map_str(rows[1].body, &r), 0);
    ASSERT_EQ_STR(ev_attr(&r, 0, "specialty"), "cardiology");
    baton_fhir_result_free(&r);
    expect_issue(SR("unknown", ""), BATON_ENOENT, "not-supported@ServiceRequest.status");
}

#define TASK(code, status)                                                                         \
    "{\"resourceType\": \"Task\", \"id\": \"t1\", \"status\": \"" status "\", \"intent\": "        \
    "\"order\", \"code\": " code ", \"for\": {\"reference\": \"Patient/p1\"}, \"encounter\": "     \
    "{\"reference\": \"Encounter/e1\"}, \"lastModified\": \"2026-11-21T09:59:00Z\"}"

TEST(fhir_facility_extension)
{
    baton_fhir_result_t r;
    ASSERT_EQ_INT(
        map_str(SR("active", ", \"extension\": [{\"url\": \"urn:other\", \"valueString\": "
                             "\"X\"}, {\"url\": \"" BATON_FHIR_EXT_FACILITY "\", "
                             "\"valueString\": \"NORTH\"}]"),
                &r),
        0);
    ASSERT_EQ_STR(ev_str(&r, 0, "facility"), "NORTH");
    baton_fhir_result_free(&r);
    ASSERT_EQ_INT(map_str(SR("active", ", \"extension\": [{\"url\": \"" BATON_FHIR_EXT_FACILITY
                                       "\", \"valueReference\": {\"reference\": "
                                       "\"Organization/SOUTH\"}}]"),
                          &r),
                  0);
    ASSERT_EQ_STR(ev_str(&r, 0, "facility"), "SOUTH");
    baton_fhir_result_free(&r);
    /* an extension without a usable value is an error at its own place */
    expect_issue(SR("active", ", \"extension\": [{\"url\": \"" BATON_FHIR_EXT_FACILITY
                              "\", \"valueBoolean\": true}]"),
                 BATON_EINVAL, "value@ServiceRequest.extension[0]");
}

TEST(fhir_task_kinds)
{
    static const struct {
        const char *body, *type, *kind;
    } rows[] = {
        {TASK("{\"text\": \"Transport\"}", "completed"), "transport.completed", "transport"},
        {TASK("{\"text\": \"Bed clean-up (room 4)\"}", "in-progress"),
         "bed_clean_up_room_4.in_progress", "bed_clean_up_room_4"},
        {TASK("{\"coding\": [{\"code\": \"PHARM-VERIFY\"}]}", "on-hold"), "pharm_verify.on_hold",
         "pharm_verify"},
        {TASK("{\"text\": \"Order\"}", "completed"), "task.completed", "order"},
        {TASK("{\"text\": \"ADT\"}", "entered-in-error"), "task.entered_in_error", "adt"},
        {TASK("{\"coding\": [{\"code\": \"12345\"}]}", "requested"), "task.requested", "12345"},
        {TASK("{\"text\": \"!!!\"}", "ready"), "task.ready", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        baton_fhir_result_t r;
        ASSERT_EQ_INT(map_str(rows[i].body, &r), 0);
        ASSERT_EQ_STR(ev_str(&r, 0, "type"), rows[i].type);
        if (rows[i].kind)
            ASSERT_EQ_STR(ev_attr(&r, 0, "task_kind"), rows[i].kind);
        else
            ASSERT_NULL(ev_attr(&r, 0, "task_kind"));
        ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2026-11-21T09:59:00.000Z");
        assert_events_convert(&r);
        baton_fhir_result_free(&r);
    }
}

TEST(fhir_batch_per_entry_outcomes)
{
    const char *body =
        "{\"resourceType\": \"Bundle\", \"type\": \"batch\", \"entry\": ["
        "{\"resource\": " ENC(
            ", \"status\": \"finished\"") ", \"request\": {\"method\": "
                                          "\"PUT\", \"url\": \"Encounter/e1\"}},"
                                          "{\"resource\": {\"resourceType\": \"Patient\", \"id\": "
                                          "\"p\"}, \"request\": "
                                          "{\"method\": \"POST\", \"url\": \"Patient\"}},"
                                          "{\"resource\": " ENC(
                                              ", \"status\": \"nope\"") ", \"request\": "
                                                                        "{\"method\": \"POST\"}},"
                                                                        "{\"resource\": " ENC(
                                                                            ", \"status\": "
                                                                            "\"finished\"") ", "
                                                                                            "\"requ"
                                                                                            "est\":"
                                                                                            " {"
                                                                                            "\"meth"
                                                                                            "od\": "
                                                                                            "\"DELE"
                                                                                            "TE\"}}"
                                                                                            ","
                                                                                            "{\"req"
                                                                                            "uest\""
                                                                                            ": "
                                                                                            "{\"met"
                                                                                            "hod\":"
                                                                                            " \"POS"
                                                                                            "T\"}},"
                                                                                            "7]}";
    baton_fhir_result_t r;
    char buf[256];
    ASSERT_EQ_INT(map_str(body, &r), 0);
    ASSERT_EQ_INT(r.input, BATON_FHIR_BATCH);
    ASSERT_NULL(r.outcome);
    ASSERT_EQ_INT(r.n_items, 6);
    ASSERT_EQ_INT(r.n_events, 1);
    ASSERT_EQ_INT(r.items[0].kind, BATON_FHIR_ITEM_EVENT);
    ASSERT_EQ_STR(ev_str(&r, 0, "type"), "adt.discharge");
    ASSERT_EQ_STR(issue_str(r.items[1].outcome, 0, buf, sizeof buf),
                  "not-supported@Bundle.entry[1].resource");
    ASSERT_EQ_STR(issue_str(r.items[2].outcome, 0, buf, sizeof buf), "value@Encounter.status");
    ASSERT_EQ_STR(issue_str(r.items[3].outcome, 0, buf, sizeof buf),
                  "not-supported@Bundle.entry[3].request.method");
    ASSERT_EQ_STR(issue_str(r.items[4].outcome, 0, buf, sizeof buf),
                  "required@Bundle.entry[4].resource");
    ASSERT_EQ_STR(issue_str(r.items[5].outcome, 0, buf, sizeof buf), "structure@Bundle.entry[5]");
    for (size_t i = 0; i < r.n_items; i++)
        ASSERT_EQ_INT(r.items[i].entry, (int)i);
    baton_fhir_result_free(&r);
}

TEST(fhir_transaction_all_or_nothing)
{
    const char *good =
        "{\"resourceType\": \"Bundle\", \"type\": \"transaction\", \"timestamp\": "
        "\"2026-11-21T09:30:00Z\", \"entry\": ["
        "{\"fullUrl\": \"urn:uuid:7f0c\", \"resource\": {\"resourceType\": \"Encounter\", \"id\": "
        "\"enc-5\", \"status\": \"in-progress\", \"subject\": {\"reference\": "
        "\"urn:uuid:pat-uuid-1\"}}, \"request\": {\"method\": \"POST\", \"url\": \"Encounter\"}},"
        "{\"resource\": {\"resourceType\": \"ServiceRequest\", \"status\": \"active\", "
        "\"intent\": \"order\", \"encounter\": {\"reference\": \"urn:uuid:7f0c\"}}, "
        "\"request\": {\"method\": \"POST\", \"url\": \"ServiceRequest\"}}]}";
    baton_fhir_result_t r;
    char buf[256];
    ASSERT_EQ_INT(map_str(good, &r), 0);
    ASSERT_EQ_INT(r.input, BATON_FHIR_TRANSACTION);
    ASSERT_EQ_INT(r.n_events, 2);
    ASSERT_EQ_STR(ev_str(&r, 0, "patient"), "pat-uuid-1"); /* urn:uuid without an entry */
    ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2026-11-21T09:30:00.000Z"); /* timestamp */
    ASSERT_EQ_STR(ev_str(&r, 1, "encounter"), "enc-5"); /* urn:uuid resolved via fullUrl */
    assert_events_convert(&r);
    baton_fhir_result_free(&r);

    const char *bad =
        "{\"resourceType\": \"Bundle\", \"type\": \"transaction\", \"entry\": ["
        "{\"resource\": " ENC(
            ", \"status\": \"finished\"") ", \"request\": {\"method\": "
                                          "\"POST\"}},"
                                          "{\"resource\": " ENC(
                                              ", \"status\": 1") ", \"request\": {\"method\": "
                                                                 "\"POST\"}},"
                                                                 "{\"resource\": "
                                                                 "{\"resourceType\": \"Task\", "
                                                                 "\"status\": \"done\"}, "
                                                                 "\"request\": "
                                                                 "{\"method\": \"POST\"}}]}";
    ASSERT_EQ_INT(map_str(bad, &r), BATON_EINVAL);
    ASSERT_EQ_INT(r.n_events, 0);
    ASSERT_EQ_INT(r.n_items, 3);
    ASSERT_EQ_INT(r.items[0].kind, BATON_FHIR_ITEM_SKIPPED); /* mapped, but not to be written */
    ASSERT_NULL(r.items[0].event);
    ASSERT_EQ_INT(baton_fhir_outcome_count(r.outcome), 3);
    ASSERT_EQ_STR(issue_str(r.outcome, 0, buf, sizeof buf),
                  "structure@Bundle.entry[1].resource.status");
    ASSERT_EQ_STR(issue_str(r.outcome, 1, buf, sizeof buf),
                  "value@Bundle.entry[2].resource.status");
    ASSERT_EQ_STR(issue_str(r.outcome, 2, buf, sizeof buf),
                  "required@Bundle.entry[2].resource.for");
    baton_fhir_result_free(&r);
}

TEST(fhir_bundle_errors)
{
    expect_issue("{\"resourceType\": \"Bundle\"}", BATON_EINVAL, "required@Bundle.type");
    expect_issue("{\"resourceType\": \"Bundle\", \"type\": \"collection\"}", BATON_ENOENT,
                 "not-supported@Bundle.type");
    expect_issue("{\"resourceType\": \"Bundle\", \"type\": \"batch\", \"entry\": {}}", BATON_EINVAL,
                 "structure@Bundle.entry");
    expect_issue("{\"resourceType\": \"Bundle\", \"type\": \"subscription-notification\", "
                 "\"entry\": [{\"resource\": {\"resourceType\": \"Patient\"}}]}",
                 BATON_EINVAL, "structure@Bundle.entry[0].resource");
    expect_issue("{\"resourceType\": \"Bundle\", \"type\": \"subscription-notification\", "
                 "\"entry\": [{\"resource\": {\"resourceType\": \"Parameters\", \"parameter\": "
                 "[{\"name\": \"type\", \"valueCode\": \"gossip\"}]}}]}",
                 BATON_EINVAL, "value@Bundle.entry[0].resource.parameter");
    expect_issue("{\"resourceType\": \"Bundle\", \"type\": \"subscription-notification\"}",
                 BATON_EINVAL, "required@Bundle.entry");
    /* too many entries */
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "{\"resourceType\": \"Bundle\", \"type\": \"batch\", \"entry\": [");
    for (int i = 0; i <= BATON_FHIR_ENTRY_MAX; i++)
        baton_buf_puts(&b, i ? ",{}" : "{}");
    baton_buf_puts(&b, "]}");
    expect_issue(b.data, BATON_ETOOBIG, "too-costly@Bundle.entry");
    baton_buf_free(&b);
}

TEST(fhir_r4b_notification_with_task)
{
    /* R4B-style type, a Task and a Patient (skipped) in an event-notification */
    const char *body =
        "{\"resourceType\": \"Bundle\", \"type\": \"subscription-notification\", \"timestamp\": "
        "\"2026-11-21T09:00:00Z\", \"entry\": ["
        "{\"resource\": {\"resourceType\": \"Parameters\", \"parameter\": [{\"name\": \"type\", "
        "\"valueCode\": \"event-notification\"}, {\"name\": \"notification-event\", \"part\": "
        "[{\"name\": \"timestamp\", \"valueInstant\": \"2026-11-21T09:15:00Z\"}, {\"name\": "
        "\"focus\", \"valueReference\": {\"reference\": \"https://x/fhir/Task/t9\"}}]}]}},"
        "{\"fullUrl\": \"https://x/fhir/Task/t9\", \"resource\": {\"resourceType\": \"Task\", "
        "\"id\": \"t9\", \"status\": \"completed\", \"code\": {\"text\": \"Transport\"}, \"for\": "
        "{\"reference\": \"Patient/p1\"}}},"
        "{\"resource\": {\"resourceType\": \"Patient\", \"id\": \"p1\"}}]}";
    baton_fhir_result_t r;
    ASSERT_EQ_INT(map_str(body, &r), 0);
    ASSERT_EQ_INT(r.n_items, 2);
    ASSERT_EQ_INT(r.n_events, 1);
    ASSERT_EQ_STR(ev_str(&r, 0, "type"), "transport.completed");
    ASSERT_EQ_STR(ev_str(&r, 0, "occurred_at"), "2026-11-21T09:15:00.000Z");
    ASSERT_EQ_INT(r.items[1].kind, BATON_FHIR_ITEM_SKIPPED);
    baton_fhir_result_free(&r);
}

TEST(fhir_canonical_limits_map_to_source)
{
    /* a 65-character Organization id passes the reference split but not canonical facility */
    const char *body =
        "{\"resourceType\": \"Encounter\", \"id\": \"e1\", \"status\": \"finished\", \"subject\": "
        "{\"reference\": \"Patient/p1\"}, \"serviceProvider\": {\"reference\": "
        "\"Organization/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}";
    baton_fhir_result_t r;
    char buf[256];
    ASSERT_EQ_INT(map_str(body, &r), BATON_EINVAL);
    ASSERT_EQ_STR(issue_str(r.outcome, 0, buf, sizeof buf), "value@Encounter.serviceProvider");
    ASSERT_EQ_STR(json_string_value(json_object_get(
                      json_array_get(json_object_get(r.outcome, "issue"), 0), "diagnostics")),
                  "facility: must be 1 to 64 characters long");
    baton_fhir_result_free(&r);
}

TEST(fhir_outcomes_never_echo_values)
{
    const char *bodies[] = {
        "{\"resourceType\": \"Encounter\", \"id\": \"SECRET MRN\", \"status\": \"SECRET\"}",
        "{\"resourceType\": \"SECRET-TYPE!\"}",
        "{\"resourceType\": \"Task\", \"status\": \"completed\", \"for\": {\"reference\": "
        "\"SECRET\"}}",
        "{\"resourceType\": \"Encounter\", \"status\": \"finished\", \"subject\": {\"reference\": "
        "\"Patient/SECRET\"}, \"period\": {\"end\": \"SECRET\"}}",
        "{\"resourceType\": \"Encounter\" SECRET}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        baton_fhir_result_t r;
        ASSERT_TRUE(map_str(bodies[i], &r) < 0);
        char *s = json_dumps(r.outcome, JSON_COMPACT);
        if (strstr(s, "SECRET"))
            TEST_FAIL("outcome echoes a value: %s", s);
        free(s);
        baton_fhir_result_free(&r);
    }
}

TEST(fhir_outcome_helpers)
{
    json_t *a = baton_fhir_outcome_error("value", "bad", "Encounter.status");
    json_t *b = baton_fhir_outcome_new();
    baton_fhir_outcome_merge(b, a, "Bundle.entry[3].resource");
    baton_fhir_outcome_add(b, "warning", "processing", NULL, NULL);
    char *s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT_EQ_STR(s, "{\"issue\":[{\"code\":\"value\",\"diagnostics\":\"bad\",\"expression\":["
                     "\"Bundle.entry[3].resource.status\"],\"severity\":\"error\"},{\"code\":"
                     "\"processing\",\"severity\":\"warning\"}],\"resourceType\":"
                     "\"OperationOutcome\"}");
    free(s);
    ASSERT_EQ_INT(baton_fhir_outcome_count(b), 2);
    ASSERT_EQ_STR(baton_fhir_outcome_code(b), "value");
    ASSERT_EQ_INT(baton_fhir_outcome_http_status(b), 400);
    json_t *info = baton_fhir_outcome_info("accepted");
    ASSERT_EQ_STR(baton_fhir_outcome_code(info), "informational");
    json_decref(info);
    json_decref(a);
    json_decref(b);
}

TEST_MAIN()
