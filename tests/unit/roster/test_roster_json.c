/* JSON input: PUT /v1/shifts and PUT /v1/people/{id}, with exact JSON pointers. */
#include "roster_test_util.h"

static int shifts(const char *json, baton_roster_shifts_t *out, baton_roster_errors_t *errs)
{
    return baton_roster_shifts_parse_json(json, strlen(json), NULL, out, errs);
}

TEST(roster_json_shifts_ok)
{
    const char *json =
        "[{\"tenant\":\"acme\",\"facility\":\"F1\",\"unit\":\"4W\",\"role\":\"nurse\","
        "\"person\":\"p1\",\"start\":\"2030-01-01T08:00:00Z\",\"end\":\"2030-01-01T20:00:00Z\","
        "\"tier\":2,\"id\":\"s-1\"},"
        "{\"tenant\":\"acme\",\"facility\":\"F1\",\"unit\":null,\"role\":\"nurse\","
        "\"person\":\"p2\",\"start\":\"2030-01-01T08:00:00Z\",\"end\":\"2030-01-01T20:00:00Z\"}]";
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(baton_roster_shifts_parse_json(json, strlen(json), "acme", &s, &e), 0);
    ASSERT_EQ_INT(s.n, 2);
    ASSERT_EQ_STR(s.v[0].id, "s-1");
    ASSERT_EQ_INT(s.v[0].tier, 2);
    ASSERT_EQ_STR(s.v[1].unit, "");
    ASSERT_EQ_INT(s.v[1].tier, 1);
    char *out = baton_roster_shift_to_json(&s.v[0]);
    ASSERT_EQ_STR(out,
                  "{\"id\":\"s-1\",\"tenant\":\"acme\",\"facility\":\"F1\",\"unit\":\"4W\","
                  "\"role\":\"nurse\",\"person\":\"p1\",\"start\":\"2030-01-01T08:00:00.000Z\","
                  "\"end\":\"2030-01-01T20:00:00.000Z\",\"tier\":2}");
    free(out);
    baton_roster_shifts_free(&s);
}

TEST(roster_json_shifts_errors)
{
    const char *json =
        "[{\"tenant\":\"acme\",\"facility\":\"F1\",\"role\":\"nurse\",\"person\":\"p1\","
        "\"start\":\"2030-01-01T08:00:00Z\",\"end\":\"2030-01-01T20:00:00Z\"},"
        "{\"tenant\":\"acme\",\"facility\":\"F1\",\"role\":\"nurse\",\"person\":\"p1\","
        "\"start\":\"2030-01-01T08:00:00Z\",\"end\":\"2030-01-01T20:00:00Z\",\"tier\":\"1\","
        "\"colour\":\"red\",\"a/b~c\":1},"
        "7,"
        "{\"tenant\":\"acme\",\"facility\":\"F1\",\"role\":\"nurse\",\"person\":\"p1\","
        "\"start\":\"2030-01-01T20:00:00Z\",\"end\":\"2030-01-01T08:00:00Z\",\"tier\":100},"
        "{\"tenant\":\"acme\",\"facility\":5,\"role\":\"nurse\","
        "\"start\":\"tomorrow\",\"end\":\"2030-01-01T20:00:00Z\"},"
        "{\"tenant\":\"zeta\",\"facility\":\"F1\",\"role\":\"nurse\",\"person\":\"p1\","
        "\"start\":\"2030-01-01T08:00:00Z\",\"end\":\"2030-01-01T20:00:00Z\"}]";
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(shifts(json, &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "/1/tier|must be an integer\n"
                                 "/1/colour|unknown field\n"
                                 "/1/a~1b~0c|unknown field\n"
                                 "/2|must be an object\n"
                                 "/3/end|end before start\n"
                                 "/3/tier|must be an integer from 1 to 99\n"
                                 "/4/facility|must be a string\n"
                                 "/4/person|required\n"
                                 "/4/start|must be an RFC 3339 time\n"
                                 "/5/tenant|differs from /0/tenant (one tenant per request)");
    ASSERT_EQ_INT(s.n, 0);
    baton_roster_errors_free(&e);
}

TEST(roster_json_shifts_document_errors)
{
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(shifts("{\"tenant\":\"acme\"}", &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "|must be an array of shifts");
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(shifts("[]", &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "|must be a non-empty array of shifts");
    baton_roster_errors_free(&e);
    /* jansson's own message would quote the input; ours names the place only */
    ASSERT_EQ_INT(shifts("[{\"person\": MRN12345}]", &s, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "|invalid JSON at line 1 column 15");
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(shifts("[{\"tenant\":\"a\",\"tenant\":\"b\"}]", &s, &e), BATON_EINVAL);
    ASSERT_EQ_INT(e.n, 1);
    ASSERT_TRUE(strstr(e.v[0].detail, "invalid JSON") == e.v[0].detail);
    baton_roster_errors_free(&e);
}

static int person(const char *id, const char *json, baton_roster_person_t **out,
                  baton_roster_errors_t *errs)
{
    return baton_roster_person_parse(id, json, strlen(json), out, errs);
}

TEST(roster_person_ok)
{
    const char *json = "{\"tenant\":\"acme\",\"name\":\"Dr. Ana Lima\",\"contacts\":["
                       "{\"channel\":\"pager\",\"address\":\"4711\"},"
                       "{\"address\":\"https://hooks.example.org/baton\",\"channel\":\"webhook\"},"
                       "{\"channel\":\"sms\",\"address\":\"+4915112345678\"},"
                       "{\"channel\":\"email\",\"address\":\"ana@example.org\"}],"
                       "\"quiet_hours\":{\"start\":\"22:00\",\"end\":\"07:00\","
                       "\"tz\":\"Europe/Berlin\"},\"id\":\"p-ana\"}";
    baton_roster_person_t *p = NULL;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(person("p-ana", json, &p, &e), 0);
    ASSERT_EQ_INT(e.total, 0);
    ASSERT_EQ_STR(p->id, "p-ana");
    ASSERT_EQ_STR(p->tenant, "acme");
    ASSERT_EQ_STR(p->name, "Dr. Ana Lima");
    ASSERT_EQ_INT(p->ncontacts, 4);
    ASSERT_EQ_INT(p->contacts[0].channel, BATON_ROSTER_PAGER);
    ASSERT_EQ_STR(p->contacts[1].address, "https://hooks.example.org/baton");
    ASSERT_EQ_INT(p->has_quiet_hours, 1);
    ASSERT_EQ_INT(p->quiet_start_min, 22 * 60);
    ASSERT_EQ_INT(p->quiet_end_min, 7 * 60);
    ASSERT_EQ_STR(p->quiet_tz, "Europe/Berlin");
    char *out = baton_roster_person_to_json(p);
    ASSERT_EQ_STR(out, "{\"id\":\"p-ana\",\"tenant\":\"acme\",\"name\":\"Dr. Ana Lima\","
                       "\"contacts\":[{\"channel\":\"pager\",\"address\":\"4711\"},"
                       "{\"channel\":\"webhook\",\"address\":\"https://hooks.example.org/baton\"},"
                       "{\"channel\":\"sms\",\"address\":\"+4915112345678\"},"
                       "{\"channel\":\"email\",\"address\":\"ana@example.org\"}],"
                       "\"quiet_hours\":{\"start\":\"22:00\",\"end\":\"07:00\","
                       "\"tz\":\"Europe/Berlin\"}}");
    /* the canonical form reads back to the same */
    baton_roster_person_t *q = NULL;
    ASSERT_EQ_INT(person("p-ana", out, &q, &e), 0);
    char *again = baton_roster_person_to_json(q);
    ASSERT_EQ_STR(again, out);
    free(again);
    free(out);
    baton_roster_person_free(q);
    baton_roster_person_free(p);

    /* minimal: no quiet hours */
    ASSERT_EQ_INT(person("p2",
                         "{\"tenant\":\"acme\",\"name\":\"B\",\"contacts\":[{\"channel\":"
                         "\"pager\",\"address\":\"1\"}],\"quiet_hours\":null}",
                         &p, &e),
                  0);
    ASSERT_EQ_INT(p->has_quiet_hours, 0);
    ASSERT_NULL(p->quiet_tz);
    baton_roster_person_free(p);
}

TEST(roster_person_errors)
{
    const char *json = "{\"tenant\":\"ac me\",\"name\":\"\",\"id\":\"other\",\"role\":\"x\","
                       "\"contacts\":[{\"channel\":\"fax\",\"address\":\"123\"},"
                       "{\"channel\":\"webhook\",\"address\":\"ftp://x\"},"
                       "{\"channel\":\"sms\",\"address\":\"0151 1234\"},"
                       "{\"channel\":\"email\",\"address\":\"jane.doe\"},"
                       "{\"channel\":\"pager\"},"
                       "\"x\","
                       "{\"channel\":\"pager\",\"address\":\"1\",\"priority\":1}],"
                       "\"quiet_hours\":{\"start\":\"24:00\",\"end\":\"7:00\",\"tz\":\"../etc\"}}";
    baton_roster_person_t *p = NULL;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    ASSERT_EQ_INT(person("p1", json, &p, &e), BATON_EINVAL);
    ASSERT_NULL(p);
    ASSERT_EQ_STR(errs_text(&e), "/role|unknown field\n"
                                 "/id|does not match the id in the path\n"
                                 "/tenant|must be 1-64 characters of A-Z a-z 0-9 . _ -\n"
                                 "/name|must be 1-200 bytes of text without control characters\n"
                                 "/contacts/0/channel|must be one of webhook, sms, email, pager\n"
                                 "/contacts/1/address|must be an http:// or https:// URL\n"
                                 "/contacts/2/address|must be an E.164 number: + and 7-15 digits\n"
                                 "/contacts/3/address|must be an email address\n"
                                 "/contacts/4/address|required\n"
                                 "/contacts/5|must be an object\n"
                                 "/contacts/6/priority|unknown field\n"
                                 "/quiet_hours/start|must be a time of day HH:MM\n"
                                 "/quiet_hours/end|must be a time of day HH:MM\n"
                                 "/quiet_hours/tz|must be an IANA time zone name");
    /* nothing the caller sent is echoed */
    char *txt = baton_roster_errors_json(&e);
    ASSERT_TRUE(strstr(txt, "jane") == NULL && strstr(txt, "0151") == NULL);
    free(txt);
    baton_roster_errors_free(&e);

    ASSERT_EQ_INT(person("p1", "{\"tenant\":\"acme\"}", &p, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "/name|required\n/contacts|required");
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(person("p1",
                         "{\"tenant\":\"acme\",\"name\":\"A\",\"contacts\":[],"
                         "\"quiet_hours\":{\"start\":\"10:00\",\"end\":\"10:00\"}}",
                         &p, &e),
                  BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "/contacts|must be an array of 1-16 contacts\n"
                                 "/quiet_hours/end|must differ from start");
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(person("p/1",
                         "{\"tenant\":\"acme\",\"name\":\"A\",\"contacts\":[{\"channel\":"
                         "\"pager\",\"address\":\"1\"}]}",
                         &p, &e),
                  BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "/id|must be 1-64 characters of A-Z a-z 0-9 . _ : @ -");
    baton_roster_errors_free(&e);
    ASSERT_EQ_INT(person("p1", "[1]", &p, &e), BATON_EINVAL);
    ASSERT_EQ_STR(errs_text(&e), "|must be a JSON object");
    baton_roster_errors_free(&e);
}
