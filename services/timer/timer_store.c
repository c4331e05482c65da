/* timer_store.c — the timers in Redis, sharded by the Kafka partition they came from.
 *
 * Per partition p of baton.timers.v1 two keys, both with the hash tag {baton.timers.v1:p} so
 * that in Redis Cluster a partition's keys share a slot (MULTI/EXEC and the scripts below
 * touch only one partition's keys):
 *
 *   <prefix>:{baton.timers.v1:p}:due   sorted set  timer_id → due_at_ms
 *   <prefix>:{baton.timers.v1:p}:fire  hash        timer_id → packed Envelope to fire (id,
 *                                                  timer_id and due_at_ms left empty: they
 *                                                  are filled in when it fires)
 *
 * A partition that moves to another instance takes its timers with it: the new owner finds
 * them under the same keys. */
#include "timer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Due timers in due order, then what remains: {next_due|"", zcard, id, due, fire|nil, ...}.
 * next_due is "0" when the batch was full (more may be due now). */
static const char take_src[] =
    "local max = tonumber(ARGV[2])\n"
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', "
    "0, max)\n"
    "local n = #ids / 2\n"
    "local nxt = '0'\n"
    "if n < max then\n"
    "  local r = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES', "
    "'LIMIT', 0, 1)\n"
    "  nxt = r[2] or ''\n"
    "end\n"
    "local out = {nxt, redis.call('ZCARD', KEYS[1])}\n"
    "for i = 1, n do\n"
    "  out[#out + 1] = ids[2 * i - 1]\n"
    "  out[#out + 1] = ids[2 * i]\n"
    "  out[#out + 1] = redis.call('HGET', KEYS[2], ids[2 * i - 1])\n"
    "end\n"
    "return out\n";

/* Compare-and-delete: ARGV = id, due, id, due, ...; an id whose due time changed since it
 * was taken (re-scheduled meanwhile) stays. Returns {deleted, zcard}. */
static const char ack_src[] = "local n = 0\n"
                              "for i = 1, #ARGV, 2 do\n"
                              "  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])\n"
                              "  if s and tonumber(s) == tonumber(ARGV[i + 1]) then\n"
                              "    redis.call('ZREM', KEYS[1], ARGV[i])\n"
                              "    redis.call('HDEL', KEYS[2], ARGV[i])\n"
                              "    n = n + 1\n"
                              "  end\n"
                              "end\n"
                              "return {n, redis.call('ZCARD', KEYS[1])}\n";

static baton_redis_script_t take_script, ack_script;

static int redis_result(timer_svc_t *t, int rc)
{
    t->redis_ok = rc != BATON_EUNAVAIL;
    return rc;
}

int timer_store_init(timer_svc_t *t)
{
    baton_redis_script_init(&take_script, take_src);
    baton_redis_script_init(&ack_script, ack_src);
    int rc = baton_redis_script_load(t->redis, &take_script);
    if (rc == 0)
        rc = baton_redis_script_load(t->redis, &ack_script);
    return redis_result(t, rc);
}

/* ---------------------------------------------------------------- applying a batch */

/* An argv under construction (strings borrowed, except the numbers kept in nums). */
typedef struct {
    const char **v;
    size_t *len;
    int n;
} argv_t;

static void arg(argv_t *a, const void *s, size_t len)
{
    a->v[a->n] = s;
    a->len[a->n++] = len;
}

static void arg_str(argv_t *a, const char *s)
{
    arg(a, s, strlen(s));
}

static int append(timer_svc_t *t, argv_t *a)
{
    int rc = baton_redis_append_argv(t->redis, a->n, a->v, a->len);
    a->n = 0;
    return rc;
}

/* Decimal digits of v into out (no terminator); returns the length. snprintf's cost shows
 * when a batch has tens of thousands of due times. */
static size_t fmt_i64(char *out, int64_t v)
{
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        out[len++] = '-';
    while (n > 0)
        out[len++] = tmp[--n];
    return len;
}

/* Queue MULTI ... EXEC for cmds[0..n) (one partition). nums: 24 bytes per command. */
static int queue_partition(timer_svc_t *t, const timer_cmd_t *cmds, size_t n, argv_t *a,
                           char (*nums)[24])
{
    timer_part_t *p = timer_part(t, cmds[0].partition);
    size_t nsched = 0, ncancel = 0;
    for (size_t i = 0; i < n; i++)
        cmds[i].cancel ? ncancel++ : nsched++;
    int rc = 0;
    arg_str(a, "MULTI");
    rc = rc ? rc : append(t, a);
    if (nsched) {
        arg_str(a, "HSET"), arg_str(a, p->fire_key);
        for (size_t i = 0; i < n; i++)
            if (!cmds[i].cancel)
                arg(a, cmds[i].timer_id, cmds[i].id_len), arg(a, cmds[i].fire, cmds[i].fire_len);
        rc = rc ? rc : append(t, a);
        arg_str(a, "ZADD"), arg_str(a, p->due_key);
        for (size_t i = 0; i < n; i++) {
            if (cmds[i].cancel)
                continue;
            arg(a, nums[i], fmt_i64(nums[i], cmds[i].due_at_ms));
            arg(a, cmds[i].timer_id, cmds[i].id_len);
        }
        rc = rc ? rc : append(t, a);
    }
    if (ncancel) {
        const char *what[2][2] = {{"HDEL", p->fire_key}, {"ZREM", p->due_key}};
        for (int k = 0; k < 2; k++) {
            arg_str(a, what[k][0]), arg_str(a, what[k][1]);
            for (size_t i = 0; i < n; i++)
                if (cmds[i].cancel)
                    arg(a, cmds[i].timer_id, cmds[i].id_len);
            rc = rc ? rc : append(t, a);
        }
    }
    arg_str(a, "ZCARD"), arg_str(a, p->due_key);
    rc = rc ? rc : append(t, a);
    arg_str(a, "EXEC");
    return rc ? rc : append(t, a);
}

/* Check the k replies of one MULTI block (the last one is EXEC's); sets the pending gauge. */
static int check_block(timer_svc_t *t, int32_t partition, redisReply **reps, size_t k)
{
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        if (reps[i]->type == REDIS_REPLY_ERROR) {
            LOG_ERROR("redis: storing timers failed: %s", reps[i]->str);
            rc = BATON_EIO;
        }
    }
    redisReply *exec = reps[k - 1];
    if (rc != 0 || exec->type != REDIS_REPLY_ARRAY || exec->elements == 0)
        return BATON_EIO;
    for (size_t i = 0; i < exec->elements; i++) {
        if (exec->element[i]->type == REDIS_REPLY_ERROR) {
            LOG_ERROR("redis: storing timers failed: %s", exec->element[i]->str);
            rc = BATON_EIO;
        }
    }
    redisReply *card = exec->element[exec->elements - 1];
    if (rc == 0 && card->type == REDIS_REPLY_INTEGER)
        baton_gauge_set(timer_part(t, partition)->pending, (double)card->integer);
    return rc;
}

/* Write what the client has buffered to the socket without waiting for the replies (the
 * connection is blocking: this returns once Redis has taken it all in). A write error is
 * left for timer_store_finish, whose read then fails and drops the connection. */
static void flush_out(timer_svc_t *t)
{
    redisContext *c = baton_redis_context(t->redis);
    int done = 0;
    while (c && !done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return;
}

static void block_add(timer_store_pipe_t *pp, int32_t partition, size_t nreplies)
{
    if (pp->nblocks == pp->cap) {
        pp->cap = pp->cap ? 2 * pp->cap : 64;
        pp->blocks = baton_xrealloc(pp->blocks, pp->cap * sizeof *pp->blocks);
    }
    pp->blocks[pp->nblocks++] = (timer_store_block_t){partition, nreplies};
}

int timer_store_send(timer_svc_t *t, const timer_cmd_t *cmds, size_t n, timer_store_pipe_t *pp)
{
    if (n == 0)
        return 0;
    argv_t a = {baton_xcalloc(2 * n + 4, sizeof *a.v), baton_xcalloc(2 * n + 4, sizeof *a.len), 0};
    char(*nums)[24] = baton_xcalloc(n, sizeof *nums);
    int rc = 0;
    for (size_t s = 0, e; s < n && rc == 0; s = e) {
        for (e = s; e < n && cmds[e].partition == cmds[s].partition; e++)
            ;
        size_t before = baton_redis_pending(t->redis);
        rc = queue_partition(t, cmds + s, e - s, &a, nums + s);
        if (rc == 0)
            block_add(pp, cmds[s].partition, baton_redis_pending(t->redis) - before);
    }
    free(a.v);
    free(a.len);
    free(nums);
    if (rc == 0)
        flush_out(t);
    return redis_result(t, rc);
}

int timer_store_finish(timer_svc_t *t, timer_store_pipe_t *pp)
{
    redisReply **reps = NULL;
    size_t nreps = 0;
    int rc = baton_redis_pipeline_read(t->redis, &reps, &nreps);
    size_t i = 0;
    for (size_t b = 0; rc == 0 && b < pp->nblocks; i += pp->blocks[b++].nreplies) {
        if (i + pp->blocks[b].nreplies > nreps || pp->blocks[b].nreplies == 0)
            rc = BATON_EIO;
        else
            rc = check_block(t, pp->blocks[b].partition, reps + i, pp->blocks[b].nreplies);
    }
    if (rc == 0 && i != nreps)
        rc = BATON_EIO;
    baton_redis_replies_free(reps, nreps);
    pp->nblocks = 0;
    return redis_result(t, rc);
}

void timer_store_stored(timer_svc_t *t, const timer_cmd_t *cmds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        timer_part_t *p = timer_part(t, cmds[i].partition);
        if (!cmds[i].cancel && cmds[i].due_at_ms < p->next_due)
            p->next_due = cmds[i].due_at_ms;
    }
}

void timer_store_pipe_free(timer_store_pipe_t *pp)
{
    free(pp->blocks);
    *pp = (timer_store_pipe_t){0};
}

/* ---------------------------------------------------------------- taking and deleting */

static int64_t reply_int(const redisReply *r, int64_t dflt)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING && r->len > 0)
        return (int64_t)strtod(r->str, NULL);
    return dflt;
}

int timer_store_take(timer_svc_t *t, int32_t partition, int64_t now_ms, size_t max,
                     timer_due_t *out, size_t *n, redisReply **reply, int64_t *next_due)
{
    timer_part_t *p = timer_part(t, partition);
    char now[24], maxs[24];
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(maxs, sizeof maxs, "%zu", max);
    const char *argv[] = {p->due_key, p->fire_key, now, maxs};
    redisReply *r = NULL;
    *reply = NULL;
    int rc = baton_redis_evalsha(t->redis, &take_script, 2, 4, argv, NULL, &r);
    if (rc != 0 || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || (r->elements - 2) % 3 != 0) {
        if (rc == 0)
            rc = BATON_EIO;
        LOG_ERROR("redis: taking due timers failed: %s", baton_redis_errstr(t->redis));
        if (r)
            freeReplyObject(r);
        return redis_result(t, rc);
    }
    *next_due = reply_int(r->element[0], TIMER_NO_DUE);
    baton_gauge_set(p->pending, (double)reply_int(r->element[1], 0));
    for (size_t i = 2; i + 2 < r->elements; i += 3) {
        timer_due_t *d = &out[(*n)++];
        d->partition = partition;
        d->timer_id = r->element[i]->str;
        d->id_len = r->element[i]->len;
        d->due_at_ms = reply_int(r->element[i + 1], 0);
        d->fire = r->element[i + 2]->type == REDIS_REPLY_STRING ? r->element[i + 2]->str : NULL;
        d->fire_len = d->fire ? r->element[i + 2]->len : 0;
    }
    *reply = r;
    return redis_result(t, 0);
}

int timer_store_ack(timer_svc_t *t, int32_t partition, const timer_due_t *due, size_t n)
{
    if (n == 0)
        return 0;
    timer_part_t *p = timer_part(t, partition);
    size_t argc = 2 + 2 * n;
    const char **argv = baton_xcalloc(argc, sizeof *argv);
    size_t *len = baton_xcalloc(argc, sizeof *len);
    char(*nums)[24] = baton_xcalloc(n, sizeof *nums);
    argv[0] = p->due_key, len[0] = strlen(p->due_key);
    argv[1] = p->fire_key, len[1] = strlen(p->fire_key);
    for (size_t i = 0; i < n; i++) {
        snprintf(nums[i], sizeof nums[i], "%" PRId64, due[i].due_at_ms);
        argv[2 + 2 * i] = due[i].timer_id, len[2 + 2 * i] = due[i].id_len;
        argv[3 + 2 * i] = nums[i], len[3 + 2 * i] = strlen(nums[i]);
    }
    redisReply *r = NULL;
    int rc = baton_redis_evalsha(t->redis, &ack_script, 2, (int)argc, argv, len, &r);
    if (rc == 0 && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        baton_gauge_set(p->pending, (double)reply_int(r->element[1], 0));
    else {
        rc = rc ? rc : BATON_EIO;
        LOG_ERROR("redis: deleting fired timers failed: %s", baton_redis_errstr(t->redis));
    }
    if (r)
        freeReplyObject(r);
    free(argv);
    free(len);
    free(nums);
    return redis_result(t, rc);
}

int timer_store_count(timer_svc_t *t, int32_t partition)
{
    timer_part_t *p = timer_part(t, partition);
    redisReply *r = NULL;
    int rc = baton_redis_command(t->redis, &r, "ZCARD %s", p->due_key);
    if (rc == 0 && r->type == REDIS_REPLY_INTEGER)
        baton_gauge_set(p->pending, (double)r->integer);
    if (r)
        freeReplyObject(r);
    return redis_result(t, rc);
}
