/* audit_writer.c — one consumed batch into the log, in one transaction:
 *
 *   1. lock and read the chain heads of the batch's topics (FOR UPDATE: a second writer of the
 *      same partition during a rebalance waits, then sees the offsets already applied);
 *   2. drop replays (offset <= the head's last_offset) and repeated ids within the batch;
 *   3. COPY the remaining (topic, event id)s into a temp table, find the ones already logged,
 *      record the new ones in audit_event_ids;
 *   4. chain the new rows (seq, prev_hash, hash), make sure their month partitions exist,
 *      COPY them into audit_log;
 *   5. update every touched head (seq, hash, last_offset), fold the new events into the
 *      projections, commit. */
#include "audit_int.h"
#include "baton/event.h"
#include "baton/kafka.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *topic;
    int32_t partition;
    int64_t seq, last_offset;
    char hash[65];
    bool touched;
} head_t;

typedef struct {
    const baton_audit_msg_t *m;
    Baton__V1__Envelope *env; /* NULL: undecodable */
    char *event_id;           /* owned */
    char *payload;            /* owned canonical JSON */
    bool keep;
} entry_t;

struct baton_audit_writer {
    baton_pg_t *pg;
    unsigned long prepared_conn; /* reconnect count when the temp tables were made; +1 */
    char **months;               /* partitions known to exist */
    size_t nmonths;
    head_t *heads;
    size_t nheads;
    audit_proj_t *proj;
};

baton_audit_writer_t *baton_audit_writer_new(baton_pg_t *pg)
{
    baton_audit_writer_t *w = baton_xcalloc(1, sizeof *w);
    w->pg = pg;
    w->proj = audit__proj_new();
    return w;
}

static void heads_clear(baton_audit_writer_t *w)
{
    for (size_t i = 0; i < w->nheads; i++)
        free(w->heads[i].topic);
    free(w->heads);
    w->heads = NULL;
    w->nheads = 0;
}

void baton_audit_writer_free(baton_audit_writer_t *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nmonths; i++)
        free(w->months[i]);
    free(w->months);
    heads_clear(w);
    audit__proj_free(w->proj);
    free(w);
}

static const char stage_ids_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS audit_stage_ids (idx integer, topic text, event_id text,"
    " kpartition integer, koffset bigint) ON COMMIT DELETE ROWS";

/* Temp tables live as long as the session: make them again after a reconnect. */
static int prepare(baton_audit_writer_t *w)
{
    int rc = baton_pg_ensure(w->pg);
    if (rc != 0)
        return rc;
    unsigned long conn = baton_pg_reconnects(w->pg) + 1;
    if (w->prepared_conn == conn)
        return 0;
    rc = baton_pg_exec(w->pg, NULL, stage_ids_sql, 0, NULL);
    if (rc == 0)
        rc = audit__proj_prepare(w->pg);
    if (rc == 0)
        w->prepared_conn = conn;
    return rc;
}

static head_t *head_find(baton_audit_writer_t *w, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < w->nheads; i++)
        if (w->heads[i].partition == partition && strcmp(w->heads[i].topic, topic) == 0)
            return &w->heads[i];
    w->heads = baton_xrealloc(w->heads, (w->nheads + 1) * sizeof *w->heads);
    head_t *h = &w->heads[w->nheads++];
    *h = (head_t){.topic = baton_xstrdup(topic), .partition = partition, .last_offset = -1};
    memcpy(h->hash, BATON_AUDIT_GENESIS_HASH, 65);
    return h;
}

/* A PostgreSQL text[] literal of the distinct topics in the batch. */
static char *topics_literal(const baton_audit_msg_t *msgs, size_t n)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_putc(&b, '{');
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(msgs[j].topic, msgs[i].topic) == 0;
        if (seen)
            continue;
        if (b.len > 1)
            baton_buf_putc(&b, ',');
        baton_buf_putc(&b, '"');
        for (const char *p = msgs[i].topic; *p; p++) {
            if (*p == '"' || *p == '\\')
                baton_buf_putc(&b, '\\');
            baton_buf_putc(&b, *p);
        }
        baton_buf_putc(&b, '"');
    }
    baton_buf_putc(&b, '}');
    return baton_buf_steal(&b);
}

static int load_heads(baton_audit_writer_t *w, const baton_audit_msg_t *msgs, size_t n)
{
    heads_clear(w);
    char *lit = topics_literal(msgs, n);
    const char *params[] = {lit};
    PGresult *r = NULL;
    int rc = baton_pg_exec(w->pg, &r,
                           "SELECT topic, kpartition, seq, last_offset, hash FROM audit_chain_heads"
                           " WHERE topic = ANY($1::text[]) ORDER BY topic, kpartition FOR UPDATE",
                           1, params);
    free(lit);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        head_t *h = head_find(w, PQgetvalue(r, i, 0), atoi(PQgetvalue(r, i, 1)));
        h->seq = atoll(PQgetvalue(r, i, 2));
        h->last_offset = atoll(PQgetvalue(r, i, 3));
        baton_strlcpy(h->hash, PQgetvalue(r, i, 4), sizeof h->hash);
    }
    PQclear(r);
    return rc;
}

static char *hex_json(const void *data, size_t len, const char *why)
{
    static const char hx[] = "0123456789abcdef";
    char *s = baton_xmalloc(len * 2 + 1);
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = hx[((const unsigned char *)data)[i] >> 4];
        s[2 * i + 1] = hx[((const unsigned char *)data)[i] & 15];
    }
    s[len * 2] = '\0';
    json_t *j = json_pack("{s:b,s:s,s:s}", "undecodable", 1, "error", why, "value_hex", s);
    free(s);
    char *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(j);
    return out;
}

/* Decode and keep what is not a replay; an id repeated within the batch keeps its first.
 * keys[i] receives the map key of entry i (owned by the caller). */
static void decode_filter(baton_audit_writer_t *w, entry_t *es, size_t n, audit_map_t *seen,
                          char **keys, baton_audit_result_t *res)
{
    for (size_t i = 0; i < n; i++) {
        entry_t *e = &es[i];
        head_t *h = head_find(w, e->m->topic, e->m->partition);
        if (e->m->offset <= h->last_offset) {
            res->replayed++;
            continue;
        }
        h->last_offset = e->m->offset;
        h->touched = true;
        char why[128] = "";
        e->env = baton_kafka_envelope_unpack(e->m->value, e->m->value_len, why, sizeof why);
        if (e->env && *e->env->id) {
            e->event_id = baton_xstrdup(e->env->id);
            e->payload = baton_event_to_json_text(&e->env->base);
        } else {
            e->event_id = baton_xasprintf("undecodable:%s:%d:%lld", e->m->topic,
                                          (int)e->m->partition, (long long)e->m->offset);
            e->payload = hex_json(e->m->value, e->m->value_len, e->env ? "no event id" : why);
            baton_kafka_envelope_free(e->env);
            e->env = NULL;
        }
        keys[i] = baton_xasprintf("%s\n%s", e->m->topic, e->event_id);
        if (audit__map_get(seen, keys[i]) != (size_t)-1) {
            res->duplicates++;
            continue;
        }
        audit__map_put(seen, keys[i], i);
        e->keep = true;
    }
}

static int copy_ids(baton_audit_writer_t *w, entry_t *es, size_t n)
{
    static const char *const cols[] = {"idx", "topic", "event_id", "kpartition", "koffset"};
    int rc = baton_pg_copy_begin(w->pg, "audit_stage_ids", cols, 5);
    audit_copy_row_t r = {.n = 0};
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!es[i].keep)
            continue;
        audit__row_int(&r, (long long)i);
        audit__row_str(&r, es[i].m->topic);
        audit__row_str(&r, es[i].event_id);
        audit__row_int(&r, es[i].m->partition);
        audit__row_int(&r, es[i].m->offset);
        rc = baton_pg_copy_row(w->pg, (const char *const *)r.v);
        audit__row_clear(&r);
    }
    if (rc == 0)
        return baton_pg_copy_end(w->pg, NULL);
    baton_pg_copy_abort(w->pg);
    return rc;
}

/* Record the new ids; those that were logged before come back as duplicates. One statement:
 * the insert skips conflicts, and the staged ids it did not return are the duplicates. */
static int dedup_ids(baton_audit_writer_t *w, entry_t *es, size_t n, baton_audit_result_t *res)
{
    int rc = copy_ids(w, es, n);
    PGresult *r = NULL;
    if (rc == 0)
        rc = baton_pg_exec(w->pg, &r,
                           "WITH ins AS (INSERT INTO audit_event_ids"
                           " (topic, event_id, kpartition, koffset)"
                           " SELECT topic, event_id, kpartition, koffset FROM audit_stage_ids"
                           " ON CONFLICT DO NOTHING RETURNING topic, event_id)"
                           " SELECT s.idx FROM audit_stage_ids s WHERE NOT EXISTS"
                           " (SELECT 1 FROM ins WHERE ins.topic = s.topic"
                           " AND ins.event_id = s.event_id)",
                           0, NULL);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        size_t idx = (size_t)atoll(PQgetvalue(r, i, 0));
        if (idx < n && es[idx].keep) {
            es[idx].keep = false;
            res->duplicates++;
        }
    }
    PQclear(r);
    return rc;
}

static bool month_known(baton_audit_writer_t *w, const char *m)
{
    for (size_t i = 0; i < w->nmonths; i++)
        if (strcmp(w->months[i], m) == 0)
            return true;
    return false;
}

static int ensure_month(baton_audit_writer_t *w, const char *m, char ***pending, size_t *npending)
{
    if (month_known(w, m))
        return 0;
    for (size_t i = 0; i < *npending; i++)
        if (strcmp((*pending)[i], m) == 0)
            return 0;
    const char *params[] = {m};
    int rc = baton_pg_exec(w->pg, NULL, "SELECT baton_audit_ensure_partition($1::date)", 1, params);
    if (rc == 0) {
        *pending = baton_xrealloc(*pending, (*npending + 1) * sizeof **pending);
        (*pending)[(*npending)++] = baton_xstrdup(m);
    }
    return rc;
}

static const char *const log_cols[] = {
    "recorded_month", "topic",      "kpartition",  "koffset",        "seq",
    "event_id",       "event_type", "tenant",      "instance_id",    "task_id",
    "actor",          "occurred_at_ms", "recorded_at_ms", "payload", "prev_hash",
    "hash"};

static void row_of(const entry_t *e, baton_audit_row_t *row)
{
    memset(row, 0, sizeof *row);
    row->topic = e->m->topic;
    row->partition = e->m->partition;
    row->offset = e->m->offset;
    row->event_id = e->event_id;
    row->payload = e->payload;
    int64_t rec = e->m->timestamp_ms > 0 ? e->m->timestamp_ms : 0;
    if (e->env) {
        const Baton__V1__Envelope *v = e->env;
        row->event_type = v->type;
        row->tenant = v->tenant;
        audit__refs(v, &row->instance_id, &row->task_id, &row->actor);
        row->occurred_at_ms = v->occurred_at_ms;
        rec = v->recorded_at_ms ? v->recorded_at_ms : v->occurred_at_ms ? v->occurred_at_ms : rec;
    } else {
        row->event_type = "undecodable";
        row->tenant = "";
        row->occurred_at_ms = rec;
    }
    row->recorded_at_ms = rec;
    baton_audit_month(rec, row->recorded_month);
}

static void copy_log_row(audit_copy_row_t *r, const baton_audit_row_t *row)
{
    audit__row_str(r, row->recorded_month);
    audit__row_str(r, row->topic);
    audit__row_int(r, row->partition);
    audit__row_int(r, row->offset);
    audit__row_int(r, row->seq);
    audit__row_str(r, row->event_id);
    audit__row_str(r, row->event_type);
    audit__row_str(r, row->tenant);
    audit__row_str(r, row->instance_id);
    audit__row_str(r, row->task_id);
    audit__row_str(r, row->actor);
    audit__row_int(r, row->occurred_at_ms);
    audit__row_int(r, row->recorded_at_ms);
    audit__row_str(r, row->payload);
    audit__row_str(r, row->prev_hash);
    audit__row_str(r, row->hash);
}

/* Chain and COPY the kept rows; fold their events into the projections. */
static int write_rows(baton_audit_writer_t *w, entry_t *es, size_t n, char ***pending,
                      size_t *npending, baton_audit_result_t *res)
{
    int rc = 0;
    baton_audit_row_t *rows = baton_xcalloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!es[i].keep)
            continue;
        row_of(&es[i], &rows[i]);
        rc = ensure_month(w, rows[i].recorded_month, pending, npending);
    }
    if (rc == 0)
        rc = baton_pg_copy_begin(w->pg, "audit_log", log_cols,
                                 (int)(sizeof log_cols / sizeof *log_cols));
    audit_copy_row_t r = {.n = 0};
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!es[i].keep)
            continue;
        head_t *h = head_find(w, es[i].m->topic, es[i].m->partition);
        rows[i].seq = ++h->seq;
        memcpy(rows[i].prev_hash, h->hash, 65);
        baton_audit_row_hash(&rows[i]);
        memcpy(h->hash, rows[i].hash, 65);
        copy_log_row(&r, &rows[i]);
        rc = baton_pg_copy_row(w->pg, (const char *const *)r.v);
        audit__row_clear(&r);
        res->inserted++;
        if (es[i].env)
            audit__proj_add(w->proj, es[i].env);
        else
            res->undecodable++;
    }
    if (rc == 0)
        rc = baton_pg_copy_end(w->pg, NULL);
    else
        baton_pg_copy_abort(w->pg);
    free(rows);
    return rc;
}

static int save_heads(baton_audit_writer_t *w)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < w->nheads; i++) {
        const head_t *h = &w->heads[i];
        if (!h->touched)
            continue;
        char part[16], seq[24], off[24];
        snprintf(part, sizeof part, "%d", (int)h->partition);
        snprintf(seq, sizeof seq, "%lld", (long long)h->seq);
        snprintf(off, sizeof off, "%lld", (long long)h->last_offset);
        const char *params[] = {h->topic, part, seq, off, h->hash};
        rc = baton_pg_exec(w->pg, NULL,
                           "INSERT INTO audit_chain_heads (topic, kpartition, seq, last_offset,"
                           " hash) VALUES ($1, $2::integer, $3::bigint, $4::bigint, $5)"
                           " ON CONFLICT (topic, kpartition) DO UPDATE SET seq = EXCLUDED.seq,"
                           " last_offset = EXCLUDED.last_offset, hash = EXCLUDED.hash,"
                           " updated_at = now()",
                           5, params);
    }
    return rc;
}

int baton_audit_write(baton_audit_writer_t *w, const baton_audit_msg_t *msgs, size_t n,
                      baton_audit_result_t *res_out, char *err, size_t errlen)
{
    baton_audit_result_t res = {0};
    if (res_out)
        *res_out = res;
    if (n == 0)
        return 0;
    int rc = prepare(w);
    if (rc == 0)
        rc = baton_pg_begin(w->pg);
    if (rc == 0)
        rc = load_heads(w, msgs, n);
    entry_t *es = baton_xcalloc(n, sizeof *es);
    audit_map_t seen = {0};
    char **keys = baton_xcalloc(n, sizeof *keys);
    char **pending = NULL;
    size_t npending = 0;
    for (size_t i = 0; i < n; i++)
        es[i].m = &msgs[i];
    int64_t T[8] = {0}; T[0] = baton_mono_ns();
    if (rc == 0) {
        decode_filter(w, es, n, &seen, keys, &res);
        T[1] = baton_mono_ns();
        rc = dedup_ids(w, es, n, &res);
    }
    T[2] = baton_mono_ns();
    if (rc == 0)
        rc = write_rows(w, es, n, &pending, &npending, &res);
    T[3] = baton_mono_ns();
    if (rc == 0)
        rc = save_heads(w);
    T[4] = baton_mono_ns();
    if (rc == 0)
        rc = audit__proj_apply(w->proj, w->pg);
    T[5] = baton_mono_ns();
    if (rc == 0)
        rc = baton_pg_commit(w->pg);
    T[6] = baton_mono_ns();
    if (getenv("AUDIT_TRACE"))
        fprintf(stderr, "n=%zu decode %.1f dedup %.1f rows %.1f heads %.1f proj %.1f commit %.1f ms\n", n,
                (T[1]-T[0])/1e6, (T[2]-T[1])/1e6, (T[3]-T[2])/1e6, (T[4]-T[3])/1e6, (T[5]-T[4])/1e6, (T[6]-T[5])/1e6);
    if (rc != 0) {
        baton_seterr(err, errlen, "%s", baton_pg_errstr(w->pg));
        baton_pg_rollback(w->pg);
        audit__proj_reset(w->proj);
    }
    for (size_t i = 0; i < npending; i++) {
        if (rc == 0) {
            w->months = baton_xrealloc(w->months, (w->nmonths + 1) * sizeof *w->months);
            w->months[w->nmonths++] = pending[i];
        } else {
            free(pending[i]);
        }
    }
    free(pending);
    for (size_t i = 0; i < n; i++) {
        baton_kafka_envelope_free(es[i].env);
        free(es[i].event_id);
        free(es[i].payload);
        free(keys[i]);
    }
    audit__map_free(&seen);
    free(keys);
    free(es);
    if (res_out && rc == 0)
        *res_out = res;
    return rc;
}
