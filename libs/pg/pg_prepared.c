/* pg_prepared.c — statements prepared once per connection and then only executed.
 *
 * A writer that runs the same few statements for every batch pays PostgreSQL's parse and plan
 * for each of them every time through PQexecParams. Here the first run of a text prepares it
 * under a name of its own (protocol-level: it outlives a rolled-back transaction, and dies with
 * the session), later runs execute that name. A reconnect starts a new session: the cache is
 * dropped and statements are prepared again on first use. Behind a transaction-mode pooler
 * that does not track prepared statements (PgBouncer before 1.21) use baton_pg_exec instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/core.h"
#include "pg_int.h"

void baton_pg__prepared_clear(baton_pg_t *pg)
{
    for (size_t i = 0; i < pg->nstmts; i++)
        free(pg->stmts[i]);
    pg->nstmts = 0;
}

static void stmt_name(size_t i, char *out, size_t len)
{
    snprintf(out, len, "baton_s%zu", i);
}

int baton_pg_exec_prepared(baton_pg_t *pg, PGresult **res, const char *sql, int nparams,
                           const char *const *params)
{
    if (res)
        *res = NULL;
    int rc = baton_pg__ready(pg);
    if (rc != 0)
        return rc;
    if (pg->stmts_gen != pg->reconnects + 1) { /* a new session since they were prepared */
        baton_pg__prepared_clear(pg);
        pg->stmts_gen = pg->reconnects + 1;
    }
    size_t i = 0;
    while (i < pg->nstmts && strcmp(pg->stmts[i], sql) != 0)
        i++;
    if (i == pg->nstmts && i == BATON_PG_MAX_PREPARED) /* full: run it unprepared */
        return baton_pg__finish(
            pg, PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0), res, "exec");
    char name[32];
    stmt_name(i, name, sizeof name);
    if (i == pg->nstmts) {
        rc = baton_pg__finish(pg, PQprepare(pg->conn, name, sql, nparams, NULL), NULL, "prepare");
        if (rc != 0)
            return rc;
        pg->stmts[pg->nstmts++] = baton_xstrdup(sql);
    }
    return baton_pg__finish(pg, PQexecPrepared(pg->conn, name, nparams, params, NULL, NULL, 0), res,
                            "exec");
}
