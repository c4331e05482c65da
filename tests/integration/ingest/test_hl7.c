/* test_hl7.c — HL7 v2 over HTTP (POST /v1/hl7v2) and MLLP: every sample message, ACK codes,
 * chunked frames with garbage, MSH-10 dedup, sender map. */
#include "fixture.h"

#include "baton/redis.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HL7_DIR BATON_SHARED_DIR "/testdata/hl7/microsoft-FHIR-Converter"
#define HL7_CT "x-application/hl7-v2+er7"

/* Sample files Baton accepts (AA) and the canonical type each becomes. */
static const char *const aa_files[][2] = {{"ADT01-23.hl7", "adt.admit"},
                                          {"ADT01-28.hl7", "adt.admit"},
                                          {"ADT04-23.hl7", "adt.admit"},
                                          {"ADT04-251.hl7", "adt.admit"},
                                          {"ADT04-28.hl7", "adt.admit"},
                                          {"LAB-ORM-1.hl7", "order.placed"},
                                          {"OMG-O19-01.hl7", "order.placed"},
                                          {"OMG-O19-02.hl7", "order.placed"},
                                          {"OML-O21-02.hl7", "order.placed"},
                                          {"ORM-O01-01.hl7", "order.placed"},
                                          {"ORM-O01-02.hl7", "order.placed"},
                                          {"ORM-O01-03.hl7", "order.placed"},
                                          {"ORM-O01-04.hl7", "order.placed"},
                                          {"ORM-O01-05.hl7", "order.placed"},
                                          {"ORM-O01-06.hl7", "order.placed"},
                                          {"REF-I12-01.hl7", "referral.requested"},
                                          {"REF-I12-02.hl7", "referral.requested"},
                                          {NULL, NULL}};
/* Samples rejected with AE: their EVN-2 lies in 2029 (more than 24 h in the future). */
static const char *const ae_files[] = {"ADT-A01-01.hl7", "ADT-A01-02.hl7", "ADT-A02-01.hl7",
                                       "ADT-A02-02.hl7", "ADT-A03-01.hl7", "ADT-A03-02.hl7",
                                       "ADT-A04-01.hl7", "ADT-A04-02.hl7", "ADT-A08-01.hl7",
                                       "ADT-A08-02.hl7", "ADT-A11-01.hl7", "ADT-A11-02.hl7",
                                       "ADT-A13-01.hl7", "ADT-A13-02.hl7", "ADT-A16-01.hl7",
                                       "ADT-A16-02.hl7", "MDM_01.hl7",     NULL};

static const char *expected_type(const char *name)
{
    for (int i = 0; aa_files[i][0]; i++)
        if (strcmp(aa_files[i][0], name) == 0)
            return aa_files[i][1];
    return NULL;
}

static int is_ae(const char *name)
{
    for (int i = 0; ae_files[i]; i++)
        if (strcmp(ae_files[i], name) == 0)
            return 1;
    return 0;
}

static void flush_redis(fx_t *f)
{
    char err[128];
    baton_redis_t *r = baton_redis_new(f->redis.url, NULL, err, sizeof err);
    ASSERT_NOT_NULL(r);
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "FLUSHDB"), 0);
    baton_redis_free(r);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The MSH-10 of a raw sample (after an optional BOM). */
static const char *msh10(const char *msg)
{
    if ((unsigned char)msg[0] == 0xEF)
        msg += 3;
    return fx_hl7_field(msg, "MSH", 9); /* MSH-1 is the separator: field index 9 = MSH-10 */
}

TEST(ingest_hl7_testdata_http)
{
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    DIR *d = opendir(HL7_DIR);
    ASSERT_NOT_NULL(d);
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256)
        if (strstr(de->d_name, ".hl7"))
            names[n++] = baton_xstrdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    ASSERT_EQ_INT(n, 139);
    int aa = 0, ae = 0, ar = 0;
    for (size_t i = 0; i < n; i++) {
        flush_redis(&f); /* the samples reuse MSH-10s (MSG00001 ...): each is a fresh input */
        char *path = baton_xasprintf("%s/%s", HL7_DIR, names[i]);
        char *msg = fx_read_file(path, NULL);
        char id[128];
        baton_strlcpy(id, msh10(msg), sizeof id);
        fx_resp_t r;
        fx_post(&f, "/v1/hl7v2", FX_KEY_ALL, HL7_CT, msg, &r);
        ASSERT_CONTAINS(fx_header(&r, "Content-Type"), "x-application/hl7-v2+er7");
        char msa1[8], msa2[128], err3[64];
        baton_strlcpy(msa1, fx_hl7_field(r.body, "MSA", 1), sizeof msa1);
        baton_strlcpy(msa2, fx_hl7_field(r.body, "MSA", 2), sizeof msa2);
        baton_strlcpy(err3, fx_hl7_field(r.body, "ERR", 3), sizeof err3);
        const char *want = expected_type(names[i]);
        if (want) {
            if (strcmp(msa1, "AA") != 0 || r.status != 202)
                TEST_FAIL("%s: %s %ld", names[i], msa1, r.status);
            ASSERT_EQ_STR(msa2, id);
            char type[64];
            Baton__V1__Envelope *e = fx_reader_next(rd, 10000, NULL, 0, type, sizeof type);
            ASSERT_NOT_NULL(e);
            if (strcmp(type, want) != 0)
                TEST_FAIL("%s: type %s, expected %s", names[i], type, want);
            ASSERT_EQ_STR(e->id, id);
            ASSERT_EQ_STR(e->tenant, "acme");
            ASSERT_EQ_STR(e->clinical->source, "hl7v2");
            ASSERT_EQ_STR(e->clinical->source_message_id, id);
            baton_kafka_envelope_free(e);
            aa++;
        } else if (is_ae(names[i])) {
            if (strcmp(msa1, "AE") != 0 || r.status != 400)
                TEST_FAIL("%s: %s %ld %s", names[i], msa1, r.status, r.body);
            ASSERT_CONTAINS(r.body, "occurred_at");
            ae++;
        } else {
            if (strcmp(msa1, "AR") != 0 || r.status != 422)
                TEST_FAIL("%s: %s %ld", names[i], msa1, r.status);
            ASSERT_EQ_STR(err3, "200^Unsupported message type^HL70357");
            ar++;
        }
        fx_resp_free(&r);
        free(msg);
        free(path);
        free(names[i]);
    }
    ASSERT_EQ_INT(aa, 17);
    ASSERT_EQ_INT(ae, 17);
    ASSERT_EQ_INT(ar, 105);
    ASSERT_EQ_INT(fx_reader_drain(rd, 500), 0);
    fx_reader_free(rd);
}

/* The ADT samples with their 2029 times moved to 2025: each maps to its canonical type. */
TEST(ingest_hl7_adt_types)
{
    static const char *const cases[][2] = {{"ADT-A01-01.hl7", "adt.admit"},
                                           {"ADT-A02-01.hl7", "adt.transfer"},
                                           {"ADT-A03-01.hl7", "adt.discharge"},
                                           {"ADT-A04-01.hl7", "adt.admit"},
                                           {"ADT-A08-01.hl7", "adt.update"},
                                           {"ADT-A11-01.hl7", "adt.cancel_admit"},
                                           {"ADT-A13-01.hl7", "adt.cancel_discharge"},
                                           {"ADT-A16-01.hl7", "adt.pending_discharge"},
                                           {NULL, NULL}};
    fx_t f;
    fx_start(&f, NULL);
    fx_reader_t *rd = fx_reader_new(&f);
    for (int i = 0; cases[i][0]; i++) {
        flush_redis(&f);
        char *path = baton_xasprintf("%s/%s", HL7_DIR, cases[i][0]);
        char *msg = fx_read_file(path, NULL);
        for (char *p = msg; (p = strstr(p, "2029")) != NULL; p += 4)
            memcpy(p, "2025", 4);
        fx_resp_t r;
        fx_post(&f, "/v1/hl7v2", FX_KEY_ALL, "text/plain", msg, &r);
        if (r.status != 202)
            TEST_FAIL("%s: %ld %s", cases[i][0], r.status, r.body);
        ASSERT_EQ_STR(fx_hl7_field(r.body, "MSA", 1), "AA");
        char type[64], key[128];
        Baton__V1__Envelope *e = fx_reader_next(rd, 10000, key, sizeof key, type, sizeof type);
        ASSERT_NOT_NULL(e);
        if (strcmp(type, cases[i][1]) != 0)
            TEST_FAIL("%s: %s != %s", cases[i][0], type, cases[i][1]);
        ASSERT_EQ_STR(e->type, cases[i][1]);
        ASSERT_EQ_STR(e->facility, "HOMERTON_UNIVER"); /* PV1-3.4 "HOMERTON UNIVER", normalized */
        ASSERT_TRUE(strncmp(key, "acme/", 5) == 0);
        baton_kafka_envelope_free(e);
        fx_resp_free(&r);
        free(msg);
        free(path);
    }
    fx_reader_free(rd);
}

#define MSG(ctrl, pid3, evn2)                                                                      \
    "MSH|^~\\&|ADT1|HOSP_A|BATON|BATON|20251121100000||ADT^A03^ADT_A03|" ctrl "|P|2.5\r"           \
    "EVN|A03|" evn2 "\r"                                                                           \
    "PID|1||" pid3 "^^^MRN||Doe^Jane\r"                                                            \
    "PV1|1|I|4W^401^1^F1||||||||||||||||ENC-" ctrl "|||||||||||||||||01\r"

TEST(ingest_hl7_ack_errors)
{
    fx_t f;
    const char *extra[] = {"BATON_HL7_SENDERS=HOSP_A^ADT1=acme,HOSP_G=globex", NULL};
    fx_start(&f, extra);
    fx_resp_t r;
    /* missing PID-3: AE, ERR-3 101 */
    fx_post(&f, "/v1/hl7v2", FX_KEY_ALL, HL7_CT, MSG("C1", "", "20251121100000"), &r);
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_EQ_STR(fx_hl7_field(r.body, "MSA", 1), "AE");
    ASSERT_EQ_STR(fx_hl7_field(r.body, "MSA", 2), "C1");
    ASSERT_TRUE(strncmp(fx_hl7_field(r.body, "ERR", 3), "101^", 4) == 0);
    fx_resp_free(&r);
    /* an unparseable timestamp: AE 102 */
    fx_post(&f, "/v1/hl7v2", FX_KEY_ALL, HL7_CT, MSG("C2", "MRN1", "2025XX21"), &r);
    ASSERT_EQ_STR(fx_hl7_field(r.body, "MSA", 1), "AE");
    ASSERT_TRUE(strncmp(fx_hl7_field(r.body, "ERR", 3), "102^", 4) == 0);
    fx_resp_free(&r);
    /* not HL7 at all: AE with a default header */
    fx_post(&f, "/v1/hl7v2", FX_KEY_ALL, HL7_CT, "hello world", &r);
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_EQ_STR(fx_hl7_field(r.body, "MSA", 1), "AE");
    fx_resp_free(&r);
    /* a sender mapped to another tenant than the key's: AR 103 */
    fx_post(&f, "/v1/hl7v2", FX_KEY_OTHER, HL7_CT, MSG("C3", "MRN1", "20251121100000"), &r);
    ASSERT_EQ_INT(r.status, 422);
    ASSERT_EQ_STR(fx_hl7_field(r.body, "MSA", 1), "AR");
    ASSERT_TRUE(strncmp(fx_hl7_field(r.body, "ERR", 3), "103^", 4) == 0);
    fx_resp_free(&r);
    /* an unmapped sender over HTTP takes the key's tenant */
    char *m = baton_xstrdup(MSG("C4", "MRN1", "20251121100000"));
    memcpy(strstr(m, "HOSP_A"), "HOSP_Z", 6);
    fx_post(&f, "/v1/hl7v2", FX_KEY_OTHER, HL7_CT, m, &r);
    ASSERT_EQ_INT(r.status, 202);
    ASSERT_EQ_STR(fx_hl7_field(r.body, "MSA", 1), "AA");
    fx_resp_free(&r);
    /* wrong media type */
    fx_post(&f, "/v1/hl7v2", FX_KEY_ALL, "application/json", m, &r);
    fx_assert_problem(&r, 415, "unsupported-media-type", NULL);
    fx_resp_free(&r);
    free(m);
}

TEST(ingest_hl7_mllp_stream)
{
    fx_t f;
    const char *extra[] = {"BATON_HL7_SENDERS=HOSP_A^ADT1=acme", NULL};
    fx_start(&f, extra);
    fx_reader_t *rd = fx_reader_new(&f);
    int fd = fx_mllp_connect(&f);
    baton_buf_t s = BATON_BUF_INIT;
    baton_buf_puts(&s, "\r\n garbage before \x1c\r");
    const char *ids[] = {"M1", "M2", "M1", "M3"};
    for (int i = 0; i < 4; i++) {
        char *msg = baton_xasprintf(MSG("%s", "MRN7", "20251121100000"), ids[i], ids[i]);
        baton_buf_putc(&s, 0x0b);
        baton_buf_puts(&s, msg);
        baton_buf_puts(&s, "\x1c\r");
        if (i == 1)
            baton_buf_puts(&s, "noise between frames");
        free(msg);
    }
    fx_send_chunked(fd, s.data, s.len, 7);
    baton_buf_free(&s);
    for (int i = 0; i < 4; i++) {
        char *ack = fx_mllp_read_frame(fd, 10000);
        ASSERT_NOT_NULL(ack);
        ASSERT_EQ_STR(fx_hl7_field(ack, "MSA", 1), "AA");
        ASSERT_EQ_STR(fx_hl7_field(ack, "MSA", 2), ids[i]);
        free(ack);
    }
    /* a frame split across two writes far apart */
    char *msg = baton_xasprintf("\x0b" MSG("%s", "MRN7", "20251121100000") "\x1c\r", "M4", "M4");
    size_t half = strlen(msg) / 2;
    fx_send_chunked(fd, msg, half, 0);
    usleep(300000);
    fx_send_chunked(fd, msg + half, strlen(msg) - half, 0);
    free(msg);
    char *ack = fx_mllp_read_frame(fd, 10000);
    ASSERT_NOT_NULL(ack);
    ASSERT_EQ_STR(fx_hl7_field(ack, "MSA", 2), "M4");
    free(ack);
    close(fd);
    /* M1 twice: written once */
    int n = 0;
    Baton__V1__Envelope *e;
    while ((e = fx_reader_next(rd, 1500, NULL, 0, NULL, 0)) != NULL) {
        ASSERT_EQ_STR(e->type, "adt.discharge");
        ASSERT_EQ_STR(e->unit, "4W");
        ASSERT_TRUE(strncmp(e->correlation_key, "acme/ENC-M", 10) == 0);
        baton_kafka_envelope_free(e);
        n++;
    }
    ASSERT_EQ_INT(n, 4);
    fx_reader_free(rd);
    /* metrics: frames, garbage, one dedup hit */
    int st;
    char *body = NULL;
    ASSERT_EQ_INT(harness_http_get(f.ops_port, "/metrics", &st, &body), 0);
    ASSERT_CONTAINS(body, "baton_ingest_mllp_frames_total 5");
    ASSERT_CONTAINS(body, "baton_ingest_dedup_hits_total{source=\"hl7v2\"} 1");
    ASSERT_CONTAINS(body, "baton_ingest_mllp_connections_total 1");
    ASSERT_TRUE(strstr(body, "baton_ingest_mllp_garbage_bytes_total 0") == NULL);
    free(body);
}

TEST(ingest_hl7_mllp_unknown_sender_ar)
{
    fx_t f;
    const char *extra[] = {"BATON_HL7_SENDERS=OTHER_FAC=acme", NULL};
    fx_start(&f, extra);
    fx_reader_t *rd = fx_reader_new(&f);
    int fd = fx_mllp_connect(&f);
    const char *frame = "\x0b" MSG("U1", "MRN1", "20251121100000") "\x1c\r";
    fx_send_chunked(fd, frame, strlen(frame), 0);
    char *ack = fx_mllp_read_frame(fd, 10000);
    ASSERT_NOT_NULL(ack);
    ASSERT_EQ_STR(fx_hl7_field(ack, "MSA", 1), "AR");
    ASSERT_EQ_STR(fx_hl7_field(ack, "MSA", 2), "U1");
    ASSERT_TRUE(strncmp(fx_hl7_field(ack, "ERR", 3), "103^", 4) == 0);
    free(ack);
    /* an unsupported type on the same connection: AR 200 */
    const char *oru = "\x0bMSH|^~\\&|LAB|OTHER_FAC|B|B|20251121100000||ORU^R01|U2|P|2.5\r"
                      "PID|1||X1\r\x1c\r";
    fx_send_chunked(fd, oru, strlen(oru), 0);
    ack = fx_mllp_read_frame(fd, 10000);
    ASSERT_NOT_NULL(ack);
    ASSERT_EQ_STR(fx_hl7_field(ack, "MSA", 1), "AR");
    ASSERT_TRUE(strncmp(fx_hl7_field(ack, "ERR", 3), "200^", 4) == 0);
    free(ack);
    close(fd);
    ASSERT_EQ_INT(fx_reader_drain(rd, 500), 0);
    fx_reader_free(rd);
}
