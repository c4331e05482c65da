/* test_redis.c — baton_redis against a real redis-server started by the harness. */
#include "baton/redis.h"
#include "harness.h"
#include "test.h"

#include <unistd.h>

static baton_redis_t *connect_to(const harness_redis_t *srv, const baton_redis_opts_t *o)
{
    char err[256] = "";
    baton_redis_t *r = baton_redis_new(srv->url, o, err, sizeof(err));
    if (!r)
        TEST_FAIL("baton_redis_new(%s): %s", srv->url, err);
    return r;
}

TEST(redis_url_parse)
{
    baton_redis_url_t u;
    char err[128];
    ASSERT_EQ_INT(baton_redis_url_parse("redis://127.0.0.1:6380/3", &u, err, sizeof(err)), 0);
    ASSERT_EQ_STR(u.host, "127.0.0.1");
    ASSERT_EQ_INT(u.port, 6380);
    ASSERT_EQ_INT(u.db, 3);
    ASSERT_EQ_STR(u.password, "");
    ASSERT_EQ_INT(baton_redis_url_parse("redis://:p%40ss@cache", &u, err, sizeof(err)), 0);
    ASSERT_EQ_STR(u.host, "cache");
    ASSERT_EQ_INT(u.port, 6379);
    ASSERT_EQ_STR(u.password, "p@ss");
    ASSERT_EQ_STR(u.user, "");
    ASSERT_EQ_INT(baton_redis_url_parse("redis://svc:s@cr@t@[::1]:7000/", &u, err, sizeof(err)), 0);
    ASSERT_EQ_STR(u.user, "svc");
    ASSERT_EQ_STR(u.password, "s@cr@t");
    ASSERT_EQ_STR(u.host, "::1");
    ASSERT_EQ_INT(u.port, 7000);
    ASSERT_EQ_INT(u.db, 0);
    ASSERT_EQ_INT(baton_redis_url_parse("http://x", &u, err, sizeof(err)), BATON_EINVAL);
    ASSERT_EQ_INT(baton_redis_url_parse("redis://h:0", &u, err, sizeof(err)), BATON_EINVAL);
    ASSERT_EQ_INT(baton_redis_url_parse("redis://h:99999", &u, err, sizeof(err)), BATON_EINVAL);
    ASSERT_EQ_INT(baton_redis_url_parse("redis://h/x", &u, err, sizeof(err)), BATON_EINVAL);
    ASSERT_EQ_INT(baton_redis_url_parse("redis://:secret@/1", &u, err, sizeof(err)), BATON_EINVAL);
    ASSERT_TRUE(strstr(err, "secret") == NULL);
}

TEST(redis_commands_printf_and_argv)
{
    harness_redis_t srv;
    ASSERT_EQ_INT(harness_redis_start(&srv), 0);
    baton_redis_t *r = connect_to(&srv, NULL);
    redisReply *rep = NULL;
    ASSERT_EQ_INT(baton_redis_command(r, &rep, "SET %s %s", "greeting", "hello world"), 0);
    ASSERT_EQ_INT(rep->type, REDIS_REPLY_STATUS);
    ASSERT_EQ_STR(rep->str, "OK");
    freeReplyObject(rep);
    ASSERT_EQ_INT(baton_redis_command(r, &rep, "GET greeting"), 0);
    ASSERT_EQ_STR(rep->str, "hello world");
    freeReplyObject(rep);

    /* argv style is binary safe */
    const char *argv[] = {"SET", "bin", "a\0b\r\nc"};
    size_t lens[] = {3, 3, 7};
    ASSERT_EQ_INT(baton_redis_command_argv(r, NULL, 3, argv, lens), 0);
    ASSERT_EQ_INT(baton_redis_command(r, &rep, "GET %b", "bin", (size_t)3), 0);
    ASSERT_EQ_INT(rep->type, REDIS_REPLY_STRING);
    ASSERT_EQ_INT(rep->len, 7);
    ASSERT_TRUE(memcmp(rep->str, "a\0b\r\nc", 7) == 0);
    freeReplyObject(rep);

    ASSERT_EQ_INT(baton_redis_command(r, &rep, "INCRBY counter %d", 41), 0);
    ASSERT_EQ_INT(rep->integer, 41);
    freeReplyObject(rep);

    /* an error reply: BATON_EIO with the reply handed over */
    ASSERT_EQ_INT(baton_redis_command(r, &rep, "INCR greeting"), BATON_EIO);
    ASSERT_NOT_NULL(rep);
    ASSERT_EQ_INT(rep->type, REDIS_REPLY_ERROR);
    ASSERT_CONTAINS(rep->str, "not an integer");
    ASSERT_CONTAINS(baton_redis_errstr(r), "not an integer");
    freeReplyObject(rep);
    ASSERT_TRUE(baton_redis_connected(r));
    baton_redis_free(r);
}

TEST(redis_pipeline_many)
{
    harness_redis_t srv;
    ASSERT_EQ_INT(harness_redis_start(&srv), 0);
    baton_redis_t *r = connect_to(&srv, NULL);
    for (int i = 0; i < 200; i++)
        ASSERT_EQ_INT(baton_redis_append(r, "RPUSH list %d", i), 0);
    ASSERT_EQ_INT(baton_redis_append(r, "HSET list f v"), 0); /* WRONGTYPE, in the middle */
    const char *argv[] = {"LRANGE", "list", "198", "-1"};
    ASSERT_EQ_INT(baton_redis_append_argv(r, 4, argv, NULL), 0);
    ASSERT_EQ_INT(baton_redis_pending(r), 202);
    /* a blocking command would read a pipelined reply: refused */
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "PING"), BATON_EINVAL);

    redisReply **reps = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(baton_redis_pipeline_read(r, &reps, &n), 0);
    ASSERT_EQ_INT(n, 202);
    for (int i = 0; i < 200; i++) {
        ASSERT_EQ_INT(reps[i]->type, REDIS_REPLY_INTEGER);
        ASSERT_EQ_INT(reps[i]->integer, i + 1);
    }
    ASSERT_EQ_INT(reps[200]->type, REDIS_REPLY_ERROR);
    ASSERT_CONTAINS(reps[200]->str, "WRONGTYPE");
    ASSERT_EQ_INT(reps[201]->elements, 2);
    ASSERT_EQ_STR(reps[201]->element[0]->str, "198");
    ASSERT_EQ_STR(reps[201]->element[1]->str, "199");
    baton_redis_replies_free(reps, n);
    ASSERT_EQ_INT(baton_redis_pending(r), 0);
    ASSERT_EQ_INT(baton_redis_pipeline_read(r, &reps, &n), 0); /* nothing queued */
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "PING"), 0);
    baton_redis_free(r);
}

/* Retry a GET until the client has reconnected, up to timeout_ms. */
static int get_until_up(baton_redis_t *r, const char *key, redisReply **rep, int timeout_ms)
{
    int64_t deadline = baton_mono_ms() + timeout_ms;
    int rc;
    while ((rc = baton_redis_command(r, rep, "GET %s", key)) == BATON_EUNAVAIL &&
           baton_mono_ms() < deadline)
        usleep(10000);
    return rc;
}

TEST(redis_reconnect_after_restart_same_port)
{
    harness_redis_t srv;
    ASSERT_EQ_INT(harness_redis_start(&srv), 0);
    baton_redis_opts_t o = {.backoff_min_ms = 50, .backoff_max_ms = 200};
    baton_redis_t *r = connect_to(&srv, &o);
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "SET durable %s", "yes"), 0);

    ASSERT_EQ_INT(harness_redis_kill(&srv), 0);
    int64_t t0 = baton_mono_ms();
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "GET durable"), BATON_EUNAVAIL);
    ASSERT_TRUE(!baton_redis_connected(r));
    /* first reconnect attempt is immediate and refused; then the backoff answers at once */
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "GET durable"), BATON_EUNAVAIL);
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "GET durable"), BATON_EUNAVAIL);
    ASSERT_CONTAINS(baton_redis_errstr(r), "next attempt in");
    ASSERT_TRUE(baton_mono_ms() - t0 < 1000);

    ASSERT_EQ_INT(harness_redis_restart(&srv), 0);
    redisReply *rep = NULL;
    ASSERT_EQ_INT(get_until_up(r, "durable", &rep, 3000), 0);
    ASSERT_EQ_STR(rep->str, "yes"); /* AOF kept it across the crash */
    freeReplyObject(rep);
    ASSERT_EQ_INT(baton_redis_reconnects(r), 1);
    ASSERT_TRUE(baton_redis_connected(r));
    ASSERT_NOT_NULL(baton_redis_context(r));
    baton_redis_free(r);
}

TEST(redis_backoff_is_capped)
{
    harness_redis_t srv;
    ASSERT_EQ_INT(harness_redis_start(&srv), 0);
    baton_redis_opts_t o = {.backoff_min_ms = 20, .backoff_max_ms = 80};
    baton_redis_t *r = connect_to(&srv, &o);
    ASSERT_EQ_INT(harness_redis_stop(&srv), 0);
    /* Hammer for 600 ms: connection attempts happen at most every 20, 40, 80, 80... ms. */
    int attempts = 0, calls = 0;
    int64_t end = baton_mono_ms() + 600;
    while (baton_mono_ms() < end) {
        ASSERT_EQ_INT(baton_redis_command(r, NULL, "PING"), BATON_EUNAVAIL);
        calls++;
        if (!strstr(baton_redis_errstr(r), "next attempt in"))
            attempts++;
        else {
            long left = atol(strstr(baton_redis_errstr(r), "next attempt in") + 16);
            ASSERT_TRUE(left >= 0 && left <= 80);
        }
        usleep(2000);
    }
    ASSERT_TRUE(calls > 100);
    /* 1 broken command + immediate try + ~ (600-140)/80 capped tries: between 5 and 12 */
    ASSERT_TRUE(attempts >= 5 && attempts <= 12);
    ASSERT_EQ_INT(harness_redis_restart(&srv), 0);
    redisReply *rep = NULL;
    ASSERT_EQ_INT(get_until_up(r, "nothing", &rep, 2000), 0);
    ASSERT_EQ_INT(rep->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);
    baton_redis_free(r);
}

TEST(redis_evalsha_loads_on_noscript)
{
    harness_redis_t srv;
    ASSERT_EQ_INT(harness_redis_start(&srv), 0);
    baton_redis_t *r = connect_to(&srv, NULL);
    baton_redis_script_t s;
    baton_redis_script_init(&s, "return redis.call('INCRBY', KEYS[1], ARGV[1])");
    ASSERT_EQ_STR(s.sha, "8cd00688c05c46bde4a2e60658ef20a2e5c0b248");

    redisReply *rep = NULL;
    ASSERT_EQ_INT(baton_redis_command(r, &rep, "SCRIPT EXISTS %s", s.sha), 0);
    ASSERT_EQ_INT(rep->element[0]->integer, 0);
    freeReplyObject(rep);

    const char *argv[] = {"ctr", "5"};
    ASSERT_EQ_INT(baton_redis_evalsha(r, &s, 1, 2, argv, NULL, &rep), 0);
    ASSERT_EQ_INT(rep->integer, 5);
    freeReplyObject(rep);
    ASSERT_EQ_INT(baton_redis_command(r, &rep, "SCRIPT EXISTS %s", s.sha), 0);
    ASSERT_EQ_INT(rep->element[0]->integer, 1);
    freeReplyObject(rep);

    /* the server forgets its scripts (as after a restart): loaded again transparently */
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "SCRIPT FLUSH"), 0);
    ASSERT_EQ_INT(baton_redis_evalsha(r, &s, 1, 2, argv, NULL, &rep), 0);
    ASSERT_EQ_INT(rep->integer, 10);
    freeReplyObject(rep);

    /* a script error is an error reply, not a lost connection */
    baton_redis_script_t bad;
    baton_redis_script_init(&bad, "return redis.call('NOSUCHCOMMAND')");
    ASSERT_EQ_INT(baton_redis_evalsha(r, &bad, 0, 0, NULL, NULL, &rep), BATON_EIO);
    ASSERT_EQ_INT(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    ASSERT_EQ_INT(baton_redis_evalsha(r, &s, 3, 2, argv, NULL, NULL), BATON_EINVAL);
    ASSERT_EQ_INT(baton_redis_script_load(r, &bad), 0);
    baton_redis_free(r);
}

TEST(redis_auth_and_db_from_url)
{
    harness_redis_t srv;
    ASSERT_EQ_INT(harness_redis_start(&srv), 0);
    baton_redis_t *admin = connect_to(&srv, NULL);
    ASSERT_EQ_INT(baton_redis_command(admin, NULL, "CONFIG SET requirepass s3cr3t"), 0);

    char url[128], err[256] = "";
    snprintf(url, sizeof(url), "redis://:s3cr3t@127.0.0.1:%d/2", srv.port);
    baton_redis_t *r = baton_redis_new(url, NULL, err, sizeof(err));
    ASSERT_NOT_NULL(r);
    ASSERT_EQ_INT(baton_redis_command(r, NULL, "SET indb2 x"), 0);
    redisReply *rep = NULL;
    ASSERT_EQ_INT(baton_redis_command(admin, &rep, "AUTH s3cr3t"), 0);
    freeReplyObject(rep);
    ASSERT_EQ_INT(baton_redis_command(admin, &rep, "EXISTS indb2"), 0);
    ASSERT_EQ_INT(rep->integer, 0); /* admin is on db 0 */
    freeReplyObject(rep);
    ASSERT_EQ_INT(baton_redis_command(admin, &rep, "SELECT 2"), 0);
    freeReplyObject(rep);
    ASSERT_EQ_INT(baton_redis_command(admin, &rep, "EXISTS indb2"), 0);
    ASSERT_EQ_INT(rep->integer, 1);
    freeReplyObject(rep);
    baton_redis_free(r);

    snprintf(url, sizeof(url), "redis://:wrongpass@127.0.0.1:%d", srv.port);
    ASSERT_NULL(baton_redis_new(url, NULL, err, sizeof(err)));
    ASSERT_CONTAINS(err, "AUTH failed");
    ASSERT_TRUE(strstr(err, "wrongpass") == NULL);
    baton_redis_free(admin);
}

TEST(redis_new_fails_when_nothing_listens)
{
    char url[64], err[256] = "";
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", harness_free_port());
    ASSERT_NULL(baton_redis_new(url, NULL, err, sizeof(err)));
    ASSERT_CONTAINS(err, "connect");
    ASSERT_NULL(baton_redis_new("redis://", NULL, err, sizeof(err)));
    ASSERT_CONTAINS(err, "host");
}

TEST_MAIN()
