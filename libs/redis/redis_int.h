/* redis_int.h — the client's insides, shared by redis*.c. */
#ifndef BATON_REDIS_INT_H
#define BATON_REDIS_INT_H

#include "baton/redis.h"

struct baton_redis {
    baton_redis_url_t url;
    baton_redis_opts_t opts;
    redisContext *c;         /* NULL while disconnected */
    int64_t next_attempt_ms; /* monotonic; no reconnect attempt before this */
    int backoff_ms;          /* wait after the next failed attempt */
    int ever_connected;
    unsigned long reconnects;
    size_t pending; /* pipelined commands appended, replies not read */
    char err[256];
    char last_fail[256]; /* why the last connection attempt failed */
};

#endif
