/* audit_verify.c — walk every chain in (topic, partition, seq) order inside one
 * REPEATABLE READ snapshot (rows and heads agree), through a cursor so memory stays flat. */
#include "audit_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH 5000

typedef struct {
    char topic[256];
    int partition;
    int64_t seq; /* last seq seen in this chain, 0 before the first row */
    int64_t offset;
    char hash[65];
    bool active;
} chain_t;

typedef struct {
    PGresult *heads; /* topic, kpartition, seq, hash ordered like the rows */
    int next_head;   /* heads before it were matched with rows (or reported) */
    baton_audit_verify_t *out;
    chain_t c;
} walk_t;

static bool fail(walk_t *w, const char *topic, int partition, long long seq, const char *what)
{
    w->out->ok = false;
    snprintf(w->out->problem, sizeof w->out->problem, "topic %s partition %d seq %lld: %s", topic,
             partition, seq, what);
    return false;
}

static int chain_cmp(const char *topic_a, int part_a, const char *topic_b, int part_b)
{
    int c = strcmp(topic_a, topic_b);
    if (c)
        return c;
    return part_a < part_b ? -1 : part_a > part_b;
}

/* Heads that sort before (topic, partition) have no rows at all: their first row is gone. */
static bool heads_without_rows(walk_t *w, const char *topic, int partition)
{
    while (w->next_head < PQntuples(w->heads)) {
        const char *ht = PQgetvalue(w->heads, w->next_head, 0);
        int hp = atoi(PQgetvalue(w->heads, w->next_head, 1));
        if (topic && chain_cmp(ht, hp, topic, partition) >= 0)
            return true;
        if (atoll(PQgetvalue(w->heads, w->next_head, 2)) > 0)
            return fail(w, ht, hp, 1, "missing (row removed)");
        w->next_head++;
    }
    return true;
}

/* The chain that just ended must end where its head says. */
static bool close_chain(walk_t *w)
{
    if (!w->c.active)
        return true;
    w->c.active = false;
    int h = w->next_head;
    if (h >= PQntuples(w->heads) ||
        chain_cmp(PQgetvalue(w->heads, h, 0), atoi(PQgetvalue(w->heads, h, 1)), w->c.topic,
                  w->c.partition) != 0) {
        snprintf(w->out->problem, sizeof w->out->problem,
                 "topic %s partition %d: no chain head (rows written outside the writer)",
                 w->c.topic, w->c.partition);
        w->out->ok = false;
        return false;
    }
    w->next_head++;
    long long head_seq = atoll(PQgetvalue(w->heads, h, 2));
    if (head_seq > w->c.seq)
        return fail(w, w->c.topic, w->c.partition, w->c.seq + 1, "missing (row removed)");
    if (head_seq < w->c.seq)
        return fail(w, w->c.topic, w->c.partition, head_seq + 1,
                    "beyond the chain head (row inserted)");
    if (strcmp(PQgetvalue(w->heads, h, 3), w->c.hash) != 0)
        return fail(w, w->c.topic, w->c.partition, w->c.seq,
                    "hash differs from the chain head (row changed)");
    return true;
}

static const char *val(PGresult *r, int i, int col)
{
    return PQgetisnull(r, i, col) ? NULL : PQgetvalue(r, i, col);
}

/* Columns: 0 month, 1 topic, 2 partition, 3 offset, 4 seq, 5 event_id, 6 type, 7 tenant,
 * 8 instance, 9 task, 10 actor, 11 occurred, 12 recorded, 13 payload, 14 prev_hash, 15 hash */
static bool check_row(walk_t *w, PGresult *r, int i)
{
    const char *topic = PQgetvalue(r, i, 1);
    int part = atoi(PQgetvalue(r, i, 2));
    if (!w->c.active || chain_cmp(topic, part, w->c.topic, w->c.partition) != 0) {
        if (!close_chain(w) || !heads_without_rows(w, topic, part))
            return false;
        memset(&w->c, 0, sizeof w->c);
        baton_strlcpy(w->c.topic, topic, sizeof w->c.topic);
        w->c.partition = part;
        w->c.offset = -1;
        memcpy(w->c.hash, BATON_AUDIT_GENESIS_HASH, 65);
        w->c.active = true;
        w->out->chains++;
    }
    baton_audit_row_t row = {0};
    baton_strlcpy(row.recorded_month, PQgetvalue(r, i, 0), sizeof row.recorded_month);
    row.topic = topic;
    row.partition = part;
    row.offset = atoll(PQgetvalue(r, i, 3));
    row.seq = atoll(PQgetvalue(r, i, 4));
    row.event_id = val(r, i, 5);
    row.event_type = val(r, i, 6);
    row.tenant = val(r, i, 7);
    row.instance_id = val(r, i, 8);
    row.task_id = val(r, i, 9);
    row.actor = val(r, i, 10);
    row.occurred_at_ms = atoll(PQgetvalue(r, i, 11));
    row.recorded_at_ms = atoll(PQgetvalue(r, i, 12));
    row.payload = val(r, i, 13);
    baton_strlcpy(row.prev_hash, PQgetvalue(r, i, 14), sizeof row.prev_hash);
    const char *stored = PQgetvalue(r, i, 15);
    w->out->rows++;

    if (row.seq > w->c.seq + 1)
        return fail(w, topic, part, w->c.seq + 1, "missing (row removed)");
    if (row.seq <= w->c.seq)
        return fail(w, topic, part, row.seq, "seq repeated (row inserted)");
    if (row.offset <= w->c.offset) {
        char what[128];
        snprintf(what, sizeof what, "out of order (offset %lld after offset %lld)",
                 (long long)row.offset, (long long)w->c.offset);
        return fail(w, topic, part, row.seq, what);
    }
    if (strcmp(row.prev_hash, w->c.hash) != 0)
        return fail(w, topic, part, row.seq,
                    "prev_hash does not link to the row before (row removed or reordered)");
    baton_audit_row_hash(&row);
    if (strcmp(row.hash, stored) != 0)
        return fail(w, topic, part, row.seq, "hash mismatch (row changed)");
    w->c.seq = row.seq;
    w->c.offset = row.offset;
    memcpy(w->c.hash, stored, 65);
    return true;
}

static int walk(baton_pg_t *pg, walk_t *w)
{
    int rc =
        baton_pg_exec(pg, NULL,
                      "DECLARE audit_verify NO SCROLL CURSOR FOR"
                      " SELECT recorded_month::text, topic, kpartition, koffset, seq, event_id,"
                      " event_type, tenant, instance_id, task_id, actor, occurred_at_ms,"
                      " recorded_at_ms, payload::text, prev_hash, hash FROM audit_log"
                      " ORDER BY topic COLLATE \"C\", kpartition, seq",
                      0, NULL);
    bool go = true;
    while (rc == 0 && go) {
        PGresult *r = NULL;
        rc = baton_pg_exec(pg, &r, "FETCH 5000 FROM audit_verify", 0, NULL);
        if (rc != 0)
            break;
        int n = PQntuples(r);
        for (int i = 0; go && i < n; i++)
            go = check_row(w, r, i);
        PQclear(r);
        if (n < FETCH)
            break;
    }
    if (rc == 0 && go && close_chain(w))
        heads_without_rows(w, NULL, 0);
    return rc;
}

int baton_audit_verify(baton_pg_t *pg, baton_audit_verify_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->ok = true;
    walk_t w = {.out = out};
    int rc = baton_pg_begin(pg);
    if (rc == 0)
        rc = baton_pg_exec(pg, NULL, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                           0, NULL);
    if (rc == 0)
        rc = baton_pg_exec(pg, &w.heads,
                           "SELECT topic, kpartition, seq, hash FROM audit_chain_heads"
                           " ORDER BY topic COLLATE \"C\", kpartition",
                           0, NULL);
    if (rc == 0)
        rc = walk(pg, &w);
    if (rc != 0)
        baton_seterr(err, errlen, "%s", baton_pg_errstr(pg));
    PQclear(w.heads);
    baton_pg_rollback(pg);
    return rc;
}
