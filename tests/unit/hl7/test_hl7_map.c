/* test_hl7_map.c — mapping to canonical events and ACKs, over the public sample messages
 * (shared/testdata/hl7/microsoft-FHIR-Converter) and hand-written edge cases. */
#include "baton/hl7.h"
#include "test.h"

#include <dirent.h>
#include <jansson.h>

#define SAMPLES BATON_SHARED_DIR "/testdata/hl7/microsoft-FHIR-Converter"

static const baton_hl7_sender_t ANY[] = {{NULL, NULL, "acme"}};
static const baton_hl7_map_config_t CFG_ANY = {ANY, 1, 0, NULL, 0};
static const baton_hl7_ack_opts_t ACK_OPTS = {"ACK1", 1795262400000LL, NULL, NULL};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        TEST_FAIL("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ASSERT_EQ_INT(fread(buf, 1, (size_t)n, f), n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The canonical type we expect for an MSH-9 (written out here, independent of the lib). */
static const char *expected_type(const char *type, const char *trigger)
{
    static const char *const rows[][3] = {
        {"ADT", "A01", "adt.admit"},
        {"ADT", "A02", "adt.transfer"},
        {"ADT", "A03", "adt.discharge"},
        {"ADT", "A04", "adt.admit"},
        {"ADT", "A08", "adt.update"},
        {"ADT", "A11", "adt.cancel_admit"},
        {"ADT", "A13", "adt.cancel_discharge"},
        {"ADT", "A16", "adt.pending_discharge"},
        {"ORM", "O01", "order.placed"},
        {"OMG", "O19", "order.placed"},
        {"REF", "I12", "referral.requested"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (!strcmp(rows[i][0], type) && !strcmp(rows[i][1], trigger))
            return rows[i][2];
    return NULL;
}

TEST(hl7_map_every_sample_message)
{
    DIR *dir = opendir(SAMPLES);
    ASSERT_NOT_NULL(dir);
    int total = 0, mapped = 0, rejected = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".hl7") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", SAMPLES, de->d_name);
        size_t len;
        char *data = slurp(path, &len);
        baton_hl7_msg_t *m = NULL;
        baton_hl7_error_t e;
        if (baton_hl7_parse(data, len, &m, &e) != 0)
            TEST_FAIL("%s: parse: %s", de->d_name, e.text);
        total++;
        char type[16], trig[16];
        snprintf(type, sizeof type, "%s", baton_hl7_get(m, "MSH", 1, 9, 1, 1, 0));
        snprintf(trig, sizeof trig, "%s", baton_hl7_get(m, "MSH", 1, 9, 1, 2, 0));
        const char *want = expected_type(type, trig);
        json_t *ev = NULL;
        int rc = baton_hl7_map(m, &CFG_ANY, &ev, &e);
        size_t alen;
        char *ack = baton_hl7_ack(m, rc == 0 ? NULL : &e, &ACK_OPTS, &alen);
        ASSERT_EQ_INT(strlen(ack), alen);
        char msa[128];
        snprintf(msa, sizeof msa, "\rMSA|%s|%s\r", want ? "AA" : "AR",
                 baton_hl7_get(m, "MSH", 1, 10, 1, 1, 0));
        if (want) {
            if (rc != 0)
                TEST_FAIL("%s (%s^%s): %s", de->d_name, type, trig, e.text);
            ASSERT_EQ_STR(json_string_value(json_object_get(ev, "type")), want);
            ASSERT_EQ_STR(json_string_value(json_object_get(ev, "tenant")), "acme");
            ASSERT_EQ_STR(json_string_value(json_object_get(ev, "id")),
                          baton_hl7_get(m, "MSH", 1, 10, 1, 1, 0));
            ASSERT_NOT_NULL(json_string_value(json_object_get(ev, "patient")));
            ASSERT_NOT_NULL(json_string_value(json_object_get(ev, "encounter")));
            ASSERT_EQ_INT(strlen(json_string_value(json_object_get(ev, "occurred_at"))), 24);
            ASSERT_TRUE(json_is_object(json_object_get(ev, "attributes")));
            ASSERT_CONTAINS(ack, msa);
            ASSERT_TRUE(strstr(ack, "\rERR|") == NULL);
            json_decref(ev);
            mapped++;
        } else {
            if (rc != BATON_ENOENT)
                TEST_FAIL("%s (%s^%s): rc %d, want AR", de->d_name, type, trig, rc);
            ASSERT_NULL(ev);
            ASSERT_EQ_STR(e.ack, "AR");
            ASSERT_EQ_INT(e.hl7_code, 200);
            ASSERT_CONTAINS(ack, msa);
            ASSERT_CONTAINS(ack, "|MSH^1^9|200^Unsupported message type^HL70357|E||||"
                                 "unsupported message type ");
            rejected++;
        }
        free(ack);
        baton_hl7_msg_free(m);
        free(data);
    }
    closedir(dir);
    ASSERT_EQ_INT(total, 139);
    /* 22 ADT (A01 x5 incl. MDM_01, A04 x5, A02/A03/A08/A11/A13/A16 x2 each) + 8 ORM (incl.
     * LAB-ORM-1 and OML-O21-02) + 2 OMG + 2 REF^I12 */
    ASSERT_EQ_INT(mapped, 34);
    ASSERT_EQ_INT(rejected, total - mapped);
}

static json_t *map_file(const char *name, baton_hl7_msg_t **mout)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", SAMPLES, name);
    size_t len;
    char *data = slurp(path, &len);
    baton_hl7_msg_t *m = NULL;
    baton_hl7_error_t e;
    ASSERT_EQ_INT(baton_hl7_parse(data, len, &m, &e), 0);
    free(data);
    json_t *ev = NULL;
    if (baton_hl7_map(m, &CFG_ANY, &ev, &e) != 0)
        TEST_FAIL("%s: %s", name, e.text);
    if (mout)
        *mout = m;
    else
        baton_hl7_msg_free(m);
    return ev;
}

static void assert_json(json_t *ev, const char *want)
{
    json_error_t je;
    json_t *w = json_loads(want, 0, &je);
    if (!w)
        TEST_FAIL("bad expected JSON: %s", je.text);
    if (!json_equal(ev, w)) {
        char *got = json_dumps(ev, JSON_SORT_KEYS);
        char *exp = json_dumps(w, JSON_SORT_KEYS);
        TEST_FAIL("event mismatch\n got: %s\nwant: %s", got, exp);
    }
    json_decref(w);
}

TEST(hl7_map_adt_a03_full_event)
{
    json_t *ev = map_file("ADT-A03-01.hl7", NULL);
    assert_json(ev, "{\"id\":\"MSG00001\",\"type\":\"adt.discharge\",\"tenant\":\"acme\","
                    "\"facility\":\"HOMERTON UNIVER\",\"unit\":\"HUH AE OMU\","
                    "\"patient\":\"PATID1234\",\"encounter\":\"40007716\","
                    "\"occurred_at\":\"2029-08-01T05:51:24.000Z\","
                    "\"attributes\":{\"hl7_type\":\"ADT^A03\",\"patient_class\":\"preadmit\","
                    "\"disposition\":\"Admitted as Inpatient\"}}");
    json_decref(ev);
}

TEST(hl7_map_adt_a02_prior_location)
{
    json_t *ev = map_file("ADT-A02-01.hl7", NULL);
    json_t *a = json_object_get(ev, "attributes");
    ASSERT_EQ_STR(json_string_value(json_object_get(ev, "type")), "adt.transfer");
    ASSERT_EQ_STR(json_string_value(json_object_get(a, "prior_unit")),
                  "4 East, room 136, bed B 4E");
    ASSERT_EQ_STR(json_string_value(json_object_get(a, "prior_facility")), "CommunityHospital");
    json_decref(ev);
}

TEST(hl7_map_a04_v23_and_pid18_fallback)
{
    /* v2.3 ADT^A04, no EVN-2 offset, PV1-19 empty: encounter from PID-18 */
    json_t *ev = map_file("ADT04-251.hl7", NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(ev, "type")), "adt.admit");
    ASSERT_EQ_STR(json_string_value(json_object_get(ev, "encounter")), "123456789");
    ASSERT_EQ_STR(json_string_value(json_object_get(ev, "patient")), "MRN12345");
    json_t *a = json_object_get(ev, "attributes");
    ASSERT_EQ_STR(json_string_value(json_object_get(a, "patient_class")), "emergency");
    ASSERT_EQ_STR(json_string_value(json_object_get(a, "hl7_type")), "ADT^A04");
    json_decref(ev);
}

TEST(hl7_map_orm_and_referral_samples)
{
    json_t *ev = map_file("ORM-O01-01.hl7", NULL);
    assert_json(ev, "{\"id\":\"MSG00018\",\"type\":\"order.placed\",\"tenant\":\"acme\","
                    "\"facility\":\"GHH\",\"unit\":\"RADUnit01\",\"patient\":\"PATID1234\","
                    "\"encounter\":\"5001\",\"occurred_at\":\"2021-10-20T09:11:00.000Z\","
                    "\"attributes\":{\"hl7_type\":\"ORM^O01\",\"patient_class\":\"outpatient\","
                    "\"order_control\":\"NW\",\"order_id\":\"1101\",\"order_code\":\"24725-4\","
                    "\"order_code_system\":\"LN\"}}");
    json_decref(ev);
    ev = map_file("REF-I12-01.hl7", NULL);
    json_t *a = json_object_get(ev, "attributes");
    ASSERT_EQ_STR(json_string_value(json_object_get(ev, "type")), "referral.requested");
    ASSERT_EQ_STR(json_string_value(json_object_get(ev, "occurred_at")),
                  "2022-01-25T16:20:00.000Z");
    ASSERT_EQ_STR(json_string_value(json_object_get(a, "referral_status")), "P");
    ASSERT_EQ_STR(json_string_value(json_object_get(a, "referral_priority")), "R");
    ASSERT_EQ_STR(json_string_value(json_object_get(a, "referral_category")), "O");
    ASSERT_EQ_STR(json_string_value(json_object_get(a, "referral_id")), "226839");
    ASSERT_EQ_STR(json_string_value(json_object_get(a, "referred_to_facility")), "GI FACILITY");
    json_decref(ev);
}

/* ---- hand-written messages ---- */

#define MSH_ADT(trig)                                                                              \
    "MSH|^~\\&|EPIC|NORTH^1.2.3^ISO|BATON|BFAC|20261121100000+0100||ADT^" trig "^ADT_" trig        \
    "|C77|P|2.5.1\r"

static int map_str(const char *s, const baton_hl7_map_config_t *cfg, json_t **ev,
                   baton_hl7_error_t *e, char **ack)
{
    baton_hl7_msg_t *m = NULL;
    int rc = baton_hl7_parse(s, strlen(s), &m, e);
    ASSERT_EQ_INT(rc, 0);
    rc = baton_hl7_map(m, cfg, ev, e);
    if (ack)
        *ack = baton_hl7_ack(m, rc ? e : NULL, &ACK_OPTS, NULL);
    baton_hl7_msg_free(m);
    return rc;
}

TEST(hl7_map_discharge_a03_snf_disposition_exact)
{
    const char *s = MSH_ADT("A03") "EVN|A03|20261121093000\r"
                                   "PID|1||MRN1^^^H^MR||DOE^JANE\r"
                                   "PV1|1|I|4W^401^A^F1||||||||||||||||ENC9|||||||||||||||||03\r"
                                   "ZPV|custom\r";
    json_t *ev;
    baton_hl7_error_t e;
    char *ack;
    ASSERT_EQ_INT(map_str(s, &CFG_ANY, &ev, &e, &ack), 0);
    assert_json(ev, "{\"id\":\"C77\",\"type\":\"adt.discharge\",\"tenant\":\"acme\","
                    "\"facility\":\"F1\",\"unit\":\"4W\",\"patient\":\"MRN1\","
                    "\"encounter\":\"ENC9\",\"occurred_at\":\"2026-11-21T09:30:00.000Z\","
                    "\"attributes\":{\"hl7_type\":\"ADT^A03\",\"patient_class\":\"inpatient\","
                    "\"disposition\":\"snf\"}}");
    ASSERT_EQ_STR(ack, "MSH|^~\\&|BATON|BFAC|EPIC|NORTH^1.2.3^ISO|20261121120000+0000||"
                       "ACK^A03^ACK|ACK1|P|2.5.1\r"
                       "MSA|AA|C77\r");
    free(ack);
    json_decref(ev);
}

TEST(hl7_map_dispositions_and_classes)
{
    const char *cases[][3] = {{"01", "O", "home|outpatient"},
                              {"64", "E", "snf|emergency"},
                              {"20", "P", "20|preadmit"},
                              {"HOME", "B", "home|obstetrics"},
                              {"SNF^Skilled", "X", "snf|X"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char s[512];
        snprintf(s, sizeof s,
                 MSH_ADT("A03") "PID|1||M\rPV1|1|%s|U^^^F||||||||||||||||E|||||||||||||||||%s\r",
                 cases[i][1], cases[i][0]);
        json_t *ev;
        baton_hl7_error_t e;
        ASSERT_EQ_INT(map_str(s, &CFG_ANY, &ev, &e, NULL), 0);
        json_t *a = json_object_get(ev, "attributes");
        char got[64];
        snprintf(got, sizeof got, "%s|%s", json_string_value(json_object_get(a, "disposition")),
                 json_string_value(json_object_get(a, "patient_class")));
        ASSERT_EQ_STR(got, cases[i][2]);
        /* no EVN: MSH-7 (+0100) */
        ASSERT_EQ_STR(json_string_value(json_object_get(ev, "occurred_at")),
                      "2026-11-21T09:00:00.000Z");
        json_decref(ev);
    }
}

TEST(hl7_map_required_fields_ae_101)
{
    json_t *ev;
    baton_hl7_error_t e;
    char *ack;
    /* no PV1-19 and no PID-18 */
    ASSERT_EQ_INT(
        map_str(MSH_ADT("A01") "EVN|A01\rPID|1||MRN1\rPV1|1|I|4W\r", &CFG_ANY, &ev, &e, &ack),
        BATON_EINVAL);
    ASSERT_NULL(ev);
    ASSERT_EQ_STR(e.ack, "AE");
    ASSERT_EQ_INT(e.hl7_code, 101);
    ASSERT_EQ_STR(e.seg_id, "PV1");
    ASSERT_EQ_INT(e.segment, 4);
    ASSERT_EQ_INT(e.field, 19);
    ASSERT_EQ_STR(ack, "MSH|^~\\&|BATON|BFAC|EPIC|NORTH^1.2.3^ISO|20261121120000+0000||"
                       "ACK^A01^ACK|ACK1|P|2.5.1\r"
                       "MSA|AE|C77\r"
                       "ERR||PV1^1^19|101^Required field missing^HL70357|E||||"
                       "PV1-19 required (or PID-18)\r");
    ASSERT_TRUE(strstr(ack, "MRN1") == NULL); /* no PHI */
    free(ack);
    /* no PID-3 */
    ASSERT_EQ_INT(map_str(MSH_ADT("A01") "PID|1||~^^^X\rPV1|1|I|4W||||||||||||||||E1\r", &CFG_ANY,
                          &ev, &e, &ack),
                  BATON_EINVAL);
    ASSERT_EQ_STR(e.text, "PID-3 required");
    ASSERT_CONTAINS(ack, "\rERR||PID^1^3|101^Required field missing^HL70357|E||||PID-3 required\r");
    free(ack);
    /* no PID at all */
    ASSERT_EQ_INT(map_str(MSH_ADT("A01") "PV1|1|I|4W\r", &CFG_ANY, &ev, &e, NULL), BATON_EINVAL);
    ASSERT_EQ_STR(e.seg_id, "");
    ASSERT_EQ_INT(e.segment, 0);
    /* bad timestamp: AE 102 naming EVN-2 */
    ASSERT_EQ_INT(
        map_str(MSH_ADT("A01") "EVN|A01|2026-11-21\rPID|1||M\rPV1|1|I|||||||||||||||||E\r",
                &CFG_ANY, &ev, &e, &ack),
        BATON_EINVAL);
    ASSERT_EQ_INT(e.hl7_code, 102);
    ASSERT_CONTAINS(ack, "\rERR||EVN^1^2|102^Data type error^HL70357|E||||"
                         "EVN-2 is not a valid HL7 timestamp\r");
    free(ack);
    /* referrals do not need an encounter */
    ASSERT_EQ_INT(map_str("MSH|^~\\&|A|F|B|G|20261121||REF^I12|R1|P|2.5\rRF1|P\rPID|1||M9\r",
                          &CFG_ANY, &ev, &e, NULL),
                  0);
    ASSERT_NULL(json_object_get(ev, "encounter"));
    ASSERT_NULL(json_object_get(ev, "unit"));
    ASSERT_EQ_STR(json_string_value(json_object_get(ev, "facility")), "G");
    json_decref(ev);
}

TEST(hl7_map_unknown_sender_ar)
{
    static const baton_hl7_sender_t senders[] = {
        {"SOUTH", NULL, "t-south"},
        {"1.2.3", "EPIC", "t-north"}, /* MSH-4.2 universal id also matches */
    };
    baton_hl7_map_config_t cfg = {senders, 2, 0, NULL, 0};
    const char *s = MSH_ADT("A01") "PID|1||M\rPV1|1|I|||||||||||||||||E\r";
    json_t *ev;
    baton_hl7_error_t e;
    ASSERT_EQ_INT(map_str(s, &cfg, &ev, &e, NULL), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(ev, "tenant")), "t-north");
    json_decref(ev);
    cfg.nsenders = 1;
    char *ack;
    ASSERT_EQ_INT(map_str(s, &cfg, &ev, &e, &ack), BATON_EPERM);
    ASSERT_EQ_STR(e.ack, "AR");
    ASSERT_EQ_STR(ack, "MSH|^~\\&|BATON|BFAC|EPIC|NORTH^1.2.3^ISO|20261121120000+0000||"
                       "ACK^A01^ACK|ACK1|P|2.5.1\r"
                       "MSA|AR|C77\r"
                       "ERR||MSH^1^4|103^Table value not found^HL70357|E||||"
                       "unknown sender: MSH-3/MSH-4 not configured\r");
    free(ack);
    ASSERT_EQ_INT(map_str(s, NULL, &ev, &e, NULL), BATON_EPERM);
}

TEST(hl7_map_unsupported_type_ar_200)
{
    json_t *ev;
    baton_hl7_error_t e;
    char *ack;
    const char *s = "MSH|^~\\&|LAB|F|B|G|20261121||ORU^R01^ORU_R01|L1|P|2.5\rPID|1||M\r";
    ASSERT_EQ_INT(map_str(s, &CFG_ANY, &ev, &e, &ack), BATON_ENOENT);
    ASSERT_EQ_STR(ack, "MSH|^~\\&|B|G|LAB|F|20261121120000+0000||ACK^R01^ACK|ACK1|P|2.5\r"
                       "MSA|AR|L1\r"
                       "ERR||MSH^1^9|200^Unsupported message type^HL70357|E||||"
                       "unsupported message type ORU\\S\\R01\r");
    free(ack);
    ASSERT_EQ_INT(map_str(MSH_ADT("A40") "PID|1||M\r", &CFG_ANY, &ev, &e, NULL), BATON_ENOENT);
    ASSERT_EQ_STR(e.text, "unsupported message type ADT^A40");
}

TEST(hl7_map_orders_discharge_rule)
{
    const char *base = "MSH|^~\\&|CPOE|NORTH|B|G|20261121100000||%s|O1|P|2.5\r"
                       "PID|1||M1\rPV1|1|I|4W^^^F2||||||||||||||||E5\r"
                       "ORC|%s|PL1\rOBR|1|PL1||%s\r";
    const char *cases[][4] = {
        {"ORM^O01", "NW", "24725-4^CT Head^LN", "order.placed"},
        {"ORM^O01", "NW", "DISCHARGE^Discharge patient^L", "order.discharge"},
        {"OMG^O19", "NW", "X1^Discharge^L", "order.discharge"},
        {"OMG^O19", "NW", "X2^Discharge Order - home^L", "order.discharge"},
        {"ORM^O01", "NW", "X3^Discharge summary^L", "order.placed"},
        {"ORM^O01", "NW", "X4^Something^L^dcpatient^Alt^99", "order.discharge"},
        {"ORM^O01", "CA", "DISCHARGE^Discharge patient^L", "order.cancelled"},
        {"ORM^O01", "SC", "24725-4^CT Head^LN", "order.placed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char s[512];
        snprintf(s, sizeof s, base, cases[i][0], cases[i][1], cases[i][2]);
        json_t *ev;
        baton_hl7_error_t e;
        ASSERT_EQ_INT(map_str(s, &CFG_ANY, &ev, &e, NULL), 0);
        ASSERT_EQ_STR(json_string_value(json_object_get(ev, "type")), cases[i][3]);
        json_t *a = json_object_get(ev, "attributes");
        ASSERT_EQ_STR(json_string_value(json_object_get(a, "order_control")), cases[i][1]);
        ASSERT_EQ_STR(json_string_value(json_object_get(a, "order_id")), "PL1");
        ASSERT_EQ_STR(json_string_value(json_object_get(ev, "facility")), "F2");
        json_decref(ev);
    }
    /* configured codes replace the defaults */
    static const char *const codes[] = {"DCH"};
    baton_hl7_map_config_t cfg = CFG_ANY;
    cfg.discharge_codes = codes;
    cfg.ndischarge_codes = 1;
    char s[512];
    snprintf(s, sizeof s, base, "ORM^O01", "NW", "dch^Go^L");
    json_t *ev;
    baton_hl7_error_t e;
    ASSERT_EQ_INT(map_str(s, &cfg, &ev, &e, NULL), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(ev, "type")), "order.discharge");
    json_decref(ev);
}

TEST(hl7_map_latin1_values_become_utf8)
{
    json_t *ev;
    baton_hl7_error_t e;
    const char *s = MSH_ADT("A08") "PID|1||M\xe9\rPV1|1|I|||||||||||||||||E\r";
    ASSERT_EQ_INT(map_str(s, &CFG_ANY, &ev, &e, NULL), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(ev, "patient")), "M\xc3\xa9");
    json_decref(ev);
}

TEST(hl7_ack_custom_encoding_and_escaped_text)
{
    const char *s = "MSH#!$%@#SND#SF#RCV#RF#20261121##ORU!R01#X!1#T#2.4\rPID#1##M\r";
    baton_hl7_msg_t *m = NULL;
    baton_hl7_error_t e;
    ASSERT_EQ_INT(baton_hl7_parse(s, strlen(s), &m, &e), 0);
    json_t *ev;
    ASSERT_EQ_INT(baton_hl7_map(m, &CFG_ANY, &ev, &e), BATON_ENOENT);
    char *ack = baton_hl7_ack(m, &e, &ACK_OPTS, NULL);
    /* same encoding characters, MSA-2 echoed raw (escaped form), the ^ in the text escaped */
    ASSERT_EQ_STR(ack, "MSH#!$%@#RCV#RF#SND#SF#20261121120000+0000##ACK!R01!ACK#ACK1#T#2.4\r"
                       "MSA#AR#X!1\r"
                       "ERR#MSH!1!9!200@Unsupported message type@HL70357" /* ERR-1 for v2.4 */
                       "#MSH!1!9#200!Unsupported message type!HL70357#E####"
                       "unsupported message type ORU^R01\r");
    free(ack);
    baton_hl7_msg_free(m);
}

TEST(hl7_ack_for_unparseable_input)
{
    baton_hl7_error_t e;
    baton_hl7_msg_t *m;
    const char *s = "MSH|^~\\&|A|F|B|G|2026||ADT^A01||P|2.3\rPID|1||SECRET\r";
    ASSERT_EQ_INT(baton_hl7_parse(s, strlen(s), &m, &e), BATON_EPARSE);
    char *ack = baton_hl7_ack_raw(s, strlen(s), &e, &ACK_OPTS, NULL);
    ASSERT_EQ_STR(ack, "MSH|^~\\&|B|G|A|F|20261121120000+0000||ACK^A01^ACK|ACK1|P|2.3\r"
                       "MSA|AE|\r"
                       "ERR|MSH^1^10^101&Required field missing&HL70357"
                       "|MSH^1^10|101^Required field missing^HL70357|E||||MSH-10 required\r");
    free(ack);
    const char *junk = "hello";
    ASSERT_EQ_INT(baton_hl7_parse(junk, 5, &m, &e), BATON_EPARSE);
    ack = baton_hl7_ack_raw(junk, 5, &e, &ACK_OPTS, NULL);
    ASSERT_EQ_STR(ack, "MSH|^~\\&|BATON||||20261121120000+0000||ACK|ACK1|P|2.5\r"
                       "MSA|AE|\r"
                       "ERR|||100^Segment sequence error^HL70357|E||||"
                       "MSH must be the first segment\r");
    free(ack);
    /* a fresh control id when none is given: 20 characters */
    baton_hl7_ack_opts_t o = {NULL, 0, NULL, NULL};
    ack = baton_hl7_ack_raw(junk, 5, &e, &o, NULL);
    const char *p = strstr(ack, "||ACK|");
    ASSERT_NOT_NULL(p);
    ASSERT_EQ_INT(strchr(p + 6, '|') - (p + 6), 20);
    free(ack);
}
