/* harness_pg.c — a throwaway PostgreSQL: initdb into the tmp dir, postgres on loopback. */
#include "harness_int.h"

#include <errno.h>
#include <glob.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Newest /usr/lib/postgresql/<major>/bin that has a postgres binary, or $BATON_PG_BINDIR. */
static int find_bindir(char *out, size_t len)
{
    const char *env = getenv("BATON_PG_BINDIR");
    if (env && *env) {
        baton_strlcpy(out, env, len);
        return 0;
    }
    glob_t g;
    int best = -1;
    if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            int v = atoi(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"));
            if (v > best) {
                best = v;
                baton_strlcpy(out, g.gl_pathv[i], len);
                *strrchr(out, '/') = '\0';
            }
        }
        globfree(&g);
    }
    if (best < 0) {
        fprintf(stderr, "harness: no PostgreSQL found in /usr/lib/postgresql/*/bin "
                        "(set BATON_PG_BINDIR)\n");
        return BATON_ENOENT;
    }
    return 0;
}

/* PostgreSQL refuses to run as root: then run as the `postgres` system user. */
static int run_as(harness_spawn_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    if (geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam("postgres");
    if (!pw) {
        fprintf(stderr, "harness: running as root and there is no `postgres` user\n");
        return BATON_ENOENT;
    }
    o->run_as_uid = pw->pw_uid;
    o->run_as_gid = pw->pw_gid;
    return 0;
}

static int mkdir_owned(const char *path, mode_t mode, const harness_spawn_opts_t *o)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST) {
        fprintf(stderr, "harness: mkdir %s: %s\n", path, strerror(errno));
        return BATON_EIO;
    }
    chmod(path, mode);
    if (o->run_as_uid > 0 && chown(path, o->run_as_uid, o->run_as_gid) != 0)
        return BATON_EIO;
    return 0;
}

static int initdb(harness_pg_t *p, const harness_spawn_opts_t *o)
{
    char bin[PATH_MAX + 16], log[PATH_MAX + 16];
    snprintf(bin, sizeof(bin), "%s/initdb", p->bindir);
    snprintf(log, sizeof(log), "%s.initdb", p->log);
    char *const argv[] = {bin,     "-D", p->datadir, "-U",         "postgres",  "-A",
                          "trust", "-E", "UTF8",     "--locale=C", "--no-sync", "--no-instructions",
                          NULL};
    char *const env[] = {"LC_ALL=C", "LANG=C", NULL};
    pid_t pid = harness__spawn_ex("initdb", argv, env, log, o);
    if (pid < 0)
        return BATON_EUNAVAIL;
    int st = 0;
    if (harness_wait_exit(pid, 60000, &st) != 0) {
        harness__report_failure("initdb did not finish in 60 s", pid, log);
        harness_stop(pid, 100);
        return BATON_ETIMEDOUT;
    }
    harness_stop(pid, 100);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char msg[PATH_MAX + 64];
        snprintf(msg, sizeof(msg), "%s failed (status %d)", bin, st);
        harness__report_failure(msg, pid, log);
        return BATON_EIO;
    }
    return 0;
}

static int pg_ready(void *ctx)
{
    return PQping((const char *)ctx) == PQPING_OK;
}

static int launch(harness_pg_t *p)
{
    harness_spawn_opts_t o;
    if (run_as(&o) != 0)
        return BATON_ENOENT;
    char bin[PATH_MAX + 16], port[16];
    snprintf(bin, sizeof(bin), "%s/postgres", p->bindir);
    snprintf(port, sizeof(port), "%d", p->port);
    /* fsync=off keeps commits cheap but still written to the kernel at commit, so a SIGKILL
     * (harness_pg_kill) loses nothing committed; synchronous_commit=off would. */
    char *const argv[] = {bin,
                          "-D",
                          p->datadir,
                          "-p",
                          port,
                          "-k",
                          p->sockdir,
                          "-c",
                          "listen_addresses=127.0.0.1",
                          "-c",
                          "fsync=off",
                          "-c",
                          "full_page_writes=off",
                          "-c",
                          "shared_buffers=16MB",
                          "-c",
                          "max_connections=40",
                          "-c",
                          "dynamic_shared_memory_type=mmap",
                          NULL};
    char *const env[] = {"LC_ALL=C", "LANG=C", NULL};
    p->pid = harness__spawn_ex("postgres", argv, env, p->log, &o);
    if (p->pid < 0) {
        p->pid = 0;
        return BATON_EUNAVAIL;
    }
    harness_set_stop_signal(p->pid, SIGINT); /* fast shutdown: does not wait for clients */
    char what[64];
    snprintf(what, sizeof(what), "postgres on port %d", p->port);
    int rc = harness__wait_ready(p->pid, what, p->log, 30000, pg_ready, p->admin_dsn);
    if (rc != 0)
        p->pid = 0;
    return rc;
}

int harness_pg_exec(const harness_pg_t *p, const char *dsn, const char *sql)
{
    PGconn *c = PQconnectdb(dsn ? dsn : p->dsn);
    int rc = 0;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "harness: connect to postgres on port %d: %s", p->port, PQerrorMessage(c));
        rc = BATON_EUNAVAIL;
    } else {
        PGresult *res = PQexec(c, sql);
        ExecStatusType s = PQresultStatus(res);
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
            fprintf(stderr, "harness: SQL failed: %s", PQerrorMessage(c));
            rc = BATON_EIO;
        }
        PQclear(res);
    }
    PQfinish(c);
    return rc;
}

static void set_port(harness_pg_t *p, int port)
{
    p->port = port;
    snprintf(p->dsn, sizeof(p->dsn), "postgresql://postgres@127.0.0.1:%d/baton", port);
    snprintf(p->admin_dsn, sizeof(p->admin_dsn), "postgresql://postgres@127.0.0.1:%d/postgres",
             port);
}

int harness_pg_start(harness_pg_t *p)
{
    static int seq;
    memset(p, 0, sizeof(*p));
    harness_spawn_opts_t o;
    int rc;
    if ((rc = find_bindir(p->bindir, sizeof(p->bindir))) != 0 || (rc = run_as(&o)) != 0)
        return rc;
    char base[PATH_MAX - 64];
    snprintf(base, sizeof(base), "%s/pg-%d", harness_tmpdir(), seq++);
    snprintf(p->datadir, sizeof(p->datadir), "%s/data", base);
    snprintf(p->sockdir, sizeof(p->sockdir), "%s/sock", base);
    snprintf(p->log, sizeof(p->log), "%s/postgres.log", base);
    if ((rc = mkdir_owned(base, 0755, &o)) != 0 || (rc = mkdir_owned(p->datadir, 0700, &o)) != 0 ||
        (rc = mkdir_owned(p->sockdir, 0755, &o)) != 0)
        return rc;
    if ((rc = initdb(p, &o)) != 0)
        return rc;
    rc = BATON_EUNAVAIL;
    for (int attempt = 0; attempt < 3 && rc == BATON_EUNAVAIL; attempt++) {
        int port = harness_free_port(); /* another test may grab it first: then retry */
        if (port <= 0)
            return BATON_EUNAVAIL;
        set_port(p, port);
        rc = launch(p);
    }
    if (rc != 0)
        return rc;
    return harness_pg_exec(p, p->admin_dsn, "CREATE DATABASE baton");
}

int harness_pg_stop(harness_pg_t *p)
{
    if (p->pid > 0)
        harness_stop(p->pid, 10000);
    p->pid = 0;
    return 0;
}

int harness_pg_kill(harness_pg_t *p)
{
    if (p->pid > 0) {
        harness_kill(p->pid, SIGKILL);
        harness_stop(p->pid, 5000);
    }
    p->pid = 0;
    return 0;
}

int harness_pg_restart(harness_pg_t *p)
{
    harness_pg_stop(p);
    return launch(p);
}
