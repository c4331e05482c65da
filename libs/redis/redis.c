/* redis.c — connection with reconnect/backoff, commands and pipelining. */
#include "redis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

const char *baton_redis_errstr(const baton_redis_t *r)
{
    return r->err;
}

int baton_redis_connected(const baton_redis_t *r)
{
    return r->c != NULL;
}

unsigned long baton_redis_reconnects(const baton_redis_t *r)
{
    return r->reconnects;
}

redisContext *baton_redis_context(baton_redis_t *r)
{
    return r->c;
}

/* Drop the connection; the next attempt may happen at once. */
void baton_redis_reset(baton_redis_t *r)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
    r->pending = 0;
    r->next_attempt_ms = 0;
}

/* The connection broke under a command: remember why, drop it. */
static int broken(baton_redis_t *r, const char *what)
{
    baton_seterr(r->err, sizeof(r->err), "redis %s:%d: %s: %s", r->url.host, r->url.port, what,
                 r->c && r->c->errstr[0] ? r->c->errstr : "connection lost");
    baton_redis_reset(r);
    return BATON_EUNAVAIL;
}

/* AUTH and SELECT on a fresh connection. 0 or BATON_EUNAVAIL / BATON_EAUTH (err set). */
static int handshake(baton_redis_t *r)
{
    redisReply *rep = NULL;
    if (r->url.password[0]) {
        const char *argv[3] = {"AUTH", r->url.user, r->url.password};
        int argc = 3;
        if (!r->url.user[0]) {
            argv[1] = r->url.password;
            argc = 2;
        }
        rep = redisCommandArgv(r->c, argc, argv, NULL);
        if (!rep)
            return broken(r, "AUTH");
        if (rep->type == REDIS_REPLY_ERROR) {
            baton_seterr(r->err, sizeof(r->err), "redis %s:%d: AUTH failed: %s", r->url.host,
                         r->url.port, rep->str);
            freeReplyObject(rep);
            return BATON_EAUTH;
        }
        freeReplyObject(rep);
    }
    if (r->url.db != 0) {
        rep = redisCommand(r->c, "SELECT %d", r->url.db);
        if (!rep)
            return broken(r, "SELECT");
        if (rep->type == REDIS_REPLY_ERROR) {
            baton_seterr(r->err, sizeof(r->err), "redis %s:%d: SELECT %d failed: %s", r->url.host,
                         r->url.port, r->url.db, rep->str);
            freeReplyObject(rep);
            return BATON_EINVAL;
        }
        freeReplyObject(rep);
    }
    return 0;
}

/* One connection attempt, no backoff logic. */
static int connect_now(baton_redis_t *r)
{
    r->c = redisConnectWithTimeout(r->url.host, r->url.port, tv_ms(r->opts.connect_timeout_ms));
    if (!r->c || r->c->err) {
        int rc = broken(r, "connect");
        return rc;
    }
    if (redisSetTimeout(r->c, tv_ms(r->opts.command_timeout_ms)) != REDIS_OK)
        return broken(r, "set timeout");
    redisEnableKeepAlive(r->c);
    int rc = handshake(r);
    if (rc != 0) {
        baton_redis_reset(r);
        return rc;
    }
    return 0;
}

int baton_redis_ensure(baton_redis_t *r)
{
    if (r->c)
        return 0;
    int64_t now = baton_mono_ms();
    if (now < r->next_attempt_ms) {
        /* Keep the reason of the last failure, say when the next attempt is. */
        char last[200];
        baton_strlcpy(last, r->last_fail, sizeof(last));
        baton_seterr(r->err, sizeof(r->err), "redis unavailable (next attempt in %lld ms): %s",
                     (long long)(r->next_attempt_ms - now), last);
        return BATON_EUNAVAIL;
    }
    int rc = connect_now(r);
    if (rc != 0) {
        baton_strlcpy(r->last_fail, r->err, sizeof(r->last_fail));
        r->next_attempt_ms = baton_mono_ms() + r->backoff_ms;
        r->backoff_ms =
            r->backoff_ms * 2 > r->opts.backoff_max_ms ? r->opts.backoff_max_ms : r->backoff_ms * 2;
        return BATON_EUNAVAIL;
    }
    if (r->ever_connected)
        r->reconnects++;
    r->ever_connected = 1;
    r->backoff_ms = r->opts.backoff_min_ms;
    r->err[0] = '\0';
    return 0;
}

baton_redis_t *baton_redis_new(const char *url, const baton_redis_opts_t *opts, char *err,
                               size_t errlen)
{
    baton_redis_t *r = baton_xcalloc(1, sizeof(*r));
    if (baton_redis_url_parse(url, &r->url, err, errlen) != 0)
        goto err;
    r->opts.connect_timeout_ms =
        opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 2000;
    r->opts.command_timeout_ms =
        opts && opts->command_timeout_ms > 0 ? opts->command_timeout_ms : 5000;
    r->opts.backoff_min_ms = opts && opts->backoff_min_ms > 0 ? opts->backoff_min_ms : 100;
    r->opts.backoff_max_ms = opts && opts->backoff_max_ms > 0 ? opts->backoff_max_ms : 5000;
    if (r->opts.backoff_max_ms < r->opts.backoff_min_ms)
        r->opts.backoff_max_ms = r->opts.backoff_min_ms;
    r->backoff_ms = r->opts.backoff_min_ms;
    if (connect_now(r) != 0) {
        baton_seterr(err, errlen, "%s", r->err);
        goto err;
    }
    r->ever_connected = 1;
    return r;
err:
    baton_redis_free(r);
    return NULL;
}

void baton_redis_free(baton_redis_t *r)
{
    if (!r)
        return;
    if (r->c)
        redisFree(r->c);
    /* The password lived here; do not leave it in freed memory. */
    memset(&r->url, 0, sizeof(r->url));
    free(r);
}

/* Classify a reply from a blocking call: NULL → broken connection. */
static int finish(baton_redis_t *r, redisReply *rep, redisReply **reply)
{
    if (reply)
        *reply = NULL;
    if (!rep)
        return broken(r, "command");
    int rc = 0;
    if (rep->type == REDIS_REPLY_ERROR) {
        baton_seterr(r->err, sizeof(r->err), "redis error reply: %s", rep->str);
        rc = BATON_EIO;
    }
    if (reply)
        *reply = rep;
    else
        freeReplyObject(rep);
    return rc;
}

int baton_redis_vcommand(baton_redis_t *r, redisReply **reply, const char *fmt, va_list ap)
{
    if (reply)
        *reply = NULL;
    if (r->pending) {
        baton_seterr(r->err, sizeof(r->err), "redis: %zu pipelined commands not read yet",
                     r->pending);
        return BATON_EINVAL;
    }
    int rc = baton_redis_ensure(r);
    if (rc != 0)
        return rc;
    return finish(r, redisvCommand(r->c, fmt, ap), reply);
}

int baton_redis_command(baton_redis_t *r, redisReply **reply, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = baton_redis_vcommand(r, reply, fmt, ap);
    va_end(ap);
    return rc;
}

int baton_redis_command_argv(baton_redis_t *r, redisReply **reply, int argc, const char **argv,
                             const size_t *argvlen)
{
    if (reply)
        *reply = NULL;
    if (r->pending) {
        baton_seterr(r->err, sizeof(r->err), "redis: %zu pipelined commands not read yet",
                     r->pending);
        return BATON_EINVAL;
    }
    int rc = baton_redis_ensure(r);
    if (rc != 0)
        return rc;
    return finish(r, redisCommandArgv(r->c, argc, argv, argvlen), reply);
}

/* ---- pipelining ---- */

size_t baton_redis_pending(const baton_redis_t *r)
{
    return r->pending;
}

static int append_result(baton_redis_t *r, int hrc)
{
    if (hrc != REDIS_OK) {
        baton_seterr(r->err, sizeof(r->err), "redis: cannot format command");
        return BATON_EINVAL;
    }
    r->pending++;
    return 0;
}

int baton_redis_append(baton_redis_t *r, const char *fmt, ...)
{
    if (!r->c) {
        r->pending = 0; /* whatever was queued went with the old connection */
        int rc = baton_redis_ensure(r);
        if (rc != 0)
            return rc;
    }
    va_list ap;
    va_start(ap, fmt);
    int hrc = redisvAppendCommand(r->c, fmt, ap);
    va_end(ap);
    return append_result(r, hrc);
}

int baton_redis_append_argv(baton_redis_t *r, int argc, const char **argv, const size_t *argvlen)
{
    if (!r->c) {
        r->pending = 0;
        int rc = baton_redis_ensure(r);
        if (rc != 0)
            return rc;
    }
    return append_result(r, redisAppendCommandArgv(r->c, argc, argv, argvlen));
}

int baton_redis_pipeline_read(baton_redis_t *r, redisReply ***replies, size_t *n)
{
    *replies = NULL;
    *n = 0;
    size_t want = r->pending;
    if (want == 0)
        return 0;
    if (!r->c) {
        r->pending = 0;
        baton_seterr(r->err, sizeof(r->err), "redis: connection lost before the pipeline ran");
        return BATON_EUNAVAIL;
    }
    redisReply **out = baton_xcalloc(want, sizeof(*out));
    for (size_t i = 0; i < want; i++) {
        void *rep = NULL;
        if (redisGetReply(r->c, &rep) != REDIS_OK || !rep) {
            baton_redis_replies_free(out, want);
            return broken(r, "pipeline");
        }
        out[i] = rep;
    }
    r->pending = 0;
    *replies = out;
    *n = want;
    return 0;
}

void baton_redis_replies_free(redisReply **replies, size_t n)
{
    if (!replies)
        return;
    for (size_t i = 0; i < n; i++)
        if (replies[i])
            freeReplyObject(replies[i]);
    free(replies);
}
