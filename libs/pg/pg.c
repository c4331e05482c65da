/* pg.c — connection with reconnect/backoff, errors without data values, exec, transactions. */
#include "pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *baton_pg_errstr(const baton_pg_t *pg)
{
    return pg->err;
}

const char *baton_pg_sqlstate(const baton_pg_t *pg)
{
    return pg->sqlstate;
}

unsigned long baton_pg_reconnects(const baton_pg_t *pg)
{
    return pg->reconnects;
}

PGconn *baton_pg_conn(baton_pg_t *pg)
{
    return pg->conn;
}

int baton_pg_in_tx(const baton_pg_t *pg)
{
    PGTransactionStatusType s = PQtransactionStatus(pg->conn);
    return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

void baton_pg_set_backoff(baton_pg_t *pg, int min_ms, int max_ms)
{
    pg->backoff_min_ms = min_ms > 0 ? min_ms : 100;
    pg->backoff_max_ms = max_ms >= pg->backoff_min_ms ? max_ms : pg->backoff_min_ms;
    pg->backoff_ms = pg->backoff_min_ms;
}

/* libpq's connection-level message, first line only, without the trailing newline. */
static void conn_message(const baton_pg_t *pg, char *out, size_t len)
{
    baton_strlcpy(out, PQerrorMessage(pg->conn), len);
    out[strcspn(out, "\n")] = '\0';
    if (!out[0])
        baton_strlcpy(out, "connection lost", len);
}

baton_pg_t *baton_pg_new(const char *dsn, char *err, size_t errlen)
{
    baton_pg_t *pg = baton_xcalloc(1, sizeof(*pg));
    baton_pg_set_backoff(pg, 100, 5000);
    /* A default connect_timeout, so an unreachable host cannot block for minutes; the DSN's
     * own value, expanded after it, wins. PQreset reuses these parameters. */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const vals[] = {"10", dsn, NULL};
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (!pg->conn) {
        baton_seterr(err, errlen, "pg: out of memory creating a connection");
        goto err;
    }
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        char msg[256];
        conn_message(pg, msg, sizeof(msg));
        baton_seterr(err, errlen, "pg: connect: %s", msg);
        goto err;
    }
    return pg;
err:
    baton_pg_free(pg);
    return NULL;
}

void baton_pg_free(baton_pg_t *pg)
{
    if (!pg)
        return;
    if (pg->conn)
        PQfinish(pg->conn);
    baton_buf_free(&pg->copy_buf);
    baton_pg__prepared_clear(pg);
    free(pg);
}

int baton_pg_ensure(baton_pg_t *pg)
{
    if (PQstatus(pg->conn) == CONNECTION_OK)
        return 0;
    int64_t now = baton_mono_ms();
    if (now < pg->next_attempt_ms) {
        baton_seterr(pg->err, sizeof(pg->err), "pg unavailable (next attempt in %lld ms): %s",
                     (long long)(pg->next_attempt_ms - now), pg->last_fail);
        return BATON_EUNAVAIL;
    }
    pg->in_copy = 0;
    PQreset(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        char msg[200];
        conn_message(pg, msg, sizeof(msg));
        snprintf(pg->last_fail, sizeof(pg->last_fail), "reconnect: %s", msg);
        baton_seterr(pg->err, sizeof(pg->err), "pg %s", pg->last_fail);
        pg->next_attempt_ms = baton_mono_ms() + pg->backoff_ms;
        pg->backoff_ms =
            pg->backoff_ms * 2 > pg->backoff_max_ms ? pg->backoff_max_ms : pg->backoff_ms * 2;
        return BATON_EUNAVAIL;
    }
    pg->reconnects++;
    pg->backoff_ms = pg->backoff_min_ms;
    pg->next_attempt_ms = 0;
    return 0;
}

int baton_pg__ready(baton_pg_t *pg)
{
    if (pg->in_copy) {
        baton_seterr(pg->err, sizeof(pg->err), "pg: a COPY is in progress");
        return BATON_EINVAL;
    }
    return baton_pg_ensure(pg);
}

int baton_pg__finish(baton_pg_t *pg, PGresult *r, PGresult **res, const char *what)
{
    if (res)
        *res = NULL;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        pg->sqlstate[0] = '\0';
        if (res)
            *res = r;
        else
            PQclear(r);
        return 0;
    }
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        /* COPY through exec: leave the connection usable, refuse. */
        PQclear(r);
        if (st == PGRES_COPY_IN)
            PQputCopyEnd(pg->conn, "use baton_pg_copy_*");
        while ((r = PQgetResult(pg->conn)) != NULL)
            PQclear(r);
        baton_seterr(pg->err, sizeof(pg->err), "pg: %s: COPY needs baton_pg_copy_*", what);
        return BATON_EINVAL;
    }
    int rc = baton_pg__set_error(pg, r, what);
    PQclear(r);
    return rc;
}

int baton_pg_exec(baton_pg_t *pg, PGresult **res, const char *sql, int nparams,
                  const char *const *params)
{
    if (res)
        *res = NULL;
    int rc = baton_pg__ready(pg);
    if (rc != 0)
        return rc;
    PGresult *r = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    return baton_pg__finish(pg, r, res, "exec");
}

int baton_pg_exec_script(baton_pg_t *pg, const char *sql)
{
    int rc = baton_pg__ready(pg);
    if (rc != 0)
        return rc;
    /* PQexec returns only the last result, stopping at the first failing statement. */
    return baton_pg__finish(pg, PQexec(pg->conn, sql), NULL, "exec");
}

int baton_pg_begin(baton_pg_t *pg)
{
    int rc = baton_pg__ready(pg);
    if (rc != 0)
        return rc;
    if (baton_pg_in_tx(pg)) {
        baton_seterr(pg->err, sizeof(pg->err), "pg: begin: already in a transaction");
        return BATON_ECONFLICT;
    }
    return baton_pg__finish(pg, PQexec(pg->conn, "BEGIN"), NULL, "begin");
}

int baton_pg_commit(baton_pg_t *pg)
{
    int rc = baton_pg__ready(pg);
    if (rc != 0)
        return rc;
    if (!baton_pg_in_tx(pg)) {
        baton_seterr(pg->err, sizeof(pg->err), "pg: commit: not in a transaction");
        return BATON_ECONFLICT;
    }
    PGresult *r = NULL;
    rc = baton_pg__finish(pg, PQexec(pg->conn, "COMMIT"), &r, "commit");
    if (rc != 0)
        return rc;
    /* COMMIT of a failed transaction "succeeds" as a ROLLBACK. */
    int rolled_back = strcmp(PQcmdStatus(r), "ROLLBACK") == 0;
    PQclear(r);
    if (rolled_back) {
        baton_seterr(pg->err, sizeof(pg->err),
                     "pg: commit: the transaction had failed and was rolled back");
        return BATON_EIO;
    }
    return 0;
}

int baton_pg_rollback(baton_pg_t *pg)
{
    if (pg->in_copy)
        baton_pg_copy_abort(pg);
    if (PQstatus(pg->conn) != CONNECTION_OK || !baton_pg_in_tx(pg))
        return 0; /* a lost connection rolled back already */
    return baton_pg__finish(pg, PQexec(pg->conn, "ROLLBACK"), NULL, "rollback");
}
