/* audit_writer.c — one consumed batch into the log, in one transaction:
 *
 *   1. lock and read the chain heads of the batch's topics (FOR UPDATE: a second writer of the
 *      same partition during a rebalance waits, then sees the offsets already applied);
 *   2. drop replays (offset <= the head's last_offset) and repeated ids within the batch;
 *   3. insert the remaining dedup keys (uuid of SHA-256(topic "\n" event id)) into
 *      audit_event_ids; those already there are duplicates (audit_dedup.c);
 *   4. chain the new rows (seq, prev_hash, hash), make sure their month partitions exist,
 *      COPY them into audit_log;
 *   5. update every touched head (seq, hash, last_offset), fold the new events into the
 *      projections, commit. */
#include "audit_int.h"
#include "baton/event.h"
#include "baton/kafka.h"

#include <jansson.h>
#include <pthread.h>
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

struct baton_audit_writer {
    baton_pg_t *pg;
    unsigned long prepared_conn; /* reconnect count when the session was prepared; +1 */
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

/* Once per session (set again after a reconnect): each key of a batch must be one index probe
 * of its projection, whatever the planner thinks of the arrays' sizes or of a still small
 * table when it caches a statement's generic plan (a cached seq scan or hash of a whole table
 * would stay as the table grows). The writer's session runs nothing else. */
static int prepare(baton_audit_writer_t *w)
{
    int rc = baton_pg_ensure(w->pg);
    unsigned long conn = baton_pg_reconnects(w->pg) + 1;
    if (rc != 0 || w->prepared_conn == conn)
        return rc;
    rc = baton_pg_exec_script(w->pg, "SET enable_hashjoin = off;"
                                     "SET enable_mergejoin = off;"
                                     "SET enable_seqscan = off");
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

/* PostgreSQL array literals of the batch's distinct topics and partition numbers. */
static void batch_literals(const baton_audit_msg_t *msgs, size_t n, char **topics, char **parts)
{
    baton_buf_t t = BATON_BUF_INIT, p = BATON_BUF_INIT;
    baton_buf_putc(&t, '{');
    baton_buf_putc(&p, '{');
    for (size_t i = 0; i < n; i++) {
        bool seen_topic = false, seen_part = false;
        for (size_t j = 0; j < i && !(seen_topic && seen_part); j++) {
            seen_topic = seen_topic || strcmp(msgs[j].topic, msgs[i].topic) == 0;
            seen_part = seen_part || msgs[j].partition == msgs[i].partition;
        }
        if (!seen_part)
            baton_buf_appendf(&p, "%s%d", p.len > 1 ? "," : "", (int)msgs[i].partition);
        if (seen_topic)
            continue;
        if (t.len > 1)
            baton_buf_putc(&t, ',');
        baton_buf_putc(&t, '"');
        for (const char *c = msgs[i].topic; *c; c++) {
            if (*c == '"' || *c == '\\')
                baton_buf_putc(&t, '\\');
            baton_buf_putc(&t, *c);
        }
        baton_buf_putc(&t, '"');
    }
    baton_buf_putc(&t, '}');
    baton_buf_putc(&p, '}');
    *topics = baton_buf_steal(&t);
    *parts = baton_buf_steal(&p);
}

/* Lock and read the heads of the batch's chains (only those partition numbers, so writers
 * of other partitions run in parallel). */
static int load_heads(baton_audit_writer_t *w, const baton_audit_msg_t *msgs, size_t n)
{
    heads_clear(w);
    char *topics, *parts;
    batch_literals(msgs, n, &topics, &parts);
    const char *params[] = {topics, parts};
    PGresult *r = NULL;
    int rc = baton_pg_exec_prepared(
        w->pg, &r,
        "SELECT topic, kpartition, seq, last_offset, hash FROM audit_chain_heads"
        " WHERE topic = ANY($1::text[]) AND kpartition = ANY($2::integer[])"
        " ORDER BY topic, kpartition FOR UPDATE",
        2, params);
    free(topics);
    free(parts);
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

/* Unpack one message and render its canonical JSON (the CPU-heavy part of a batch). */
static void decode_one(audit_entry_t *e)
{
    if (e->event_id)
        return; /* decoded before (a retried or pre-decoded batch) */
    char why[128] = "";
    e->env = baton_kafka_envelope_unpack(e->m->value, e->m->value_len, why, sizeof why);
    if (e->env && *e->env->id) {
        e->event_id = baton_xstrdup(e->env->id);
        e->payload = baton_event_to_json_text(&e->env->base);
    } else {
        e->event_id = baton_xasprintf("undecodable:%s:%d:%lld", e->m->topic, (int)e->m->partition,
                                      (long long)e->m->offset);
        e->payload = hex_json(e->m->value, e->m->value_len, e->env ? "no event id" : why);
        baton_kafka_envelope_free(e->env);
        e->env = NULL;
    }
    char buf[512], hex[65];
    int len = snprintf(buf, sizeof buf, "%s\n%s", e->m->topic, e->event_id);
    if (len >= (int)sizeof buf) { /* a very long id: hash the whole of it */
        char *big = baton_xasprintf("%s\n%s", e->m->topic, e->event_id);
        baton_sha256_hex(big, strlen(big), hex);
        free(big);
    } else {
        baton_sha256_hex(buf, (size_t)len, hex);
    }
    snprintf(e->id_key, sizeof e->id_key, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
}

typedef struct {
    audit_entry_t *es;
    size_t from, to;
    bool all;
} decode_job_t;

static void *decode_range(void *arg)
{
    decode_job_t *j = arg;
    for (size_t i = j->from; i < j->to; i++)
        if (j->all || j->es[i].keep)
            decode_one(&j->es[i]);
    return NULL;
}

/* Decode the kept entries (or all), on two threads when the batch is big enough to pay. */
static void decode_all(audit_entry_t *es, size_t n, bool all, int threads)
{
    decode_job_t jobs[2] = {{es, 0, n / 2, all}, {es, n / 2, n, all}};

    pthread_t helper;
    bool threaded =
        threads > 1 && n >= 256 && pthread_create(&helper, NULL, decode_range, &jobs[1]) == 0;
    if (!threaded)
        jobs[0].to = n;
    decode_range(&jobs[0]);
    if (threaded)
        pthread_join(helper, NULL);
}

/* Keep what is not a replay (offset at or below the chain head's), decode it, and drop an id
 * repeated within the batch (the first one stays). */
static void decode_filter(baton_audit_writer_t *w, audit_entry_t *es, size_t n, audit_map_t *seen,
                          baton_audit_result_t *res)
{
    for (size_t i = 0; i < n; i++) {
        audit_entry_t *e = &es[i];
        head_t *h = head_find(w, e->m->topic, e->m->partition);
        if (e->m->offset <= h->last_offset) {
            res->replayed++;
            continue;
        }
        if (e->m->offset > h->last_offset + 1) /* never seen: gone from Kafka (retention)? */
            res->offset_gap += (size_t)(e->m->offset - h->last_offset - 1);
        h->last_offset = e->m->offset;
        h->touched = true;
        e->keep = true;
    }
    decode_all(es, n, false, 2);
    for (size_t i = 0; i < n; i++) {
        audit_entry_t *e = &es[i];
        if (!e->keep)
            continue;
        if (audit__map_get(seen, e->id_key) != (size_t)-1) {
            e->keep = false;
            res->duplicates++;
            continue;
        }
        audit__map_put(seen, e->id_key, i);
    }
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
    "recorded_month", "topic",   "kpartition",  "koffset", "seq",   "event_id",
    "event_type",     "tenant",  "instance_id", "task_id", "actor", "occurred_at_ms",
    "recorded_at_ms", "payload", "prev_hash",   "hash"};

static void row_of(const audit_entry_t *e, baton_audit_row_t *row)
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
static int write_rows(baton_audit_writer_t *w, audit_entry_t *es, size_t n, char ***pending,
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

/* Every touched head in one statement (arrays unnested), not one round trip each. */
static int save_heads(baton_audit_writer_t *w)
{
    baton_buf_t a[5] = {BATON_BUF_INIT, BATON_BUF_INIT, BATON_BUF_INIT, BATON_BUF_INIT,
                        BATON_BUF_INIT};
    for (int k = 0; k < 5; k++)
        baton_buf_putc(&a[k], '{');
    size_t touched = 0;
    for (size_t i = 0; i < w->nheads; i++) {
        const head_t *h = &w->heads[i];
        if (!h->touched)
            continue;
        char part[16], seq[24], off[24];
        snprintf(part, sizeof part, "%d", (int)h->partition);
        snprintf(seq, sizeof seq, "%lld", (long long)h->seq);
        snprintf(off, sizeof off, "%lld", (long long)h->last_offset);
        const char *vals[] = {h->topic, part, seq, off, h->hash};
        for (int k = 0; k < 5; k++) {
            if (touched)
                baton_buf_putc(&a[k], ',');
            baton_buf_putc(&a[k], '"');
            for (const char *c = vals[k]; *c; c++) {
                if (*c == '"' || *c == '\\')
                    baton_buf_putc(&a[k], '\\');
                baton_buf_putc(&a[k], *c);
            }
            baton_buf_putc(&a[k], '"');
        }
        touched++;
    }
    int rc = 0;
    if (touched) {
        for (int k = 0; k < 5; k++)
            baton_buf_putc(&a[k], '}');
        const char *params[] = {a[0].data, a[1].data, a[2].data, a[3].data, a[4].data};
        rc = baton_pg_exec_prepared(
            w->pg, NULL,
            "INSERT INTO audit_chain_heads (topic, kpartition, seq, last_offset, hash)"
            " SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[],"
            " $4::bigint[], $5::text[])"
            " ON CONFLICT (topic, kpartition) DO UPDATE SET seq = EXCLUDED.seq,"
            " last_offset = EXCLUDED.last_offset, hash = EXCLUDED.hash,"
            " updated_at = now()",
            5, params);
    }
    for (int k = 0; k < 5; k++)
        baton_buf_free(&a[k]);
    return rc;
}

static void lap(baton_audit_result_t *res, int phase, int64_t *t)
{
    int64_t now = baton_mono_ns();
    res->phase_s[phase] = (double)(now - *t) / 1e9;
    *t = now;
}

struct baton_audit_batch {
    const baton_audit_msg_t *msgs;
    size_t n;
    audit_entry_t *es;
};

static baton_audit_batch_t *batch_new(const baton_audit_msg_t *msgs, size_t n)
{
    baton_audit_batch_t *b = baton_xcalloc(1, sizeof *b);
    b->msgs = msgs;
    b->n = n;
    b->es = baton_xcalloc(n ? n : 1, sizeof *b->es);
    for (size_t i = 0; i < n; i++)
        b->es[i].m = &msgs[i];
    return b;
}

baton_audit_batch_t *baton_audit_batch_decode(const baton_audit_msg_t *msgs, size_t n, int threads)
{
    baton_audit_batch_t *b = batch_new(msgs, n);
    decode_all(b->es, n, true, threads);
    return b;
}

void baton_audit_batch_free(baton_audit_batch_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        baton_kafka_envelope_free(b->es[i].env);
        free(b->es[i].event_id);
        free(b->es[i].payload);
    }
    free(b->es);
    free(b);
}

/* Remember the partitions created in a committed transaction (dropped after a rollback). */
static void keep_months(baton_audit_writer_t *w, char **pending, size_t npending, bool committed)
{
    for (size_t i = 0; i < npending; i++) {
        if (committed) {
            w->months = baton_xrealloc(w->months, (w->nmonths + 1) * sizeof *w->months);
            w->months[w->nmonths++] = pending[i];
        } else {
            free(pending[i]);
        }
    }
    free(pending);
}

/* The transaction, phase by phase (see the top of this file). */
static int write_tx(baton_audit_writer_t *w, baton_audit_batch_t *b, bool upsert, audit_map_t *seen,
                    char ***pending, size_t *npending, baton_audit_result_t *res)
{
    int rc = prepare(w);
    if (rc == 0)
        rc = baton_pg_begin(w->pg);
    if (rc == 0)
        rc = load_heads(w, b->msgs, b->n);
    int64_t t = baton_mono_ns();
    if (rc == 0) {
        decode_filter(w, b->es, b->n, seen, res);
        lap(res, BATON_AUDIT_PHASE_DECODE, &t);
        rc = audit__dedup(w->pg, b->es, b->n, seen, upsert, &res->duplicates);
        lap(res, BATON_AUDIT_PHASE_DEDUP, &t);
    }
    if (rc == 0) {
        rc = write_rows(w, b->es, b->n, pending, npending, res);
        if (rc == 0)
            rc = save_heads(w);
        lap(res, BATON_AUDIT_PHASE_ROWS, &t);
    }
    if (rc == 0) {
        rc = audit__proj_apply(w->proj, w->pg);
        lap(res, BATON_AUDIT_PHASE_PROJECT, &t);
    }
    if (rc == 0) {
        rc = baton_pg_commit(w->pg);
        lap(res, BATON_AUDIT_PHASE_COMMIT, &t);
    }
    return rc;
}

int baton_audit_write_batch(baton_audit_writer_t *w, baton_audit_batch_t *b,
                            baton_audit_result_t *res_out, char *err, size_t errlen)
{
    baton_audit_result_t res = {0};
    if (res_out)
        *res_out = res;
    if (b->n == 0)
        return 0;
    int rc = 0;
    /* a unique violation (a dedup key logged before or being added by another writer, or a
     * projection row another writer added meanwhile): once more, with the dedup upsert that
     * skips logged keys (audit_dedup.c) and fresh snapshots that see the other's rows */
    for (int attempt = 0; attempt < 2; attempt++) {
        for (size_t i = 0; i < b->n; i++)
            b->es[i].keep = false; /* a retry starts over */
        res = (baton_audit_result_t){0};
        audit_map_t seen = {0};
        char **pending = NULL;
        size_t npending = 0;
        rc = write_tx(w, b, attempt > 0, &seen, &pending, &npending, &res);
        bool race = rc != 0 && strcmp(baton_pg_sqlstate(w->pg), "23505") == 0;
        if (rc != 0) {
            baton_seterr(err, errlen, "%s", baton_pg_errstr(w->pg));
            baton_pg_rollback(w->pg);
            audit__proj_reset(w->proj);
        }
        keep_months(w, pending, npending, rc == 0);
        audit__map_free(&seen);
        if (!race)
            break;
    }
    if (res_out && rc == 0)
        *res_out = res;
    return rc;
}

int baton_audit_write(baton_audit_writer_t *w, const baton_audit_msg_t *msgs, size_t n,
                      baton_audit_result_t *res, char *err, size_t errlen)
{
    baton_audit_batch_t *b = batch_new(msgs, n);
    int rc = baton_audit_write_batch(w, b, res, err, errlen);
    baton_audit_batch_free(b);
    return rc;
}
