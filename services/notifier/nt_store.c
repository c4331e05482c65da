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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS job, done, due, win; ARGV id, raw, now, window ms, urgent, lease end (0 = none).
 * Returns {state, due, leased}: state 0 = already finished (done key), 1 = already pending,
 * 2 = accepted. A job due at once is leased right here when a lease end is given (the
 * consumer hands it to the delivery loop without a claim round trip). */
static const char accept_src[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return {0, 0} end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then return {1, 0} end\n"
    "local now = tonumber(ARGV[3])\n"
    "local w = tonumber(ARGV[4])\n"
    "local due = now\n"
    "if w > 0 and ARGV[5] == '0' then\n"
    "  local e = redis.call('GET', KEYS[4])\n"
    "  if e then due = tonumber(e) else\n"
    "    due = now + w\n"
    "    redis.call('SET', KEYS[4], tostring(due), 'PX', w)\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'raw', ARGV[2], 'attempts', '0', 'accepted', ARGV[3], 'held', "
    "'0')\n"
    "if due <= now and tonumber(ARGV[6]) > 0 then\n"
    "  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])\n"
    "  return {2, due, 1}\n"
    "end\n"
    "redis.call('ZADD', KEYS[3], due, ARGV[1])\n"
    "return {2, due, 0}\n";

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

int nt_store_append_accept(nt_svc_t *s, baton_redis_t *r, const char *id, const char *tenant,
                           const char *person, bool urgent, const void *raw, size_t raw_len,
                           int64_t now_ms, int64_t lease_until)
{
    char *job = baton_xasprintf("%s:job:%s", s->kp, id);
    char *done = baton_xasprintf("%s:done:%s", s->kp, id);
    char *due = baton_xasprintf("%s:due", s->kp);
    char *win = baton_xasprintf("%s:win:%s:%s", s->kp, tenant, person);
    char now[24], w[24], lease[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(w, sizeof w, "%lld", s->cfg->bundle_window_ms);
    snprintf(lease, sizeof lease, "%lld", (long long)lease_until);
    const char *argv[] = {
        "EVALSHA", accept_script.sha,  "4",  job, done, due, win, id, (const char *)raw, now,
        w,         urgent ? "1" : "0", lease};
    size_t lens[13];
    for (int i = 0; i < 13; i++)
        lens[i] = i == 8 ? raw_len : strlen(argv[i]); /* raw is binary */
    int rc = baton_redis_append_argv(r, 13, argv, lens);
    free(job);
    free(done);
    free(due);
    free(win);
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

int nt_store_append_finish(nt_svc_t *s, const nt_job_t *j, const char *done_value)
{
    baton_redis_t *r = s->redis_d;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", s->cfg->dedup_ttl_ms);
    char *done = baton_xasprintf("%s:done:%s", s->kp, j->id);
    char *job = baton_xasprintf("%s:job:%s", s->kp, j->id);
    char *due = baton_xasprintf("%s:due", s->kp);
    const char *set[] = {"SET", done, done_value, "PX", ttl};
    const char *del[] = {"DEL", job};
    const char *zrem[] = {"ZREM", due, j->id};
    int rc = baton_redis_append_argv(r, 5, set, NULL);
    if (rc == 0)
        rc = baton_redis_append_argv(r, 2, del, NULL);
    if (rc == 0)
        rc = baton_redis_append_argv(r, 3, zrem, NULL);
    free(done);
    free(job);
    free(due);
    return rc;
}

int nt_store_append_retry(nt_svc_t *s, const nt_job_t *j, int attempts, bool held, int64_t due_ms)
{
    baton_redis_t *r = s->redis_d;
    char *job = baton_xasprintf("%s:job:%s", s->kp, j->id);
    char *due = baton_xasprintf("%s:due", s->kp);
    char a[16], when[24];
    snprintf(a, sizeof a, "%d", attempts);
    snprintf(when, sizeof when, "%lld", (long long)due_ms);
    const char *hset[] = {"HSET", job, "attempts", a, "held", held ? "1" : "0"};
    /* XX: a job finished meanwhile (by another instance after a lease ran out) stays gone */
    const char *zadd[] = {"ZADD", due, "XX", when, j->id};
    int rc = baton_redis_append_argv(r, 6, hset, NULL);
    if (rc == 0)
        rc = baton_redis_append_argv(r, 5, zadd, NULL);
    free(job);
    free(due);
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
