/* test_audit_it — baton-audit against real PostgreSQL and baton-devkafka: a whole discharge
 * pathway lands in the log and the projections in order; replays add no row; verify catches
 * edits, deletions and reordering; the writer role cannot change the log. */
#include "it_events.h"
#include "test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const it_ctx_t ctx1 = {"acme", "F1", "4W", "i-1", "discharge", 3, "acme/ENC-1"};

static void start_pg(harness_pg_t *pg)
{
    if (harness_pg_start(pg) != 0)
        TEST_FAIL("PostgreSQL did not start");
}

static void start_kafka(harness_devkafka_t *k)
{
    if (harness_devkafka_start(k) != 0)
        TEST_FAIL("baton-devkafka did not start");
}

static char *metrics(int ops)
{
    int status = 0;
    char *body = NULL;
    if (harness_http_get(ops, "/metrics", &status, &body) != 0 || status != 200)
        TEST_FAIL("GET /metrics: %d", status);
    return body;
}

static void wait_metric(int ops, const char *line, int timeout_ms)
{
    int64_t deadline = baton_mono_ms() + timeout_ms;
    for (;;) {
        char *m = metrics(ops);
        bool ok = strstr(m, line) != NULL;
        if (ok || baton_mono_ms() > deadline) {
            if (!ok)
                TEST_FAIL("metric line \"%s\" not seen in:\n%s", line, m);
            free(m);
            return;
        }
        free(m);
        usleep(100000);
    }
}

#define LIFECYCLE_ORDER                                                                            \
    "instance.started,task.assigned,task.skipped,notification.receipt,task.acknowledged,"          \
    "task.completed,task.assigned,task.completed,task.assigned,task.completed,"                    \
    "instance.completed"

static void assert_discharge_logged(const char *dsn)
{
    it_assert_scalar(dsn,
                     "SELECT string_agg(event_type, ',' ORDER BY seq) FROM audit_log"
                     " WHERE topic = 'baton.lifecycle.v1'",
                     LIFECYCLE_ORDER);
    it_assert_scalar(dsn,
                     "SELECT string_agg(event_type, ',' ORDER BY seq) FROM audit_log"
                     " WHERE topic = 'baton.inbound.v1'",
                     "order.discharge,staff.action,transport.completed");
    it_assert_scalar(dsn,
                     "SELECT string_agg(topic || ':' || event_type, ',' ORDER BY topic)"
                     " FROM audit_log WHERE topic IN ('baton.notify.v1', 'baton.timers.v1')",
                     "baton.notify.v1:notification.requested,baton.timers.v1:timer.schedule");
    /* seq runs 1..n with offsets in order, and each row links to the one before */
    it_assert_scalar(dsn,
                     "SELECT string_agg(seq || '@' || koffset, ',' ORDER BY seq) FROM audit_log"
                     " WHERE topic = 'baton.inbound.v1'",
                     "1@0,2@1,3@2");
    it_assert_scalar(dsn,
                     "SELECT count(*) FROM audit_log a JOIN audit_log b ON a.topic = b.topic"
                     " AND a.kpartition = b.kpartition AND b.seq = a.seq - 1"
                     " WHERE a.prev_hash = b.hash",
                     "12"); /* 16 rows - 4 chain starts */
    it_assert_scalar(
        dsn,
        "SELECT count(*) FROM audit_log WHERE seq = 1 AND prev_hash = '" BATON_AUDIT_GENESIS_HASH
        "'",
        "4");
    it_assert_scalar(dsn,
                     "SELECT h.seq || ':' || (h.hash = l.hash) FROM audit_chain_heads h"
                     " JOIN audit_log l ON l.topic = h.topic AND l.kpartition = h.kpartition"
                     " AND l.seq = h.seq WHERE h.topic = 'baton.lifecycle.v1'",
                     "11:true");
    it_assert_scalar(dsn,
                     "SELECT instance_id || '|' || coalesce(task_id, '') || '|' || actor"
                     " FROM audit_log WHERE event_type = 'task.acknowledged'",
                     "i-1|i-1-med_rec|p-pharm");
    it_assert_scalar(dsn,
                     "SELECT recorded_month || '|' || occurred_at_ms FROM audit_log"
                     " WHERE event_type = 'instance.completed'",
                     "2026-11-01|1795259400000");
    it_assert_scalar(dsn,
                     "SELECT payload->>'type' || '|' || (payload->'task_acknowledged'->>'actor')"
                     " FROM audit_log WHERE event_type = 'task.acknowledged'",
                     "task.acknowledged|p-pharm");
}

static void assert_discharge_projected(const char *dsn)
{
    it_assert_scalar(dsn,
                     "SELECT concat_ws(',', tenant, status, pathway, pathway_version, facility,"
                     " unit, encounter, started_at_ms, closed_at_ms) FROM audit_instances",
                     "acme,completed,discharge,3,F1,4W,ENC-1,1795255200000,1795259400000");
    it_assert_scalar(dsn,
                     "SELECT string_agg(stage || ':' || status || ':' || owner || ':' || skipped,"
                     " ',' ORDER BY stage) FROM audit_tasks",
                     "med_rec:completed:p-pharm:false,placement:cancelled::true,"
                     "room_turn:completed:p-evs:false,transport:completed:p-tr:false");
    it_assert_scalar(dsn,
                     "SELECT concat_ws(',', acknowledged_at_ms - activated_at_ms,"
                     " completed_at_ms - activated_at_ms, ack_due_at_ms - activated_at_ms,"
                     " complete_due_at_ms - activated_at_ms, action_count, override_count,"
                     " completed_by) FROM audit_tasks WHERE stage = 'med_rec'",
                     "300000,1800000,900000,7200000,2,0,p-pharm");
    it_assert_scalar(dsn,
                     "SELECT concat_ws(',', completed_at_ms - activated_at_ms,"
                     " coalesce(ack_due_at_ms::text, 'none'), complete_due_at_ms - activated_at_ms,"
                     " action_count) FROM audit_tasks WHERE stage = 'transport'",
                     "1200000,none,3600000,0");
    it_assert_scalar(dsn,
                     "SELECT concat_ws(',', person, kind, outcome, attempts, channel, task_id)"
                     " FROM audit_notifications",
                     "p-pharm,assigned,delivered,1,webhook,i-1-med_rec");
}

TEST(audit_it_discharge_pathway_in_order)
{
    harness_pg_t pg;
    harness_devkafka_t k;
    start_pg(&pg);
    start_kafka(&k);
    int ops = 0;
    pid_t pid = it_start_audit(&pg, &k, "baton-audit", NULL, &ops);
    it_seq_t q = {0};
    it_discharge(&q, &ctx1);
    int64_t t0 = baton_mono_ms();
    it_produce(k.bootstrap, &q);
    it_wait_scalar(pg.dsn, "SELECT count(*) FROM audit_log", "16", 10000);
    fprintf(stderr, "16 events visible %lld ms after produce\n", (long long)(baton_mono_ms() - t0));
    assert_discharge_logged(pg.dsn);
    assert_discharge_projected(pg.dsn);
    wait_metric(ops, "baton_audit_rows_written_total 16", 5000);
    char *m = metrics(ops);
    ASSERT_CONTAINS(m, "baton_audit_batch_size_count");
    ASSERT_CONTAINS(m, "baton_audit_commit_seconds_bucket");
    ASSERT_CONTAINS(m, "baton_audit_phase_seconds_count{phase=\"decode\"} ");
    ASSERT_CONTAINS(m, "baton_audit_events_skipped_total{reason=\"replay\"} 0");
    free(m);
    wait_metric(ops, "baton_audit_consumer_lag{topic=\"baton.lifecycle.v1\"} 0", 8000);

    char *reader = it_role_dsn(&pg, BATON_AUDIT_READER_ROLE);
    char *out = NULL;
    ASSERT_EQ_INT(it_verify(reader, &out), 0);
    ASSERT_EQ_STR(out, "ok: 4 chains, 16 rows verified\n");
    free(out);
    free(reader);

    /* visible within 1 s of being produced (acknowledged by Kafka) */
    it_seq_t one = {0};
    it_add(&one, &ctx1, &(it_ev_t){.id = "i-1-late", .type = "adt.update", .at = IT_T0});
    it_produce(k.bootstrap, &one);
    int64_t produced = baton_mono_ms();
    it_wait_scalar(pg.dsn, "SELECT count(*) FROM audit_log WHERE event_id = 'i-1-late'", "1", 5000);
    int64_t visible_ms = baton_mono_ms() - produced;
    fprintf(stderr, "one event visible %lld ms after its ack\n", (long long)visible_ms);
    ASSERT_TRUE(visible_ms < 1000);
    it_seq_free(&one);

    /* clean SIGTERM: exit 0 */
    ASSERT_EQ_INT(harness_kill(pid, SIGTERM), 0);
    int st = 0;
    ASSERT_EQ_INT(harness_wait_exit(pid, 15000, &st), 0);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    it_seq_free(&q);
}

TEST(audit_it_replay_adds_no_row)
{
    harness_pg_t pg;
    harness_devkafka_t k;
    start_pg(&pg);
    start_kafka(&k);
    int ops = 0;
    pid_t pid = it_start_audit(&pg, &k, "baton-audit", NULL, &ops);
    it_seq_t q = {0};
    it_discharge(&q, &ctx1);
    it_produce(k.bootstrap, &q);
    it_wait_scalar(pg.dsn, "SELECT count(*) FROM audit_log", "16", 10000);

    /* a producer retry: the same events again at new offsets (task.assigned, task.completed,
     * transport.completed) */
    it_seq_t dups = {0};
    it_discharge(&dups, &ctx1);
    it_dup(&dups, 2);
    it_dup(&dups, 9);
    it_dup(&dups, 11);
    it_seq_t three = {.v = dups.v + 16, .n = 3, .cap = 3};
    it_produce(k.bootstrap, &three);
    it_wait_scalar(pg.dsn,
                   "SELECT string_agg(last_offset::text, ',' ORDER BY topic COLLATE \"C\")"
                   " FROM audit_chain_heads",
                   "3,12,0,0", 10000);
    it_assert_scalar(pg.dsn, "SELECT count(*) FROM audit_log", "16");
    wait_metric(ops, "baton_audit_events_skipped_total{reason=\"duplicate\"} 3", 5000);

    /* a new consumer group reads every topic from the start: all replays */
    ASSERT_EQ_INT(harness_stop(pid, 15000), 0);
    pid = it_start_audit(&pg, &k, "audit-replay", NULL, &ops);
    wait_metric(ops, "baton_audit_events_skipped_total{reason=\"replay\"} 19", 15000);
    it_assert_scalar(pg.dsn, "SELECT count(*) FROM audit_log", "16");
    it_assert_scalar(pg.dsn, "SELECT count(*) FROM audit_event_ids", "16");
    assert_discharge_logged(pg.dsn);
    assert_discharge_projected(pg.dsn);
    char *out = NULL;
    ASSERT_EQ_INT(it_verify(pg.dsn, &out), 0);
    free(out);
    it_seq_free(&q);
    it_seq_free(&dups);
}

/* Many instances over every partition, small batches, parallel writers, pipelined decode:
 * every event is written exactly once and each chain ends at its partition's last offset. */
TEST(audit_it_complete_under_load)
{
    harness_pg_t pg;
    harness_devkafka_t k;
    start_pg(&pg);
    start_kafka(&k);
    it_seq_t q = {0};
    for (int i = 0; i < 150; i++) {
        char inst[32], key[32];
        snprintf(inst, sizeof inst, "load-%d", i);
        snprintf(key, sizeof key, "acme/ENC-L%d", i);
        it_ctx_t c = {"acme", "F1", "4W", inst, "discharge", 1, key};
        it_discharge(&q, &c);
    }
    it_produce_fast(k.bootstrap, &q); /* 2400 events, before the service starts */
    char *const extra[] = {"BATON_AUDIT_BATCH_MAX=97", "BATON_AUDIT_WRITERS=3", NULL};
    int ops = 0;
    it_start_audit(&pg, &k, "baton-audit", extra, &ops);
    it_wait_scalar(pg.dsn, "SELECT count(*) FROM audit_log", "2400", 20000);
    wait_metric(ops, "baton_audit_rows_written_total 2400", 5000);
    it_assert_scalar(pg.dsn, "SELECT count(*) FROM audit_chain_heads WHERE seq <> last_offset + 1",
                     "0");
    it_assert_scalar(pg.dsn, "SELECT sum(seq) FROM audit_chain_heads", "2400");
    it_assert_scalar(pg.dsn, "SELECT count(*) FROM audit_instances WHERE status = 'completed'",
                     "150");
    it_assert_scalar(pg.dsn, "SELECT count(*) FROM audit_tasks WHERE status = 'completed'", "450");
    char *out = NULL;
    ASSERT_EQ_INT(it_verify(pg.dsn, &out), 0);
    ASSERT_CONTAINS(out, "2400 rows verified");
    free(out);
    it_seq_free(&q);
}

/* ---- tampering, on rows written straight through the writer lib ---- */

static void setup_direct(harness_pg_t *pg)
{
    start_pg(pg);
    char err[256] = "";
    baton_pg_t *admin = baton_pg_new(pg->dsn, err, sizeof err);
    ASSERT_NOT_NULL(admin);
    int applied = 0;
    ASSERT_EQ_INT(baton_audit_migrate(admin, &applied), 0);
    ASSERT_EQ_INT(applied, 5);
    baton_pg_free(admin);
    char *wdsn = it_role_dsn(pg, BATON_AUDIT_WRITER_ROLE);
    baton_pg_t *w = baton_pg_new(wdsn, err, sizeof err);
    if (!w)
        TEST_FAIL("writer role: %s", err);
    it_seq_t q = {0};
    it_discharge(&q, &ctx1);
    int64_t next[5] = {0};
    it_write_direct(w, &q, next);
    it_seq_free(&q);
    baton_pg_free(w);
    free(wdsn);
    ASSERT_EQ_INT(harness_pg_exec(pg, NULL, "CREATE TABLE bak AS SELECT * FROM audit_log"), 0);
}

static void restore(harness_pg_t *pg)
{
    ASSERT_EQ_INT(harness_pg_exec(pg, NULL,
                                  "SET session_replication_role = replica;"
                                  "DELETE FROM audit_log; INSERT INTO audit_log SELECT * FROM bak"),
                  0);
}

static void tamper_and_expect(harness_pg_t *pg, const char *dsn, const char *sql, const char *want)
{
    char *full = baton_xasprintf("SET session_replication_role = replica; %s", sql);
    ASSERT_EQ_INT(harness_pg_exec(pg, NULL, full), 0);
    free(full);
    char *out = NULL;
    int rc = it_verify(dsn, &out);
    if (rc != 1)
        TEST_FAIL("verify after \"%s\": exit %d, output %s", sql, rc, out);
    ASSERT_EQ_STR(out, want);
    free(out);
    restore(pg);
    ASSERT_EQ_INT(it_verify(dsn, &out), 0);
    free(out);
}

TEST(audit_it_verify_names_the_first_bad_row)
{
    harness_pg_t pg;
    setup_direct(&pg);
    char *reader = it_role_dsn(&pg, BATON_AUDIT_READER_ROLE);
    char *out = NULL;
    ASSERT_EQ_INT(it_verify(reader, &out), 0);
    ASSERT_EQ_STR(out, "ok: 4 chains, 16 rows verified\n");
    free(out);

    tamper_and_expect(&pg, reader,
                      "UPDATE audit_log SET payload = '{\"id\":\"forged\"}'"
                      " WHERE topic = 'baton.lifecycle.v1' AND seq = 5",
                      "audit chain broken: topic baton.lifecycle.v1 partition 0 seq 5: hash "
                      "mismatch (row changed)\n");
    tamper_and_expect(&pg, reader,
                      "UPDATE audit_log SET actor = 'someone-else'"
                      " WHERE topic = 'baton.lifecycle.v1' AND seq = 6",
                      "audit chain broken: topic baton.lifecycle.v1 partition 0 seq 6: hash "
                      "mismatch (row changed)\n");
    tamper_and_expect(&pg, reader,
                      "DELETE FROM audit_log WHERE topic = 'baton.lifecycle.v1' AND seq = 5",
                      "audit chain broken: topic baton.lifecycle.v1 partition 0 seq 5: missing "
                      "(row removed)\n");
    tamper_and_expect(&pg, reader,
                      "DELETE FROM audit_log WHERE topic = 'baton.lifecycle.v1' AND seq = 11",
                      "audit chain broken: topic baton.lifecycle.v1 partition 0 seq 11: missing "
                      "(row removed)\n");
    tamper_and_expect(&pg, reader, "DELETE FROM audit_log WHERE topic = 'baton.notify.v1'",
                      "audit chain broken: topic baton.notify.v1 partition 0 seq 1: missing "
                      "(row removed)\n");
    tamper_and_expect(&pg, reader,
                      "UPDATE audit_log SET seq = CASE seq WHEN 4 THEN 5 ELSE 4 END"
                      " WHERE topic = 'baton.lifecycle.v1' AND seq IN (4, 5)",
                      "audit chain broken: topic baton.lifecycle.v1 partition 0 seq 4: prev_hash "
                      "does not link to the row before (row removed or reordered)\n");
    /* a changed offset changes the row's hash */
    tamper_and_expect(&pg, reader,
                      "UPDATE audit_log SET koffset = 7"
                      " WHERE topic = 'baton.inbound.v1' AND seq = 2",
                      "audit chain broken: topic baton.inbound.v1 partition 0 seq 2: hash "
                      "mismatch (row changed)\n");
    /* usage and connection errors are 2 */
    char *bad = baton_xasprintf("postgresql://nobody@127.0.0.1:%d/baton", pg.port);
    ASSERT_EQ_INT(it_verify(bad, &out), 2);
    free(out);
    free(bad);
    free(reader);
}

/* SQLSTATE of running sql on dsn ("" when it worked). Caller frees. */
static char *sqlstate_of(const char *dsn, const char *sql)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        TEST_FAIL("connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    char *out = baton_xstrdup(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
                                  ? ""
                                  : PQresultErrorField(r, PG_DIAG_SQLSTATE));
    PQclear(r);
    PQfinish(c);
    return out;
}

static void expect_state(const char *dsn, const char *sql, const char *want)
{
    char *got = sqlstate_of(dsn, sql);
    if (strcmp(got, want) != 0)
        TEST_FAIL("%s: SQLSTATE \"%s\", want \"%s\"", sql, got, want);
    free(got);
}

TEST(audit_it_roles_and_append_only)
{
    harness_pg_t pg;
    setup_direct(&pg); /* the writer role wrote the rows: INSERT works */
    char *writer = it_role_dsn(&pg, BATON_AUDIT_WRITER_ROLE);
    char *reader = it_role_dsn(&pg, BATON_AUDIT_READER_ROLE);
    expect_state(writer, "UPDATE audit_log SET actor = 'x'", "42501");
    expect_state(writer, "DELETE FROM audit_log", "42501");
    expect_state(writer, "SELECT count(*) FROM audit_log", "42501");
    expect_state(writer, "TRUNCATE audit_log", "42501");
    expect_state(writer, "UPDATE audit_log_2026_11 SET actor = 'x'", "42501");
    expect_state(writer, "UPDATE audit_tasks SET owner = owner", "");
    expect_state(writer, "DELETE FROM audit_tasks", "42501");
    expect_state(writer,
                 "CREATE TABLE audit_log_2030_01 PARTITION OF audit_log"
                 " FOR VALUES FROM ('2030-01-01') TO ('2030-02-01')",
                 "42501");
    /* even a superuser's plain UPDATE / DELETE meets the trigger */
    expect_state(pg.dsn, "UPDATE audit_log SET actor = 'x'", "42501");
    expect_state(pg.dsn, "DELETE FROM audit_log WHERE seq = 1", "42501");
    expect_state(pg.dsn, "TRUNCATE audit_log", "42501");
    it_assert_scalar(pg.dsn, "SELECT count(*) FROM audit_log WHERE actor = 'x'", "0");
    /* the reader reads and nothing else */
    expect_state(reader, "SELECT count(*) FROM audit_log", "");
    expect_state(reader, "SELECT count(*) FROM audit_tasks", "");
    expect_state(reader, "INSERT INTO audit_log (recorded_month) VALUES ('2026-11-01')", "42501");
    expect_state(reader, "UPDATE audit_tasks SET owner = 'x'", "42501");
    expect_state(reader, "UPDATE audit_chain_heads SET seq = 0", "42501");
    it_assert_scalar(pg.dsn, "SELECT count(*) FROM audit_log", "16");
    free(writer);
    free(reader);
}

/* Migration 5: the id columns compare bytewise whatever the database's locale, and the rows
 * written before and after it are found through their indexes. */
TEST(audit_it_ids_compare_bytewise)
{
    harness_pg_t pg;
    setup_direct(&pg);
    it_assert_scalar(pg.dsn,
                     "SELECT count(*) FROM information_schema.columns"
                     " WHERE table_name LIKE 'audit\\_%' AND column_name IN"
                     " ('instance_id', 'task_id', 'tenant', 'notification_id')"
                     " AND collation_name IS DISTINCT FROM 'C'",
                     "0");
    it_assert_scalar(pg.dsn,
                     "SELECT count(*) FROM information_schema.columns"
                     " WHERE table_name = 'audit_log_2026_11' AND column_name = 'instance_id'"
                     " AND collation_name = 'C'",
                     "1");
    it_assert_scalar(pg.dsn,
                     "SELECT count(*) FROM audit_tasks t JOIN audit_instances i"
                     " ON t.instance_id = i.instance_id AND t.tenant = i.tenant",
                     "4");
}

/* ---- two writers adding the same dedup key at once ---- */

typedef struct {
    baton_audit_writer_t *w;
    baton_audit_msg_t m;
    baton_audit_result_t res;
    int rc;
} race_job_t;

static void *race_write(void *arg)
{
    race_job_t *j = arg;
    char err[512] = "";
    j->rc = baton_audit_write(j->w, &j->m, 1, &j->res, err, sizeof err);
    return NULL;
}

/* The writer's insert of a key another transaction is adding waits for that transaction,
 * fails on the key once it commits, and the batch is written again: the event is then a
 * duplicate, not a second row. */
TEST(audit_it_dedup_race_with_another_writer)
{
    harness_pg_t pg;
    start_pg(&pg);
    char err[256] = "";
    baton_pg_t *admin = baton_pg_new(pg.dsn, err, sizeof err);
    ASSERT_NOT_NULL(admin);
    int applied = 0;
    ASSERT_EQ_INT(baton_audit_migrate(admin, &applied), 0);
    baton_pg_free(admin);
    it_seq_t q = {0};
    it_discharge(&q, &ctx1);
    Baton__V1__Envelope *env = baton_kafka_envelope_unpack(q.v[0].val, q.v[0].len, err, sizeof err);
    ASSERT_NOT_NULL(env);
    char *in = baton_xasprintf("%s\n%s", q.v[0].topic, env->id);
    char hex[65];
    baton_sha256_hex(in, strlen(in), hex);
    char *sql = baton_xasprintf("BEGIN; INSERT INTO audit_event_ids VALUES"
                                " ('%.32s'::uuid, 3, 0)",
                                hex);
    PGconn *other = PQconnectdb(pg.dsn);
    PGresult *r = PQexec(other, sql);
    ASSERT_EQ_INT(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);

    char *wdsn = it_role_dsn(&pg, BATON_AUDIT_WRITER_ROLE);
    baton_pg_t *wpg = baton_pg_new(wdsn, err, sizeof err);
    ASSERT_NOT_NULL(wpg);
    race_job_t j = {.w = baton_audit_writer_new(wpg),
                    .m = {q.v[0].topic, 0, 0, -1, q.v[0].val, q.v[0].len}};
    pthread_t t;
    ASSERT_EQ_INT(pthread_create(&t, NULL, race_write, &j), 0);
    it_wait_scalar(pg.dsn, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
                   "1", 10000);
    r = PQexec(other, "COMMIT");
    PQclear(r);
    pthread_join(t, NULL);
    ASSERT_EQ_INT(j.rc, 0);
    ASSERT_EQ_INT((int)j.res.duplicates, 1);
    ASSERT_EQ_INT((int)j.res.inserted, 0);
    it_assert_scalar(pg.dsn, "SELECT count(*) FROM audit_log", "0");
    it_assert_scalar(pg.dsn, "SELECT kpartition FROM audit_event_ids", "3");
    it_assert_scalar(pg.dsn, "SELECT last_offset FROM audit_chain_heads", "0");

    PQfinish(other);
    baton_audit_writer_free(j.w);
    baton_pg_free(wpg);
    baton_kafka_envelope_free(env);
    it_seq_free(&q);
    free(wdsn);
    free(sql);
    free(in);
}

TEST_MAIN()
