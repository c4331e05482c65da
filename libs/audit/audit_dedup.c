/* audit_dedup.c — a batch's dedup keys into audit_event_ids (exactly once per topic and event
 * id, across writers and restarts).
 *
 * Usually one COPY of all the kept keys straight into the table: one index insertion per key,
 * no probe before it, none of the speculative insertion of INSERT ... ON CONFLICT (a token and
 * one more WAL record per row), and none of the array parsing and unnesting of an INSERT ...
 * SELECT (about half the cost of that insert in PostgreSQL). A key logged before (a producer's
 * retry, a derived event emitted again after a crash: rare) or being added by another writer's
 * transaction at the same time (the COPY waits for it) fails it on the primary key: the caller
 * rolls back and writes the batch again with upsert, the ON CONFLICT insert whose RETURNING
 * names the new keys. */
#include "audit_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Array literals of the kept entries' keys, partitions and offsets; the number of entries. */
static size_t kept_arrays(const audit_entry_t *es, size_t n, baton_buf_t a[3])
{
    for (int k = 0; k < 3; k++)
        baton_buf_putc(&a[k], '{');
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!es[i].keep)
            continue;
        const char *sep = kept++ ? "," : "";
        baton_buf_appendf(&a[0], "%s%s", sep, es[i].id_key);
        baton_buf_appendf(&a[1], "%s%d", sep, (int)es[i].m->partition);
        baton_buf_appendf(&a[2], "%s%lld", sep, (long long)es[i].m->offset);
    }
    for (int k = 0; k < 3; k++)
        baton_buf_putc(&a[k], '}');
    return kept;
}

static const char *const key_cols[] = {"id_key", "kpartition", "koffset"};

/* The plain path: every kept key COPYed in (a key already there fails it: see the top). */
static int copy_keys(baton_pg_t *pg, const audit_entry_t *es, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        kept += es[i].keep;
    if (kept == 0)
        return 0;
    int rc = baton_pg_copy_begin(pg, "audit_event_ids", key_cols, 3);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!es[i].keep)
            continue;
        char part[16], off[24];
        snprintf(part, sizeof part, "%d", (int)es[i].m->partition);
        snprintf(off, sizeof off, "%lld", (long long)es[i].m->offset);
        const char *const v[] = {es[i].id_key, part, off};
        rc = baton_pg_copy_row(pg, v);
    }
    if (rc == 0)
        return baton_pg_copy_end(pg, NULL);
    baton_pg_copy_abort(pg);
    return rc;
}

static const char upsert_sql[] = "INSERT INTO audit_event_ids (id_key, kpartition, koffset)"
                                 " SELECT * FROM unnest($1::uuid[], $2::integer[], $3::bigint[])"
                                 " ON CONFLICT DO NOTHING RETURNING id_key";

int audit__dedup(baton_pg_t *pg, audit_entry_t *es, size_t n, const audit_map_t *seen, bool upsert,
                 size_t *duplicates)
{
    if (!upsert)
        return copy_keys(pg, es, n);
    baton_buf_t a[3] = {BATON_BUF_INIT, BATON_BUF_INIT, BATON_BUF_INIT};
    size_t kept = kept_arrays(es, n, a);
    for (size_t i = 0; i < n; i++) /* each stays kept only if the insert says its key is new */
        es[i].keep = false;
    int rc = 0;
    PGresult *r = NULL;
    if (kept) {
        const char *params[] = {a[0].data, a[1].data, a[2].data};
        rc = baton_pg_exec_prepared(pg, &r, upsert_sql, 3, params);
    }
    size_t added = 0;
    for (int i = 0; rc == 0 && r && i < PQntuples(r); i++) {
        size_t idx = audit__map_get(seen, PQgetvalue(r, i, 0));
        if (idx < n && !es[idx].keep) {
            es[idx].keep = true;
            added++;
        }
    }
    if (rc == 0)
        *duplicates += kept - added;
    PQclear(r);
    for (int k = 0; k < 3; k++)
        baton_buf_free(&a[k]);
    return rc;
}
