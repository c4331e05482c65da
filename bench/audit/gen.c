/* gen.c — pre-fills the baton.* topics for bench/audit/run: N envelopes shaped like real
 * pathway traffic. Each instance is one discharge: 16 events over 4 topics (11 lifecycle —
 * started, 3 assigned, skipped, receipt, acknowledged, 3 completed, completed —, 3 inbound,
 * 1 notification, 1 timer schedule), keyed by its own correlation key so instances spread over
 * every partition. Ids are unique per run (a prefix), so a second run on the same topics adds
 * rows instead of being dropped as duplicates.
 *
 *   gen BOOTSTRAP N [PREFIX]   → {"produced": N, "seconds": s} on stdout
 *
 * Standalone on librdkafka + protobuf-c (compiled by run, no Baton libs needed). */
#include <baton/v1/events.pb-c.h>
#include <librdkafka/rdkafka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T0 1795255200000LL
#define MIN 60000LL

static rd_kafka_t *rk;
static long long produced;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void dr_cb(rd_kafka_t *k, const rd_kafka_message_t *m, void *opaque)
{
    (void)k, (void)opaque;
    if (m->err) {
        fprintf(stderr, "gen: delivery failed: %s\n", rd_kafka_err2str(m->err));
        exit(1);
    }
}

static void emit(const char *topic, Baton__V1__Envelope *env)
{
    size_t len = protobuf_c_message_get_packed_size(&env->base);
    uint8_t *buf = malloc(len);
    protobuf_c_message_pack(&env->base, buf);
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_KEY(env->correlation_key, strlen(env->correlation_key)),
            RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "gen: produce: %s\n", rd_kafka_err2str(err));
            exit(1);
        }
        rd_kafka_poll(rk, 50);
    }
    produced++;
}

typedef struct {
    char inst[48], key[48];
    char task[4][64];
} ctx_t;

static void base(Baton__V1__Envelope *e, const ctx_t *c, char *id, const char *type, int64_t at)
{
    baton__v1__envelope__init(e);
    e->id = id;
    e->type = (char *)type;
    e->tenant = "acme";
    e->facility = "F1";
    e->unit = "4W";
    e->correlation_key = (char *)c->key;
    e->occurred_at_ms = e->recorded_at_ms = at;
    e->producer = "router";
    e->schema_version = 1;
}

static const char *stages[] = {"med_rec", "placement", "transport", "room_turn"};
static const char *roles[] = {"pharmacist", "case_manager", "transport", "evs"};

/* One task event: type, stage index, status, time, plus the body pointer to set. */
static void task_ev(const ctx_t *c, int n, const char *type, int s, const char *status, int64_t at)
{
    char id[96];
    snprintf(id, sizeof id, "%s-e%02d", c->inst, n);
    Baton__V1__Envelope e;
    base(&e, c, id, type, at);
    Baton__V1__TaskRef ref = BATON__V1__TASK_REF__INIT;
    ref.task_id = (char *)c->task[s];
    ref.instance_id = (char *)c->inst;
    ref.pathway = "discharge";
    ref.pathway_version = 1;
    ref.stage = (char *)stages[s];
    ref.role = (char *)roles[s];
    ref.status = (char *)status;
    ref.owner = s == 1 ? "" : "p-1";
    Baton__V1__TaskAssigned a = BATON__V1__TASK_ASSIGNED__INIT;
    Baton__V1__TaskAcknowledged k = BATON__V1__TASK_ACKNOWLEDGED__INIT;
    Baton__V1__TaskCompleted d = BATON__V1__TASK_COMPLETED__INIT;
    Baton__V1__TaskSkipped sk = BATON__V1__TASK_SKIPPED__INIT;
    if (strcmp(type, "task.assigned") == 0) {
        a.task = &ref;
        a.person = "p-1";
        a.reason = "activation";
        a.ack_due_at_ms = at + 15 * MIN;
        a.complete_due_at_ms = at + 120 * MIN;
        a.resolved_by = "unit_shift";
        e.body_case = BATON__V1__ENVELOPE__BODY_TASK_ASSIGNED;
        e.task_assigned = &a;
    } else if (strcmp(type, "task.acknowledged") == 0) {
        k.task = &ref;
        k.actor = "p-1";
        e.body_case = BATON__V1__ENVELOPE__BODY_TASK_ACKNOWLEDGED;
        e.task_acknowledged = &k;
    } else if (strcmp(type, "task.completed") == 0) {
        d.task = &ref;
        d.actor = "p-1";
        e.body_case = BATON__V1__ENVELOPE__BODY_TASK_COMPLETED;
        e.task_completed = &d;
    } else {
        sk.task = &ref;
        sk.reason = "when";
        e.body_case = BATON__V1__ENVELOPE__BODY_TASK_SKIPPED;
        e.task_skipped = &sk;
    }
    emit("baton.lifecycle.v1", &e);
}

static void other_ev(const ctx_t *c, int n, const char *type, int64_t at)
{
    char id[96];
    snprintf(id, sizeof id, "%s-e%02d", c->inst, n);
    Baton__V1__Envelope e;
    base(&e, c, id, type, at);
    Baton__V1__ClinicalEvent cl = BATON__V1__CLINICAL_EVENT__INIT;
    Baton__V1__InstanceStarted is = BATON__V1__INSTANCE_STARTED__INIT;
    Baton__V1__InstanceCompleted ic = BATON__V1__INSTANCE_COMPLETED__INIT;
    Baton__V1__NotificationRequest nr = BATON__V1__NOTIFICATION_REQUEST__INIT;
    Baton__V1__NotificationReceipt rc = BATON__V1__NOTIFICATION_RECEIPT__INIT;
    Baton__V1__TimerSchedule ts = BATON__V1__TIMER_SCHEDULE__INIT;
    Baton__V1__TimerFired tf = BATON__V1__TIMER_FIRED__INIT;
    char nid[96];
    snprintf(nid, sizeof nid, "%s-e04", c->inst);
    const char *topic = "baton.lifecycle.v1";
    if (strncmp(type, "instance.started", 16) == 0) {
        is.instance_id = (char *)c->inst;
        is.pathway = "discharge";
        is.pathway_version = 1;
        is.patient = "MRN";
        is.encounter = (char *)c->key + 5;
        e.body_case = BATON__V1__ENVELOPE__BODY_INSTANCE_STARTED;
        e.instance_started = &is;
    } else if (strcmp(type, "instance.completed") == 0) {
        ic.instance_id = (char *)c->inst;
        ic.pathway = "discharge";
        ic.pathway_version = 1;
        e.body_case = BATON__V1__ENVELOPE__BODY_INSTANCE_COMPLETED;
        e.instance_completed = &ic;
    } else if (strcmp(type, "notification.requested") == 0) {
        topic = "baton.notify.v1";
        nr.notification_id = nid;
        nr.person = "p-1";
        nr.kind = "assigned";
        nr.task_id = (char *)c->task[0];
        nr.instance_id = (char *)c->inst;
        nr.pathway = "discharge";
        nr.stage = "med_rec";
        nr.created_at_ms = at;
        e.body_case = BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST;
        e.notification_request = &nr;
    } else if (strcmp(type, "notification.receipt") == 0) {
        rc.notification_id = nid;
        rc.person = "p-1";
        rc.channel = "webhook";
        rc.outcome = BATON__V1__DELIVERY_OUTCOME__DELIVERY_OUTCOME_DELIVERED;
        rc.attempts = 1;
        rc.latency_ms = 80;
        e.producer = "notifier";
        e.body_case = BATON__V1__ENVELOPE__BODY_NOTIFICATION_RECEIPT;
        e.notification_receipt = &rc;
    } else if (strcmp(type, "timer.schedule") == 0) {
        topic = "baton.timers.v1";
        tf.instance_id = (char *)c->inst;
        tf.task_id = (char *)c->task[0];
        tf.purpose = "ack_deadline";
        ts.timer_id = id;
        ts.due_at_ms = at + 15 * MIN;
        ts.fire = &tf;
        e.body_case = BATON__V1__ENVELOPE__BODY_TIMER_SCHEDULE;
        e.timer_schedule = &ts;
    } else {
        topic = "baton.inbound.v1";
        e.producer = "ingest";
        cl.event_type = (char *)type;
        cl.patient = "MRN";
        cl.encounter = (char *)c->key + 5;
        cl.source = "json";
        e.body_case = BATON__V1__ENVELOPE__BODY_CLINICAL;
        e.clinical = &cl;
    }
    emit(topic, &e);
}

static void instance(const char *prefix, long i, int64_t t0)
{
    ctx_t c;
    snprintf(c.inst, sizeof c.inst, "%s-%ld", prefix, i);
    snprintf(c.key, sizeof c.key, "acme/E%s-%ld", prefix, i);
    for (int s = 0; s < 4; s++)
        snprintf(c.task[s], sizeof c.task[s], "%s-%s", c.inst, stages[s]);
    other_ev(&c, 1, "order.discharge", t0);
    other_ev(&c, 2, "instance.started", t0);
    task_ev(&c, 3, "task.assigned", 0, "ready", t0);
    other_ev(&c, 4, "notification.requested", t0);
    task_ev(&c, 5, "task.skipped", 1, "cancelled", t0);
    other_ev(&c, 6, "timer.schedule", t0);
    other_ev(&c, 7, "notification.receipt", t0 + 1000);
    other_ev(&c, 8, "adt.update", t0 + 2 * MIN);
    task_ev(&c, 9, "task.acknowledged", 0, "accepted", t0 + 5 * MIN);
    task_ev(&c, 10, "task.completed", 0, "completed", t0 + 30 * MIN);
    task_ev(&c, 11, "task.assigned", 2, "ready", t0 + 30 * MIN);
    other_ev(&c, 12, "transport.completed", t0 + 50 * MIN);
    task_ev(&c, 13, "task.completed", 2, "completed", t0 + 50 * MIN);
    task_ev(&c, 14, "task.assigned", 3, "ready", t0 + 50 * MIN);
    task_ev(&c, 15, "task.completed", 3, "completed", t0 + 70 * MIN);
    other_ev(&c, 16, "instance.completed", t0 + 70 * MIN);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gen BOOTSTRAP N [PREFIX]\n");
        return 2;
    }
    long n = atol(argv[2]);
    const char *prefix = argc > 3 ? argv[3] : "b";
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {{"bootstrap.servers", argv[1]},
                              {"linger.ms", "20"},
                              {"batch.num.messages", "10000"},
                              {"queue.buffering.max.messages", "500000"},
                              {"enable.idempotence", "true"}};
    for (size_t i = 0; i < sizeof props / sizeof *props; i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof err) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "gen: %s\n", err);
            return 2;
        }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "gen: %s\n", err);
        return 2;
    }
    double t = now_s();
    long instances = (n + 15) / 16;
    for (long i = 0; i < instances; i++) {
        instance(prefix, i, T0 + i * 1000);
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "gen: flush timed out\n");
        return 1;
    }
    printf("{\"produced\": %lld, \"instances\": %ld, \"seconds\": %.3f}\n", produced, instances,
           now_s() - t);
    rd_kafka_destroy(rk);
    return 0;
}
