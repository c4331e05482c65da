/* baton/pg.h — a blocking PostgreSQL client over libpq: exec with parameters, transactions,
 * COPY FROM STDIN for bulk rows, reconnect, and a schema migrations runner.
 *
 * One baton_pg_t is one connection; not thread-safe (one per thread).
 *
 * Errors: functions return 0 or a negative BATON_E* code and leave a description in
 * baton_pg_errstr() and the SQLSTATE in baton_pg_sqlstate(). The description NEVER holds
 * data values: for data and constraint errors (SQLSTATE classes 22 and 23) it is only the
 * condition name and the constraint / table / column names; server messages are quoted only
 * for classes that describe SQL text or server state (syntax, missing relations, ...).
 *   BATON_EUNAVAIL  the connection is broken (or down; the statement's outcome is unknown if
 *                   it was a COMMIT); the next call reconnects, at once the first time, then
 *                   with capped exponential backoff. Statements are never retried here.
 *   BATON_EEXIST    unique violation (23505)
 *   BATON_EAGAIN    serialization failure / deadlock (40001, 40P01): retry the transaction
 *   BATON_EIO       any other failure
 *   BATON_ECONFLICT misuse of transactions (begin inside one, commit outside one), or an
 *                   applied migration whose name or SQL changed
 *
 * Results: a `PGresult **res` out-parameter receives a result the CALLER owns and must
 * release with PQclear(); it is NULL on error. Pass res = NULL to discard the result. */
#ifndef BATON_PG_H
#define BATON_PG_H

#include <libpq-fe.h>

#include "baton/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct baton_pg baton_pg_t;

/* Connect to dsn (URI or key=value; connect_timeout defaults to 10 s). Returns NULL with the reason
 * in err (libpq's message, which never contains the password). */
baton_pg_t *baton_pg_new(const char *dsn, char *err, size_t errlen);
void baton_pg_free(baton_pg_t *pg);

/* Reconnect backoff (defaults 100 ms doubling to 5000 ms). */
void baton_pg_set_backoff(baton_pg_t *pg, int min_ms, int max_ms);
const char *baton_pg_errstr(const baton_pg_t *pg);   /* never NULL */
const char *baton_pg_sqlstate(const baton_pg_t *pg); /* "" when the last error had none */
/* Reconnect now if the connection is broken (respecting the backoff). 0 or BATON_EUNAVAIL. */
int baton_pg_ensure(baton_pg_t *pg);
/* Connections re-established after the first one. */
unsigned long baton_pg_reconnects(const baton_pg_t *pg);
/* Raw connection for advanced callers (owned by pg; never NULL; may be reset by any call). */
PGconn *baton_pg_conn(baton_pg_t *pg);

/* ---- statements ---- */

/* Run sql with nparams text parameters ($1..$n; a NULL entry is SQL NULL). 0 with *res set
 * (COMMAND_OK or TUPLES_OK), or a negative code (see above). */
int baton_pg_exec(baton_pg_t *pg, PGresult **res, const char *sql, int nparams,
                  const char *const *params);
/* As baton_pg_exec, for a statement run again and again (one of a handful of fixed texts): it
 * is parsed and planned once per connection (PQprepare, keyed by its text; a reconnect prepares
 * again) and afterwards only executed. Beyond 32 texts per connection it runs unprepared.
 * Parameterless plans are then generic: planner settings (SET LOCAL) in force at the first run
 * stay with the statement. */
int baton_pg_exec_prepared(baton_pg_t *pg, PGresult **res, const char *sql, int nparams,
                           const char *const *params);
/* Run one or more ;-separated statements without parameters (simple query protocol). */
int baton_pg_exec_script(baton_pg_t *pg, const char *sql);

/* ---- transactions ---- */

int baton_pg_begin(baton_pg_t *pg);    /* BATON_ECONFLICT when already in one */
int baton_pg_commit(baton_pg_t *pg);   /* a failed transaction is rolled back: BATON_EIO */
int baton_pg_rollback(baton_pg_t *pg); /* no-op outside a transaction */
/* 1 inside a transaction block (also a failed one awaiting rollback). */
int baton_pg_in_tx(const baton_pg_t *pg);

/* ---- COPY ... FROM STDIN (text format) ---- */

/* Start COPY <table> (<columns>) FROM STDIN. table is trusted SQL text (may be
 * schema-qualified); columns are quoted here. Until copy_end / copy_abort only copy_row may
 * be called. */
int baton_pg_copy_begin(baton_pg_t *pg, const char *table, const char *const *columns,
                        int ncolumns);
/* One row of ncolumns values (as given to copy_begin); a NULL entry is SQL NULL. Values are
 * escaped (backslash, tab, newline, CR), so anything goes. Rows are buffered and sent in
 * chunks. */
int baton_pg_copy_row(baton_pg_t *pg, const char *const *values);
/* Finish; *rows (may be NULL) gets the number of rows the server stored. */
int baton_pg_copy_end(baton_pg_t *pg, long long *rows);
/* Abandon the COPY (nothing is stored). */
int baton_pg_copy_abort(baton_pg_t *pg);

/* ---- migrations ---- */

typedef struct {
    int version;      /* > 0, strictly increasing in the list */
    const char *name; /* e.g. "audit_log" */
    const char *sql;  /* one or more statements; no BEGIN/COMMIT, nothing that cannot run
                         in a transaction (CREATE INDEX CONCURRENTLY) */
} baton_pg_migration_t;

/* Apply, in order, every migration whose version is not yet in baton_schema_migrations
 * (version, name, checksum = SHA-256 of sql, applied_at), each in its own transaction
 * together with its row. The whole run holds a session advisory lock, so concurrent
 * migrators serialize and the second one finds nothing to do. *applied (may be NULL) gets how
 * many ran now. A recorded migration whose name or checksum differs is BATON_ECONFLICT; a
 * failing one stops the run (earlier ones stay applied) with its version in the error. */
int baton_pg_migrate(baton_pg_t *pg, const baton_pg_migration_t *migrations, size_t n,
                     int *applied);

#ifdef __cplusplus
}
#endif
#endif
