#include "test.h"
#include "baton/event.h"

TEST(event_json_clinical)
{
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    Baton__V1__ClinicalEvent ce = BATON__V1__CLINICAL_EVENT__INIT;
    Baton__V1__ClinicalEvent__AttributesEntry a1 = BATON__V1__CLINICAL_EVENT__ATTRIBUTES_ENTRY__INIT;
    Baton__V1__ClinicalEvent__AttributesEntry a2 = BATON__V1__CLINICAL_EVENT__ATTRIBUTES_ENTRY__INIT;
    Baton__V1__ClinicalEvent__AttributesEntry *attrs[] = {&a1, &a2};
    a1.key = "patient_class";
    a1.value = "inpatient";
    a2.key = "disposition";
    a2.value = "snf";
    ce.event_type = "order.discharge";
    ce.encounter = "ENC9";
    ce.n_attributes = 2;
    ce.attributes = attrs;
    env.id = "evt-1";
    env.type = "order.discharge";
    env.tenant = "acme";
    env.occurred_at_ms = 1795255200000LL;
    env.schema_version = 1;
    env.body_case = BATON__V1__ENVELOPE__BODY_CLINICAL;
    env.clinical = &ce;
    char *s = baton_event_to_json_text(&env.base);
    ASSERT_EQ_STR(s, "{\"clinical\":{\"attributes\":{\"disposition\":\"snf\",\"patient_class\":"
                     "\"inpatient\"},\"encounter\":\"ENC9\",\"event_type\":\"order.discharge\"},"
                     "\"id\":\"evt-1\",\"occurred_at_ms\":1795255200000,\"schema_version\":1,"
                     "\"tenant\":\"acme\",\"type\":\"order.discharge\"}");
    free(s);
    ASSERT_EQ_STR(baton_event_body_name(&env), "clinical");
}

TEST(event_json_enum_bytes_nested)
{
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    Baton__V1__DeadLetter dl = BATON__V1__DEAD_LETTER__INIT;
    uint8_t raw[] = {0xff, 0x00, 0x41, 0x42};
    dl.reason = "500 forever";
    dl.attempts = 5;
    dl.payload.data = raw;
    dl.payload.len = sizeof raw;
    env.id = "x";
    env.body_case = BATON__V1__ENVELOPE__BODY_DEAD_LETTER;
    env.dead_letter = &dl;
    char *s = baton_event_to_json_text(&env.base);
    ASSERT_EQ_STR(s, "{\"dead_letter\":{\"attempts\":5,\"payload\":\"/wBBQg==\",\"reason\":\"500 "
                     "forever\"},\"id\":\"x\"}");
    free(s);

    Baton__V1__StaffAction sa = BATON__V1__STAFF_ACTION__INIT;
    char *roles[] = {"pharmacist", "charge_nurse"};
    sa.action = BATON__V1__ACTION__ACTION_DECLINE;
    sa.n_actor_roles = 2;
    sa.actor_roles = roles;
    s = baton_event_to_json_text(&sa.base);
    ASSERT_EQ_STR(s, "{\"action\":\"ACTION_DECLINE\",\"actor_roles\":[\"pharmacist\",\"charge_nurse\"]}");
    free(s);
    Baton__V1__Envelope empty = BATON__V1__ENVELOPE__INIT;
    ASSERT_EQ_STR(baton_event_body_name(&empty), "none");
}

TEST_MAIN()
