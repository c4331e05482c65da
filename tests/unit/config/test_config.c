#include "test.h"
#include "baton/config.h"

#include <stdbool.h>

static char *s_bootstrap, *s_secret;
static long long s_port, s_timeout;
static bool s_flag;
static const baton_config_opt_t opts[] = {
    {"kafka_bootstrap", "BATON_T_BOOTSTRAP", BATON_CFG_STR, "127.0.0.1:9092", 0, 0, "Kafka",
     &s_bootstrap},
    {"api_secret", "BATON_T_SECRET", BATON_CFG_SECRET, "", 0, 0, "a secret", &s_secret},
    {"ops_port", "BATON_T_PORT", BATON_CFG_INT, "9100", 0, 65535, "ops port", &s_port},
    {"timeout", "BATON_T_TIMEOUT", BATON_CFG_DURATION, "5s", 1, 60000, "timeout", &s_timeout},
    {"flag", "BATON_T_FLAG", BATON_CFG_BOOL, "false", 0, 0, "a flag", &s_flag},
    {0}};

static void clear_env(void)
{
    unsetenv("BATON_T_BOOTSTRAP");
    unsetenv("BATON_T_SECRET");
    unsetenv("BATON_T_PORT");
    unsetenv("BATON_T_TIMEOUT");
    unsetenv("BATON_T_FLAG");
}

TEST(config_defaults_and_env)
{
    char err[256] = "";
    clear_env();
    ASSERT_EQ_INT(baton_config_load(opts, err, sizeof err), 0);
    ASSERT_EQ_STR(s_bootstrap, "127.0.0.1:9092");
    ASSERT_EQ_INT(s_port, 9100);
    ASSERT_EQ_INT(s_timeout, 5000);
    ASSERT_TRUE(!s_flag);
    setenv("BATON_T_PORT", "8080", 1);
    setenv("BATON_T_TIMEOUT", "250", 1);
    setenv("BATON_T_FLAG", "yes", 1);
    setenv("BATON_T_SECRET", "hunter2", 1);
    ASSERT_EQ_INT(baton_config_load(opts, err, sizeof err), 0);
    ASSERT_EQ_INT(s_port, 8080);
    ASSERT_EQ_INT(s_timeout, 250);
    ASSERT_TRUE(s_flag);
    baton_buf_t b = BATON_BUF_INIT;
    baton_config_describe(opts, &b);
    ASSERT_CONTAINS(b.data, "\"api_secret\":\"***\"");
    ASSERT_TRUE(strstr(b.data, "hunter2") == NULL);
    ASSERT_CONTAINS(b.data, "\"ops_port\":8080");
    baton_buf_free(&b);
    baton_config_free(opts);
    ASSERT_NULL(s_bootstrap);
    clear_env();
}

TEST(config_rejects_bad_values)
{
    char err[256] = "";
    clear_env();
    setenv("BATON_T_PORT", "70000", 1);
    ASSERT_EQ_INT(baton_config_load(opts, err, sizeof err), BATON_ERANGE);
    ASSERT_EQ_STR(err, "BATON_T_PORT: 70000 is outside [0, 65535]");
    setenv("BATON_T_PORT", "12x", 1);
    ASSERT_EQ_INT(baton_config_load(opts, err, sizeof err), BATON_EINVAL);
    ASSERT_EQ_STR(err, "BATON_T_PORT: expected an integer");
    clear_env();
    setenv("BATON_T_FLAG", "maybe", 1);
    ASSERT_EQ_INT(baton_config_load(opts, err, sizeof err), BATON_EINVAL);
    ASSERT_EQ_STR(err, "BATON_T_FLAG: expected true or false");
    baton_config_free(opts);
    clear_env();
}

static void collect(const char *name, const char *value, void *ud)
{
    baton_buf_appendf(ud, "%s=%s;", name, value);
}

TEST(config_passthrough)
{
    setenv("BATON_KTEST_SECURITY_PROTOCOL", "SASL_SSL", 1);
    setenv("BATON_KTEST_BOOTSTRAP", "x:1", 1);
    baton_buf_t b = BATON_BUF_INIT;
    const char *skip[] = {"bootstrap", NULL};
    baton_config_env_passthrough("BATON_KTEST_", skip, collect, &b);
    ASSERT_EQ_STR(b.data, "security.protocol=SASL_SSL;");
    baton_buf_free(&b);
}

TEST_MAIN()
