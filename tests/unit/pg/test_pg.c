/* test_pg.c — baton_pg against a real PostgreSQL started by the harness. */
#include "baton/pg.h"
#include "harness.h"
#include "test.h"

#include <pthread.h>
#include <unistd.h>

static harness_pg_t srv;

static baton_pg_t *start_and_connect(void)
{
    if (harness_pg_start(&srv) != 0)
        TEST_FAIL("PostgreSQL did not start");
    char err[256] = "";
    baton_pg_t *pg = baton_pg_new(srv.dsn, err, sizeof(err));
    if (!pg)
        TEST_FAIL("baton_pg_new: %s", err);
    return pg;
}

/* The single value of a one-row, one-column query. Caller frees. */
static char *scalar(baton_pg_t *pg, const char *sql)
{
    PGresult *r = NULL;
    if (baton_pg_exec(pg, &r, sql, 0, NULL) != 0)
        TEST_FAIL("%s: %s", sql, baton_pg_errstr(pg));
    if (PQntuples(r) != 1)
        TEST_FAIL("%s: %d rows", sql, PQntuples(r));
    char *v = PQgetisnull(r, 0, 0) ? baton_xstrdup("(null)") : baton_xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void assert_scalar(baton_pg_t *pg, const char *sql, const char *want)
{
    char *got = scalar(pg, sql);
    ASSERT_EQ_STR(got, want);
    free(got);
}

TEST(pg_exec_with_params_and_errors)
{
    baton_pg_t *pg = start_and_connect();
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "CREATE TABLE t (id int PRIMARY KEY, note text);"
                                           "CREATE TABLE u (n int)"),
                  0);
    const char *p1[] = {"1", "it's \"quoted\"; DROP TABLE t; --"};
    ASSERT_EQ_INT(baton_pg_exec(pg, NULL, "INSERT INTO t VALUES ($1, $2)", 2, p1), 0);
    const char *p2[] = {"2", NULL};
    PGresult *r = NULL;
    ASSERT_EQ_INT(baton_pg_exec(pg, &r, "INSERT INTO t VALUES ($1, $2)", 2, p2), 0);
    ASSERT_EQ_STR(PQcmdTuples(r), "1");
    PQclear(r);

    const char *q[] = {"1"};
    ASSERT_EQ_INT(baton_pg_exec(pg, &r, "SELECT note FROM t WHERE id = $1", 1, q), 0);
    ASSERT_EQ_INT(PQntuples(r), 1);
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "it's \"quoted\"; DROP TABLE t; --");
    PQclear(r);
    assert_scalar(pg, "SELECT note FROM t WHERE id = 2", "(null)");

    /* unique violation: EEXIST, names but no values in the message */
    const char *dup[] = {"1", "PATIENT-SECRET-123"};
    ASSERT_EQ_INT(baton_pg_exec(pg, &r, "INSERT INTO t VALUES ($1, $2)", 2, dup), BATON_EEXIST);
    ASSERT_NULL(r);
    ASSERT_EQ_STR(baton_pg_sqlstate(pg), "23505");
    ASSERT_CONTAINS(baton_pg_errstr(pg), "unique_violation");
    ASSERT_CONTAINS(baton_pg_errstr(pg), "constraint=t_pkey");
    ASSERT_TRUE(strstr(baton_pg_errstr(pg), "(id)=(1)") == NULL);
    ASSERT_TRUE(strstr(baton_pg_errstr(pg), "PATIENT") == NULL);

    /* data error: the offending value must not appear */
    const char *bad[] = {"MRN-98765"};
    ASSERT_EQ_INT(baton_pg_exec(pg, NULL, "INSERT INTO u VALUES ($1)", 1, bad), BATON_EIO);
    ASSERT_EQ_STR(baton_pg_sqlstate(pg), "22P02");
    ASSERT_CONTAINS(baton_pg_errstr(pg), "invalid_text_representation");
    ASSERT_TRUE(strstr(baton_pg_errstr(pg), "98765") == NULL);

    /* SQL-text errors are quoted, they help */
    ASSERT_EQ_INT(baton_pg_exec(pg, NULL, "SELECT nope FROM t", 0, NULL), BATON_EIO);
    ASSERT_CONTAINS(baton_pg_errstr(pg), "column \"nope\" does not exist");
    ASSERT_EQ_STR(baton_pg_sqlstate(pg), "42703");
    baton_pg_free(pg);
}

TEST(pg_transactions_commit_and_rollback)
{
    baton_pg_t *pg = start_and_connect();
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "CREATE TABLE t (n int UNIQUE)"), 0);
    ASSERT_EQ_INT(baton_pg_begin(pg), 0);
    ASSERT_TRUE(baton_pg_in_tx(pg));
    ASSERT_EQ_INT(baton_pg_begin(pg), BATON_ECONFLICT);
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "INSERT INTO t VALUES (1)"), 0);
    ASSERT_EQ_INT(baton_pg_rollback(pg), 0);
    ASSERT_TRUE(!baton_pg_in_tx(pg));
    assert_scalar(pg, "SELECT count(*) FROM t", "0");

    ASSERT_EQ_INT(baton_pg_begin(pg), 0);
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)"),
                  0);
    ASSERT_EQ_INT(baton_pg_commit(pg), 0);
    assert_scalar(pg, "SELECT sum(n) FROM t", "3");
    ASSERT_EQ_INT(baton_pg_commit(pg), BATON_ECONFLICT);

    /* a failed statement poisons the transaction; COMMIT reports it and nothing is kept */
    ASSERT_EQ_INT(baton_pg_begin(pg), 0);
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "INSERT INTO t VALUES (10)"), 0);
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "INSERT INTO t VALUES (1)"), BATON_EEXIST);
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "INSERT INTO t VALUES (11)"), BATON_EIO);
    ASSERT_EQ_STR(baton_pg_sqlstate(pg), "25P02");
    ASSERT_EQ_INT(baton_pg_commit(pg), BATON_EIO);
    ASSERT_CONTAINS(baton_pg_errstr(pg), "rolled back");
    ASSERT_TRUE(!baton_pg_in_tx(pg));
    assert_scalar(pg, "SELECT count(*) FROM t", "2");
    baton_pg_free(pg);
}

TEST(pg_copy_awkward_values)
{
    baton_pg_t *pg = start_and_connect();
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "CREATE TABLE c (id int, \"Odd Col\" text, n int)"), 0);
    static const char *awkward[] = {
        "tab\there", "new\nline", "cr\rlf\r\n", "back\\slash", "\\N",    "\\.",
        "",          "ünïcødé ✓", "trailing\\", "a\\tb",       "\t\n\\", "plain",
    };
    const size_t nawk = sizeof(awkward) / sizeof(awkward[0]);
    const char *cols[] = {"id", "Odd Col", "n"};
    ASSERT_EQ_INT(baton_pg_copy_begin(pg, "c", cols, 3), 0);
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "SELECT 1"), BATON_EINVAL); /* busy copying */
    /* 3000 rows (> one 64 KiB chunk): awkward values in turn, every 7th NULL */
    for (int i = 0; i < 3000; i++) {
        char id[16], n[16];
        snprintf(id, sizeof(id), "%d", i);
        snprintf(n, sizeof(n), "%d", i * 2);
        const char *row[] = {id, i % 7 == 3 ? NULL : awkward[(size_t)i % nawk], i % 2 ? n : NULL};
        ASSERT_EQ_INT(baton_pg_copy_row(pg, row), 0);
    }
    long long rows = 0;
    ASSERT_EQ_INT(baton_pg_copy_end(pg, &rows), 0);
    ASSERT_EQ_INT(rows, 3000);

    PGresult *r = NULL;
    ASSERT_EQ_INT(baton_pg_exec(pg, &r, "SELECT id, \"Odd Col\", n FROM c ORDER BY id", 0, NULL),
                  0);
    ASSERT_EQ_INT(PQntuples(r), 3000);
    for (int i = 0; i < 3000; i++) {
        ASSERT_EQ_INT(atoi(PQgetvalue(r, i, 0)), i);
        if (i % 7 == 3)
            ASSERT_TRUE(PQgetisnull(r, i, 1));
        else
            ASSERT_EQ_STR(PQgetvalue(r, i, 1), awkward[(size_t)i % nawk]);
        if (i % 2)
            ASSERT_EQ_INT(atoi(PQgetvalue(r, i, 2)), i * 2);
        else
            ASSERT_TRUE(PQgetisnull(r, i, 2));
    }
    PQclear(r);

    /* bad data fails the whole COPY, no values in the error, connection still fine */
    ASSERT_EQ_INT(baton_pg_copy_begin(pg, "c", cols, 3), 0);
    const char *ok_row[] = {"9001", "x", "1"};
    const char *bad_row[] = {"9002", "y", "SSN-123-45"};
    ASSERT_EQ_INT(baton_pg_copy_row(pg, ok_row), 0);
    ASSERT_EQ_INT(baton_pg_copy_row(pg, bad_row), 0);
    ASSERT_EQ_INT(baton_pg_copy_end(pg, &rows), BATON_EIO);
    ASSERT_EQ_STR(baton_pg_sqlstate(pg), "22P02");
    ASSERT_TRUE(strstr(baton_pg_errstr(pg), "SSN") == NULL);
    assert_scalar(pg, "SELECT count(*) FROM c", "3000");

    /* abort stores nothing */
    ASSERT_EQ_INT(baton_pg_copy_begin(pg, "c", cols, 3), 0);
    ASSERT_EQ_INT(baton_pg_copy_row(pg, ok_row), 0);
    ASSERT_EQ_INT(baton_pg_copy_abort(pg), 0);
    assert_scalar(pg, "SELECT count(*) FROM c", "3000");
    ASSERT_EQ_INT(baton_pg_copy_row(pg, ok_row), BATON_EINVAL);
    ASSERT_EQ_INT(baton_pg_copy_begin(pg, "missing_table", cols, 3), BATON_EIO);
    ASSERT_EQ_STR(baton_pg_sqlstate(pg), "42P01");
    baton_pg_free(pg);
}

static const baton_pg_migration_t migs[] = {
    {1, "events", "CREATE TABLE events (id text PRIMARY KEY, body text)"},
    {2, "events_idx", "CREATE INDEX events_body ON events (body); SELECT pg_sleep(0.2)"},
    {5, "people", "CREATE TABLE people (id text PRIMARY KEY); INSERT INTO people VALUES ('a')"},
};

TEST(pg_migrations_applied_once)
{
    baton_pg_t *pg = start_and_connect();
    int applied = -1;
    ASSERT_EQ_INT(baton_pg_migrate(pg, migs, 3, &applied), 0);
    ASSERT_EQ_INT(applied, 3);
    assert_scalar(pg,
                  "SELECT string_agg(version || ':' || name, ',' ORDER BY version) "
                  "FROM baton_schema_migrations",
                  "1:events,2:events_idx,5:people");
    ASSERT_EQ_INT(baton_pg_migrate(pg, migs, 3, &applied), 0);
    ASSERT_EQ_INT(applied, 0);
    assert_scalar(pg, "SELECT count(*) FROM people", "1"); /* the insert ran once */

    /* a new one, then one that fails: the good one stays, the failing one leaves no trace */
    baton_pg_migration_t more[] = {migs[0],
                                   migs[1],
                                   migs[2],
                                   {6, "audit", "CREATE TABLE audit (n int)"},
                                   {7, "broken", "CREATE TABLE half (n int); SELEC 1"}};
    ASSERT_EQ_INT(baton_pg_migrate(pg, more, 5, &applied), BATON_EIO);
    ASSERT_EQ_INT(applied, 1);
    ASSERT_CONTAINS(baton_pg_errstr(pg), "migration 7 (broken) failed");
    ASSERT_CONTAINS(baton_pg_errstr(pg), "syntax error");
    assert_scalar(pg, "SELECT max(version) FROM baton_schema_migrations", "6");
    assert_scalar(pg, "SELECT to_regclass('half') IS NULL", "t");

    /* an applied migration edited afterwards is refused */
    baton_pg_migration_t edited[] = {{1, "events", "CREATE TABLE events (id text)"}};
    ASSERT_EQ_INT(baton_pg_migrate(pg, edited, 1, &applied), BATON_ECONFLICT);
    ASSERT_CONTAINS(baton_pg_errstr(pg), "migration 1 (events) differs");
    baton_pg_migration_t unordered[] = {migs[1], migs[0]};
    ASSERT_EQ_INT(baton_pg_migrate(pg, unordered, 2, &applied), BATON_EINVAL);
    /* the lock was released: another session can take it at once */
    assert_scalar(pg, "SELECT pg_try_advisory_lock(4774189779582273863)", "t");
    baton_pg_free(pg);
}

struct migrator {
    int rc, applied;
    char err[256];
};

static void *migrate_thread(void *arg)
{
    struct migrator *m = arg;
    baton_pg_t *pg = baton_pg_new(srv.dsn, m->err, sizeof(m->err));
    if (!pg) {
        m->rc = -100;
        return NULL;
    }
    m->rc = baton_pg_migrate(pg, migs, 3, &m->applied);
    if (m->rc != 0)
        baton_strlcpy(m->err, baton_pg_errstr(pg), sizeof(m->err));
    baton_pg_free(pg);
    return NULL;
}

TEST(pg_migrations_two_concurrent_migrators)
{
    baton_pg_t *pg = start_and_connect();
    struct migrator a = {0}, b = {0};
    pthread_t ta, tb;
    ASSERT_EQ_INT(pthread_create(&ta, NULL, migrate_thread, &a), 0);
    ASSERT_EQ_INT(pthread_create(&tb, NULL, migrate_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    if (a.rc || b.rc)
        TEST_FAIL("migrators: %d (%s) / %d (%s)", a.rc, a.err, b.rc, b.err);
    ASSERT_EQ_INT(a.applied + b.applied, 3);
    ASSERT_TRUE(a.applied == 0 || b.applied == 0);
    assert_scalar(pg, "SELECT count(*) FROM baton_schema_migrations", "3");
    assert_scalar(pg, "SELECT count(*) FROM people", "1");
    baton_pg_free(pg);
}

static int exec_until_up(baton_pg_t *pg, const char *sql, int timeout_ms)
{
    int64_t deadline = baton_mono_ms() + timeout_ms;
    int rc;
    while ((rc = baton_pg_exec(pg, NULL, sql, 0, NULL)) == BATON_EUNAVAIL &&
           baton_mono_ms() < deadline)
        usleep(20000);
    return rc;
}

TEST(pg_reconnect_after_restart)
{
    baton_pg_t *pg = start_and_connect();
    baton_pg_set_backoff(pg, 20, 200);
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "CREATE TABLE k (n int); INSERT INTO k VALUES (7)"), 0);

    ASSERT_EQ_INT(harness_pg_stop(&srv), 0); /* clean shutdown */
    ASSERT_EQ_INT(baton_pg_exec(pg, NULL, "SELECT 1", 0, NULL), BATON_EUNAVAIL);
    ASSERT_EQ_INT(baton_pg_exec(pg, NULL, "SELECT 1", 0, NULL), BATON_EUNAVAIL); /* refused */
    ASSERT_EQ_INT(harness_pg_restart(&srv), 0);
    ASSERT_EQ_INT(exec_until_up(pg, "INSERT INTO k VALUES (8)", 5000), 0);
    ASSERT_EQ_INT(baton_pg_reconnects(pg), 1);

    ASSERT_EQ_INT(harness_pg_kill(&srv), 0); /* crash, then recovery */
    ASSERT_EQ_INT(baton_pg_exec(pg, NULL, "SELECT 1", 0, NULL), BATON_EUNAVAIL);
    ASSERT_EQ_INT(harness_pg_restart(&srv), 0);
    ASSERT_EQ_INT(exec_until_up(pg, "SELECT 1", 5000), 0);
    ASSERT_EQ_INT(baton_pg_reconnects(pg), 2);
    assert_scalar(pg, "SELECT string_agg(n::text, ',' ORDER BY n) FROM k", "7,8");
    baton_pg_free(pg);
}

TEST(pg_new_fails_when_nothing_listens)
{
    char dsn[128], err[256] = "";
    snprintf(dsn, sizeof(dsn), "postgresql://postgres:hunter2@127.0.0.1:%d/baton?connect_timeout=2",
             harness_free_port());
    ASSERT_NULL(baton_pg_new(dsn, err, sizeof(err)));
    ASSERT_CONTAINS(err, "pg: connect:");
    ASSERT_TRUE(strstr(err, "hunter2") == NULL);
}

TEST_MAIN()

/* Prepared once, executed many times: same answers and errors as baton_pg_exec, statements
 * survive a rolled-back transaction, a reconnect prepares again, a full cache still runs. */
TEST(pg_exec_prepared_cache)
{
    baton_pg_t *pg = start_and_connect();
    baton_pg_set_backoff(pg, 20, 200);
    ASSERT_EQ_INT(baton_pg_exec_script(pg, "CREATE TABLE p (id int PRIMARY KEY, note text)"), 0);
    static const char ins[] = "INSERT INTO p VALUES ($1, $2)";
    const char *a[] = {"1", "one"}, *b[] = {"2", NULL};
    ASSERT_EQ_INT(baton_pg_exec_prepared(pg, NULL, ins, 2, a), 0);
    ASSERT_EQ_INT(baton_pg_exec_prepared(pg, NULL, ins, 2, b), 0);
    const char *dup[] = {"1", "PATIENT-SECRET-123"};
    ASSERT_EQ_INT(baton_pg_exec_prepared(pg, NULL, ins, 2, dup), BATON_EEXIST);
    ASSERT_TRUE(strstr(baton_pg_errstr(pg), "PATIENT") == NULL);
    /* the statement was prepared once (under the cache's name) */
    assert_scalar(pg, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'baton_s%'",
                  "1");

    /* a statement first prepared inside a transaction that rolls back stays prepared */
    static const char sel[] = "SELECT note FROM p WHERE id = $1";
    const char *one[] = {"1"};
    PGresult *r = NULL;
    ASSERT_EQ_INT(baton_pg_begin(pg), 0);
    ASSERT_EQ_INT(baton_pg_exec_prepared(pg, &r, sel, 1, one), 0);
    PQclear(r);
    ASSERT_EQ_INT(baton_pg_rollback(pg), 0);
    ASSERT_EQ_INT(baton_pg_exec_prepared(pg, &r, sel, 1, one), 0);
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "one");
    PQclear(r);

    /* a bad text fails at prepare, cleanly, and is not cached */
    ASSERT_EQ_INT(baton_pg_exec_prepared(pg, NULL, "SELECT nope FROM p", 0, NULL), BATON_EIO);
    ASSERT_EQ_STR(baton_pg_sqlstate(pg), "42703");
    assert_scalar(pg, "SELECT count(*) FROM pg_prepared_statements", "2");

    /* more texts than the cache holds: the rest run unprepared, with the right answers */
    for (int i = 0; i < 40; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %d + count(*) FROM p", i);
        ASSERT_EQ_INT(baton_pg_exec_prepared(pg, &r, sql, 0, NULL), 0);
        ASSERT_EQ_INT(atoi(PQgetvalue(r, 0, 0)), i + 2);
        PQclear(r);
    }
    assert_scalar(pg, "SELECT count(*) FROM pg_prepared_statements", "32");

    /* a new session after a crash: prepared again on first use */
    ASSERT_EQ_INT(harness_pg_kill(&srv), 0);
    ASSERT_EQ_INT(baton_pg_exec_prepared(pg, NULL, sel, 1, one), BATON_EUNAVAIL);
    ASSERT_EQ_INT(harness_pg_restart(&srv), 0);
    int rc = BATON_EUNAVAIL;
    for (int i = 0; i < 250 && rc == BATON_EUNAVAIL; i++) {
        rc = baton_pg_exec_prepared(pg, &r, sel, 1, one);
        if (rc == BATON_EUNAVAIL)
            usleep(20000);
    }
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_STR(PQgetvalue(r, 0, 0), "one");
    PQclear(r);
    assert_scalar(pg, "SELECT count(*) FROM pg_prepared_statements", "1");
    baton_pg_free(pg);
}
