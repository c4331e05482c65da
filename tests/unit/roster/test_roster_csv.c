/* CSV import: the reader's edge cases and the exact, line-numbered errors. */
#include "roster_test_util.h"

#define HDR "tenant,facility,unit,role,person,start,end,tier\n"

static int parse(const char *csv, baton_roster_shifts_t *out, baton_roster_errors_t *errs)
{
    return baton_roster_shifts_parse_csv(csv, strlen(csv), NULL, out, errs);
}

TEST(roster_csv_basic)
{
    /* BOM, CRLF, columns in another order and case, an extra column, default tier, no unit */
    const char *csv = "\xEF\xBB\xBFPerson,END,Start,Role,Notes,Facility,Tenant,Unit,ID\r\n"
                      "p1,2030-01-01T20:00:00Z,2030-01-01T08:00:00Z,nurse,x,F1,acme,4W,7\r\n"
                      "p2,2030-01-01T20:00:00Z,2030-01-01T08:00:00+01:00,nurse,,F1,acme,,7\r\n";
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(parse(csv, &s, &e), 0);
    ASSERT_EQ_INT(e.total, 0);
    ASSERT_EQ_INT(s.n, 2);
    ASSERT_EQ_STR(s.v[0].tenant, "acme");
    ASSERT_EQ_STR(s.v[0].facility, "F1");
    ASSERT_EQ_STR(s.v[0].unit, "4W");
    ASSERT_EQ_STR(s.v[0].role, "nurse");
    ASSERT_EQ_STR(s.v[0].person, "p1");
    ASSERT_EQ_INT(s.v[0].start_ms, ts("2030-01-01T08:00:00Z"));
    ASSERT_EQ_INT(s.v[0].end_ms, ts("2030-01-01T20:00:00Z"));
    ASSERT_EQ_INT(s.v[0].tier, 1);
    ASSERT_EQ_INT(strlen(s.v[0].id), 36);
    ASSERT_EQ_STR(s.v[1].unit, "");
    ASSERT_EQ_INT(s.v[1].start_ms, ts("2030-01-01T07:00:00Z"));
    baton_roster_shifts_free(&s);
}

TEST(roster_csv_quoted_fields)
{
    /* quotes around values, "" escapes, commas and a CRLF inside an ignored column, blanks
     * around fields, a bare quote inside an unquoted field (taken literally) */
    const char *csv = "tenant,facility,unit,role,person,start,end,tier,notes\n"
                      "\"acme\",\"F1\", 4W ,nurse,\"p1\",2030-01-01T08:00:00Z,"
                      "2030-01-01T20:00:00Z,\"2\",\"a, \"\"b\"\"\r\nc\"\n"
                      "acme,F1,4W,nurse,p2,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,,5\" tall\n"
                      "acme,F1,4W,nurse,p3,2030-01-01T20:00:00Z,2030-01-01T08:00:00Z,,\n";
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    /* the third row is bad: its line number counts the line break inside the quoted field */
    ASSERT_EQ_INT(parse(csv, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 5: end before start");
    ASSERT_EQ_INT(e.v[0].line, 5);
    ASSERT_EQ_INT(s.n, 0);
    ASSERT_NULL(s.v);
    baton_roster_errors_free(&e);

    const char *good = "tenant,facility,unit,role,person,start,end,tier,notes\n"
                       "\"acme\",\"F1\", 4W ,nurse,\"p1\",2030-01-01T08:00:00Z,"
                       "2030-01-01T20:00:00Z,\"2\",\"a, \"\"b\"\"\r\nc\"\n";
    ASSERT_EQ_INT(parse(good, &s, &e), 0);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_STR(s.v[0].unit, "4W");
    ASSERT_EQ_INT(s.v[0].tier, 2);
    baton_roster_shifts_free(&s);
}

TEST(roster_csv_errors_every_line)
{
    const char *csv =
        HDR "acme,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n"  /* 2 ok */
            "acme,F1,4W,nurse,p1,2030-01-01T20:00:00Z,2030-01-01T08:00:00Z,1\n"  /* 3 */
            "acme,F1,4W,nurse,,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n"    /* 4 */
            "acme,F1,4W,nurse,p1,2030-01-01 08:00,2030-01-01T20:00:00Z,1\n"      /* 5 */
            "acme,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,0\n"  /* 6 */
            "acme,F1,4W,nurse x,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,\n" /* 7 */
            "\n"                                                                 /* 8 blank */
            "acme,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T08:00:00Z,x\n"  /* 9 */
            "acme,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-16T08:00:00Z\n"    /* 10 */
            ",,,,,,,\n"                                                          /* 11 blank */
            "acme\n";                                                            /* 12 */
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(parse(csv, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 3: end before start\n"
                                 "line 4: missing person\n"
                                 "line 5: start is not an RFC 3339 time\n"
                                 "line 6: tier must be an integer from 1 to 99\n"
                                 "line 7: role must be 1-64 characters of A-Z a-z 0-9 . _ : @ -\n"
                                 "line 9: end equals start\n"
                                 "line 9: tier must be an integer from 1 to 99\n"
                                 "line 10: shift longer than 14 days\n"
                                 "line 12: missing facility\n"
                                 "line 12: missing role\n"
                                 "line 12: missing person\n"
                                 "line 12: missing start\n"
                                 "line 12: missing end");
    ASSERT_EQ_INT(e.total, 13);
    ASSERT_EQ_INT(s.n, 0);
    baton_roster_errors_free(&e);
}

TEST(roster_csv_header_errors)
{
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    const char *csv = "\n\ntenant,facility,START,role,person,start, Role \n"
                      "acme,F1,x,nurse,p1,2030-01-01T08:00:00Z,nurse\n";
    ASSERT_EQ_INT(parse(csv, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 3: duplicate column start\n"
                                 "line 3: duplicate column role\n"
                                 "line 3: missing column end");
    baton_roster_errors_free(&e);

    ASSERT_EQ_INT(parse("", &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "|no header row");
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(parse("\xEF\xBB\xBF\r\n\r\n", &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "|no header row");
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(parse(HDR "\n", &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 1: no shifts after the header");
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(parse("tenant,\"facility\"x,role\n", &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 1: unexpected character after a closing quote");
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(s.n, 0);
}

TEST(roster_csv_structure_errors)
{
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    /* garbage after a closing quote: reported, and the following lines still checked */
    const char *csv = HDR "acme,F1,4W,nurse,\"p1\"x,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n"
                          "acme,F1,4W,nurse,p1,2030-01-01T20:00:00Z,2030-01-01T08:00:00Z,1\n"
                          "acme,F1,4W,nurse,\"p1,2030-01-01T08:00:00Z\n"
                          "acme,F1,4W,nurse,p1,2030-01-01T20:00:00Z,2030-01-01T08:00:00Z,1\n";
    ASSERT_EQ_INT(parse(csv, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 2: unexpected character after a closing quote\n"
                                 "line 3: end before start\n"
                                 "line 4: unterminated quoted field");
    baton_roster_errors_free(&e);

    /* a NUL byte inside a used field */
    static const char nul[] = HDR "acme,F1,4W,nurse,p\0001,2030-01-01T08:00:00Z,"
                                  "2030-01-01T20:00:00Z,1\n";
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(nul, sizeof nul - 1, NULL, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 2: person contains a NUL byte");
    baton_roster_errors_free(&e);

    /* lone CR line ends and no final line end */
    const char *cr = "tenant,facility,role,person,start,end\r"
                     "acme,F1,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z\r"
                     "acme,F1,nurse,p1,2030-01-01T20:00:00Z,2030-01-01T08:00:00Z";
    ASSERT_EQ_INT(parse(cr, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 3: end before start");
    baton_roster_errors_free(&e);
}

TEST(roster_csv_too_many_fields)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, HDR "acme,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1");
    for (int i = 0; i < 300; i++)
        baton_buf_putc(&b, ',');
    baton_buf_puts(&b, "\nacme,F1,4W,nurse,p1,2030-01-01T20:00:00Z,2030-01-01T08:00:00Z,1\n");
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(b.data, b.len, NULL, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 2: more than 256 fields\nline 3: end before start");
    baton_roster_errors_free(&e);
    baton_buf_free(&b);
}

TEST(roster_csv_limits)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, HDR);
    for (int i = 0; i < BATON_ROSTER_MAX_SHIFTS; i++)
        baton_buf_appendf(&b, "acme,F1,4W,nurse,p%d,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n",
                          i);
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(b.data, b.len, NULL, &s, &e), 0);
    ASSERT_EQ_INT(s.n, BATON_ROSTER_MAX_SHIFTS);
    baton_roster_shifts_free(&s);
    baton_buf_puts(&b, "acme,F1,4W,nurse,px,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n");
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(b.data, b.len, NULL, &s, &e), BATON_ETOOBIG);
    ASSERT_EQ_STR(errs_text(&e), "line 10002: more than 10000 shifts");
    ASSERT_EQ_INT(s.n, 0);
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(b.data, BATON_ROSTER_MAX_BYTES + 1, NULL, &s, &e),
                  BATON_ETOOBIG);
    ASSERT_EQ_STR(errs_text(&e), "|file larger than 4194304 bytes");
    baton_roster_errors_free(&e);
    baton_buf_free(&b);

    /* errors: the first 100 are kept, all are counted */
    baton_buf_puts(&b, HDR);
    for (int i = 0; i < 150; i++)
        baton_buf_puts(&b, "acme,F1,4W,nurse,p1,x,2030-01-01T20:00:00Z,1\n");
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(b.data, b.len, NULL, &s, &e), BATON_EINVAL);
    ASSERT_EQ_INT(e.n, BATON_ROSTER_MAX_ERRORS);
    ASSERT_EQ_INT(e.total, 150);
    ASSERT_EQ_STR(e.v[99].detail, "line 101: start is not an RFC 3339 time");
    baton_roster_errors_free(&e);
    baton_buf_free(&b);
}

TEST(roster_csv_tenants_and_duplicates)
{
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    const char *row = "acme,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n";
    /* the same row twice (a re-exported roster): merged into one shift */
    char twice[512];
    snprintf(twice, sizeof twice, HDR "%s%s", row, row);
    ASSERT_EQ_INT(parse(twice, &s, &e), 0);
    ASSERT_EQ_INT(s.n, 1);
    baton_roster_shifts_free(&s);

    const char *csv = HDR "acme,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n"
                          "other,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n"
                          "acme,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,2\n";
    ASSERT_EQ_INT(parse(csv, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 3: tenant differs from line 2 (one tenant per import)\n"
                                 "line 4: same shift id as line 2 with different content");
    baton_roster_errors_free(&e);

    /* the caller's tenant */
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(twice, strlen(twice), "globex", &s, &e),
                  BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 2: tenant does not match the caller's tenant\n"
                                 "line 3: tenant does not match the caller's tenant");
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(baton_roster_shifts_parse_csv(twice, strlen(twice), "acme", &s, &e), 0);
    baton_roster_shifts_free(&s);

    /* explicit ids: one id for two different shifts is an error */
    const char *ids = "shift_id,tenant,facility,role,person,start,end\n"
                      "s-1,acme,F1,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z\n"
                      "s-1,acme,F1,nurse,p2,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z\n";
    ASSERT_EQ_INT(parse(ids, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "line 3: same shift id as line 2 with different content");
    baton_roster_errors_free(&e);
    const char *bad_id = "shift_id,tenant,facility,role,person,start,end\n"
                         "s 1,acme,F1,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z\n";
    ASSERT_EQ_INT(parse(bad_id, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e),
                  "line 2: shift_id must be 1-64 characters of A-Z a-z 0-9 . _ : @ -");
    baton_roster_errors_free(&e);
}

TEST(roster_csv_derived_ids)
{
    /* the id comes from the content: the same instant written two ways gives the same id,
     * a different person a different one, the tier is not part of it */
    const char *csv = "tenant,facility,unit,role,person,start,end,tier\n"
                      "acme,F1,4W,nurse,p1,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n"
                      "acme,F1,4W,nurse,p2,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n";
    const char *csv2 = "tenant,facility,unit,role,person,start,end,tier\n"
                       "acme,F1,4W,nurse,p1,2030-01-01T09:00:00+01:00,2030-01-01T20:00:00.000Z,"
                       "3\n";
    baton_roster_shifts_t a = BATON_ROSTER_SHIFTS_INIT, b = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(parse(csv, &a, &e), 0);
    ASSERT_EQ_INT(parse(csv2, &b, &e), 0);
    ASSERT_EQ_STR(a.v[0].id, b.v[0].id);
    ASSERT_TRUE(strcmp(a.v[0].id, a.v[1].id) != 0);
    char expect[BATON_ID_LEN];
    baton_derived_id("acme", "shift|F1|4W|nurse|p1|1893484800000|1893528000000", expect);
    ASSERT_EQ_STR(a.v[0].id, expect);
    baton_roster_shifts_free(&a);
    baton_roster_shifts_free(&b);
}

TEST(roster_csv_no_values_in_errors)
{
    const char *csv = HDR "acme,F1,4W,nurse,MRN 12345,2030-01-01T08:00:00Z,2030-01-01T20:00:00Z,1\n"
                          "acme,F1,4W,nurse,p1,Jane Doe,2030-01-01T20:00:00Z,1\n";
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(parse(csv, &s, &e), BATON_EINVAL);
    ASSERT_EQ_INT(e.n, 2);
    char *json = baton_roster_errors_json(&e);
    ASSERT_TRUE(strstr(json, "12345") == NULL);
    ASSERT_TRUE(strstr(json, "Jane") == NULL);
    ASSERT_EQ_STR(json, "[{\"line\":2,\"detail\":\"line 2: person must be 1-64 characters of "
                        "A-Z a-z 0-9 . _ : @ -\"},{\"line\":3,\"detail\":\"line 3: start is not "
                        "an RFC 3339 time\"}]");
    free(json);
    baton_roster_errors_free(&e);
}
