#include <stdio.h>
#include <time.h>
/* test_audit — the audit lib's pure parts: the canonical hash input, the hash, the month key,
 * the migrations list. (The writer and verifier run against PostgreSQL in
 * tests/integration/audit.) */
#include "baton/audit.h"
#include "test.h"

#include <string.h>

static baton_audit_row_t sample(void)
{
    baton_audit_row_t r = {0};
    memcpy(r.prev_hash, BATON_AUDIT_GENESIS_HASH, 65);
    r.topic = "baton.lifecycle.v1";
    r.partition = 2;
    r.offset = 17;
    r.seq = 5;
    memcpy(r.recorded_month, "2026-11-01", 11);
    r.event_id = "e-1";
    r.event_type = "task.assigned";
    r.tenant = "acme";
    r.instance_id = "i-1";
    r.task_id = NULL;
    r.actor = "router";
    r.occurred_at_ms = 1795255200000LL;
    r.recorded_at_ms = 1795255200123LL;
    r.payload = "{\"a\":1}";
    return r;
}

TEST(audit_hash_input_is_length_prefixed_in_field_order)
{
    baton_audit_row_t r = sample();
    baton_buf_t b = BATON_BUF_INIT;
    baton_audit_row_hash_input(&r, &b);
    ASSERT_EQ_STR(b.data, "64:0000000000000000000000000000000000000000000000000000000000000000;"
                          "18:baton.lifecycle.v1;1:2;2:17;1:5;10:2026-11-01;3:e-1;"
                          "13:task.assigned;4:acme;3:i-1;0:;6:router;13:1795255200000;"
                          "13:1795255200123;7:{\"a\":1};");
    baton_buf_free(&b);
}

TEST(audit_hash_is_sha256_of_the_input)
{
    baton_audit_row_t r = sample();
    baton_audit_row_hash(&r);
    /* python3: hashlib.sha256(<the input above>).hexdigest() */
    ASSERT_EQ_STR(r.hash, "460610280631d311749d050244804b140914e74c51be6f77b73b3988f2391fff");
}

TEST(audit_hash_changes_with_every_field)
{
    baton_audit_row_t base = sample();
    baton_audit_row_hash(&base);
    baton_audit_row_t r = sample();
    r.offset = 18;
    baton_audit_row_hash(&r);
    ASSERT_TRUE(strcmp(r.hash, base.hash) != 0);
    r = sample();
    r.prev_hash[63] = '1';
    baton_audit_row_hash(&r);
    ASSERT_TRUE(strcmp(r.hash, base.hash) != 0);
    r = sample();
    r.payload = "{\"a\":2}";
    baton_audit_row_hash(&r);
    ASSERT_TRUE(strcmp(r.hash, base.hash) != 0);
    /* absent and empty hash alike; moving bytes between fields does not collide */
    r = sample();
    r.task_id = "";
    baton_audit_row_hash(&r);
    ASSERT_EQ_STR(r.hash, base.hash);
    r = sample();
    r.instance_id = "i-";
    r.task_id = "1";
    baton_audit_row_hash(&r);
    ASSERT_TRUE(strcmp(r.hash, base.hash) != 0);
}

TEST(audit_month_is_the_utc_month)
{
    char m[11];
    baton_audit_month(1795255200000LL, m); /* 2026-11-21T10:00:00Z */
    ASSERT_EQ_STR(m, "2026-11-01");
    baton_audit_month(1796083199999LL, m); /* 2026-11-30T23:59:59.999Z */
    ASSERT_EQ_STR(m, "2026-11-01");
    baton_audit_month(1796083200000LL, m); /* 2026-12-01T00:00:00Z */
    ASSERT_EQ_STR(m, "2026-12-01");
    baton_audit_month(0, m);
    ASSERT_EQ_STR(m, "1970-01-01");
    baton_audit_month(951782400000LL, m); /* 2000-02-29T00:00:00Z, a 400-year leap day */
    ASSERT_EQ_STR(m, "2000-02-01");
    baton_audit_month(4107542399999LL, m); /* 2100-02-28T23:59:59.999Z (2100: no leap day) */
    ASSERT_EQ_STR(m, "2100-02-01");
    baton_audit_month(4107542400000LL, m); /* 2100-03-01 */
    ASSERT_EQ_STR(m, "2100-03-01");
    /* every day boundary ± 1 ms from 1970 to 2200 agrees with the C library */
    for (int64_t day = 0; day < 84000; day++) {
        for (int d = -1; d <= 0; d++) {
            int64_t ms = day * 86400000LL + d;
            if (ms < 0)
                continue;
            time_t t = (time_t)(ms / 1000);
            struct tm tm;
            gmtime_r(&t, &tm);
            char want[32];
            snprintf(want, sizeof want, "%04d-%02d-01", tm.tm_year + 1900, tm.tm_mon + 1);
            baton_audit_month(ms, m);
            if (strcmp(m, want) != 0)
                TEST_FAIL("month of %lld: %s, want %s", (long long)ms, m, want);
        }
    }
}

TEST(audit_migrations_are_versioned_in_order)
{
    size_t n = 0;
    const baton_pg_migration_t *m = baton_audit_migrations(&n);
    ASSERT_EQ_INT(n, 5);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(m[i].version, (int)i + 1);
    ASSERT_CONTAINS(m[0].sql, "PARTITION BY RANGE (recorded_month)");
    ASSERT_CONTAINS(m[0].sql, "BEFORE UPDATE OR DELETE ON audit_log");
    ASSERT_CONTAINS(m[2].sql, "GRANT INSERT ON audit_log TO baton_audit_writer");
    ASSERT_CONTAINS(m[3].sql, "ALTER TABLE audit_notifications SET (fillfactor = 70)");
    ASSERT_CONTAINS(m[4].sql,
                    "ALTER TABLE audit_tasks ALTER COLUMN task_id TYPE text COLLATE \"C\"");
}

TEST_MAIN()
