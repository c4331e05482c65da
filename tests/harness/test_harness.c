/* test_harness.c — the harness's own tests: spawned processes never outlive the test. */
#include "harness.h"
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Gone, or a zombie nobody has reaped yet (reaping it if it is ours). */
static int proc_dead(pid_t pid)
{
    waitpid(pid, NULL, WNOHANG);
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] == 'Z';
}

static int wait_dead(pid_t pid, int timeout_ms)
{
    for (int t = 0; t < timeout_ms / 10; t++) {
        if (proc_dead(pid))
            return 1;
        usleep(10000);
    }
    return proc_dead(pid);
}

/* Helper run as a child test process (only when HARNESS_SELFTEST_PIDFILE is set): spawns a
 * long sleep, publishes its pid, then dies the way HARNESS_SELFTEST_DEATH says. */
TEST(harness_helper_spawn_then_die)
{
    const char *pidfile = getenv("HARNESS_SELFTEST_PIDFILE");
    const char *death = getenv("HARNESS_SELFTEST_DEATH");
    if (!pidfile || !death)
        return;
    char *const argv[] = {"sleep", "300", NULL};
    pid_t pid = harness_spawn("sleep", argv, NULL, NULL);
    ASSERT_TRUE(pid > 0);
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
    FILE *f = fopen(tmp, "w");
    ASSERT_NOT_NULL(f);
    fprintf(f, "%d\n", (int)pid);
    fclose(f);
    ASSERT_EQ_INT(rename(tmp, pidfile), 0);
    if (strcmp(death, "assert") == 0)
        ASSERT_EQ_INT(1, 2); /* exit(1): the atexit cleanup must run */
    if (strcmp(death, "abort") == 0)
        abort();
    pause(); /* wait for SIGTERM / SIGKILL from the outer test */
}

/* Run the helper with the given death, return the sleep's pid after the helper has died. */
static pid_t run_helper(const char *death, int outer_sig)
{
    char *pidfile = harness_path("helper.pid");
    unlink(pidfile);
    char *env_pid = baton_xasprintf("HARNESS_SELFTEST_PIDFILE=%s", pidfile);
    char *env_death = baton_xasprintf("HARNESS_SELFTEST_DEATH=%s", death);
    /* The helper's own tmp dir nests in ours, so even a SIGKILLed helper leaves nothing. */
    char *env_tmp = baton_xasprintf("TMPDIR=%s", harness_tmpdir());
    char *const env[] = {env_pid, env_death, env_tmp, "BATON_HARNESS_GRACE_MS=500", NULL};
    char *const argv[] = {"/proc/self/exe", "harness_helper_spawn_then_die", NULL};
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ASSERT_TRUE(n > 0);
    self[n] = '\0';
    char *const argv2[] = {self, argv[1], NULL};
    pid_t helper = harness_spawn("helper", argv2, env, NULL);
    ASSERT_TRUE(helper > 0);
    ASSERT_EQ_INT(harness_wait_file(pidfile, 10000), 0);
    char *s = harness_read_file(pidfile);
    ASSERT_NOT_NULL(s);
    pid_t sleeper = (pid_t)atoi(s);
    free(s);
    ASSERT_TRUE(sleeper > 0);
    if (outer_sig)
        kill(helper, outer_sig);
    int st = 0;
    ASSERT_EQ_INT(harness_wait_exit(helper, 10000, &st), 0);
    if (strcmp(death, "assert") == 0) {
        ASSERT_TRUE(WIFEXITED(st));
        ASSERT_EQ_INT(WEXITSTATUS(st), 1);
    } else {
        ASSERT_TRUE(WIFSIGNALED(st));
        ASSERT_EQ_INT(WTERMSIG(st), strcmp(death, "abort") == 0 ? SIGABRT : outer_sig);
    }
    free(env_pid);
    free(env_death);
    free(env_tmp);
    free(pidfile);
    return sleeper;
}

TEST(harness_spawned_killed_when_assert_fails)
{
    pid_t sleeper = run_helper("assert", 0);
    ASSERT_TRUE(wait_dead(sleeper, 100)); /* atexit already waited for it */
}

TEST(harness_spawned_killed_on_sigterm)
{
    pid_t sleeper = run_helper("signal", SIGTERM);
    ASSERT_TRUE(wait_dead(sleeper, 100));
}

TEST(harness_spawned_killed_on_abort)
{
    pid_t sleeper = run_helper("abort", 0);
    ASSERT_TRUE(wait_dead(sleeper, 100));
}

TEST(harness_spawned_killed_on_sigkill)
{
    /* No handler can run: PR_SET_PDEATHSIG does the job. */
    pid_t sleeper = run_helper("signal", SIGKILL);
    ASSERT_TRUE(wait_dead(sleeper, 3000));
}

TEST(harness_helper_tmpdir_only)
{
    if (getenv("HARNESS_SELFTEST_TMPONLY"))
        ASSERT_NOT_NULL(harness_tmpdir());
}

TEST(harness_sweeps_tmpdirs_of_dead_tests)
{
    char *dead = harness_path("baton-test-999999999-abcdef"); /* beyond pid_max: gone */
    char *live = baton_xasprintf("%s/baton-test-%d-abcdef", harness_tmpdir(), (int)getpid());
    char *other = harness_path("unrelated");
    ASSERT_EQ_INT(mkdir(dead, 0755), 0);
    ASSERT_EQ_INT(mkdir(live, 0755), 0);
    ASSERT_EQ_INT(mkdir(other, 0755), 0);
    char *inner = baton_xasprintf("%s/file", dead);
    FILE *f = fopen(inner, "w");
    ASSERT_NOT_NULL(f);
    fclose(f);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ASSERT_TRUE(n > 0);
    self[n] = '\0';
    char *env_tmp = baton_xasprintf("TMPDIR=%s", harness_tmpdir());
    char *const env[] = {env_tmp, "HARNESS_SELFTEST_TMPONLY=1", NULL};
    char *const argv[] = {self, "harness_helper_tmpdir_only", NULL};
    pid_t pid = harness_spawn("sweeper", argv, env, NULL);
    ASSERT_TRUE(pid > 0);
    int st = -1;
    ASSERT_EQ_INT(harness_wait_exit(pid, 10000, &st), 0);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ASSERT_EQ_INT(access(dead, F_OK), -1);
    ASSERT_EQ_INT(access(live, F_OK), 0);
    ASSERT_EQ_INT(access(other, F_OK), 0);
    free(dead);
    free(live);
    free(other);
    free(inner);
    free(env_tmp);
}

TEST(harness_spawn_exit_status_and_log)
{
    char *const argv[] = {"sh", "-c", "echo out-$HARNESS_X; echo err >&2; exit 3", NULL};
    char *const env[] = {"HARNESS_X=42", NULL};
    pid_t pid = harness_spawn("sh", argv, env, NULL);
    ASSERT_TRUE(pid > 0);
    int st = 0;
    ASSERT_EQ_INT(harness_wait_exit(pid, 5000, &st), 0);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ_INT(WEXITSTATUS(st), 3);
    char *log = harness_read_file(harness_log_path(pid));
    ASSERT_EQ_STR(log, "out-42\nerr\n");
    free(log);
}

TEST(harness_spawn_missing_binary_fails)
{
    char *const argv[] = {"/nonexistent/baton-nothing", NULL};
    ASSERT_EQ_INT(harness_spawn("nothing", argv, NULL, NULL), -1);
}

TEST(harness_wait_exit_times_out_and_stop)
{
    char *const argv[] = {"sleep", "300", NULL};
    pid_t pid = harness_spawn("sleep", argv, NULL, NULL);
    ASSERT_TRUE(pid > 0);
    ASSERT_EQ_INT(harness_wait_exit(pid, 50, NULL), BATON_ETIMEDOUT);
    ASSERT_TRUE(harness_alive(pid));
    ASSERT_EQ_INT(harness_stop(pid, 2000), 0);
    ASSERT_TRUE(proc_dead(pid));
}

TEST(harness_ports_and_files)
{
    int port = harness_free_port();
    ASSERT_TRUE(port > 1024 && port < 65536);
    ASSERT_EQ_INT(harness_wait_port(port, 100), BATON_ETIMEDOUT);
    /* below the ephemeral range, reserved for this process's tmp dir, never given twice */
    int lo = 0;
    FILE *f0 = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    ASSERT_NOT_NULL(f0);
    ASSERT_EQ_INT(fscanf(f0, "%d", &lo), 1);
    fclose(f0);
    ASSERT_TRUE(port < lo);
    const char *reg = getenv("BATON_STACK_PORTS_DIR");
    char *rpath = baton_xasprintf("%s/%d", reg && *reg ? reg : "/tmp/baton-stack-ports", port);
    char *owner = harness_read_file(rpath);
    ASSERT_NOT_NULL(owner);
    ASSERT_EQ_INT(strncmp(owner, harness_tmpdir(), strlen(harness_tmpdir())), 0);
    free(owner);
    free(rpath);
    for (int i = 0; i < 50; i++)
        ASSERT_TRUE(harness_free_port() != port);
    char *f = harness_path("later");
    ASSERT_EQ_INT(harness_wait_file(f, 50), BATON_ETIMEDOUT);
    free(f);
    ASSERT_EQ_INT(strncmp(harness_tmpdir(), "/", 1), 0);
}

TEST(harness_http_get_against_python)
{
    int port = harness_free_port();
    char *page = harness_path("hello.txt");
    FILE *fp = fopen(page, "w");
    ASSERT_NOT_NULL(fp);
    fputs("hello harness\n", fp);
    fclose(fp);
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    char *const argv[] = {"python3", "-m",        "http.server", ports,
                          "--bind",  "127.0.0.1", "--directory", (char *)harness_tmpdir(),
                          NULL};
    pid_t pid = harness_spawn("http", argv, NULL, NULL);
    ASSERT_TRUE(pid > 0);
    ASSERT_EQ_INT(harness_wait_http_ok(port, "/hello.txt", 10000), 0);
    int status = 0;
    char *body = NULL;
    ASSERT_EQ_INT(harness_http_get(port, "/hello.txt", &status, &body), 0);
    ASSERT_EQ_INT(status, 200);
    ASSERT_EQ_STR(body, "hello harness\n");
    free(body);
    ASSERT_EQ_INT(harness_http_get(port, "/missing", &status, NULL), 0);
    ASSERT_EQ_INT(status, 404);
    free(page);
}

TEST(harness_redis_restart_same_port)
{
    harness_redis_t r;
    ASSERT_EQ_INT(harness_redis_start(&r), 0);
    int port = r.port;
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    ASSERT_EQ_STR(r.url, url);
    ASSERT_EQ_INT(harness_redis_kill(&r), 0);
    ASSERT_EQ_INT(r.pid, 0);
    ASSERT_EQ_INT(harness_wait_port(port, 100), BATON_ETIMEDOUT);
    ASSERT_EQ_INT(harness_redis_restart(&r), 0);
    ASSERT_EQ_INT(r.port, port);
    ASSERT_EQ_INT(harness_wait_port(port, 1000), 0);
}

TEST(harness_pg_start_kill_restart)
{
    harness_pg_t p;
    ASSERT_EQ_INT(harness_pg_start(&p), 0);
    ASSERT_EQ_INT(harness_pg_exec(&p, NULL, "CREATE TABLE t(x int); INSERT INTO t VALUES (1)"), 0);
    ASSERT_EQ_INT(harness_pg_kill(&p), 0);
    ASSERT_EQ_INT(harness_wait_port(p.port, 100), BATON_ETIMEDOUT);
    ASSERT_EQ_INT(harness_pg_restart(&p), 0);
    ASSERT_EQ_INT(harness_pg_exec(&p, NULL, "SELECT x FROM t"), 0);
    ASSERT_EQ_INT(harness_pg_stop(&p), 0);
    ASSERT_EQ_INT(harness_pg_restart(&p), 0);
    ASSERT_NE_INT(harness_pg_exec(&p, NULL, "SELECT nope FROM t"), 0);
}

TEST_MAIN()
