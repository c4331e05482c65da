/* Canonical event validation, conversion and NDJSON splitting. */
#include "test.h"
#include "baton/canon.h"

#define NOW_MS 1795255200000LL /* 2026-11-21T10:00:00Z */

static const char *VALID =
    "{\"id\": \"evt-2026-0001\", \"type\": \"order.discharge\", \"tenant\": \"acme\", "
    "\"facility\": \"F1\", \"unit\": \"4W\", \"patient\": \"MRN123\", \"encounter\": \"ENC9\", "
    "\"occurred_at\": \"2026-11-21T10:00:00Z\", "
    "\"attributes\": {\"disposition\": \"snf\", \"patient_class\": \"inpatient\"}}";

static baton_canon_opts_t opts(void)
{
    baton_canon_opts_t o = {.auth_tenant = "acme", .now_ms = NOW_MS};
    return o;
}

/* Parse `body`, expect rc, and return the problems as "pointer|detail\n" lines. */
static char *problems_of(const char *body, const baton_canon_opts_t *o, int want_rc)
{
    baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
    Baton__V1__Envelope *env = NULL;
    int rc = baton_canon_parse(body, strlen(body), o, &env, &p);
    if (rc != want_rc)
        TEST_FAIL("rc %d (%s), want %d; first problem: %s %s", rc, baton_strerror(rc), want_rc,
                  p.n ? p.items[0].pointer : "-", p.n ? p.items[0].detail : "-");
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "");
    for (size_t i = 0; i < p.n; i++)
        baton_buf_appendf(&b, "%s|%s\n", p.items[i].pointer, p.items[i].detail);
    baton_canon_problems_free(&p);
    baton_canon_envelope_free(env);
    return baton_buf_steal(&b);
}

#define ASSERT_PROBLEMS(body, o, rc, want)                                                         \
    do {                                                                                           \
        char *got_ = problems_of((body), (o), (rc));                                               \
        ASSERT_EQ_STR(got_, (want));                                                               \
        free(got_);                                                                                \
    } while (0)

TEST(canon_valid_event_converts)
{
    baton_canon_opts_t o = opts();
    o.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
    Baton__V1__Envelope *env = NULL;
    ASSERT_EQ_INT(baton_canon_parse(VALID, strlen(VALID), &o, &env, &p), 0);
    ASSERT_EQ_INT(p.n, 0);
    ASSERT_NOT_NULL(env);
    ASSERT_EQ_STR(env->id, "evt-2026-0001");
    ASSERT_EQ_STR(env->type, "order.discharge");
    ASSERT_EQ_STR(env->tenant, "acme");
    ASSERT_EQ_STR(env->facility, "F1");
    ASSERT_EQ_STR(env->unit, "4W");
    ASSERT_EQ_STR(env->correlation_key, "acme/ENC9");
    ASSERT_EQ_INT(env->occurred_at_ms, NOW_MS);
    ASSERT_EQ_INT(env->recorded_at_ms, NOW_MS);
    ASSERT_EQ_STR(env->producer, "ingest");
    ASSERT_EQ_STR(env->causation_id, "");
    ASSERT_EQ_STR(env->traceparent, o.traceparent);
    ASSERT_EQ_INT(env->schema_version, 1);
    ASSERT_EQ_INT(env->body_case, BATON__V1__ENVELOPE__BODY_CLINICAL);
    ASSERT_EQ_STR(env->clinical->event_type, "order.discharge");
    ASSERT_EQ_STR(env->clinical->patient, "MRN123");
    ASSERT_EQ_STR(env->clinical->encounter, "ENC9");
    ASSERT_EQ_STR(env->clinical->source, "json");
    ASSERT_EQ_STR(env->clinical->source_message_id, "evt-2026-0001");
    ASSERT_EQ_INT(env->clinical->n_attributes, 2);
    ASSERT_EQ_STR(env->clinical->attributes[0]->key, "disposition");
    ASSERT_EQ_STR(env->clinical->attributes[0]->value, "snf");
    ASSERT_EQ_STR(env->clinical->attributes[1]->key, "patient_class");
    ASSERT_EQ_STR(baton_canon_attribute(env, "patient_class"), "inpatient");
    ASSERT_NULL(baton_canon_attribute(env, "nope"));

    /* it packs and unpacks as a protobuf */
    size_t n = baton__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(n);
    baton__v1__envelope__pack(env, buf);
    Baton__V1__Envelope *back = baton__v1__envelope__unpack(NULL, n, buf);
    ASSERT_NOT_NULL(back);
    ASSERT_EQ_STR(back->clinical->attributes[1]->value, "inpatient");
    ASSERT_EQ_STR(back->correlation_key, "acme/ENC9");
    baton__v1__envelope__free_unpacked(back, NULL);
    free(buf);
    baton_canon_envelope_free(env);
}

TEST(canon_patient_only_and_options)
{
    const char *body = "{\"type\": \"adt.admit\", \"tenant\": \"acme\", \"patient\": \"MRN1\", "
                       "\"occurred_at\": \"2026-11-21T11:30:00.5+01:30\", \"facility\": null}";
    baton_canon_opts_t o = opts();
    o.idempotency_key = "key-1";
    o.source = "fhir";
    o.source_message_id = "Encounter/e1";
    o.traceparent = "garbage"; /* dropped, not an error */
    baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
    Baton__V1__Envelope *env = NULL;
    ASSERT_EQ_INT(baton_canon_parse(body, strlen(body), &o, &env, &p), 0);
    ASSERT_EQ_STR(env->id, "key-1");
    ASSERT_EQ_STR(env->correlation_key, "acme/MRN1");
    ASSERT_EQ_INT(env->occurred_at_ms, NOW_MS + 500);
    ASSERT_EQ_STR(env->facility, "");
    ASSERT_EQ_STR(env->traceparent, "");
    ASSERT_EQ_STR(env->clinical->encounter, "");
    ASSERT_EQ_STR(env->clinical->source, "fhir");
    ASSERT_EQ_STR(env->clinical->source_message_id, "Encounter/e1");
    ASSERT_EQ_INT(env->clinical->n_attributes, 0);
    baton_canon_envelope_free(env);

    /* no id anywhere: a UUIDv7 is minted, unless require_id */
    o.idempotency_key = NULL;
    ASSERT_EQ_INT(baton_canon_parse(body, strlen(body), &o, &env, &p), 0);
    ASSERT_EQ_INT(strlen(env->id), 36);
    ASSERT_EQ_INT(env->id[14], '7');
    baton_canon_envelope_free(env);
    o.require_id = true;
    ASSERT_PROBLEMS(body, &o, BATON_EINVAL, "/id|required (or send an Idempotency-Key header)\n");
}

TEST(canon_attribute_scalars_convert)
{
    const char *body =
        "{\"id\": \"a1\", \"type\": \"x.y\", \"tenant\": \"acme\", \"encounter\": \"E\", "
        "\"occurred_at\": \"2026-11-21T10:00:00Z\", \"attributes\": {\"n\": 42, \"neg\": -7, "
        "\"r\": 1.5, \"tenth\": 0.1, \"t\": true, \"f\": false, \"s\": \"\", \"big\": 1e300}}";
    baton_canon_opts_t o = opts();
    baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
    Baton__V1__Envelope *env = NULL;
    ASSERT_EQ_INT(baton_canon_parse(body, strlen(body), &o, &env, &p), 0);
    ASSERT_EQ_STR(baton_canon_attribute(env, "n"), "42");
    ASSERT_EQ_STR(baton_canon_attribute(env, "neg"), "-7");
    ASSERT_EQ_STR(baton_canon_attribute(env, "r"), "1.5");
    ASSERT_EQ_STR(baton_canon_attribute(env, "tenth"), "0.1");
    ASSERT_EQ_STR(baton_canon_attribute(env, "t"), "true");
    ASSERT_EQ_STR(baton_canon_attribute(env, "f"), "false");
    ASSERT_EQ_STR(baton_canon_attribute(env, "s"), "");
    ASSERT_EQ_STR(baton_canon_attribute(env, "big"), "1e+300");
    /* sorted by key */
    ASSERT_EQ_STR(env->clinical->attributes[0]->key, "big");
    ASSERT_EQ_STR(env->clinical->attributes[7]->key, "tenth");
    baton_canon_envelope_free(env);
}

TEST(canon_traceparent_checked)
{
    static const struct {
        const char *in;
        int kept;
    } rows[] = {
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 1},
        {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", 1},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", 0},
        {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0},
        {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", 0},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", 0},
        {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 0},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        baton_canon_opts_t o = opts();
        o.traceparent = rows[i].in;
        baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
        Baton__V1__Envelope *env = NULL;
        ASSERT_EQ_INT(baton_canon_parse(VALID, strlen(VALID), &o, &env, &p), 0);
        ASSERT_EQ_STR(env->traceparent, rows[i].kept ? rows[i].in : "");
        baton_canon_envelope_free(env);
    }
}

TEST(canon_every_problem_reported)
{
    const char *body =
        "{\"id\": \"-bad\", \"type\": \"Discharge\", \"tenant\": 7, \"facility\": \"F 1\", "
        "\"unit\": \"\", \"occurred_at\": \"2026-11-21 10:00\", \"extra\": 1, \"a/b~\": 2, "
        "\"attributes\": {\"Bad\": \"x\", \"nested\": {\"a\": 1}, \"list\": [1], \"nul\": null, "
        "\"ok\": \"fine\"}}";
    baton_canon_opts_t o = opts();
    ASSERT_PROBLEMS(
        body, &o, BATON_EINVAL,
        "/id|must start with a letter or digit and contain only letters, digits and . _ : -\n"
        "/type|must be lowercase dotted words like \"adt.discharge\" ([a-z][a-z0-9_]* joined by "
        "dots, at least two)\n"
        "/tenant|must be a string\n"
        "/facility|must start with a letter or digit and contain only letters, digits and . _ : "
        "-\n"
        "/unit|must not be empty\n"
        "/patient|patient or encounter is required\n"
        "/occurred_at|must be an RFC 3339 date-time with a time zone, e.g. 2026-11-21T10:00:00Z\n"
        "/attributes/Bad|attribute names must match ^[a-z][a-z0-9_]{0,63}$\n"
        "/attributes/list|nested objects and arrays are not allowed; use a string, number or "
        "boolean\n"
        "/attributes/nested|nested objects and arrays are not allowed; use a string, number or "
        "boolean\n"
        "/attributes/nul|must be a string, number or boolean (null is not allowed)\n"
        "/a~1b~0|unknown member\n"
        "/extra|unknown member\n");
}

TEST(canon_required_members)
{
    baton_canon_opts_t o = opts();
    ASSERT_PROBLEMS("{}", &o, BATON_EINVAL,
                    "/type|required\n/tenant|required\n/patient|patient or encounter is "
                    "required\n/occurred_at|required\n");
    ASSERT_PROBLEMS("{\"type\": null, \"tenant\": null, \"patient\": null, \"occurred_at\": null}",
                    &o, BATON_EINVAL,
                    "/type|required\n/tenant|required\n/patient|patient or encounter is "
                    "required\n/occurred_at|required\n");
    ASSERT_PROBLEMS("[1, 2]", &o, BATON_EINVAL, "|the event must be a JSON object\n");
}

TEST(canon_tenant_mismatch_is_eperm)
{
    baton_canon_opts_t o = opts();
    o.auth_tenant = "other";
    ASSERT_PROBLEMS(VALID, &o, BATON_EPERM,
                    "/tenant|is not the tenant these credentials belong to\n");
    /* other problems are still listed, and the code stays EPERM */
    const char *body = "{\"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"E\", "
                       "\"occurred_at\": \"nope\"}";
    ASSERT_PROBLEMS(body, &o, BATON_EPERM,
                    "/tenant|is not the tenant these credentials belong to\n"
                    "/occurred_at|must be an RFC 3339 date-time with a time zone, e.g. "
                    "2026-11-21T10:00:00Z\n");
    ASSERT_EQ_STR(baton_canon_title(BATON_EPERM), "Tenant not allowed");
    ASSERT_EQ_STR(baton_canon_title(BATON_EINVAL), "Invalid event");
}

TEST(canon_limits)
{
    baton_canon_opts_t o = opts();
    char body[8192];
    char longs[200];
    memset(longs, 'a', sizeof longs);
    longs[129] = '\0';
    snprintf(body, sizeof body,
             "{\"id\": \"%s\", \"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"%s\", "
             "\"occurred_at\": \"2026-11-21T10:00:00Z\"}",
             longs, longs);
    ASSERT_PROBLEMS(body, &o, BATON_EINVAL,
                    "/id|must be 1 to 128 characters long\n"
                    "/encounter|must be 1 to 128 characters long\n");
    longs[128] = '\0';
    snprintf(body, sizeof body,
             "{\"id\": \"%s\", \"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"%s\", "
             "\"occurred_at\": \"2026-11-21T10:00:00Z\"}",
             longs, longs);
    ASSERT_PROBLEMS(body, &o, 0, "");

    /* 33 attributes */
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "{\"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"E\", "
                       "\"occurred_at\": \"2026-11-21T10:00:00Z\", \"attributes\": {");
    for (int i = 0; i < 33; i++)
        baton_buf_appendf(&b, "%s\"k%d\": %d", i ? ", " : "", i, i);
    baton_buf_puts(&b, "}}");
    ASSERT_PROBLEMS(b.data, &o, BATON_EINVAL, "/attributes|must have at most 32 members\n");
    /* 257-byte value, then 20 x 255-byte values (over 4096 in total) */
    baton_buf_reset(&b);
    baton_buf_puts(&b, "{\"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"E\", "
                       "\"occurred_at\": \"2026-11-21T10:00:00Z\", \"attributes\": {\"v\": \"");
    for (int i = 0; i < 257; i++)
        baton_buf_putc(&b, 'x');
    baton_buf_puts(&b, "\"}}");
    ASSERT_PROBLEMS(b.data, &o, BATON_EINVAL, "/attributes/v|must be at most 256 bytes long\n");
    baton_buf_reset(&b);
    baton_buf_puts(&b, "{\"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"E\", "
                       "\"occurred_at\": \"2026-11-21T10:00:00Z\", \"attributes\": {");
    for (int i = 0; i < 20; i++) {
        baton_buf_appendf(&b, "%s\"k%d\": \"", i ? ", " : "", i);
        for (int j = 0; j < 255; j++)
            baton_buf_putc(&b, 'x');
        baton_buf_putc(&b, '"');
    }
    baton_buf_puts(&b, "}}");
    ASSERT_PROBLEMS(b.data, &o, BATON_EINVAL,
                    "/attributes|names and values together must be at most 4096 bytes\n");
    baton_buf_free(&b);

    /* type length and shape */
    ASSERT_PROBLEMS("{\"type\": \"ab\", \"tenant\": \"acme\", \"encounter\": \"E\", "
                    "\"occurred_at\": \"2026-11-21T10:00:00Z\"}",
                    &o, BATON_EINVAL, "/type|must be 3 to 64 characters long\n");
    const char *bad_types[] = {"adt",           "adt.",   ".adt",    "adt..x",
                               "adt.Discharge", "adt.1x", "adt-x.y", "a.b c"};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"type\": \"%s\", \"tenant\": \"acme\", \"encounter\": \"E\", "
                 "\"occurred_at\": \"2026-11-21T10:00:00Z\"}",
                 bad_types[i]);
        char *got = problems_of(body, &o, BATON_EINVAL);
        ASSERT_CONTAINS(got, "/type|must be lowercase dotted words");
        free(got);
    }
    ASSERT_PROBLEMS("{\"type\": \"task.in_progress.x2\", \"tenant\": \"acme\", "
                    "\"encounter\": \"E\", \"occurred_at\": \"2026-11-21T10:00:00Z\"}",
                    &o, 0, "");
}

TEST(canon_time_bounds)
{
    baton_canon_opts_t o = opts();
    ASSERT_PROBLEMS("{\"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"E\", "
                    "\"occurred_at\": \"2026-11-22T10:00:01Z\"}",
                    &o, BATON_EINVAL,
                    "/occurred_at|must not be more than 24 hours in the future\n");
    ASSERT_PROBLEMS("{\"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"E\", "
                    "\"occurred_at\": \"2026-11-22T10:00:00Z\"}",
                    &o, 0, "");
    ASSERT_PROBLEMS("{\"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"E\", "
                    "\"occurred_at\": \"1969-12-31T23:59:59Z\"}",
                    &o, BATON_EINVAL, "/occurred_at|must not be before 1970-01-01T00:00:00Z\n");
    ASSERT_PROBLEMS("{\"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"E\", "
                    "\"occurred_at\": 1795255200}",
                    &o, BATON_EINVAL, "/occurred_at|must be a string\n");
}

TEST(canon_idempotency_key_rules)
{
    baton_canon_opts_t o = opts();
    o.idempotency_key = "other-id";
    ASSERT_PROBLEMS(VALID, &o, BATON_EINVAL, "/id|differs from the Idempotency-Key header\n");
    o.idempotency_key = "evt-2026-0001";
    ASSERT_PROBLEMS(VALID, &o, 0, "");
    o.idempotency_key = "has space";
    ASSERT_PROBLEMS(VALID, &o, BATON_EINVAL,
                    "/id|the Idempotency-Key header must be 1 to 128 letters, digits and . _ : -, "
                    "starting with a letter or digit\n");
}

TEST(canon_malformed_json_never_echoes)
{
    baton_canon_opts_t o = opts();
    ASSERT_PROBLEMS("{\"patient\": \"MRN-SECRET\" oops}", &o, BATON_EPARSE,
                    "|not valid JSON (line 1, column 29)\n");
    ASSERT_PROBLEMS("", &o, BATON_EPARSE, "|not valid JSON (line 1, column 0)\n");
    /* duplicate keys are rejected */
    char *got = problems_of("{\"type\": \"a.b\", \"type\": \"c.d\"}", &o, BATON_EPARSE);
    ASSERT_CONTAINS(got, "|not valid JSON (line 1");
    free(got);
    /* \u0000 inside a string */
    got = problems_of("{\"type\": \"a\\u0000.b\"}", &o, BATON_EPARSE);
    ASSERT_CONTAINS(got, "not valid JSON");
    free(got);
    /* a value never appears in a detail */
    got =
        problems_of("{\"type\": \"MRN-SECRET\", \"tenant\": \"acme\", \"patient\": \"MRN SECRET\", "
                    "\"occurred_at\": \"MRN-SECRET\", \"attributes\": {\"x\": {\"MRN\": 1}}}",
                    &o, BATON_EINVAL);
    ASSERT_TRUE(strstr(got, "SECRET") == NULL);
    free(got);
    /* BOM is skipped; too-large bodies refused */
    char bom[1024];
    snprintf(bom, sizeof bom, "\xEF\xBB\xBF%s", VALID);
    ASSERT_PROBLEMS(bom, &o, 0, "");
    char *big = malloc(BATON_CANON_BODY_MAX + 2);
    memset(big, ' ', BATON_CANON_BODY_MAX + 1);
    big[BATON_CANON_BODY_MAX + 1] = '\0';
    ASSERT_PROBLEMS(big, &o, BATON_ETOOBIG, "|the event must be at most 65536 bytes\n");
    free(big);
}

TEST(canon_problems_json)
{
    baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
    baton_canon_problems_add(&p, "/attributes/x", "must be a string");
    json_t *arr = baton_canon_problems_json(&p);
    char *s = json_dumps(arr, JSON_COMPACT);
    ASSERT_EQ_STR(s, "[{\"pointer\":\"/attributes/x\",\"detail\":\"must be a string\"}]");
    free(s);
    json_decref(arr);
    baton_canon_problems_free(&p);
    ASSERT_EQ_INT(p.n, 0);
}

/* Collect "lineno:text" for every line. */
static char *split(const char *body, size_t len, size_t max, int *rc_out)
{
    baton_canon_ndjson_t it;
    baton_canon_ndjson_init(&it, body, len, max);
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_puts(&b, "");
    const char *line;
    size_t n, no;
    int rc;
    while ((rc = baton_canon_ndjson_next(&it, &line, &n, &no)) == 1)
        baton_buf_appendf(&b, "%zu:%.*s;", no, (int)n, line);
    if (rc == BATON_ETOOBIG)
        baton_buf_appendf(&b, "TOOBIG@%zu", no);
    *rc_out = rc;
    return baton_buf_steal(&b);
}

TEST(canon_ndjson_split)
{
    int rc;
    char *s = split("a\nb\n", 4, 0, &rc);
    ASSERT_EQ_STR(s, "1:a;2:b;");
    free(s);
    s = split("a\r\n\r\n  \t\nb", 11, 0, &rc); /* CRLF, blank lines counted, no final newline */
    ASSERT_EQ_STR(s, "1:a;4:b;");
    free(s);
    s = split("\xEF\xBB\xBF{}\n", 6, 0, &rc);
    ASSERT_EQ_STR(s, "1:{};");
    free(s);
    s = split("", 0, 0, &rc);
    ASSERT_EQ_STR(s, "");
    ASSERT_EQ_INT(rc, 0);
    free(s);
    s = split("\n\n\n", 3, 0, &rc);
    ASSERT_EQ_STR(s, "");
    free(s);
    s = split("x\r", 2, 0, &rc);
    ASSERT_EQ_STR(s, "1:x;");
    free(s);
    /* embedded NUL is passed through as part of the line (the JSON parser rejects it) */
    baton_canon_ndjson_t it;
    const char *line;
    size_t n, no;
    baton_canon_ndjson_init(&it, "a\0b\nc", 5, 0);
    ASSERT_EQ_INT(baton_canon_ndjson_next(&it, &line, &n, &no), 1);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(line[1], '\0');
    ASSERT_EQ_INT(baton_canon_ndjson_next(&it, &line, &n, &no), 1);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(no, 2);
    ASSERT_EQ_INT(baton_canon_ndjson_next(&it, &line, &n, &no), 0);
    /* max lines: blank lines do not count */
    s = split("1\n\n2\n3\n", 7, 2, &rc);
    ASSERT_EQ_STR(s, "1:1;3:2;TOOBIG@4");
    ASSERT_EQ_INT(rc, BATON_ETOOBIG);
    free(s);
    s = split("1\n2\n\n", 5, 2, &rc);
    ASSERT_EQ_STR(s, "1:1;2:2;");
    ASSERT_EQ_INT(rc, 0);
    free(s);
}

TEST(canon_ndjson_with_parse)
{
    const char *body = "{\"type\": \"a.b\", \"tenant\": \"acme\", \"encounter\": \"E1\", "
                       "\"occurred_at\": \"2026-11-21T10:00:00Z\", \"id\": \"l1\"}\n"
                       "\n"
                       "{\"type\": \"a.b\"}\r\n";
    baton_canon_ndjson_t it;
    baton_canon_ndjson_init(&it, body, strlen(body), 100);
    const char *line;
    size_t n, no;
    baton_canon_opts_t o = opts();
    int results[2], k = 0;
    size_t lines[2];
    while (baton_canon_ndjson_next(&it, &line, &n, &no) == 1) {
        baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
        Baton__V1__Envelope *env = NULL;
        lines[k] = no;
        results[k++] = baton_canon_parse(line, n, &o, &env, &p);
        baton_canon_envelope_free(env);
        baton_canon_problems_free(&p);
    }
    ASSERT_EQ_INT(k, 2);
    ASSERT_EQ_INT(results[0], 0);
    ASSERT_EQ_INT(lines[0], 1);
    ASSERT_EQ_INT(results[1], BATON_EINVAL);
    ASSERT_EQ_INT(lines[1], 3);
}

TEST_MAIN()
