/* nt_store.c — the notifier's state in Redis. Every key carries the hash tag {q}, so in Redis
 * Cluster they share one slot and the scripts and MULTI/EXEC blocks below are legal
 * (documented in README.md and docs/dev/REDIS_KEYS.md):
 *
 *   <prefix>:{q}:job:<id>                 HASH   raw (the request's Kafka value), attempts,
 *                                                accepted (ms), held (1 after a quiet-hours
 *                                                SUPPRESSED receipt)
 *   <prefix>:{q}:due                      ZSET   id → when to try next (ms); while a delivery
 *                                                is in flight: its lease end
 *   <prefix>:{q}:done:<id>                STRING the final outcome ("delivered",
 *                                                "dead_lettered"), TTL dedup_ttl_ms
 *   <prefix>:{q}:win:<tenant>:<person>    STRING end of the person's open bundle window (ms),
 *                                                TTL = the window
 *   <prefix>:{q}:outbox                   HASH   envelope id → topic NUL packed envelope
 *                                                (receipts and dead letters not yet acked by
 *                                                Kafka) */
#include "notifier.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS due, then per request job, done, win; ARGV now, window ms, lease end (0 = none), then
 * per request id, raw, urgent. One call per consumed batch (a script call's fixed cost in
 * Redis, mostly replicating its effects as a transaction, is paid once per batch, not once
 * per request). Requests are taken in order, so an id twice in one batch is a duplicate the
 * second time. Returns per request {state, due, leased}: state 0 = already finished (done
 * key), 1 = already pending, 2 = accepted. A job due at once is leased right here when a
 * lease end is given (the consumer hands it to the delivery loop without a claim round
 * trip). */
static const char accept_src[] =
    "local now = tonumber(ARGV[1])\n"
    "local w = tonumber(ARGV[2])\n"
    "local lease = tonumber(ARGV[3])\n"
    "local out = {}\n"
    "for i = 0, (#KEYS - 1) / 3 - 1 do\n"
    "  local job, done, win = KEYS[2 + 3 * i], KEYS[3 + 3 * i], KEYS[4 + 3 * i]\n"
    "  local id, raw, urgent = ARGV[4 + 3 * i], ARGV[5 + 3 * i], ARGV[6 + 3 * i]\n"
    "  if redis.call('EXISTS', job, done) > 0 then\n"
    "    if redis.call('EXISTS', done) == 1 then out[#out + 1] = {0, 0}\n"
    "    else out[#out + 1] = {1, 0} end\n"
    "  else\n"
    "    local due = now\n"
    "    if w > 0 and urgent == '0' then\n"
    "      local e = redis.call('GET', win)\n"
    "      if e then due = tonumber(e) else\n"
    "        due = now + w\n"
    "        redis.call('SET', win, tostring(due), 'PX', w)\n"
    "      end\n"
    "    end\n"
    "    redis.call('HSET', job, 'raw', raw, 'attempts', '0', 'accepted', ARGV[1], 'held', '0')\n"
    "    if due <= now and lease > 0 then\n"
    "      redis.call('ZADD', KEYS[1], ARGV[3], id)\n"
    "      out[#out + 1] = {2, due, 1}\n"
    "    else\n"
    "      redis.call('ZADD', KEYS[1], due, id)\n"
    "      out[#out + 1] = {2, due, 0}\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS due; ARGV now, lease end, max, job key prefix. Leases up to max due jobs and returns
 * {next due | '', id, raw, attempts, accepted, held, ...}. Schedule entries without a job
 * (orphans) are dropped. */
static const char claim_src[] =
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, "
    "tonumber(ARGV[3]))\n"
    "local out = {''}\n"
    "for _, id in ipairs(ids) do\n"
    "  local j = redis.call('HMGET', ARGV[4] .. id, 'raw', 'attempts', 'accepted', 'held')\n"
    "  if j[1] then\n"
    "    redis.call('ZADD', KEYS[1], ARGV[2], id)\n"
    "    out[#out + 1] = id\n"
    "    out[#out + 1] = j[1]\n"
    "    out[#out + 1] = j[2] or '0'\n"
    "    out[#out + 1] = j[3] or '0'\n"
    "    out[#out + 1] = j[4] or '0'\n"
    "  else\n"
    "    redis.call('ZREM', KEYS[1], id)\n"
    "  end\n"
    "end\n"
    "local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
    "if nxt[2] then out[1] = nxt[2] end\n"
    "return out\n";

static baton_redis_script_t accept_script, claim_script;

int nt_store_init(nt_svc_t *s, baton_redis_t *r)
{
    if (!s->kp)
        s->kp = baton_xasprintf("%s:{q}", s->cfg->key_prefix);
    baton_redis_script_init(&accept_script, accept_src);
    baton_redis_script_init(&claim_script, claim_src);
    int rc = baton_redis_script_load(r, &accept_script);
    if (rc == 0)
        rc = baton_redis_script_load(r, &claim_script);
    return rc;
}

/* A growing argv for one Redis command (borrowed strings, or owned when added with own). */
typedef struct {
    const char **v;
    size_t *len;
    char **owned;
    int n, cap, nowned;
} argv_t;

static void argv_add(argv_t *a, const char *p, size_t len, bool own)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->v = baton_xrealloc(a->v, (size_t)a->cap * sizeof *a->v);
        a->len = baton_xrealloc(a->len, (size_t)a->cap * sizeof *a->len);
        a->owned = baton_xrealloc(a->owned, (size_t)a->cap * sizeof *a->owned);
    }
    a->v[a->n] = p;
    a->len[a->n++] = len;
    if (own)
        a->owned[a->nowned++] = (char *)p;
}

static void argv_str(argv_t *a, const char *p)
{
    argv_add(a, p, strlen(p), false);
}

/* Add a formatted argument (owned by a). */
__attribute__((format(printf, 2, 3))) static void argv_fmt(argv_t *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    char buf[256] = "";
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *p = baton_xmalloc(n > 0 ? (size_t)n + 1 : 1);
    if (n < (int)sizeof buf)
        memcpy(p, buf, n > 0 ? (size_t)n + 1 : 1);
    else
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    argv_add(a, p, n > 0 ? (size_t)n : 0, true);
}

/* Queue the command and empty a for the next one. */
static int argv_append(baton_redis_t *r, argv_t *a)
{
    int rc = baton_redis_append_argv(r, a->n, a->v, a->len);
    for (int i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    a->n = a->nowned = 0;
    return rc;
}

static void argv_free(argv_t *a)
{
    for (int i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    free(a->v);
    free(a->len);
    free(a->owned);
}

int nt_store_append_accept(nt_svc_t *s, baton_redis_t *r, const nt_accept_t *reqs, size_t n,
                           int64_t now_ms, int64_t lease_until)
{
    argv_t a = {0}, tail = {0};
    argv_str(&a, "EVALSHA");
    argv_str(&a, accept_script.sha);
    argv_fmt(&a, "%zu", 1 + 3 * n);
    argv_fmt(&a, "%s:due", s->kp);
    argv_fmt(&tail, "%lld", (long long)now_ms);
    argv_fmt(&tail, "%lld", s->cfg->bundle_window_ms);
    argv_fmt(&tail, "%lld", (long long)lease_until);
    for (size_t i = 0; i < n; i++) {
        const nt_accept_t *q = &reqs[i];
        argv_fmt(&a, "%s:job:%s", s->kp, q->id);
        argv_fmt(&a, "%s:done:%s", s->kp, q->id);
        argv_fmt(&a, "%s:win:%s:%s", s->kp, q->tenant, q->person);
        argv_str(&tail, q->id);
        argv_add(&tail, (const char *)q->raw, q->raw_len, false); /* raw is binary */
        argv_str(&tail, q->urgent ? "1" : "0");
    }
    for (int i = 0; i < tail.n; i++)
        argv_add(&a, tail.v[i], tail.len[i], false);
    int rc = argv_append(r, &a); /* frees the keys; tail's strings still live */
    argv_free(&a);
    argv_free(&tail);
    return rc;
}

int nt_store_append_outbox(nt_svc_t *s, baton_redis_t *r, const nt_out_t *o)
{
    char *key = baton_xasprintf("%s:outbox", s->kp);
    size_t tl = strlen(o->topic);
    char *val = baton_xmalloc(tl + 1 + o->len);
    memcpy(val, o->topic, tl + 1);
    memcpy(val + tl + 1, o->data, o->len);
    const char *argv[] = {"HSET", key, o->field, val};
    size_t lens[] = {4, strlen(key), strlen(o->field), tl + 1 + o->len};
    int rc = baton_redis_append_argv(r, 4, argv, lens);
    free(val);
    free(key);
    return rc;
}

static int64_t num(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_STRING)
        return 0;
    return strtoll(r->str, NULL, 10);
}

/* One claimed job from the reply at e[0..4]: NULL when the request does not decode (it is
 * dead-lettered by the caller through a job with env NULL). */
static nt_job_t *claimed(redisReply **e)
{
    nt_job_t *j = baton_xcalloc(1, sizeof *j);
    j->id = baton_xstrndup(e[0]->str, e[0]->len);
    j->raw_len = e[1]->len;
    j->raw = baton_xmalloc(j->raw_len ? j->raw_len : 1);
    memcpy(j->raw, e[1]->str, j->raw_len);
    j->attempts = (int)num(e[2]);
    j->accepted_ms = num(e[3]);
    j->held = num(e[4]) != 0;
    char err[128];
    j->env = baton_kafka_envelope_unpack(j->raw, j->raw_len, err, sizeof err);
    if (j->env && j->env->body_case != BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST) {
        baton_kafka_envelope_free(j->env);
        j->env = NULL;
    }
    return j;
}

int nt_store_claim(nt_svc_t *s, int64_t now_ms, int max, nt_job_t **out, int64_t *next_due)
{
    char due[512], nowb[24], lease[24], maxb[16], jp[512];
    snprintf(due, sizeof due, "%s:due", s->kp);
    snprintf(jp, sizeof jp, "%s:job:", s->kp);
    snprintf(nowb, sizeof nowb, "%lld", (long long)now_ms);
    snprintf(lease, sizeof lease, "%lld", (long long)(now_ms + s->cfg->lease_ms));
    snprintf(maxb, sizeof maxb, "%d", max);
    const char *argv[] = {due, nowb, lease, maxb, jp};
    redisReply *rep = NULL;
    int rc = baton_redis_evalsha(s->redis_d, &claim_script, 1, 5, argv, NULL, &rep);
    *out = NULL;
    *next_due = INT64_MAX;
    if (rc != 0 || !rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1) {
        if (rep)
            freeReplyObject(rep);
        return rc ? rc : BATON_EIO;
    }
    if (rep->element[0]->type == REDIS_REPLY_STRING && rep->element[0]->len > 0)
        *next_due = (int64_t)strtod(rep->element[0]->str, NULL);
    nt_job_t **tail = out;
    int n = 0;
    for (size_t i = 1; i + 4 < rep->elements; i += 5) {
        nt_job_t *j = claimed(&rep->element[i]);
        *tail = j;
        tail = &j->next;
        n++;
    }
    freeReplyObject(rep);
    return n;
}

/* One MULTI/EXEC for up to NT_WRITE_CHUNK outcomes: finished jobs get their done key (one
 * SET each, it carries a TTL) and leave the job hash and the schedule in one DEL and one
 * ZREM; rescheduled ones get their attempts / held written (one HSET each) and their new due
 * time in one ZADD XX (a job finished meanwhile by another instance after a lease ran out
 * stays gone); every outbox entry goes into one HSET. Per job this is what the transaction
 * per job used to write, with the same atomicity (stronger: the chunk is one transaction),
 * at a fraction of the commands and of the transactions. Returns the first write not queued
 * (NULL when all were). */
static const nt_write_t *append_chunk(nt_svc_t *s, const nt_write_t *w, int *rc)
{
    baton_redis_t *r = s->redis_d;
    argv_t a = {0};
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", s->cfg->dedup_ttl_ms);
    const nt_write_t *end = w;
    int nfin = 0, nretry = 0, nout = 0;
    for (int k = 0; end && k < NT_WRITE_CHUNK; end = end->next, k++) {
        nfin += end->finish;
        nretry += !end->finish;
        for (const nt_out_t *o = end->outs; o; o = o->next)
            nout++;
    }
    *rc = baton_redis_append(r, "MULTI");
    for (const nt_write_t *x = w; x != end && *rc == 0; x = x->next) {
        argv_str(&a, x->finish ? "SET" : "HSET");
        if (x->finish) {
            argv_fmt(&a, "%s:done:%s", s->kp, x->job->id);
            argv_str(&a, x->done);
            argv_str(&a, "PX");
            argv_str(&a, ttl);
        } else {
            argv_fmt(&a, "%s:job:%s", s->kp, x->job->id);
            argv_str(&a, "attempts");
            argv_fmt(&a, "%d", x->attempts);
            argv_str(&a, "held");
            argv_str(&a, x->held ? "1" : "0");
        }
        *rc = argv_append(r, &a);
    }
    if (nfin && *rc == 0) {
        argv_str(&a, "DEL");
        for (const nt_write_t *x = w; x != end; x = x->next)
            if (x->finish)
                argv_fmt(&a, "%s:job:%s", s->kp, x->job->id);
        *rc = argv_append(r, &a);
    }
    if (nfin && *rc == 0) {
        argv_str(&a, "ZREM");
        argv_fmt(&a, "%s:due", s->kp);
        for (const nt_write_t *x = w; x != end; x = x->next)
            if (x->finish)
                argv_str(&a, x->job->id);
        *rc = argv_append(r, &a);
    }
    if (nretry && *rc == 0) {
        argv_str(&a, "ZADD");
        argv_fmt(&a, "%s:due", s->kp);
        argv_str(&a, "XX");
        for (const nt_write_t *x = w; x != end; x = x->next)
            if (!x->finish) {
                argv_fmt(&a, "%lld", (long long)x->due_ms);
                argv_str(&a, x->job->id);
            }
        *rc = argv_append(r, &a);
    }
    if (nout && *rc == 0) {
        argv_str(&a, "HSET");
        argv_fmt(&a, "%s:outbox", s->kp);
        for (const nt_write_t *x = w; x != end; x = x->next)
            for (const nt_out_t *o = x->outs; o; o = o->next) {
                size_t tl = strlen(o->topic);
                char *val = baton_xmalloc(tl + 1 + o->len);
                memcpy(val, o->topic, tl + 1);
                memcpy(val + tl + 1, o->data, o->len);
                argv_str(&a, o->field);
                argv_add(&a, val, tl + 1 + o->len, true);
            }
        *rc = argv_append(r, &a);
    }
    if (*rc == 0)
        *rc = baton_redis_append(r, "EXEC");
    argv_free(&a);
    return end;
}

int nt_store_append_outcomes(nt_svc_t *s, const nt_write_t *list)
{
    int rc = 0;
    for (const nt_write_t *w = list; w && rc == 0;)
        w = append_chunk(s, w, &rc);
    return rc;
}

int nt_store_exec(nt_svc_t *s, baton_redis_t *r)
{
    if (baton_redis_pending(r) == 0)
        return 0;
    redisReply **rep = NULL;
    size_t n = 0;
    int rc = baton_redis_pipeline_read(r, &rep, &n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!rep[i] || rep[i]->type == REDIS_REPLY_ERROR ||
            (rep[i]->type == REDIS_REPLY_NIL)) { /* EXEC aborted */
            rc = BATON_EIO;
            break;
        }
    }
    baton_redis_replies_free(rep, n);
    return rc;
}

int nt_store_load_outbox(nt_svc_t *s)
{
    char *key = baton_xasprintf("%s:outbox", s->kp);
    char cursor[32] = "0";
    int rc = 0;
    size_t total = 0;
    do {
        redisReply *rep = NULL;
        const char *argv[] = {"HSCAN", key, cursor, "COUNT", "500"};
        rc = baton_redis_command_argv(s->redis_o, &rep, 5, argv, NULL);
        if (rc != 0 || !rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            if (rep)
                freeReplyObject(rep);
            rc = rc ? rc : BATON_EIO;
            break;
        }
        baton_strlcpy(cursor, rep->element[0]->str, sizeof cursor);
        redisReply *kv = rep->element[1];
        nt_out_t *head = NULL;
        for (size_t i = 0; i + 1 < kv->elements; i += 2) {
            redisReply *v = kv->element[i + 1];
            size_t tl = strnlen(v->str, v->len);
            if (tl >= v->len)
                continue; /* not ours */
            nt_out_t *o = baton_xcalloc(1, sizeof *o);
            o->field = baton_xstrndup(kv->element[i]->str, kv->element[i]->len);
            o->topic = baton_xstrndup(v->str, tl);
            o->len = v->len - tl - 1;
            o->data = baton_xmalloc(o->len ? o->len : 1);
            memcpy(o->data, v->str + tl + 1, o->len);
            o->next = head;
            head = o;
            total++;
        }
        freeReplyObject(rep);
        if (head)
            nt_outbox_push(s, head);
    } while (strcmp(cursor, "0") != 0);
    free(key);
    if (total) {
        baton_buf_t f = BATON_BUF_INIT;
        baton_log_kv_int(&f, "entries", (long long)total);
        BATON_LOG(BATON_LOG_INFO, f.data, "outbox entries from before a restart re-sent");
        baton_buf_free(&f);
    }
    return rc;
}

long long nt_store_depth(nt_svc_t *s, baton_redis_t *r)
{
    redisReply *rep = NULL;
    char *due = baton_xasprintf("%s:due", s->kp);
    const char *argv[] = {"ZCARD", due};
    long long n = -1;
    if (baton_redis_command_argv(r, &rep, 2, argv, NULL) == 0 && rep &&
        rep->type == REDIS_REPLY_INTEGER)
        n = rep->integer;
    if (rep)
        freeReplyObject(rep);
    free(due);
    return n;
}
