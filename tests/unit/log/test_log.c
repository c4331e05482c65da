#include "test.h"
#include "baton/log.h"

#include <unistd.h>

/* Captures stdout into a pipe around fn and returns what was written (caller frees). */
static char *capture(void (*fn)(void))
{
    int fds[2];
    ASSERT_EQ_INT(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fds[1], 1);
    fn();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fds[1]);
    char *out = baton_xcalloc(1, 4096);
    ssize_t n = read(fds[0], out, 4095);
    ASSERT_TRUE(n >= 0);
    close(fds[0]);
    return out;
}

static int evaluated;
static int side_effect(void)
{
    evaluated++;
    return 1;
}

static void write_lines(void)
{
    baton_log_init("router", BATON_LOG_INFO);
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv(&f, "topic", "baton.inbound.v1");
    baton_log_kv_int(&f, "partition", 3);
    BATON_LOG(BATON_LOG_WARN, f.data, "lag \"high\"\n%d", 7);
    LOG_DEBUG("hidden %d", side_effect());
    baton_buf_free(&f);
}

TEST(log_json_line)
{
    evaluated = 0;
    char *out = capture(write_lines);
    ASSERT_CONTAINS(out, "\"level\":\"warn\",\"svc\":\"router\",\"msg\":\"lag \\\"high\\\"\\n7\"");
    ASSERT_CONTAINS(out, ",\"topic\":\"baton.inbound.v1\",\"partition\":3}\n");
    ASSERT_TRUE(strstr(out, "hidden") == NULL);
    ASSERT_EQ_INT(evaluated, 0); /* level is checked before arguments are evaluated */
    free(out);
}

TEST(log_level_parse)
{
    baton_log_level_t l;
    ASSERT_EQ_INT(baton_log_level_parse("DEBUG", &l), 0);
    ASSERT_EQ_INT(l, BATON_LOG_DEBUG);
    ASSERT_EQ_INT(baton_log_level_parse("warning", &l), 0);
    ASSERT_EQ_INT(l, BATON_LOG_WARN);
    ASSERT_EQ_INT(baton_log_level_parse("loud", &l), BATON_EINVAL);
}

TEST(log_json_escape_controls)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_json_escape(&b, "a\x01\tb\\");
    ASSERT_EQ_STR(b.data, "a\\u0001\\tb\\\\");
    baton_buf_free(&b);
}

TEST_MAIN()
