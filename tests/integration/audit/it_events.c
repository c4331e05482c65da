/* it_events.c — see it_events.h. */
#include "it_events.h"
#include "test.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *topic_of(const char *type)
{
    if (strcmp(type, "staff.action") == 0 || strncmp(type, "adt.", 4) == 0 ||
        strncmp(type, "order.", 6) == 0 || strncmp(type, "transport.", 10) == 0 ||
        strcmp(type, "timer.fired") == 0)
        return BATON_TOPIC_INBOUND;
    if (strcmp(type, "notification.requested") == 0)
        return BATON_TOPIC_NOTIFY;
    if (strncmp(type, "timer.", 6) == 0)
        return BATON_TOPIC_TIMERS;
    return BATON_TOPIC_LIFECYCLE;
}

static const char *s(const char *v)
{
    return v ? v : "";
}

static void push(it_seq_t *q, const char *topic, const Baton__V1__Envelope *env)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 32;
        q->v = baton_xrealloc(q->v, q->cap * sizeof *q->v);
    }
    it_rec_t *r = &q->v[q->n++];
    r->topic = topic;
    r->key = baton_xstrdup(env->correlation_key);
    baton_kafka_envelope_pack(env, &r->val, &r->len);
}

void it_add(it_seq_t *q, const it_ctx_t *c, const it_ev_t *e)
{
    Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
    env.id = (char *)e->id;
    env.type = (char *)e->type;
    env.tenant = (char *)c->tenant;
    env.facility = (char *)c->facility;
    env.unit = (char *)c->unit;
    env.correlation_key = (char *)c->key;
    env.occurred_at_ms = env.recorded_at_ms = e->at;
    env.producer = "router";
    env.schema_version = 1;
    Baton__V1__TaskRef ref = BATON__V1__TASK_REF__INIT;
    ref.task_id = (char *)s(e->task);
    ref.instance_id = (char *)c->instance;
    ref.pathway = (char *)c->pathway;
    ref.pathway_version = c->version;
    ref.stage = (char *)s(e->stage);
    ref.role = (char *)s(e->role);
    ref.status = (char *)s(e->status);
    ref.owner = (char *)s(e->owner);
    ref.escalation_level = e->level;
    /* every body this file can build, one of which is used */
    Baton__V1__ClinicalEvent clin = BATON__V1__CLINICAL_EVENT__INIT;
    Baton__V1__StaffAction act = BATON__V1__STAFF_ACTION__INIT;
    Baton__V1__InstanceStarted ist = BATON__V1__INSTANCE_STARTED__INIT;
    Baton__V1__InstanceCompleted icp = BATON__V1__INSTANCE_COMPLETED__INIT;
    Baton__V1__InstanceCancelled icn = BATON__V1__INSTANCE_CANCELLED__INIT;
    Baton__V1__TaskAssigned ta = BATON__V1__TASK_ASSIGNED__INIT;
    Baton__V1__TaskAcknowledged tk = BATON__V1__TASK_ACKNOWLEDGED__INIT;
    Baton__V1__TaskStarted ts = BATON__V1__TASK_STARTED__INIT;
    Baton__V1__TaskCompleted tc = BATON__V1__TASK_COMPLETED__INIT;
    Baton__V1__TaskReassigned tr = BATON__V1__TASK_REASSIGNED__INIT;
    Baton__V1__TaskEscalated te = BATON__V1__TASK_ESCALATED__INIT;
    Baton__V1__TaskSkipped tsk = BATON__V1__TASK_SKIPPED__INIT;
    Baton__V1__TaskCancelled tcn = BATON__V1__TASK_CANCELLED__INIT;
    Baton__V1__TaskDeadlineMissed tdm = BATON__V1__TASK_DEADLINE_MISSED__INIT;
    Baton__V1__NotificationRequest nr = BATON__V1__NOTIFICATION_REQUEST__INIT;
    Baton__V1__NotificationReceipt nrc = BATON__V1__NOTIFICATION_RECEIPT__INIT;
    Baton__V1__TimerSchedule tsch = BATON__V1__TIMER_SCHEDULE__INIT;
    Baton__V1__TimerFired tf = BATON__V1__TIMER_FIRED__INIT;
    const char *t = e->type;
    if (strcmp(t, "staff.action") == 0) {
        env.producer = "ingest";
        act.task_id = (char *)s(e->task);
        act.instance_id = (char *)c->instance;
        act.action = BATON__V1__ACTION__ACTION_ACK;
        act.actor = (char *)s(e->actor);
        env.body_case = BATON__V1__ENVELOPE__BODY_STAFF_ACTION;
        env.staff_action = &act;
    } else if (strcmp(topic_of(t), BATON_TOPIC_INBOUND) == 0) {
        env.producer = "ingest";
        clin.event_type = (char *)t;
        clin.patient = "MRN-1";
        clin.encounter = "ENC-1";
        clin.source = "json";
        env.body_case = BATON__V1__ENVELOPE__BODY_CLINICAL;
        env.clinical = &clin;
    } else if (strcmp(t, "instance.started") == 0) {
        ist.instance_id = (char *)c->instance;
        ist.pathway = (char *)c->pathway;
        ist.pathway_version = c->version;
        ist.patient = "MRN-1";
        ist.encounter = (char *)s(e->reason);
        env.body_case = BATON__V1__ENVELOPE__BODY_INSTANCE_STARTED;
        env.instance_started = &ist;
    } else if (strcmp(t, "instance.completed") == 0) {
        icp.instance_id = (char *)c->instance;
        icp.pathway = (char *)c->pathway;
        icp.pathway_version = c->version;
        env.body_case = BATON__V1__ENVELOPE__BODY_INSTANCE_COMPLETED;
        env.instance_completed = &icp;
    } else if (strcmp(t, "instance.cancelled") == 0) {
        icn.instance_id = (char *)c->instance;
        icn.pathway = (char *)c->pathway;
        icn.reason = (char *)s(e->reason);
        env.body_case = BATON__V1__ENVELOPE__BODY_INSTANCE_CANCELLED;
        env.instance_cancelled = &icn;
    } else if (strcmp(t, "task.assigned") == 0) {
        ta.task = &ref;
        ta.person = (char *)s(e->person);
        ta.reason = (char *)(e->reason ? e->reason : "activation");
        ta.ack_due_at_ms = e->ack_due;
        ta.complete_due_at_ms = e->complete_due;
        ta.resolved_by = "unit_shift";
        env.body_case = BATON__V1__ENVELOPE__BODY_TASK_ASSIGNED;
        env.task_assigned = &ta;
    } else if (strcmp(t, "task.acknowledged") == 0) {
        tk.task = &ref;
        tk.actor = (char *)s(e->actor);
        tk.override = e->override_;
        env.body_case = BATON__V1__ENVELOPE__BODY_TASK_ACKNOWLEDGED;
        env.task_acknowledged = &tk;
    } else if (strcmp(t, "task.started") == 0) {
        ts.task = &ref;
        ts.actor = (char *)s(e->actor);
        ts.override = e->override_;
        env.body_case = BATON__V1__ENVELOPE__BODY_TASK_STARTED;
        env.task_started = &ts;
    } else if (strcmp(t, "task.completed") == 0) {
        tc.task = &ref;
        tc.actor = (char *)s(e->actor);
        tc.override = e->override_;
        env.body_case = BATON__V1__ENVELOPE__BODY_TASK_COMPLETED;
        env.task_completed = &tc;
    } else if (strcmp(t, "task.reassigned") == 0) {
        tr.task = &ref;
        tr.from_person = (char *)s(e->from);
        tr.to_person = (char *)s(e->to);
        tr.actor = (char *)s(e->actor);
        tr.reason = (char *)(e->reason ? e->reason : "staff");
        env.body_case = BATON__V1__ENVELOPE__BODY_TASK_REASSIGNED;
        env.task_reassigned = &tr;
    } else if (strcmp(t, "task.escalated") == 0) {
        te.task = &ref;
        te.level = e->level;
        te.step = e->step;
        te.step_action = (char *)s(e->step_action);
        te.target_role = (char *)s(e->target);
        env.body_case = BATON__V1__ENVELOPE__BODY_TASK_ESCALATED;
        env.task_escalated = &te;
    } else if (strcmp(t, "task.skipped") == 0) {
        tsk.task = &ref;
        tsk.reason = (char *)s(e->reason);
        env.body_case = BATON__V1__ENVELOPE__BODY_TASK_SKIPPED;
        env.task_skipped = &tsk;
    } else if (strcmp(t, "task.cancelled") == 0) {
        tcn.task = &ref;
        tcn.reason = (char *)s(e->reason);
        env.body_case = BATON__V1__ENVELOPE__BODY_TASK_CANCELLED;
        env.task_cancelled = &tcn;
    } else if (strcmp(t, "task.deadline_missed") == 0) {
        tdm.task = &ref;
        tdm.deadline = (char *)s(e->deadline);
        env.body_case = BATON__V1__ENVELOPE__BODY_TASK_DEADLINE_MISSED;
        env.task_deadline_missed = &tdm;
    } else if (strcmp(t, "notification.requested") == 0) {
        nr.notification_id = (char *)e->id;
        nr.person = (char *)s(e->person);
        nr.kind = (char *)s(e->reason);
        nr.task_id = (char *)s(e->task);
        nr.instance_id = (char *)c->instance;
        nr.pathway = (char *)c->pathway;
        nr.stage = (char *)s(e->stage);
        nr.created_at_ms = e->at;
        env.body_case = BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST;
        env.notification_request = &nr;
    } else if (strcmp(t, "notification.receipt") == 0) {
        env.producer = "notifier";
        nrc.notification_id = (char *)s(e->task); /* the notification's id */
        nrc.person = (char *)s(e->person);
        nrc.channel = "webhook";
        nrc.outcome = e->outcome && strcmp(e->outcome, "failed") == 0
                          ? BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_FAILED
                          : BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DELIVERED;
        nrc.attempts = e->attempts;
        nrc.latency_ms = 120;
        nrc.instance_id = (char *)c->instance;
        env.body_case = BATON__V1__ENVELOPE__BODY_NOTIFICATION_RECEIPT;
        env.notification_receipt = &nrc;
    } else if (strcmp(t, "timer.schedule") == 0) {
        tf.instance_id = (char *)c->instance;
        tf.task_id = (char *)s(e->task);
        tf.purpose = "ack_deadline";
        tsch.timer_id = (char *)e->id;
        tsch.due_at_ms = e->ack_due;
        tsch.fire = &tf;
        env.body_case = BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE;
        env.timer_schedule = &tsch;
    } else {
        TEST_FAIL("it_add: no builder for %s", t);
    }
    push(q, topic_of(t), &env);
}

void it_dup(it_seq_t *q, size_t i)
{
    it_rec_t r = q->v[i];
    if (q->n == q->cap) {
        q->cap *= 2;
        q->v = baton_xrealloc(q->v, q->cap * sizeof *q->v);
    }
    it_rec_t *d = &q->v[q->n++];
    d->topic = r.topic;
    d->key = baton_xstrdup(r.key);
    d->val = baton_xmalloc(r.len);
    memcpy(d->val, r.val, r.len);
    d->len = r.len;
}

void it_seq_free(it_seq_t *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->v[i].key);
        free(q->v[i].val);
    }
    free(q->v);
    memset(q, 0, sizeof *q);
}

void it_discharge(it_seq_t *q, const it_ctx_t *c)
{
    char ids[16][64];
    for (int i = 0; i < 16; i++)
        snprintf(ids[i], sizeof ids[i], "%s-e%02d", c->instance, i + 1);
    char mr[64], pl[64], tp[64], rt[64];
    snprintf(mr, sizeof mr, "%s-med_rec", c->instance);
    snprintf(pl, sizeof pl, "%s-placement", c->instance);
    snprintf(tp, sizeof tp, "%s-transport", c->instance);
    snprintf(rt, sizeof rt, "%s-room_turn", c->instance);
    const int64_t t0 = IT_T0;
    const it_ev_t evs[] = {
        {.id = ids[0], .type = "order.discharge", .at = t0},
        {.id = ids[1], .type = "instance.started", .at = t0, .reason = "ENC-1"},
        {.id = ids[2],
         .type = "task.assigned",
         .at = t0,
         .task = mr,
         .stage = "med_rec",
         .role = "pharmacist",
         .status = "ready",
         .owner = "p-pharm",
         .person = "p-pharm",
         .ack_due = t0 + 15 * IT_MIN,
         .complete_due = t0 + 120 * IT_MIN},
        {.id = ids[3],
         .type = "notification.requested",
         .at = t0,
         .task = mr,
         .stage = "med_rec",
         .person = "p-pharm",
         .reason = "assigned"},
        {.id = ids[4],
         .type = "task.skipped",
         .at = t0,
         .task = pl,
         .stage = "placement",
         .role = "case_manager",
         .status = "cancelled",
         .reason = "when: disposition"},
        {.id = ids[5], .type = "timer.schedule", .at = t0, .task = mr, .ack_due = t0 + 15 * IT_MIN},
        {.id = ids[6],
         .type = "notification.receipt",
         .at = t0 + 1000,
         .task = ids[3],
         .person = "p-pharm",
         .outcome = "delivered",
         .attempts = 1},
        {.id = ids[7],
         .type = "staff.action",
         .at = t0 + 5 * IT_MIN,
         .task = mr,
         .actor = "p-pharm"},
        {.id = ids[8],
         .type = "task.acknowledged",
         .at = t0 + 5 * IT_MIN,
         .task = mr,
         .stage = "med_rec",
         .role = "pharmacist",
         .status = "accepted",
         .owner = "p-pharm",
         .actor = "p-pharm"},
        {.id = ids[9],
         .type = "task.completed",
         .at = t0 + 30 * IT_MIN,
         .task = mr,
         .stage = "med_rec",
         .role = "pharmacist",
         .status = "completed",
         .owner = "p-pharm",
         .actor = "p-pharm"},
        {.id = ids[10],
         .type = "task.assigned",
         .at = t0 + 30 * IT_MIN,
         .task = tp,
         .stage = "transport",
         .role = "transport",
         .status = "ready",
         .owner = "p-tr",
         .person = "p-tr",
         .complete_due = t0 + 90 * IT_MIN},
        {.id = ids[11], .type = "transport.completed", .at = t0 + 50 * IT_MIN},
        {.id = ids[12],
         .type = "task.completed",
         .at = t0 + 50 * IT_MIN,
         .task = tp,
         .stage = "transport",
         .role = "transport",
         .status = "completed",
         .owner = "p-tr"},
        {.id = ids[13],
         .type = "task.assigned",
         .at = t0 + 50 * IT_MIN,
         .task = rt,
         .stage = "room_turn",
         .role = "evs",
         .status = "ready",
         .owner = "p-evs",
         .person = "p-evs"},
        {.id = ids[14],
         .type = "task.completed",
         .at = t0 + 70 * IT_MIN,
         .task = rt,
         .stage = "room_turn",
         .role = "evs",
         .status = "completed",
         .owner = "p-evs",
         .actor = "p-evs"},
        {.id = ids[15], .type = "instance.completed", .at = t0 + 70 * IT_MIN},
    };
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++)
        it_add(q, c, &evs[i]);
}

void it_produce(const char *bootstrap, const it_seq_t *q)
{
    baton_kafka_conf_t *conf = baton_kafka_conf_new(bootstrap);
    char err[256] = "";
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    if (!p)
        TEST_FAIL("producer: %s", err);
    baton_kafka_record_t *recs = baton_xcalloc(q->n ? q->n : 1, sizeof *recs);
    for (size_t i = 0; i < q->n; i++)
        recs[i] = (baton_kafka_record_t){
            q->v[i].topic, q->v[i].key, strlen(q->v[i].key), q->v[i].val, q->v[i].len, NULL, 0};
    /* one record at a time keeps the order across topics exactly as listed */
    for (size_t i = 0; i < q->n; i++) {
        int rc = baton_kafka_produce_batch(p, &recs[i], 1, 10000, err, sizeof err);
        if (rc != 0)
            TEST_FAIL("produce: %s", err);
    }
    free(recs);
    baton_kafka_producer_free(p, 5000);
    baton_kafka_conf_free(conf);
}

void it_produce_fast(const char *bootstrap, const it_seq_t *q)
{
    baton_kafka_conf_t *conf = baton_kafka_conf_new(bootstrap);
    char err[256] = "";
    baton_kafka_producer_t *p = baton_kafka_producer_new(conf, err, sizeof err);
    if (!p)
        TEST_FAIL("producer: %s", err);
    baton_kafka_record_t *recs = baton_xcalloc(q->n ? q->n : 1, sizeof *recs);
    for (size_t i = 0; i < q->n; i++)
        recs[i] = (baton_kafka_record_t){
            q->v[i].topic, q->v[i].key, strlen(q->v[i].key), q->v[i].val, q->v[i].len, NULL, 0};
    if (baton_kafka_produce_batch(p, recs, q->n, 20000, err, sizeof err) != 0)
        TEST_FAIL("produce: %s", err);
    free(recs);
    baton_kafka_producer_free(p, 5000);
    baton_kafka_conf_free(conf);
}

static int topic_index(const char *t)
{
    const char *all[] = {BATON_TOPIC_INBOUND, BATON_TOPIC_TIMERS, BATON_TOPIC_LIFECYCLE,
                         BATON_TOPIC_NOTIFY, BATON_TOPIC_DLQ};
    for (int i = 0; i < 5; i++)
        if (strcmp(all[i], t) == 0)
            return i;
    return 4;
}

void it_write_direct(baton_pg_t *pg, const it_seq_t *q, int64_t next_offset[5])
{
    baton_audit_writer_t *w = baton_audit_writer_new(pg);
    baton_audit_msg_t *m = baton_xcalloc(q->n ? q->n : 1, sizeof *m);
    for (size_t i = 0; i < q->n; i++)
        m[i] = (baton_audit_msg_t){
            q->v[i].topic, 0,          next_offset[topic_index(q->v[i].topic)]++, -1,
            q->v[i].val,   q->v[i].len};
    char err[512] = "";
    baton_audit_result_t res;
    if (baton_audit_write(w, m, q->n, &res, err, sizeof err) != 0)
        TEST_FAIL("baton_audit_write: %s", err);
    free(m);
    baton_audit_writer_free(w);
}

char *it_scalar(const char *dsn, const char *sql)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        TEST_FAIL("connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        TEST_FAIL("%s: %s", sql, PQresultErrorMessage(r));
    char *v = PQntuples(r) == 0      ? baton_xstrdup("(none)")
              : PQgetisnull(r, 0, 0) ? baton_xstrdup("(null)")
                                     : baton_xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

void it_assert_scalar(const char *dsn, const char *sql, const char *want)
{
    char *got = it_scalar(dsn, sql);
    if (strcmp(got, want) != 0)
        TEST_FAIL("%s\n  want: %s\n  got:  %s", sql, want, got);
    free(got);
}

void it_wait_scalar(const char *dsn, const char *sql, const char *want, int timeout_ms)
{
    int64_t deadline = baton_mono_ms() + timeout_ms;
    for (;;) {
        char *got = it_scalar(dsn, sql);
        bool ok = strcmp(got, want) == 0;
        if (ok || baton_mono_ms() > deadline) {
            if (!ok)
                TEST_FAIL("waited %d ms for %s\n  want: %s\n  got:  %s", timeout_ms, sql, want,
                          got);
            free(got);
            return;
        }
        free(got);
        usleep(50000);
    }
}

char *it_role_dsn(const harness_pg_t *pg, const char *role)
{
    return baton_xasprintf("postgresql://%s@127.0.0.1:%d/baton", role, pg->port);
}

pid_t it_start_audit(const harness_pg_t *pg, const harness_devkafka_t *k, const char *group,
                     char *const extra[], int *ops_port)
{
    int ops = harness_free_port();
    char *bin = harness_bin_path("baton-audit");
    char *writer = it_role_dsn(pg, BATON_AUDIT_WRITER_ROLE);
    char *env[32];
    int n = 0;
    env[n++] = baton_xasprintf("BATON_OPS_PORT=%d", ops);
    env[n++] = baton_xasprintf("BATON_OPS_BIND=127.0.0.1");
    env[n++] = baton_xasprintf("BATON_KAFKA_BOOTSTRAP=%s", k->bootstrap);
    env[n++] = baton_xasprintf("BATON_PG_DSN=%s", writer);
    env[n++] = baton_xasprintf("BATON_PG_ADMIN_DSN=%s", pg->dsn);
    env[n++] = baton_xasprintf("BATON_GROUP_ID=%s", group);
    env[n++] = baton_xstrdup("BATON_KAFKA_SESSION_TIMEOUT_MS=6000");
    env[n++] = baton_xstrdup("BATON_KAFKA_MAX_POLL_INTERVAL_MS=10000");
    env[n++] = baton_xstrdup("BATON_AUDIT_LAG_INTERVAL_MS=1000");
    for (int i = 0; extra && extra[i] && n < 30; i++)
        env[n++] = baton_xstrdup(extra[i]);
    env[n] = NULL;
    char *const argv[] = {bin, NULL};
    pid_t pid = harness_spawn("audit", argv, env, NULL);
    if (pid < 0)
        TEST_FAIL("baton-audit did not start");
    if (harness_wait_http_ok(ops, "/readyz", 20000) != 0) {
        harness_log_tail(harness_log_path(pid), 30);
        TEST_FAIL("baton-audit not ready");
    }
    for (int i = 0; i < n; i++)
        free(env[i]);
    free(bin);
    free(writer);
    if (ops_port)
        *ops_port = ops;
    return pid;
}

int it_verify(const char *dsn, char **out)
{
    char *bin = harness_bin_path("baton-audit");
    char *cmd = baton_xasprintf("BATON_PG_DSN='%s' '%s' verify 2>&1", dsn, bin);
    FILE *f = popen(cmd, "r");
    if (!f)
        TEST_FAIL("popen %s", cmd);
    baton_buf_t b = BATON_BUF_INIT;
    char line[1024];
    while (fgets(line, sizeof line, f))
        baton_buf_puts(&b, line);
    int st = pclose(f);
    free(cmd);
    free(bin);
    *out = b.data ? baton_buf_steal(&b) : baton_xstrdup("");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
