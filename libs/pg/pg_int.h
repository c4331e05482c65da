/* pg_int.h — the client's insides, shared by pg*.c. */
#ifndef BATON_PG_INT_H
#define BATON_PG_INT_H

#include "baton/pg.h"

#define BATON_PG_MAX_PREPARED 32

struct baton_pg {
    PGconn *conn; /* never NULL after construction; may be CONNECTION_BAD */
    int backoff_min_ms, backoff_max_ms;
    int backoff_ms;          /* wait after the next failed reconnect */
    int64_t next_attempt_ms; /* monotonic; no reconnect before this */
    unsigned long reconnects;
    int in_copy; /* COPY FROM STDIN in progress */
    int copy_ncolumns;
    baton_buf_t copy_buf; /* rows not yet handed to libpq */
    /* statements prepared on this connection (pg_prepared.c), valid while reconnects equals
     * stmts_gen: a new session has none */
    char *stmts[BATON_PG_MAX_PREPARED];
    size_t nstmts;
    unsigned long stmts_gen;
    char sqlstate[6];
    char err[384];
    char last_fail[256];
};

/* Record the error of a failed result (r may be NULL) in pg->err / pg->sqlstate, without
 * data values; returns the BATON_E* code for it. */
int baton_pg__set_error(baton_pg_t *pg, const PGresult *r, const char *what);
/* Classify r: 0 and hand it to *res (or clear it) on success, else set the error. */
int baton_pg__finish(baton_pg_t *pg, PGresult *r, PGresult **res, const char *what);
/* Statement guard shared by pg*.c: not in COPY mode, connected. */
int baton_pg__ready(baton_pg_t *pg);
/* Forget the prepared statements (their session is gone, or pg is being freed). */
void baton_pg__prepared_clear(baton_pg_t *pg);

#endif
