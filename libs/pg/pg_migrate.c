/* pg_migrate.c — ordered, recorded, idempotent schema migrations under an advisory lock. */
#include "pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_advisory_lock key: the bytes "BATONMIG" as a big-endian bigint. */
#define MIGRATE_LOCK_KEY "4774189779582273863"

static const char create_table[] = "CREATE TABLE IF NOT EXISTS baton_schema_migrations ("
                                   " version integer PRIMARY KEY,"
                                   " name text NOT NULL,"
                                   " checksum text NOT NULL,"
                                   " applied_at timestamptz NOT NULL DEFAULT now())";

static int validate(baton_pg_t *pg, const baton_pg_migration_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].version <= 0 || !m[i].name || !m[i].sql ||
            (i > 0 && m[i].version <= m[i - 1].version)) {
            baton_seterr(pg->err, sizeof(pg->err),
                         "pg: migrations: entry %zu: versions must be > 0 and increasing, with "
                         "a name and sql",
                         i);
            return BATON_EINVAL;
        }
    }
    return 0;
}

/* Is version recorded? 1 yes (and it matches), 0 no, negative on error or mismatch. */
static int recorded(baton_pg_t *pg, const PGresult *done, const baton_pg_migration_t *m,
                    const char *checksum)
{
    for (int row = 0; row < PQntuples(done); row++) {
        if (atoi(PQgetvalue(done, row, 0)) != m->version)
            continue;
        if (strcmp(PQgetvalue(done, row, 1), m->name) != 0 ||
            strcmp(PQgetvalue(done, row, 2), checksum) != 0) {
            baton_seterr(pg->err, sizeof(pg->err),
                         "pg: migration %d (%s) differs from the one applied as %s", m->version,
                         m->name, PQgetvalue(done, row, 1));
            return BATON_ECONFLICT;
        }
        return 1;
    }
    return 0;
}

static int apply_one(baton_pg_t *pg, const baton_pg_migration_t *m, const char *checksum)
{
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *params[] = {version, m->name, checksum};
    int rc = baton_pg_begin(pg);
    if (rc == 0)
        rc = baton_pg_exec_script(pg, m->sql);
    if (rc == 0)
        rc = baton_pg_exec(pg, NULL,
                           "INSERT INTO baton_schema_migrations (version, name, checksum) "
                           "VALUES ($1::integer, $2, $3)",
                           3, params);
    if (rc == 0)
        rc = baton_pg_commit(pg);
    if (rc != 0) {
        char why[sizeof(pg->err)];
        baton_strlcpy(why, pg->err, sizeof(why));
        baton_pg_rollback(pg);
        baton_seterr(pg->err, sizeof(pg->err), "pg: migration %d (%s) failed: %s", m->version,
                     m->name, why);
    }
    return rc;
}

/* With the lock held: create the table, read what is done, apply the rest. */
static int run_locked(baton_pg_t *pg, const baton_pg_migration_t *m, size_t n, int *applied)
{
    PGresult *done = NULL;
    int rc = baton_pg_exec(pg, NULL, create_table, 0, NULL);
    if (rc == 0)
        rc = baton_pg_exec(pg, &done, "SELECT version, name, checksum FROM baton_schema_migrations",
                           0, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char checksum[65];
        baton_sha256_hex(m[i].sql, strlen(m[i].sql), checksum);
        int r = recorded(pg, done, &m[i], checksum);
        if (r < 0)
            rc = r;
        else if (r == 0 && (rc = apply_one(pg, &m[i], checksum)) == 0)
            (*applied)++;
    }
    PQclear(done);
    return rc;
}

int baton_pg_migrate(baton_pg_t *pg, const baton_pg_migration_t *migrations, size_t n, int *applied)
{
    int count = 0;
    if (applied)
        *applied = 0;
    int rc = validate(pg, migrations, n);
    if (rc != 0)
        return rc;
    if (baton_pg_in_tx(pg)) {
        baton_seterr(pg->err, sizeof(pg->err), "pg: migrate: called inside a transaction");
        return BATON_ECONFLICT;
    }
    /* Blocks until a concurrent migrator is done; released by unlock or disconnect. */
    rc = baton_pg_exec(pg, NULL, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL);
    if (rc != 0)
        return rc;
    rc = run_locked(pg, migrations, n, &count);
    char keep[sizeof(pg->err)], keep_state[sizeof(pg->sqlstate)];
    baton_strlcpy(keep, pg->err, sizeof(keep));
    baton_strlcpy(keep_state, pg->sqlstate, sizeof(keep_state));
    baton_pg_exec(pg, NULL, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", 0, NULL);
    if (rc != 0) {
        baton_strlcpy(pg->err, keep, sizeof(pg->err));
        baton_strlcpy(pg->sqlstate, keep_state, sizeof(pg->sqlstate));
    }
    if (applied)
        *applied = count;
    return rc;
}
