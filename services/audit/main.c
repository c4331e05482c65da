/* baton-audit — every baton.* topic into an append-only, hash-chained PostgreSQL log, with
 * the read projections (instances, tasks, notifications) and telemetry facts the read API
 * serves. `baton-audit verify` walks the chains. See audit_svc.h for the map of the files. */
#include "audit_svc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
    baton_svc_common_t c;
    audit_cfg_t a;
} cfg;

static const baton_config_opt_t opts[] = {
    BATON_SVC_COMMON_OPTS(cfg.c, "9105"),
    {"pg_dsn", "BATON_PG_DSN", BATON_CFG_SECRET, "postgresql://127.0.0.1:5432/baton", 0, 0,
     "PostgreSQL the writer connects to: role baton_audit_writer (INSERT on audit_log only, "
     "chain heads, dedup ids, projections)",
     &cfg.a.pg_dsn},
    {"pg_admin_dsn", "BATON_PG_ADMIN_DSN", BATON_CFG_SECRET, "", 0, 0,
     "optional superuser / owner connection that runs the migrations (tables, roles "
     "baton_audit_writer and baton_reader, grants); empty: migrate with BATON_PG_DSN",
     &cfg.a.pg_admin_dsn},
    {"group_id", "BATON_GROUP_ID", BATON_CFG_STR, "baton-audit", 0, 0, "Kafka consumer group",
     &cfg.a.group_id},
    {"topics", "BATON_AUDIT_TOPICS", BATON_CFG_STR,
     "baton.inbound.v1,baton.timers.v1,baton.lifecycle.v1,baton.notify.v1,baton.dlq.v1", 0, 0,
     "comma-separated topics to record", &cfg.a.topics},
    {"batch_max", "BATON_AUDIT_BATCH_MAX", BATON_CFG_INT, "5000", 1, 100000,
     "most messages written (and committed) per transaction", &cfg.a.batch_max},
    {"batch_wait_ms", "BATON_AUDIT_BATCH_WAIT_MS", BATON_CFG_DURATION, "50", 0, 1000,
     "after the first message, how long to keep collecting a batch", &cfg.a.batch_wait_ms},
    {"poll_ms", "BATON_AUDIT_POLL_MS", BATON_CFG_DURATION, "100", 1, 1000,
     "longest wait in one Kafka poll", &cfg.a.poll_ms},
    {"retry_ms", "BATON_AUDIT_RETRY_MS", BATON_CFG_DURATION, "30000", 0, 600000,
     "how long to retry a batch while PostgreSQL is unavailable before exiting", &cfg.a.retry_ms},
    {"writers", "BATON_AUDIT_WRITERS", BATON_CFG_INT, "2", 1, AUDIT_MAX_WRITERS,
     "database connections writing in parallel (each batch is split by partition number)",
     &cfg.a.writers},
    {"lag_interval_ms", "BATON_AUDIT_LAG_INTERVAL_MS", BATON_CFG_DURATION, "5000", 0, 600000,
     "how often consumer lag is measured (0 = never)", &cfg.a.lag_interval_ms},
    {0}};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Migrations (with the admin DSN when given), retried while PostgreSQL is down. */
static int migrate(audit_svc_t *a)
{
    const char *dsn = *a->cfg->pg_admin_dsn ? a->cfg->pg_admin_dsn : a->cfg->pg_dsn;
    char err[256] = "";
    for (;;) {
        baton_pg_t *pg = baton_pg_new(dsn, err, sizeof err);
        int applied = 0, rc = BATON_EUNAVAIL;
        if (pg && (rc = baton_audit_migrate(pg, &applied)) == 0)
            LOG_INFO("schema ready (%d migrations applied now)", applied);
        else if (pg)
            baton_strlcpy(err, baton_pg_errstr(pg), sizeof err);
        baton_pg_free(pg);
        if (rc == 0)
            return 0;
        if (rc != BATON_EUNAVAIL || !baton_svc_running) {
            LOG_FATAL("migrations: %s", err);
            return 1;
        }
        baton_svc_set_ready(a->svc, false, "postgres unreachable");
        LOG_ERROR("postgres: %s (retrying)", err);
        sleep_ms(1000);
    }
}

static int open_clients(audit_svc_t *a)
{
    char err[256] = "";
    a->nwriters = (int)a->cfg->writers;
    for (int i = 0; i < a->nwriters; i++) {
        while (baton_svc_running &&
               !(a->db[i].pg = baton_pg_new(a->cfg->pg_dsn, err, sizeof err))) {
            LOG_ERROR("postgres: %s (retrying)", err);
            sleep_ms(1000);
        }
        if (!a->db[i].pg)
            return 1;
        a->db[i].writer = baton_audit_writer_new(a->db[i].pg);
    }
    baton_kafka_conf_t *kc = baton_svc_kafka_conf(a->svc);
    baton_kafka_conf_set_rebalance_cb(kc, audit_on_rebalance, a);
    if (!baton_kafka_conf_get(kc, "fetch.wait.max.ms")) /* visible within 1 s when quiet */
        baton_kafka_conf_set(kc, "fetch.wait.max.ms", "100");
    a->consumer = baton_kafka_consumer_new(kc, a->cfg->group_id, err, sizeof err);
    size_t ntopics = 0;
    const char *topics[16];
    char *list = baton_xstrdup(a->cfg->topics), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t && ntopics < 16; t = strtok_r(NULL, ",", &save))
        topics[ntopics++] = t;
    int rc = a->consumer
                 ? baton_kafka_consumer_subscribe(a->consumer, topics, ntopics, err, sizeof err)
                 : BATON_EIO;
    free(list);
    if (rc != 0) {
        LOG_FATAL("kafka consumer: %s", err);
        return 1;
    }
    if (a->cfg->lag_interval_ms > 0 &&
        !(a->lag = audit_lag_start(baton_kafka_conf_get(kc, "bootstrap.servers"), a->cfg->group_id,
                                   baton_svc_metrics(a->svc), (int)a->cfg->lag_interval_ms, err,
                                   sizeof err)))
        LOG_WARN("consumer lag will not be measured: %s", err);
    a->db_ok = true;
    audit_update_ready(a);
    return 0;
}

static int run(audit_svc_t *a)
{
    while (baton_svc_running) {
        if (audit_consume(a) < 0)
            return 1;
        audit_update_ready(a);
    }
    return audit_drain(a) == 0 ? 0 : 1; /* the batch decoded last */
}

static void close_clients(audit_svc_t *a)
{
    for (int i = 0; i < 2; i++) { /* messages go back before their consumer does */
        audit_slot_t *s = &a->slot[i];
        if (s->n)
            baton_kafka_messages_release(s->msgs, s->n);
        free(s->msgs);
        for (int k = 0; k < AUDIT_MAX_WRITERS; k++) {
            baton_audit_batch_free(s->part[k].batch);
            free(s->part[k].amsgs);
        }
    }
    if (a->consumer)
        baton_kafka_consumer_close(a->consumer, 5000);
    baton_kafka_consumer_free(a->consumer);
    audit_lag_stop(a->lag);
    for (int i = 0; i < AUDIT_MAX_WRITERS; i++) {
        baton_audit_writer_free(a->db[i].writer);
        baton_pg_free(a->db[i].pg);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return audit_verify_main(argc - 1, argv + 1);
    int rc;
    baton_svc_t *svc = baton_svc_init("audit",
                                      "append-only hash-chained audit log and read projections "
                                      "(subcommand: verify)",
                                      argc, argv, opts, &cfg.c, &rc);
    if (!svc)
        return rc;
    audit_svc_t a = {.cfg = &cfg.a, .svc = svc, .pending = -1};
    audit_metrics_init(&a, baton_svc_metrics(svc));
    rc = migrate(&a);
    if (rc == 0)
        rc = open_clients(&a);
    if (rc == 0)
        rc = run(&a);
    close_clients(&a);
    LOG_INFO("stopped");
    baton_svc_free(svc);
    return rc;
}
