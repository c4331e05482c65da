/* harness.h — the process harness for tests that need real processes (redis-server,
 * PostgreSQL, baton-devkafka, service binaries).
 *
 * What it guarantees:
 *  - every process started here runs in its own process group, with PR_SET_PDEATHSIG
 *    SIGKILL, so nothing outlives a test process that dies (even by SIGKILL or an ASan abort);
 *  - at exit (atexit, so a failed ASSERT which calls exit(1) is covered) and on
 *    SIGINT / SIGTERM / SIGABRT, every live process group gets its stop signal (SIGTERM, or
 *    SIGINT for postgres), then SIGKILL after a grace period (BATON_HARNESS_GRACE_MS,
 *    default 3000);
 *  - a per-test temporary directory ($TMPDIR or /tmp, "baton-test-<pid>-XXXXXX"), removed at
 *    exit unless the env var BATON_KEEP_TMP is set (its path is then printed to stderr); dirs
 *    left by test processes that were SIGKILLed are swept by the next test that starts;
 *  - clear errors on stderr ("harness: ...") naming the binary and the log file, with the log's
 *    last lines, when something does not come up.
 *
 * The harness may print to stderr (it is test code, not a library). It is not thread-safe:
 * call it from the test's main thread (PR_SET_PDEATHSIG fires when the *thread* that forked
 * exits). It makes the test process a child subreaper, so orphaned grandchildren (postgres
 * backends) are reaped here.
 *
 * It installs handlers for SIGINT/SIGTERM/SIGABRT and ignores SIGPIPE on first use.
 *
 * Return values: functions returning int give 0 on success and a negative BATON_E* code on
 * failure (BATON_ETIMEDOUT when a wait ran out); pid-returning functions give -1 on failure.
 *
 * Typical use (CMake: baton_test(... LIBS baton_harness ... LABELS integration)):
 *
 *   harness_redis_t r;
 *   ASSERT_EQ_INT(harness_redis_start(&r), 0);          // r.url = "redis://127.0.0.1:PORT"
 *   harness_pg_t pg;
 *   ASSERT_EQ_INT(harness_pg_start(&pg), 0);            // pg.dsn
 *   harness_devkafka_t k;
 *   ASSERT_EQ_INT(harness_devkafka_start(&k), 0);       // k.bootstrap
 *   int ops = harness_free_port();
 *   char *bin = harness_bin_path("baton-router");
 *   char *env_ops = baton_xasprintf("BATON_OPS_PORT=%d", ops); // the service's own variable
 *   char *const argv[] = {bin, NULL};
 *   char *const env[] = {env_ops, NULL};
 *   pid_t pid = harness_spawn("router", argv, env, NULL);   // log: <tmp>/router.log
 *   ASSERT_EQ_INT(harness_wait_http_ok(ops, "/readyz", 10000), 0);
 *   ... // a failing ASSERT exits 1: everything above is stopped and the tmp dir removed */
#ifndef BATON_HARNESS_H
#define BATON_HARNESS_H

#include <limits.h>
#include <sys/types.h>

#include "baton/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- basics ---- */

/* The per-test temp dir (created on first call, mode 0755 so a dropped-privilege postgres
 * can traverse it). Never NULL; aborts the test if it cannot be created. Owned by the harness. */
const char *harness_tmpdir(void);
/* "<tmpdir>/<rel>" in a fresh string (caller frees). */
char *harness_path(const char *rel);
/* A currently free TCP port on 127.0.0.1, below the kernel's ephemeral range and reserved for
 * this process's tmp dir in scripts/stack's registry (BATON_STACK_PORTS_DIR), so concurrent
 * tests and stacks never share one and a restarted server finds its port free. -1 on
 * failure. */
int harness_free_port(void);
/* Path of a Baton binary: $BATON_BIN_DIR/<name>, else the build's bin dir. Caller frees. */
char *harness_bin_path(const char *name);

/* ---- processes ---- */

/* fork/exec argv (argv[0] looked up in PATH when it has no '/'), stdout+stderr appended to
 * log_path (NULL: "<tmpdir>/<name>.log"), stdin from /dev/null, cwd = tmpdir, its own process
 * group, PR_SET_PDEATHSIG SIGKILL. envp_extra: NULL or a NULL-terminated list of "KEY=VALUE"
 * added to (or overriding) the inherited environment. Returns the pid, or -1 (exec failure
 * is detected and reported). The process is registered for cleanup. */
pid_t harness_spawn(const char *name, char *const argv[], char *const envp_extra[],
                    const char *log_path);
/* Send sig to the process's whole group. SIGKILL means "crash": the group and every
 * descendant (postgres backends leave the group) are killed and waited for. The process
 * stays registered until harness_wait_exit / harness_stop. Returns 0 or BATON_ENOENT. */
int harness_kill(pid_t pid, int sig);
/* Wait up to timeout_ms for pid to exit and reap it; *status (may be NULL) gets the raw wait
 * status (use WIFEXITED etc.). Returns 0, BATON_ETIMEDOUT or BATON_ENOENT. */
int harness_wait_exit(pid_t pid, int timeout_ms, int *status);
/* Stop a spawned process: its stop signal, wait up to grace_ms, then SIGKILL; waits until
 * the whole process group is gone. Returns 0 or BATON_ENOENT. */
int harness_stop(pid_t pid, int grace_ms);
/* The signal used by harness_stop / cleanup for pid (default SIGTERM). */
void harness_set_stop_signal(pid_t pid, int sig);
/* Is pid still running (not exited)? */
int harness_alive(pid_t pid);
/* Log file of a spawned pid (owned by the harness) or NULL. */
const char *harness_log_path(pid_t pid);
/* Print the last nlines of a file to stderr, prefixed with "| ". */
void harness_log_tail(const char *path, int nlines);
/* Kill and reap everything now (what atexit does, minus removing the tmp dir). */
void harness_cleanup(void);

/* ---- readiness ---- */

/* Wait until 127.0.0.1:port accepts a TCP connection. 0 or BATON_ETIMEDOUT. */
int harness_wait_port(int port, int timeout_ms);
/* Wait until path exists (and is non-empty). 0 or BATON_ETIMEDOUT. */
int harness_wait_file(const char *path, int timeout_ms);
/* Blocking HTTP/1.0 GET http://127.0.0.1:port<path> (5 s socket timeout). *status gets the
 * HTTP status, *body (may be NULL) a malloc'd NUL-terminated body (caller frees).
 * Returns 0, or BATON_EUNAVAIL (connect failed) / BATON_EIO / BATON_EPARSE. */
int harness_http_get(int port, const char *path, int *status, char **body);
/* The value of one exact series (name and labels as exposed) in the /metrics of the ops port,
 * or -1 when it is not there or the scrape failed. */
double harness_metric(int ops_port, const char *series);
/* Poll GET path until it answers 200, up to timeout_ms. 0 or BATON_ETIMEDOUT. */
int harness_wait_http_ok(int port, const char *path, int timeout_ms);
/* Read a whole file into a malloc'd NUL-terminated string (caller frees), NULL if absent. */
char *harness_read_file(const char *path);

/* ---- ready-made servers ---- */

/* redis-server on 127.0.0.1:<free port>, --appendonly yes, --save "", dir <tmp>/redis-<port>. */
typedef struct {
    int port;
    pid_t pid;    /* 0 when stopped */
    char url[64]; /* "redis://127.0.0.1:PORT" */
    char dir[PATH_MAX];
    char log[PATH_MAX];
} harness_redis_t;

/* Start (port chosen here). Waits until it answers PING (10 s). */
int harness_redis_start(harness_redis_t *r);
/* SIGTERM (clean shutdown) and wait. */
int harness_redis_stop(harness_redis_t *r);
/* SIGKILL (a crash) and wait. */
int harness_redis_kill(harness_redis_t *r);
/* Start again on the same port and dir (the AOF is reloaded). Stops it first if running. */
int harness_redis_restart(harness_redis_t *r);

/* PostgreSQL (newest /usr/lib/postgresql/<v>/bin, or $BATON_PG_BINDIR): initdb into
 * <tmp>/pg-<n>/data, postgres listening on 127.0.0.1:<free port> only, unix socket in
 * <tmp>/pg-<n>/sock, fsync=off (commits still reach the kernel, so harness_pg_kill loses no
 * committed data). As root, initdb/postgres run as the `postgres` user (the tmp dir must be
 * reachable by it: keep TMPDIR world-traversable, /tmp is). A database `baton` is created. */
typedef struct {
    int port;
    pid_t pid;           /* postmaster; 0 when stopped */
    char dsn[128];       /* "postgresql://postgres@127.0.0.1:PORT/baton" (superuser, trust auth) */
    char admin_dsn[128]; /* same, database "postgres" */
    char bindir[PATH_MAX];
    char datadir[PATH_MAX];
    char sockdir[PATH_MAX];
    char log[PATH_MAX];
} harness_pg_t;

/* initdb + start + CREATE DATABASE baton (initdb takes a few seconds). */
int harness_pg_start(harness_pg_t *p);
/* Fast shutdown (SIGINT: disconnects clients) and wait. */
int harness_pg_stop(harness_pg_t *p);
/* SIGKILL the postmaster's whole group (a crash; restart does recovery). */
int harness_pg_kill(harness_pg_t *p);
/* Start again on the same port and datadir. Stops it first if running. */
int harness_pg_restart(harness_pg_t *p);
/* Run SQL (one or more statements) over libpq on dsn (NULL: p->dsn), printing the error to
 * stderr. 0, BATON_EUNAVAIL (cannot connect) or BATON_EIO. */
int harness_pg_exec(const harness_pg_t *p, const char *dsn, const char *sql);

/* baton-devkafka (the mock-cluster broker) from harness_bin_path("baton-devkafka"), with
 * BATON_DEVKAFKA_BOOTSTRAP_FILE=<tmp>/kafka-<n>.bootstrap; waits (20 s) for that file. */
typedef struct {
    pid_t pid;           /* 0 when stopped */
    char bootstrap[512]; /* "host:port,host:port,..." */
    char bootstrap_file[PATH_MAX];
    char log[PATH_MAX];
} harness_devkafka_t;

int harness_devkafka_start(harness_devkafka_t *k);
/* Same, with extra "KEY=VALUE" environment for the broker (NULL-terminated, may be NULL). */
int harness_devkafka_start_env(harness_devkafka_t *k, char *const envp_extra[]);
/* SIGUSR1: brokers down (connections refused) until resume. */
int harness_devkafka_pause(harness_devkafka_t *k);
/* SIGUSR2: brokers up again. */
int harness_devkafka_resume(harness_devkafka_t *k);
/* SIGTERM and wait. */
int harness_devkafka_stop(harness_devkafka_t *k);

#ifdef __cplusplus
}
#endif
#endif
