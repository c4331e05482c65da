/* harness_servers.c — ready-made redis-server and baton-devkafka. PostgreSQL: harness_pg.c. */
#include "harness_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int harness__wait_ready(pid_t pid, const char *what, const char *log, int timeout_ms,
                        int (*ready)(void *), void *ctx)
{
    int64_t start = baton_mono_ms();
    for (;;) {
        if (ready(ctx))
            return 0;
        if (!harness_alive(pid)) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s (pid %d) exited before it was ready", what, (int)pid);
            harness__report_failure(msg, pid, log);
            harness_stop(pid, 100);
            return BATON_EUNAVAIL;
        }
        if (baton_mono_ms() - start >= timeout_ms) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s (pid %d) not ready after %d ms", what, (int)pid,
                     timeout_ms);
            harness__report_failure(msg, pid, log);
            harness_stop(pid, 1000);
            return BATON_ETIMEDOUT;
        }
        harness__sleep_ms(20);
    }
}

/* ---- redis ---- */

static int redis_pong(void *ctx)
{
    int port = *(int *)ctx;
    int fd = harness__connect(port, 1000);
    if (fd < 0)
        return 0;
    char buf[64] = {0};
    int ok = 0;
    if (write(fd, "PING\r\n", 6) == 6 && read(fd, buf, sizeof(buf) - 1) > 0)
        ok = strncmp(buf, "+PONG", 5) == 0;
    close(fd);
    return ok;
}

static int redis_launch(harness_redis_t *r)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", r->port);
    char *const argv[] = {
        "redis-server", "--port",       port,  "--bind",           "127.0.0.1", "--dir",
        r->dir,         "--appendonly", "yes", "--save",           "",          "--daemonize",
        "no",           "--logfile",    "",    "--protected-mode", "no",        NULL};
    r->pid = harness_spawn("redis-server", argv, NULL, r->log);
    if (r->pid < 0) {
        r->pid = 0;
        return BATON_EUNAVAIL;
    }
    char what[64];
    snprintf(what, sizeof(what), "redis-server on port %d", r->port);
    int rc = harness__wait_ready(r->pid, what, r->log, 10000, redis_pong, &r->port);
    if (rc != 0)
        r->pid = 0;
    return rc;
}

int harness_redis_start(harness_redis_t *r)
{
    memset(r, 0, sizeof(*r));
    int rc = BATON_EUNAVAIL;
    for (int attempt = 0; attempt < 3 && rc != 0; attempt++) { /* a port race: try another */
        r->port = harness_free_port();
        if (r->port <= 0)
            return BATON_EUNAVAIL;
        snprintf(r->dir, sizeof(r->dir), "%s/redis-%d", harness_tmpdir(), r->port);
        snprintf(r->log, sizeof(r->log), "%s/redis-%d.log", harness_tmpdir(), r->port);
        snprintf(r->url, sizeof(r->url), "redis://127.0.0.1:%d", r->port);
        if (mkdir(r->dir, 0755) != 0 && errno != EEXIST)
            return BATON_EIO;
        rc = redis_launch(r);
    }
    return rc;
}

int harness_redis_stop(harness_redis_t *r)
{
    if (r->pid > 0)
        harness_stop(r->pid, 5000);
    r->pid = 0;
    return 0;
}

int harness_redis_kill(harness_redis_t *r)
{
    if (r->pid > 0) {
        harness_kill(r->pid, SIGKILL);
        harness_stop(r->pid, 5000);
    }
    r->pid = 0;
    return 0;
}

int harness_redis_restart(harness_redis_t *r)
{
    harness_redis_stop(r);
    return redis_launch(r);
}

/* ---- baton-devkafka ---- */

static int file_ready(void *ctx)
{
    struct stat st;
    return stat((const char *)ctx, &st) == 0 && st.st_size > 0;
}

int harness_devkafka_start_env(harness_devkafka_t *k, char *const envp_extra[])
{
    static int seq;
    memset(k, 0, sizeof(*k));
    snprintf(k->bootstrap_file, sizeof(k->bootstrap_file), "%s/kafka-%d.bootstrap",
             harness_tmpdir(), seq);
    snprintf(k->log, sizeof(k->log), "%s/devkafka-%d.log", harness_tmpdir(), seq);
    seq++;
    unlink(k->bootstrap_file);
    char *bin = harness_bin_path("baton-devkafka");
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "harness: %s is missing or not executable (build target baton-devkafka)\n",
                bin);
        free(bin);
        return BATON_ENOENT;
    }
    int n = 0;
    while (envp_extra && envp_extra[n])
        n++;
    char **env = baton_xcalloc((size_t)n + 2, sizeof(char *));
    env[0] = baton_xasprintf("BATON_DEVKAFKA_BOOTSTRAP_FILE=%s", k->bootstrap_file);
    for (int i = 0; i < n; i++)
        env[i + 1] = envp_extra[i];
    char *const argv[] = {bin, NULL};
    k->pid = harness_spawn("baton-devkafka", argv, env, k->log);
    free(env[0]);
    free(env);
    free(bin);
    if (k->pid < 0) {
        k->pid = 0;
        return BATON_EUNAVAIL;
    }
    int rc =
        harness__wait_ready(k->pid, "baton-devkafka", k->log, 20000, file_ready, k->bootstrap_file);
    if (rc != 0) {
        k->pid = 0;
        return rc;
    }
    char *s = harness_read_file(k->bootstrap_file);
    if (!s)
        return BATON_EIO;
    s[strcspn(s, "\r\n")] = '\0';
    baton_strlcpy(k->bootstrap, s, sizeof(k->bootstrap));
    free(s);
    return 0;
}

int harness_devkafka_start(harness_devkafka_t *k)
{
    return harness_devkafka_start_env(k, NULL);
}

int harness_devkafka_pause(harness_devkafka_t *k)
{
    return k->pid > 0 ? harness_kill(k->pid, SIGUSR1) : BATON_ENOENT;
}

int harness_devkafka_resume(harness_devkafka_t *k)
{
    return k->pid > 0 ? harness_kill(k->pid, SIGUSR2) : BATON_ENOENT;
}

int harness_devkafka_stop(harness_devkafka_t *k)
{
    if (k->pid > 0)
        harness_stop(k->pid, 5000);
    k->pid = 0;
    return 0;
}
