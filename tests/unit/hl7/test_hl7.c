/* test_hl7.c — parser: encoding characters, escapes, repetitions, components, segment ends,
 * BOM, batches, Z-segments, error locations. */
#include "baton/hl7.h"
#include "test.h"

TEST_MAIN()

static baton_hl7_msg_t *parse_ok(const char *s)
{
    baton_hl7_msg_t *m = NULL;
    baton_hl7_error_t e;
    int rc = baton_hl7_parse(s, strlen(s), &m, &e);
    if (rc != 0)
        TEST_FAIL("parse failed: %d %s", rc, e.text);
    return m;
}

#define MSH_STD "MSH|^~\\&|APP|FAC|BATON|BFAC|20261121100000||ADT^A01^ADT_A01|CTRL1|P|2.5\r"

TEST(hl7_parse_basic_fields)
{
    baton_hl7_msg_t *m = parse_ok(MSH_STD "EVN|A01|20261121095500\r"
                                          "PID|1||MRN1^^^H^MR~SSN9^^^US^SS||DOE^JOHN\r"
                                          "PV1|1|I|4W^401^A^F1||||||||||||||||ENC9\r");
    ASSERT_EQ_INT(baton_hl7_segment_count(m), 4);
    ASSERT_EQ_STR(baton_hl7_segment_id(m, 2), "PID");
    ASSERT_NULL(baton_hl7_segment_id(m, 4));
    ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 1, 0, 0, 0), "|");
    ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 2, 0, 0, 0), "^~\\&");
    ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 3, 1, 1, 0), "APP");
    ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 9, 1, 2, 0), "A01");
    ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 9, 1, 0, 0), "ADT^A01^ADT_A01");
    ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 10, 1, 1, 0), "CTRL1");
    ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 12, 1, 1, 0), "2.5");
    ASSERT_NULL(baton_hl7_get(m, "MSH", 1, 13, 1, 1, 0));
    ASSERT_EQ_INT(baton_hl7_field_count(m, "MSH", 1), 12);
    ASSERT_EQ_INT(baton_hl7_field_count(m, "PV1", 1), 19);
    ASSERT_EQ_STR(baton_hl7_get(m, "PV1", 1, 19, 1, 1, 0), "ENC9");
    ASSERT_EQ_STR(baton_hl7_get(m, "PV1", 1, 3, 1, 4, 0), "F1");
    ASSERT_EQ_STR(baton_hl7_get(m, "PV1", 1, 4, 1, 1, 0), ""); /* present, empty */
    ASSERT_NULL(baton_hl7_get(m, "PV1", 1, 3, 1, 9, 0));       /* no 9th component */
    ASSERT_NULL(baton_hl7_get(m, "PV1", 2, 3, 1, 1, 0));       /* no second PV1 */
    ASSERT_NULL(baton_hl7_get(m, "OBX", 1, 1, 1, 1, 0));
    ASSERT_NULL(baton_hl7_get(m, "PV1", 1, 0, 1, 1, 0));
    baton_hl7_msg_free(m);
}

TEST(hl7_parse_repetitions_components_subcomponents)
{
    baton_hl7_msg_t *m =
        parse_ok(MSH_STD "PID|1||MRN1^^^HOSP&1.2.3&ISO^MR~SSN9^^^US^SS~~X3||A^B&C&D^E\r");
    ASSERT_EQ_INT(baton_hl7_rep_count(m, "PID", 1, 3), 4);
    ASSERT_EQ_INT(baton_hl7_rep_count(m, "PID", 1, 4), 0);
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 1, 1, 0), "MRN1");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 1, 4, 0), "HOSP&1.2.3&ISO");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 1, 4, 1), "HOSP");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 1, 4, 2), "1.2.3");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 1, 4, 3), "ISO");
    ASSERT_NULL(baton_hl7_get(m, "PID", 1, 3, 1, 4, 4));
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 2, 1, 0), "SSN9");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 2, 0, 0), "SSN9^^^US^SS");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 3, 1, 0), "");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 4, 1, 0), "X3");
    ASSERT_NULL(baton_hl7_get(m, "PID", 1, 3, 5, 1, 0));
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 5, 1, 2, 2), "C");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 5, 1, 1, 1), "A"); /* no sub separator: whole */
    /* path helper */
    ASSERT_EQ_STR(baton_hl7_get_path(m, "PID-3.1"), "MRN1");
    ASSERT_EQ_STR(baton_hl7_get_path(m, "PID-3(2).1"), "SSN9");
    ASSERT_EQ_STR(baton_hl7_get_path(m, "PID-3[2].5"), "SS");
    ASSERT_EQ_STR(baton_hl7_get_path(m, "PID-3.4.2"), "1.2.3");
    ASSERT_EQ_STR(baton_hl7_get_path(m, "PID[1]-5.2.3"), "D");
    ASSERT_EQ_STR(baton_hl7_get_path(m, "MSH-9.2"), "A01");
    ASSERT_EQ_STR(baton_hl7_get_path(m, "MSH-1"), "|");
    ASSERT_NULL(baton_hl7_get_path(m, "PID-x"));
    ASSERT_NULL(baton_hl7_get_path(m, "PID-3.1junk"));
    ASSERT_NULL(baton_hl7_get_path(m, "PID[2]-3"));
    ASSERT_NULL(baton_hl7_get_path(m, "PI"));
    /* raw is zero-copy and undecoded */
    const char *p;
    size_t n;
    ASSERT_EQ_INT(baton_hl7_raw(m, "PID", 1, 3, 1, 4, 0, &p, &n), 0);
    ASSERT_EQ_INT(n, 14);
    ASSERT_TRUE(memcmp(p, "HOSP&1.2.3&ISO", 14) == 0);
    ASSERT_EQ_INT(baton_hl7_raw(m, "PID", 1, 3, 9, 1, 0, &p, &n), BATON_ENOENT);
    baton_hl7_msg_free(m);
}

TEST(hl7_parse_escapes)
{
    baton_hl7_msg_t *m =
        parse_ok(MSH_STD "NTE|1||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f|x\\X414243\\y|l1\\.br\\l2|"
                         "keep\\H\\bold\\N\\|odd\\X4\\z|\\Xzz\\|open\\end|\\P\\\r");
    ASSERT_EQ_STR(baton_hl7_get(m, "NTE", 1, 3, 1, 1, 0), "a|b^c&d~e\\f");
    ASSERT_EQ_STR(baton_hl7_get(m, "NTE", 1, 4, 1, 1, 0), "xABCy");
    ASSERT_EQ_STR(baton_hl7_get(m, "NTE", 1, 5, 1, 1, 0), "l1\nl2");
    ASSERT_EQ_STR(baton_hl7_get(m, "NTE", 1, 6, 1, 1, 0), "keep\\H\\bold\\N\\");
    ASSERT_EQ_STR(baton_hl7_get(m, "NTE", 1, 7, 1, 1, 0), "odd\\X4\\z");
    ASSERT_EQ_STR(baton_hl7_get(m, "NTE", 1, 8, 1, 1, 0), "\\Xzz\\");
    ASSERT_EQ_STR(baton_hl7_get(m, "NTE", 1, 9, 1, 1, 0), "open\\end");
    ASSERT_EQ_STR(baton_hl7_get(m, "NTE", 1, 10, 1, 1, 0), "\\P\\"); /* no truncation char */
    /* escape sequences never split components: \S\ stays in component 1 */
    ASSERT_NULL(baton_hl7_get(m, "NTE", 1, 3, 1, 2, 0));
    baton_hl7_msg_free(m);

    baton_hl7_delims_t d = {'|', '^', '~', '\\', '&', 0};
    baton_buf_t b = BATON_BUF_INIT;
    baton_hl7_escape(&d, "a|b^c&d~e\\f\nz", &b);
    ASSERT_EQ_STR(b.data, "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\z");
    baton_buf_reset(&b);
    const char *enc = "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\z";
    baton_hl7_unescape(&d, enc, strlen(enc), &b);
    ASSERT_EQ_STR(b.data, "a|b^c&d~e\\f\nz");
    baton_buf_free(&b);
}

TEST(hl7_parse_custom_encoding_characters)
{
    /* field '#', component '!', repetition '$', escape '%', subcomponent '@', truncation '*' */
    const char *s = "MSH#!$%@*#APP#FAC#B#BF#20261121##ADT!A03#C9#P#2.7\r"
                    "PID#1##M1!!!H@1.2@ISO$M2##N%F%x%S%y%T%z%R%w%E%v%P%\r"
                    "ZBT#hello!world\r";
    baton_hl7_msg_t *m = parse_ok(s);
    baton_hl7_delims_t d = baton_hl7_delims(m);
    ASSERT_EQ_INT(d.field, '#');
    ASSERT_EQ_INT(d.comp, '!');
    ASSERT_EQ_INT(d.rep, '$');
    ASSERT_EQ_INT(d.esc, '%');
    ASSERT_EQ_INT(d.sub, '@');
    ASSERT_EQ_INT(d.trunc, '*');
    ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 1, 0, 0, 0), "#");
    ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 2, 0, 0, 0), "!$%@*");
    ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 9, 1, 2, 0), "A03");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 1, 4, 2), "1.2");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 2, 1, 0), "M2");
    ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 5, 1, 1, 0), "N#x!y@z$w%v*");
    ASSERT_EQ_STR(baton_hl7_get(m, "ZBT", 1, 1, 1, 2, 0), "world"); /* Z-segment kept */
    ASSERT_EQ_STR(baton_hl7_get_path(m, "ZBT-1.1"), "hello");
    baton_hl7_msg_free(m);
}

TEST(hl7_parse_segment_ends_and_bom)
{
    const char *bodies[] = {
        "MSH|^~\\&|A|F|B|G|20261121||ADT^A08|C1|P|2.5\rPID|1||M1\rZZ1|z\r",
        "MSH|^~\\&|A|F|B|G|20261121||ADT^A08|C1|P|2.5\nPID|1||M1\nZZ1|z\n",
        "MSH|^~\\&|A|F|B|G|20261121||ADT^A08|C1|P|2.5\r\nPID|1||M1\r\nZZ1|z\r\n",
        "\xEF\xBB\xBFMSH|^~\\&|A|F|B|G|20261121||ADT^A08|C1|P|2.5\r\nPID|1||M1\r\n\r\nZZ1|z",
        "\r\n\xEF\xBB\xBFMSH|^~\\&|A|F|B|G|20261121||ADT^A08|C1|P|2.5\nPID|1||M1\n  \nZZ1|z",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        baton_hl7_msg_t *m = NULL;
        baton_hl7_error_t e;
        int rc = baton_hl7_parse(bodies[i], strlen(bodies[i]), &m, &e);
        if (i == 4) { /* the BOM is only skipped at the very start */
            ASSERT_EQ_INT(rc, BATON_EPARSE);
            continue;
        }
        ASSERT_EQ_INT(rc, 0);
        ASSERT_EQ_INT(baton_hl7_segment_count(m), 3);
        ASSERT_EQ_STR(baton_hl7_get(m, "PID", 1, 3, 1, 1, 0), "M1");
        ASSERT_EQ_STR(baton_hl7_get(m, "ZZ1", 1, 1, 0, 0, 0), "z");
        ASSERT_EQ_STR(baton_hl7_get(m, "MSH", 1, 12, 1, 1, 0), "2.5");
        baton_hl7_msg_free(m);
    }
}

static void expect_parse_error(const char *s, int code, int hl7, int seg, const char *seg_id,
                               int field, const char *text)
{
    baton_hl7_msg_t *m = (baton_hl7_msg_t *)1;
    baton_hl7_error_t e;
    ASSERT_EQ_INT(baton_hl7_parse(s, strlen(s), &m, &e), code);
    ASSERT_NULL(m);
    ASSERT_EQ_INT(e.code, code);
    ASSERT_EQ_STR(e.ack, "AE");
    ASSERT_EQ_INT(e.hl7_code, hl7);
    ASSERT_EQ_INT(e.segment, seg);
    ASSERT_EQ_STR(e.seg_id, seg_id);
    ASSERT_EQ_INT(e.field, field);
    ASSERT_EQ_STR(e.text, text);
}

TEST(hl7_parse_errors_have_locations_and_no_phi)
{
    expect_parse_error("", BATON_EPARSE, 100, 1, "", 0, "MSH must be the first segment");
    expect_parse_error("PID|1||SECRETMRN\rMSH|^~\\&|A", BATON_EPARSE, 100, 1, "", 0,
                       "MSH must be the first segment");
    expect_parse_error("MSHX^~\\&|A", BATON_EPARSE, 102, 1, "MSH", 2,
                       "MSH-1/MSH-2: invalid field separator or encoding characters");
    expect_parse_error("MSH|ADT|A|B", BATON_EPARSE, 102, 1, "MSH", 2,
                       "MSH-1/MSH-2: invalid field separator or encoding characters");
    expect_parse_error("MSH|^^~\\&|A", BATON_EPARSE, 102, 1, "MSH", 2,
                       "MSH-1/MSH-2: invalid field separator or encoding characters");
    expect_parse_error("MSH|^~\\&|A|F|B|G|2026||^A01|C1|P|2.5\r", BATON_EPARSE, 101, 1, "MSH", 9,
                       "MSH-9 required");
    expect_parse_error("MSH|^~\\&|A|F|B|G|2026||ADT^A01||P|2.5\rPID|1||SECRETMRN\r", BATON_EPARSE,
                       101, 1, "MSH", 10, "MSH-10 required");
    expect_parse_error("MSH|^~\\&|A|F|B|G|2026||ADT^A01|C|P|2.5\rPID|1||SECRETMRN\rpid|x\r",
                       BATON_EPARSE, 100, 3, "", 0, "segment 3: invalid segment id");
    expect_parse_error("MSH|^~\\&|A|F|B|G|2026||ADT^A01|C|P|2.5\rPID|1\rMSH|^~\\&|A\r",
                       BATON_EPARSE, 100, 3, "MSH", 0,
                       "segment 3: unexpected MSH (a batch needs the batch parser)");
    expect_parse_error("FHS|^~\\&\rMSH|^~\\&|A|F|B|G|2026||ADT^A01|C|P|2.5\r", BATON_EPARSE, 100, 1,
                       "", 0, "MSH must be the first segment");
}

TEST(hl7_parse_batch)
{
    const char *s = "\xEF\xBB\xBF"
                    "FHS|^~\\&|A|F\r"
                    "BHS|^~\\&|A|F\r"
                    "MSH|^~\\&|A|F|B|G|2026||ADT^A01|M1|P|2.5\rPID|1||P1\r"
                    "MSH|^~\\&|A|F|B|G|2026||ADT^A03|M2|P|2.5\nPID|1||P2\nZXT|a\n"
                    "MSH|^~\\&|A|F|B|G|2026||ADT^A03||P|2.5\rPID|1||P3\r"
                    "BTS|3\r"
                    "FTS|1\r";
    baton_hl7_batch_t b;
    baton_hl7_error_t e;
    ASSERT_EQ_INT(baton_hl7_batch_parse(s, strlen(s), &b, &e), 0);
    ASSERT_EQ_INT(b.count, 3);
    ASSERT_NOT_NULL(b.msgs[0]);
    ASSERT_NOT_NULL(b.msgs[1]);
    ASSERT_NULL(b.msgs[2]); /* no MSH-10 */
    ASSERT_EQ_INT(b.errors[2].hl7_code, 101);
    ASSERT_EQ_INT(b.errors[2].field, 10);
    ASSERT_EQ_STR(baton_hl7_get(b.msgs[0], "MSH", 1, 10, 1, 1, 0), "M1");
    ASSERT_EQ_STR(baton_hl7_get(b.msgs[0], "PID", 1, 3, 1, 1, 0), "P1");
    ASSERT_EQ_INT(baton_hl7_segment_count(b.msgs[0]), 2);
    ASSERT_EQ_STR(baton_hl7_get(b.msgs[1], "PID", 1, 3, 1, 1, 0), "P2");
    ASSERT_EQ_STR(baton_hl7_get(b.msgs[1], "ZXT", 1, 1, 1, 1, 0), "a");
    ASSERT_EQ_INT(baton_hl7_segment_count(b.msgs[1]), 3);
    ASSERT_TRUE(b.raw_len[2] > 0 && memcmp(b.raw[2], "MSH|", 4) == 0);
    baton_hl7_batch_free(&b);

    /* a plain message is a batch of one */
    const char *one = "MSH|^~\\&|A|F|B|G|2026||ADT^A01|M1|P|2.5\rPID|1||P1\r";
    ASSERT_EQ_INT(baton_hl7_batch_parse(one, strlen(one), &b, &e), 0);
    ASSERT_EQ_INT(b.count, 1);
    ASSERT_NOT_NULL(b.msgs[0]);
    baton_hl7_batch_free(&b);

    const char *bad = "BHS|^~\\&\rPID|1||P1\rBTS|0\r";
    ASSERT_EQ_INT(baton_hl7_batch_parse(bad, strlen(bad), &b, &e), BATON_EPARSE);
    ASSERT_EQ_STR(e.text, "segment 2: expected MSH");
    const char *empty = "FHS|^~\\&\rFTS|0\r";
    ASSERT_EQ_INT(baton_hl7_batch_parse(empty, strlen(empty), &b, &e), BATON_EPARSE);
    ASSERT_EQ_STR(e.text, "no MSH segment");
    const char *late = "MSH|^~\\&|A|F|B|G|2026||ADT^A01|M1|P|2.5\rFHS|^~\\&\r";
    ASSERT_EQ_INT(baton_hl7_batch_parse(late, strlen(late), &b, &e), BATON_EPARSE);
    ASSERT_EQ_INT(e.segment, 2);
}

TEST(hl7_dtm_parse)
{
    int64_t ms = 0;
    ASSERT_EQ_INT(baton_hl7_dtm_parse("20261121100000", 0, &ms), 0);
    char buf[BATON_RFC3339_LEN];
    baton_time_format(ms, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "2026-11-21T10:00:00.000Z");
    ASSERT_EQ_INT(baton_hl7_dtm_parse("198908181126+0215", 0, &ms), 0);
    baton_time_format(ms, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "1989-08-18T09:11:00.000Z");
    ASSERT_EQ_INT(baton_hl7_dtm_parse("20210817151943.4+0200", 0, &ms), 0);
    baton_time_format(ms, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "2021-08-17T13:19:43.400Z");
    ASSERT_EQ_INT(baton_hl7_dtm_parse("20210817151943.1234-0130", 0, &ms), 0);
    baton_time_format(ms, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "2021-08-17T16:49:43.123Z");
    ASSERT_EQ_INT(baton_hl7_dtm_parse("2024", 0, &ms), 0);
    baton_time_format(ms, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "2024-01-01T00:00:00.000Z");
    ASSERT_EQ_INT(baton_hl7_dtm_parse("20240229", 0, &ms), 0);
    /* no offset: the configured one */
    ASSERT_EQ_INT(baton_hl7_dtm_parse("202611211000", -300, &ms), 0);
    baton_time_format(ms, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "2026-11-21T15:00:00.000Z");
    const char *bad[] = {"",
                         "202",
                         "2026112",
                         "20261321",
                         "20230229",
                         "2026112124",
                         "20261121100060",
                         "20261121+02",
                         "2026x",
                         "20261121.5",
                         "20261121100000.",
                         "20261121 10",
                         "20261121100000+2400"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (baton_hl7_dtm_parse(bad[i], 0, &ms) != BATON_EPARSE)
            TEST_FAIL("accepted %s", bad[i]);
}

static int collect(void *ud, size_t si, const char *seg, int field, int rep, int comp, int sub,
                   const char *raw, size_t n)
{
    baton_buf_appendf(ud, "%zu%s-%d(%d).%d.%d=%.*s;", si, seg, field, rep, comp, sub, (int)n, raw);
    return 0;
}

static int stop_at_pid(void *ud, size_t si, const char *seg, int field, int rep, int comp, int sub,
                       const char *raw, size_t n)
{
    (*(int *)ud)++;
    return strcmp(seg, "PID") == 0 ? 42 : 0;
}

TEST(hl7_walk_visits_every_leaf)
{
    baton_hl7_msg_t *m = parse_ok("MSH|^~\\&|A|F^x|||||ADT^A01|C|P|2.5\r"
                                  "PID|1||M1^^^H&1.2~M2||a\\S\\b\rZZ1|\r");
    baton_buf_t b = BATON_BUF_INIT;
    ASSERT_EQ_INT(baton_hl7_walk(m, collect, &b), 0);
    ASSERT_EQ_STR(b.data, "0MSH-1(1).1.1=|;0MSH-2(1).1.1=^~\\&;0MSH-3(1).1.1=A;"
                          "0MSH-4(1).1.1=F;0MSH-4(1).2.1=x;0MSH-9(1).1.1=ADT;0MSH-9(1).2.1=A01;"
                          "0MSH-10(1).1.1=C;0MSH-11(1).1.1=P;0MSH-12(1).1.1=2.5;"
                          "1PID-1(1).1.1=1;1PID-3(1).1.1=M1;1PID-3(1).4.1=H;1PID-3(1).4.2=1.2;"
                          "1PID-3(2).1.1=M2;1PID-5(1).1.1=a\\S\\b;");
    baton_buf_free(&b);
    int calls = 0;
    ASSERT_EQ_INT(baton_hl7_walk(m, stop_at_pid, &calls), 42);
    ASSERT_EQ_INT(calls, 11);
    baton_hl7_msg_free(m);
}
