/* pg_copy.c — COPY ... FROM STDIN in text format, with escaping. */
#include "pg_int.h"

#include <stdlib.h>
#include <string.h>

#define COPY_CHUNK (64 * 1024)

int baton_pg_copy_begin(baton_pg_t *pg, const char *table, const char *const *columns, int ncolumns)
{
    if (pg->in_copy) {
        baton_seterr(pg->err, sizeof(pg->err), "pg: copy: a COPY is already in progress");
        return BATON_EINVAL;
    }
    if (ncolumns <= 0) {
        baton_seterr(pg->err, sizeof(pg->err), "pg: copy: no columns");
        return BATON_EINVAL;
    }
    int rc = baton_pg_ensure(pg);
    if (rc != 0)
        return rc;
    baton_buf_t sql = BATON_BUF_INIT;
    baton_buf_appendf(&sql, "COPY %s (", table);
    for (int i = 0; i < ncolumns; i++) {
        char *q = PQescapeIdentifier(pg->conn, columns[i], strlen(columns[i]));
        if (!q) {
            baton_buf_free(&sql);
            baton_seterr(pg->err, sizeof(pg->err), "pg: copy: bad column name");
            return BATON_EINVAL;
        }
        baton_buf_appendf(&sql, "%s%s", i ? ", " : "", q);
        PQfreemem(q);
    }
    baton_buf_puts(&sql, ") FROM STDIN");
    PGresult *r = PQexec(pg->conn, sql.data);
    baton_buf_free(&sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return baton_pg__finish(pg, r, NULL, "copy") ?: BATON_EIO;
    PQclear(r);
    pg->in_copy = 1;
    pg->copy_ncolumns = ncolumns;
    baton_buf_reset(&pg->copy_buf);
    return 0;
}

/* Text-format escaping: backslash, and the row/column separators; runs of other bytes are
 * copied whole. */
static void put_value(baton_buf_t *b, const char *v)
{
    if (!v) {
        baton_buf_puts(b, "\\N");
        return;
    }
    for (;;) {
        size_t run = strcspn(v, "\\\t\n\r");
        baton_buf_append(b, v, run);
        v += run;
        switch (*v) {
        case '\0':
            return;
        case '\\':
            baton_buf_puts(b, "\\\\");
            break;
        case '\t':
            baton_buf_puts(b, "\\t");
            break;
        case '\n':
            baton_buf_puts(b, "\\n");
            break;
        default: /* '\r' */
            baton_buf_puts(b, "\\r");
        }
        v++;
    }
}

/* Hand buffered rows to libpq. A failure here means the connection is gone. */
static int flush(baton_pg_t *pg)
{
    if (pg->copy_buf.len == 0)
        return 0;
    if (PQputCopyData(pg->conn, pg->copy_buf.data, (int)pg->copy_buf.len) != 1) {
        pg->in_copy = 0;
        return baton_pg__set_error(pg, NULL, "copy");
    }
    baton_buf_reset(&pg->copy_buf);
    return 0;
}

int baton_pg_copy_row(baton_pg_t *pg, const char *const *values)
{
    if (!pg->in_copy) {
        baton_seterr(pg->err, sizeof(pg->err), "pg: copy: no COPY in progress");
        return BATON_EINVAL;
    }
    for (int i = 0; i < pg->copy_ncolumns; i++) {
        if (i)
            baton_buf_putc(&pg->copy_buf, '\t');
        put_value(&pg->copy_buf, values[i]);
    }
    baton_buf_putc(&pg->copy_buf, '\n');
    return pg->copy_buf.len >= COPY_CHUNK ? flush(pg) : 0;
}

/* Read the COPY's final result and drain the connection. */
static int copy_result(baton_pg_t *pg, long long *rows)
{
    PGresult *r = PQgetResult(pg->conn);
    PGresult *extra;
    while ((extra = PQgetResult(pg->conn)) != NULL)
        PQclear(extra);
    PGresult *ok = NULL;
    int rc = baton_pg__finish(pg, r, &ok, "copy");
    if (rc == 0) {
        if (rows)
            *rows = atoll(PQcmdTuples(ok));
        PQclear(ok);
    }
    return rc;
}

int baton_pg_copy_end(baton_pg_t *pg, long long *rows)
{
    if (rows)
        *rows = 0;
    if (!pg->in_copy) {
        baton_seterr(pg->err, sizeof(pg->err), "pg: copy: no COPY in progress");
        return BATON_EINVAL;
    }
    int rc = flush(pg);
    if (rc != 0)
        return rc;
    pg->in_copy = 0;
    if (PQputCopyEnd(pg->conn, NULL) != 1)
        return baton_pg__set_error(pg, NULL, "copy");
    return copy_result(pg, rows);
}

int baton_pg_copy_abort(baton_pg_t *pg)
{
    if (!pg->in_copy)
        return 0;
    pg->in_copy = 0;
    baton_buf_reset(&pg->copy_buf);
    if (PQputCopyEnd(pg->conn, "aborted by the client") != 1)
        return baton_pg__set_error(pg, NULL, "copy abort");
    PGresult *r;
    while ((r = PQgetResult(pg->conn)) != NULL) /* the expected query_canceled error */
        PQclear(r);
    return 0;
}
