#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "baton/event.h"

TEST(event_json_clinical)
{
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    Baton__V1__ClinicalEvent ce = BATON__V1__CLINICAL_EVENT__INIT;
    Baton__V1__ClinicalEvent__AttributesEntry a1 =
        BATON__V1__CLINICAL_EVENT__ATTRIBUTES_ENTRY__INIT;
    Baton__V1__ClinicalEvent__AttributesEntry a2 =
        BATON__V1__CLINICAL_EVENT__ATTRIBUTES_ENTRY__INIT;
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
    ASSERT_EQ_STR(
        s, "{\"action\":\"ACTION_DECLINE\",\"actor_roles\":[\"pharmacist\",\"charge_nurse\"]}");
    free(s);
    Baton__V1__Envelope empty = BATON__V1__ENVELOPE__INIT;
    ASSERT_EQ_STR(baton_event_body_name(&empty), "none");
}

/* ---- the direct text writer against the json_t tree dumped by jansson, on random messages */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int chance(int pct)
{
    return (int)(rnd() % 100) < pct;
}

static const char *const tricky[] = {"",
                                     "a",
                                     "order.discharge",
                                     "quote\"back\\slash",
                                     "ctl\x01\x1f\x7f",
                                     "tab\tnl\nret\r\b\f",
                                     "caf\xc3\xa9",
                                     "\xe2\x82\xac 5",
                                     "smile \xf0\x9f\x98\x80!",
                                     "bad \xff",
                                     "overlong \xc0\xaf",
                                     "surrogate \xed\xa0\x80",
                                     "too big \xf4\x90\x80\x80",
                                     "cut \xe2\x82",
                                     "/slash/",
                                     "key"};

static char *rand_string(void)
{
    if (chance(70))
        return baton_xstrdup(tricky[rnd() % (sizeof tricky / sizeof *tricky)]);
    size_t n = rnd() % 12;
    char *s = baton_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(1 + rnd() % 255);
    s[n] = '\0';
    return s;
}

static ProtobufCMessage *rand_message(const ProtobufCMessageDescriptor *d, int depth);

static void rand_value(const ProtobufCFieldDescriptor *f, void *p, int depth, int in_array)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        static const int64_t v[] = {0, 1, -1, 1795255200000LL, INT64_MAX, INT64_MIN};
        *(int64_t *)p = chance(50) ? v[rnd() % 6] : (int64_t)rnd();
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)p = (protobuf_c_boolean)(rnd() % 2);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        *(int *)p = chance(90) ? e->values[rnd() % e->n_values].value : (int)(rnd() % 1000);
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        (void)in_array;
        *(char **)p = chance(95) ? rand_string() : NULL;
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        b->len = rnd() % 8;
        b->data = b->len ? baton_xmalloc(b->len) : NULL;
        for (size_t i = 0; i < b->len; i++)
            b->data[i] = (uint8_t)rnd();
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        *(ProtobufCMessage **)p =
            in_array || depth < 3 ? rand_message(f->descriptor, depth + 1) : NULL;
        break;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        break; /* no such fields in the protos */
    default: {
        static const int32_t v[] = {0, 1, -1, INT32_MAX, INT32_MIN};
        *(int32_t *)p = chance(50) ? v[rnd() % 5] : (int32_t)rnd();
    }
    }
}

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static ProtobufCMessage *rand_message(const ProtobufCMessageDescriptor *d, int depth)
{
    ProtobufCMessage *m = baton_xcalloc(1, d->sizeof_message);
    protobuf_c_message_init(d, m);
    char *base = (char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            /* one member of the oneof at most: the first one chosen wins, later ones pass */
            uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
            if (*which == 0 && chance(depth < 3 ? 30 : 10)) {
                *which = f->id;
                rand_value(f, base + f->offset, depth, 0);
            }
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = chance(60) ? 0 : rnd() % 4;
            *(size_t *)(base + f->quantifier_offset) = n;
            char *arr = n ? baton_xcalloc(n, elem_size(f)) : NULL;
            for (size_t k = 0; k < n; k++)
                rand_value(f, arr + k * elem_size(f), depth, 1);
            *(char **)(base + f->offset) = arr;
        } else if (chance(70)) {
            if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES ||
                f->type == PROTOBUF_C_TYPE_MESSAGE || chance(80))
                rand_value(f, base + f->offset, depth, 0);
        }
    }
    return m;
}

TEST(event_text_equals_jansson_dump)
{
    int replaced = 0, pairs = 0, maps = 0, nulls = 0;
    for (int i = 0; i < 20000; i++) {
        ProtobufCMessage *m = rand_message(&baton__v1__envelope__descriptor, 0);
        json_t *j = baton_event_to_json(m);
        char *want = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        json_decref(j);
        char *got = baton_event_to_json_text(m);
        if (strcmp(got, want) != 0)
            TEST_FAIL("message %d:\n got %s\nwant %s", i, got, want);
        replaced += strstr(got, "\\uFFFD") != NULL;
        pairs += strstr(got, "\\uD83D\\uDE00") != NULL;
        maps += strstr(got, "\"attributes\":{") != NULL;
        nulls += strstr(got, "null") != NULL;
        free(got);
        free(want);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    /* the messages did reach the awkward cases */
    ASSERT_TRUE(replaced > 100 && pairs > 100 && maps > 100 && nulls > 10);
}

TEST_MAIN()
