/* baton/redis.h — a blocking Redis client over hiredis with automatic reconnect.
 *
 * One baton_redis_t is one connection; it is not thread-safe (one per thread).
 *
 * Connection errors: a command that finds the connection broken (I/O error, EOF, timeout)
 * drops it and returns BATON_EUNAVAIL; it is never retried here (it may have run). The next
 * call reconnects, at once the first time and then with capped exponential backoff
 * (backoff_min_ms doubling up to backoff_max_ms); while the backoff has not elapsed every
 * call returns BATON_EUNAVAIL immediately without touching the network. A successful
 * reconnect re-sends AUTH and SELECT from the URL.
 *
 * Replies: every `redisReply **reply` out-parameter is set to NULL or to a reply the CALLER
 * owns and must release with freeReplyObject() (from <hiredis/hiredis.h>). A server error
 * reply (type REDIS_REPLY_ERROR) is returned as BATON_EIO *with* the reply set, so the caller
 * can read reply->str; baton_redis_errstr() holds the same text.
 *
 * Error strings never contain the password or command arguments. */
#ifndef BATON_REDIS_H
#define BATON_REDIS_H

#include <hiredis/hiredis.h>
#include <stdarg.h>

#include "baton/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct baton_redis baton_redis_t;

/* A parsed redis://[[user]:password@]host[:port][/db] URL (port 6379, db 0 by default). */
typedef struct {
    char host[256];
    int port;
    char user[128];     /* "" when absent */
    char password[256]; /* "" when absent */
    int db;
} baton_redis_url_t;

/* Returns 0, or BATON_EINVAL with the reason in err (no password in it). */
int baton_redis_url_parse(const char *url, baton_redis_url_t *out, char *err, size_t errlen);

typedef struct {
    int connect_timeout_ms; /* default 2000 */
    int command_timeout_ms; /* default 5000; a timeout breaks the connection */
    int backoff_min_ms;     /* default 100 */
    int backoff_max_ms;     /* default 5000 */
} baton_redis_opts_t;

/* Parse url and connect. opts may be NULL (defaults). Returns NULL with the reason in err
 * when the URL is bad or the first connection (including AUTH / SELECT) fails. */
baton_redis_t *baton_redis_new(const char *url, const baton_redis_opts_t *opts, char *err,
                               size_t errlen);
void baton_redis_free(baton_redis_t *r);

/* Last error text (static storage in r, valid until the next call). Never NULL. */
const char *baton_redis_errstr(const baton_redis_t *r);
/* 1 when a connection is currently open (it may still turn out to be broken). */
int baton_redis_connected(const baton_redis_t *r);
/* How many times a connection was re-established after the first one. */
unsigned long baton_redis_reconnects(const baton_redis_t *r);
/* Connect now if disconnected (respecting the backoff). 0 or BATON_EUNAVAIL. */
int baton_redis_ensure(baton_redis_t *r);
/* Drop the connection (e.g. after an error while using the raw context); the next call
 * reconnects without waiting for the backoff. */
void baton_redis_reset(baton_redis_t *r);
/* The raw hiredis context for advanced callers, or NULL when disconnected. Owned by r: do
 * not free it; it is replaced by any baton_redis_* call that reconnects. */
redisContext *baton_redis_context(baton_redis_t *r);

/* ---- commands ---- */

/* printf-style command (hiredis format: %s C string, %b binary + size_t length, %d etc.).
 * Returns 0 with *reply set; BATON_EIO with *reply set for an error reply; BATON_EUNAVAIL
 * (connection down or broken, *reply NULL); BATON_EINVAL when pipelined commands are
 * pending. reply may be NULL to discard the reply. */
int baton_redis_command(baton_redis_t *r, redisReply **reply, const char *fmt, ...);
int baton_redis_vcommand(baton_redis_t *r, redisReply **reply, const char *fmt, va_list ap);
/* argv-style (binary safe; argvlen may be NULL for C strings). Same returns. */
int baton_redis_command_argv(baton_redis_t *r, redisReply **reply, int argc, const char **argv,
                             const size_t *argvlen);

/* ---- pipelining ---- */

/* Queue a command (nothing is sent until baton_redis_pipeline_read). 0, BATON_EUNAVAIL
 * (then the whole pipeline is void: pending commands are dropped). */
int baton_redis_append(baton_redis_t *r, const char *fmt, ...);
int baton_redis_append_argv(baton_redis_t *r, int argc, const char **argv, const size_t *argvlen);
/* Commands queued and not yet read. */
size_t baton_redis_pending(const baton_redis_t *r);
/* Send everything queued and read one reply per command, in order, into a fresh array
 * *replies of *n entries (caller frees with baton_redis_replies_free). Error replies are
 * left in the array (check ->type) and do not fail the call. Returns 0, or BATON_EUNAVAIL
 * when the connection broke (nothing returned; some of the commands may have run). */
int baton_redis_pipeline_read(baton_redis_t *r, redisReply ***replies, size_t *n);
/* freeReplyObject every non-NULL entry, then free the array. */
void baton_redis_replies_free(redisReply **replies, size_t n);

/* ---- Lua scripts ---- */

typedef struct {
    const char *source; /* borrowed: must outlive the script */
    char sha[41];       /* SHA-1 of source, lower-case hex */
} baton_redis_script_t;

/* Compute the script's SHA-1 (no network). source is borrowed. */
void baton_redis_script_init(baton_redis_script_t *s, const char *source);
/* SCRIPT LOAD now (e.g. at startup); 0, BATON_EIO, BATON_EUNAVAIL. */
int baton_redis_script_load(baton_redis_t *r, const baton_redis_script_t *s);
/* EVALSHA sha numkeys keys... args...; on NOSCRIPT (a restarted or flushed server) loads
 * the script and runs EVALSHA once more. argv holds the numkeys keys followed by the other
 * arguments (argc in total); argvlen may be NULL for C strings. Returns like
 * baton_redis_command (a Lua error comes back as BATON_EIO with the error reply). */
int baton_redis_evalsha(baton_redis_t *r, const baton_redis_script_t *s, int numkeys, int argc,
                        const char **argv, const size_t *argvlen, redisReply **reply);

#ifdef __cplusplus
}
#endif
#endif
