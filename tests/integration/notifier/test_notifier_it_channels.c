/* test_notifier_it_channels — baton-notifier's other channels (SMTP, WCTP pager, SMS gateway,
 * templates), bundling and quiet hours, against local receivers. Part of test_notifier_it. */
#include "nit_util.h"
#include "test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static nit_recs_t recs; /* big: not on the stack */
static nit_sink_t sink;

#define url(path) nit_webhook_contact(&sink, path)
#define person_webhook(e, id, path) nit_person_webhook(e, &sink, id, path)
#define hit_for(id, nth) nit_hit_for(&sink, id, nth)
#define hits_for(id) nit_hits_for(&sink, id)
#define hmac_hex nit_hmac_hex
#define expect_receipt_id nit_expect_receipt_id

TEST(notifier_it_email_over_smtp)
{
    nit_env_t e;
    nit_svc_t s;
    nit_smtp_t m;
    nit_env_start(&e);
    nit_smtp_start(&m);
    char *smtp = baton_xasprintf("BATON_NOTIFIER_SMTP_URL=smtp://127.0.0.1:%d", m.port);
    char *extra[] = {smtp, "BATON_NOTIFIER_SMTP_FROM=baton@hospital.example", NULL};
    nit_svc_start(&e, &s, "notifier", extra);
    const char *contacts[] = {"email=dr.who@hospital.example"};
    nit_person(&e, "p-mail", contacts, 1, NULL, NULL);
    nit_req_t r = {.id = "n-mail-1", .person = "p-mail", .kind = "reminder"};
    nit_request(&e, &r, 1);
    memset(&recs, 0, sizeof recs);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-mail-1", DELIVERED, 10000), 0);
    const nit_rec_t *d = nit_find(&recs, "n-mail-1", DELIVERED, 1);
    ASSERT_EQ_STR(d->channel, "email");
    pthread_mutex_lock(&m.lock);
    ASSERT_EQ_INT(m.messages, 1);
    ASSERT_EQ_STR(m.mail_from, "<baton@hospital.example>");
    ASSERT_EQ_STR(m.rcpt_to, "<dr.who@hospital.example>");
    ASSERT_CONTAINS(m.data, "From: baton@hospital.example\r\n");
    ASSERT_CONTAINS(m.data, "To: dr.who@hospital.example\r\n");
    ASSERT_CONTAINS(m.data, "Subject: [Baton] reminder: Medication reconciliation\r\n");
    ASSERT_CONTAINS(m.data, "Message-ID: <n-mail-1@baton.notifier>\r\n");
    ASSERT_CONTAINS(m.data, "\r\n\r\nReminder: Medication reconciliation (Discharge) is waiting. "
                            "Task task-42.\r\n");
    ASSERT_TRUE(strstr(m.data, "Dr Person") == NULL);
    pthread_mutex_unlock(&m.lock);
    nit_svc_stop_clean(&s);
    nit_smtp_stop(&m);
    free(smtp);
    nit_env_stop(&e);
}

TEST(notifier_it_pager_over_wctp)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    char *wctp = baton_xasprintf("BATON_NOTIFIER_WCTP_URL=http://127.0.0.1:%d/wctp", sink.port);
    char *extra[] = {wctp, "BATON_NOTIFIER_WCTP_SENDER=baton-test",
                     "BATON_NOTIFIER_WCTP_SECURITY_CODE=s3cret", NULL};
    nit_svc_start(&e, &s, "notifier", extra);
    /* preference order: the pager comes first; the webhook is the fallback */
    char *hook = url("/ok/1");
    const char *contacts[] = {"pager=PGR-1234", hook};
    nit_person(&e, "p-page", contacts, 2, NULL, NULL);
    nit_req_t r = {.id = "n-page-1", .person = "p-page", .kind = "escalation", .level = 2};
    nit_request(&e, &r, 1);
    memset(&recs, 0, sizeof recs);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-page-1", DELIVERED, 10000), 0);
    ASSERT_EQ_STR(nit_find(&recs, "n-page-1", DELIVERED, 1)->channel, "pager");
    ASSERT_EQ_INT(nit_sink_count(&sink, "/wctp", NULL), 1);
    ASSERT_EQ_INT(nit_sink_count(&sink, "/ok/", NULL), 0);
    const char *x = sink.hits[0].body;
    ASSERT_CONTAINS(sink.hits[0].content_type, "text/xml");
    ASSERT_CONTAINS(x, "<wctp-Operation wctpVersion=\"wctp-dtd-v1r3\">");
    ASSERT_CONTAINS(x, "<wctp-SubmitRequest>");
    ASSERT_CONTAINS(x, "<wctp-Originator senderID=\"baton-test\" securityCode=\"s3cret\"/>");
    ASSERT_CONTAINS(x, "<wctp-MessageControl messageID=\"n-page-1\"");
    ASSERT_CONTAINS(x, "<wctp-Recipient recipientID=\"PGR-1234\"/>");
    ASSERT_CONTAINS(x, "<wctp-Payload>\n<wctp-Alphanumeric>ESCALATION level 2: Medication "
                       "reconciliation (Discharge) needs action. Task task-42."
                       "</wctp-Alphanumeric>\n</wctp-Payload>");
    free(hook);
    free(wctp);
    nit_svc_stop_clean(&s);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

TEST(notifier_it_sms_gateway_json_with_templates)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    char *dir = harness_path("templates");
    ASSERT_EQ_INT(mkdir(dir, 0755), 0);
    char *f = baton_xasprintf("%s/assigned.sms.txt", dir);
    FILE *fp = fopen(f, "w");
    fputs("Baton: {{ stage_title }} task {{task_id}} lvl {{level}}\n", fp);
    fclose(fp);
    char *sms = baton_xasprintf("BATON_NOTIFIER_SMS_URL=http://127.0.0.1:%d/sms", sink.port);
    char *tdir = baton_xasprintf("BATON_NOTIFIER_TEMPLATES_DIR=%s", dir);
    char *extra[] = {sms,
                     tdir,
                     "BATON_NOTIFIER_SMS_FORMAT=json",
                     "BATON_NOTIFIER_SMS_TEXT_FIELD=body",
                     "BATON_NOTIFIER_SMS_FROM=+15550000000",
                     "BATON_NOTIFIER_SMS_AUTH_HEADER=Bearer gw-token",
                     NULL};
    nit_svc_start(&e, &s, "notifier", extra);
    const char *contacts[] = {"sms=+15551234567"};
    nit_person(&e, "p-sms", contacts, 1, NULL, NULL);
    nit_req_t r = {.id = "n-sms-1", .person = "p-sms"};
    nit_request(&e, &r, 1);
    memset(&recs, 0, sizeof recs);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-sms-1", DELIVERED, 10000), 0);
    ASSERT_EQ_STR(nit_find(&recs, "n-sms-1", DELIVERED, 1)->channel, "sms");
    ASSERT_EQ_INT(nit_sink_count(&sink, "/sms", NULL), 1);
    ASSERT_EQ_STR(sink.hits[0].body,
                  "{\"to\":\"+15551234567\",\"body\":\"Baton: Medication "
                  "reconciliation task task-42 lvl 0\",\"from\":\"+15550000000\"}");
    ASSERT_EQ_STR(sink.hits[0].auth, "Bearer gw-token");
    ASSERT_EQ_STR(sink.hits[0].content_type, "application/json");
    nit_svc_stop_clean(&s);
    free(f);
    free(dir);
    free(sms);
    free(tdir);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

TEST(notifier_it_bundle_window_one_message)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    char *extra[] = {"BATON_NOTIFIER_BUNDLE_WINDOW=1500", NULL};
    nit_svc_start(&e, &s, "notifier", extra);
    person_webhook(&e, "p1", "/ok/1");
    int64_t now = baton_now_ms();
    nit_req_t r[] = {
        {.id = "n-b1", .person = "p1", .kind = "assigned", .created_at_ms = now},
        {.id = "n-b2", .person = "p1", .kind = "reminder", .created_at_ms = now + 1},
        {.id = "n-u1", .person = "p1", .kind = "escalation", .urgent = true, .level = 1},
        {.id = "n-b3", .person = "p1", .kind = "reassigned", .created_at_ms = now + 2},
    };
    int64_t t0 = baton_now_ms();
    nit_request(&e, r, 4);
    memset(&recs, 0, sizeof recs);
    /* the escalation is not delayed */
    ASSERT_EQ_INT(nit_sink_wait(&sink, NULL, "\"id\":\"n-u1\"", 1, 5000), 0);
    ASSERT_TRUE(sink.hits[0].at_ms - t0 < 1200);
    ASSERT_EQ_INT(nit_sink_count(&sink, NULL, NULL), 1);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-b3", DELIVERED, 10000), 0);
    nit_read(&e, &recs, 500);
    ASSERT_EQ_INT(nit_sink_count(&sink, NULL, NULL), 2); /* urgent + one bundle */
    const nit_hit_t *b = &sink.hits[1];
    ASSERT_TRUE(b->at_ms - t0 >= 1400);
    const nit_rec_t *d1 = nit_find(&recs, "n-b1", DELIVERED, 1);
    ASSERT_NOT_NULL(d1);
    ASSERT_TRUE(strlen(d1->bundle_id) == 36);
    const char *ids[] = {"n-b1", "n-b2", "n-b3"};
    for (int i = 0; i < 3; i++) {
        const nit_rec_t *d = nit_find(&recs, ids[i], DELIVERED, 1);
        ASSERT_NOT_NULL(d);
        ASSERT_EQ_STR(d->bundle_id, d1->bundle_id);
    }
    ASSERT_EQ_STR(nit_find(&recs, "n-u1", DELIVERED, 1)->bundle_id, "");
    char head[128];
    snprintf(head, sizeof head, "{\"id\":\"%s\",\"kind\":\"assigned\",\"person\":\"p1\",",
             d1->bundle_id);
    ASSERT_TRUE(strncmp(b->body, head, strlen(head)) == 0);
    ASSERT_CONTAINS(b->body, "\"text\":\"3 Baton notifications:\\nNew task: Medication "
                             "reconciliation (Discharge). Task task-42.\\nReminder: ");
    ASSERT_CONTAINS(b->body, ",\"bundle\":[{\"id\":\"n-b1\",\"kind\":\"assigned\",");
    ASSERT_CONTAINS(b->body, "},{\"id\":\"n-b2\",\"kind\":\"reminder\",");
    ASSERT_CONTAINS(b->body, "},{\"id\":\"n-b3\",\"kind\":\"reassigned\",");
    char sig[96];
    hmac_hex(b->body, sig, sizeof sig);
    ASSERT_EQ_STR(b->signature, sig);
    ASSERT_EQ_INT(nit_metric(&s, "baton_notifier_bundles_total"), 1);
    ASSERT_EQ_INT(nit_metric(&s, "baton_notifier_bundled_total"), 3);
    nit_svc_stop_clean(&s);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}

static void hhmm(int64_t ms, char *out)
{
    int64_t m = (ms / 60000) % 1440;
    if (m < 0)
        m += 1440;
    sprintf(out, "%02d:%02d", (int)(m / 60), (int)(m % 60));
}

TEST(notifier_it_quiet_hours_hold_non_urgent)
{
    nit_env_t e;
    nit_svc_t s;
    nit_env_start(&e);
    nit_sink_start(&sink);
    nit_svc_start(&e, &s, "notifier", NULL);
    int64_t now = baton_now_ms();
    char quiet[16], a[8], b[8];
    hhmm(now - 3600000, a);
    hhmm(now + 3600000, b);
    snprintf(quiet, sizeof quiet, "%s-%s", a, b);
    char *hook = url("/ok/1");
    const char *contacts[] = {hook};
    nit_person(&e, "p-night", contacts, 1, quiet, "UTC");
    nit_req_t r[] = {{.id = "n-q1", .person = "p-night", .kind = "reminder"},
                     {.id = "n-q2", .person = "p-night", .kind = "escalation", .level = 1}};
    nit_request(&e, r, 2);
    memset(&recs, 0, sizeof recs);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-q2", DELIVERED, 10000), 0);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-q1", SUPPRESSED, 5000), 0);
    nit_read(&e, &recs, 1000);
    ASSERT_EQ_INT(hits_for("n-q1"), 0);
    ASSERT_EQ_INT(hits_for("n-q2"), 1);
    const nit_rec_t *h = nit_find(&recs, "n-q1", SUPPRESSED, 0);
    ASSERT_NOT_NULL(h);
    ASSERT_EQ_STR(h->error, "held: quiet hours");
    /* held until the end of the quiet period (the end minute, to the minute) */
    redisReply *rep = NULL;
    ASSERT_EQ_INT(baton_redis_command(e.r, &rep, "ZSCORE baton:notify:{q}:due n-q1"), 0);
    int64_t due = (int64_t)strtod(rep->str, NULL);
    freeReplyObject(rep);
    int64_t end = (now + 3600000) / 60000 * 60000;
    if (due != end && due != end + 60000) /* the minute may have turned meanwhile */
        TEST_FAIL("held until %lld, expected %lld", (long long)due, (long long)end);
    ASSERT_EQ_INT(nit_metric(&s, "baton_notifier_held_total"), 1);
    /* the quiet period is over (here: the person dropped it) and the hold comes due */
    nit_person(&e, "p-night", contacts, 1, NULL, NULL);
    ASSERT_EQ_INT(baton_redis_command(e.r, &rep, "ZADD baton:notify:{q}:due XX %lld n-q1",
                                      (long long)baton_now_ms()),
                  0);
    freeReplyObject(rep);
    ASSERT_EQ_INT(nit_wait_receipt(&e, &recs, "n-q1", DELIVERED, 5000), 0);
    ASSERT_EQ_INT(hits_for("n-q1"), 1);
    ASSERT_NOT_NULL(nit_find(&recs, "n-q1", DELIVERED, 1));
    ASSERT_EQ_INT(nit_count(&recs, "n-q1", SUPPRESSED), 1);
    free(hook);
    nit_svc_stop_clean(&s);
    nit_sink_stop(&sink);
    nit_env_stop(&e);
}
