/* test_notifier_unit — the pure parts of baton-notifier: backoff, quiet hours, templates, the
 * webhook body (single and bundle), the HMAC signature, the WCTP document. No processes. */
#include "notifier.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static nt_cfg_t cfg_defaults(void)
{
    nt_cfg_t c;
    memset(&c, 0, sizeof c);
    c.backoff_base_ms = 1000;
    c.backoff_max_ms = 8000;
    c.wctp_sender = "baton";
    c.wctp_security_code = "";
    c.templates_dir = "";
    return c;
}

TEST(notifier_unit_backoff_doubles_with_equal_jitter_capped)
{
    nt_cfg_t c = cfg_defaults();
    for (int i = 0; i < 200; i++) {
        int64_t d1 = nt_backoff_ms(&c, 1), d3 = nt_backoff_ms(&c, 3), d9 = nt_backoff_ms(&c, 9);
        ASSERT_TRUE(d1 >= 500 && d1 <= 1000);
        ASSERT_TRUE(d3 >= 2000 && d3 <= 4000);
        ASSERT_TRUE(d9 >= 4000 && d9 <= 8000); /* capped at the max */
    }
}

static baton_roster_person_t quiet(int start, int end, const char *tz)
{
    baton_roster_person_t p;
    memset(&p, 0, sizeof p);
    p.has_quiet_hours = 1;
    p.quiet_start_min = start;
    p.quiet_end_min = end;
    p.quiet_tz = (char *)tz;
    return p;
}

TEST(notifier_unit_quiet_hours_utc_and_wrapping_midnight)
{
    int64_t t; /* 2026-11-21T23:30:15.500Z */
    ASSERT_EQ_INT(baton_time_parse("2026-11-21T23:30:15.500Z", &t), 0);
    baton_roster_person_t night = quiet(22 * 60, 7 * 60, NULL); /* 22:00-07:00 wraps */
    int64_t until;
    ASSERT_EQ_INT(baton_time_parse("2026-11-22T07:00:00Z", &until), 0);
    ASSERT_EQ_INT(nt_quiet_until(&night, t), until);
    baton_roster_person_t day = quiet(8 * 60, 18 * 60, "UTC");
    ASSERT_EQ_INT(nt_quiet_until(&day, t), 0);
    int64_t noon;
    ASSERT_EQ_INT(baton_time_parse("2026-11-21T12:00:00Z", &noon), 0);
    ASSERT_EQ_INT(baton_time_parse("2026-11-21T18:00:00Z", &until), 0);
    ASSERT_EQ_INT(nt_quiet_until(&day, noon), until);
    ASSERT_EQ_INT(nt_quiet_until(&night, noon), 0);
    ASSERT_EQ_INT(nt_quiet_until(NULL, noon), 0);
}

TEST(notifier_unit_quiet_hours_in_a_time_zone)
{
    /* 03:30Z is 22:30 the evening before in New York (EST, UTC-5 in November) */
    int64_t t, until;
    ASSERT_EQ_INT(baton_time_parse("2026-11-22T03:30:00Z", &t), 0);
    baton_roster_person_t ny = quiet(22 * 60, 6 * 60, "America/New_York");
    ASSERT_EQ_INT(baton_time_parse("2026-11-22T11:00:00Z", &until), 0); /* 06:00 EST */
    ASSERT_EQ_INT(nt_quiet_until(&ny, t), until);
    baton_roster_person_t utc = quiet(22 * 60, 6 * 60, NULL); /* 03:30 UTC is inside too */
    ASSERT_EQ_INT(baton_time_parse("2026-11-22T06:00:00Z", &until), 0);
    ASSERT_EQ_INT(nt_quiet_until(&utc, t), until);
    ASSERT_TRUE(getenv("TZ") == NULL || strcmp(getenv("TZ"), "America/New_York") != 0);
}

static void request(Baton__V1__Envelope *env, Baton__V1__NotificationRequest *r, const char *id,
                    const char *kind, int64_t created)
{
    baton__v1__envelope__init(env);
    baton__v1__notification_request__init(r);
    r->notification_id = (char *)id;
    r->person = "p1";
    r->kind = (char *)kind;
    r->task_id = "task-1";
    r->instance_id = "inst-1";
    r->pathway = "consult";
    r->stage = "respond";
    r->stage_title = "Consult \"response\"";
    r->pathway_title = "Consult";
    r->level = 1;
    r->created_at_ms = created;
    env->body_case = BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST;
    env->notification_request = r;
}

TEST(notifier_unit_webhook_body_single_and_bundle)
{
    Baton__V1__Envelope e1, e2;
    Baton__V1__NotificationRequest r1, r2;
    request(&e1, &r1, "a-1", "reminder", 1795000000000LL);
    request(&e2, &r2, "a-2", "completed", 1795000000001LL);
    nt_job_t j2 = {.id = "a-2", .env = &e2};
    nt_job_t j1 = {.id = "a-1", .env = &e1, .next = &j2};
    nt_delivery_t d;
    memset(&d, 0, sizeof d);
    d.jobs = &j1;
    d.njobs = 1;
    j1.next = NULL;
    baton_buf_t b = BATON_BUF_INIT;
    nt_text_webhook_body(&d, &b);
    ASSERT_EQ_STR(b.data, "{\"id\":\"a-1\",\"kind\":\"reminder\",\"person\":\"p1\",\"task_id\":"
                          "\"task-1\",\"instance_id\":\"inst-1\",\"pathway\":\"consult\","
                          "\"stage\":\"respond\",\"level\":1,\"text\":\"Reminder: Consult "
                          "\\\"response\\\" (Consult) is waiting. Task task-1.\",\"created_at\":"
                          "\"2026-11-18T11:06:40.000Z\"}");
    baton_buf_reset(&b);
    j1.next = &j2;
    d.njobs = 2;
    baton_strlcpy(d.bundle_id, "b-0", sizeof d.bundle_id);
    nt_text_webhook_body(&d, &b);
    ASSERT_EQ_STR(
        b.data, "{\"id\":\"b-0\",\"kind\":\"reminder\",\"person\":\"p1\",\"task_id\":\"task-1\","
                "\"instance_id\":\"inst-1\",\"pathway\":\"consult\",\"stage\":\"respond\","
                "\"level\":1,\"text\":\"2 Baton notifications:\\nReminder: Consult "
                "\\\"response\\\" (Consult) is waiting. Task task-1.\\nCompleted: Consult "
                "\\\"response\\\" (Consult). Task task-1.\",\"created_at\":"
                "\"2026-11-18T11:06:40.000Z\",\"bundle\":[{\"id\":\"a-1\",\"kind\":\"reminder\","
                "\"task_id\":\"task-1\",\"instance_id\":\"inst-1\",\"pathway\":\"consult\","
                "\"stage\":\"respond\",\"level\":1,\"text\":\"Reminder: Consult \\\"response\\\" "
                "(Consult) is waiting. Task task-1.\",\"created_at\":"
                "\"2026-11-18T11:06:40.000Z\"},{\"id\":\"a-2\",\"kind\":\"completed\","
                "\"task_id\":\"task-1\",\"instance_id\":\"inst-1\",\"pathway\":\"consult\","
                "\"stage\":\"respond\",\"level\":1,\"text\":\"Completed: Consult \\\"response\\\" "
                "(Consult). Task task-1.\",\"created_at\":\"2026-11-18T11:06:40.001Z\"}]}");
    baton_buf_free(&b);
}

TEST(notifier_unit_signature_is_rfc4231_hmac_sha256)
{
    char sig[96];
    const char *data = "what do ya want for nothing?";
    nt_text_signature("Jefe", data, strlen(data), sig, sizeof sig);
    ASSERT_EQ_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(notifier_unit_templates_from_a_directory)
{
    char dir[] = "/tmp/nt-tpl-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char *f1 = baton_xasprintf("%s/escalation.pager.txt", dir);
    char *f2 = baton_xasprintf("%s/escalation.txt", dir);
    FILE *fp = fopen(f1, "w");
    fputs("L{{level}} {{stage}} {{task_id}} {{unknown}}!\n", fp);
    fclose(fp);
    fp = fopen(f2, "w");
    fputs("{{kind}}: {{pathway_title}}/{{stage_title}} by {{person}}", fp);
    fclose(fp);
    nt_cfg_t c = cfg_defaults();
    c.templates_dir = dir;
    char err[128] = "";
    ASSERT_EQ_INT(nt_text_init(&c, err, sizeof err), 0);
    Baton__V1__Envelope e;
    Baton__V1__NotificationRequest r;
    request(&e, &r, "x-1", "escalation", 0);
    char *t = nt_text_render(&r, "pager");
    ASSERT_EQ_STR(t, "L1 respond task-1 !");
    free(t);
    t = nt_text_render(&r, "sms");
    ASSERT_EQ_STR(t, "escalation: Consult/Consult \"response\" by p1");
    free(t);
    r.kind = "assigned"; /* no file: the built-in text */
    t = nt_text_render(&r, "sms");
    ASSERT_EQ_STR(t, "New task: Consult \"response\" (Consult). Task task-1.");
    free(t);
    nt_text_free();
    unlink(f1);
    unlink(f2);
    rmdir(dir);
    free(f1);
    free(f2);
    c.templates_dir = "/nonexistent-nt-dir";
    ASSERT_EQ_INT(nt_text_init(&c, err, sizeof err), BATON_ENOENT);
}

TEST(notifier_unit_wctp_submit_request_escapes)
{
    Baton__V1__Envelope e;
    Baton__V1__NotificationRequest r;
    request(&e, &r, "w-1", "escalation", 0);
    nt_job_t j = {.id = "w-1", .env = &e};
    nt_delivery_t d;
    memset(&d, 0, sizeof d);
    d.jobs = &j;
    d.njobs = 1;
    d.address = "PGR<1>";
    nt_cfg_t c = cfg_defaults();
    baton_buf_t b = BATON_BUF_INIT;
    nt_text_wctp(&c, &d, "A & B <now>", &b);
    ASSERT_CONTAINS(b.data, "<wctp-Operation wctpVersion=\"wctp-dtd-v1r3\">\n<wctp-SubmitRequest>"
                            "\n<wctp-SubmitHeader submitTimestamp=\"");
    ASSERT_CONTAINS(b.data, "<wctp-Originator senderID=\"baton\"/>\n<wctp-MessageControl "
                            "messageID=\"w-1\" allowResponse=\"false\" "
                            "notifyWhenDelivered=\"false\"/>\n<wctp-Recipient "
                            "recipientID=\"PGR&lt;1&gt;\"/>\n</wctp-SubmitHeader>\n");
    ASSERT_CONTAINS(b.data, "<wctp-Alphanumeric>A &amp; B &lt;now&gt;</wctp-Alphanumeric>");
    baton_buf_free(&b);
}

/* The in-flight id set under a steady stream (never empty): lookups stay right, and deleted
 * slots do not pile up — at least half the table stays empty, so a miss ends at an empty slot
 * after a few probes instead of scanning the whole table. */
TEST(notifier_unit_inflight_set_steady_churn)
{
    nt_cfg_t c = cfg_defaults();
    c.max_inflight = 64; /* table of 256 slots */
    nt_svc_t s;
    memset(&s, 0, sizeof s);
    s.cfg = &c;
    char id[32];
    const int live = 50, total = 100000;
    for (int i = 0; i < total; i++) {
        snprintf(id, sizeof id, "n-%d", i);
        nt_inflight_add(&s, id);
        if (i >= live) {
            snprintf(id, sizeof id, "n-%d", i - live);
            nt_inflight_del(&s, id);
            ASSERT_TRUE(!nt_inflight_has(&s, id));
        }
        if (i % 997 == 0) {
            size_t empty = 0;
            for (size_t k = 0; k < s.inflight_cap; k++)
                empty += s.inflight_ids[k] == NULL;
            ASSERT_TRUE(empty >= s.inflight_cap / 2);
        }
    }
    ASSERT_EQ_INT((int)s.inflight_n, live);
    for (int i = total - live; i < total; i++) {
        snprintf(id, sizeof id, "n-%d", i);
        ASSERT_TRUE(nt_inflight_has(&s, id));
    }
    for (int i = total - live; i < total; i++) {
        snprintf(id, sizeof id, "n-%d", i);
        nt_inflight_del(&s, id);
    }
    ASSERT_EQ_INT((int)s.inflight_n, 0);
    nt_inflight_clear(&s);
}

TEST_MAIN()
