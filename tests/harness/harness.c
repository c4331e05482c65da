/* harness.c — temp dir, spawning, the process registry and its cleanup at exit / on signals. */
#include "harness_int.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef HARNESS_BIN_DIR
#define HARNESS_BIN_DIR ""
#endif

#define HARNESS_MAX_PROCS 128

typedef struct {
    volatile pid_t pid;  /* 0: free slot */
    volatile int alive;  /* not yet reaped */
    volatile int status; /* wait status once reaped */
    int stop_sig;
    char name[64];
    char log[PATH_MAX];
} harness_proc_t;

static harness_proc_t procs[HARNESS_MAX_PROCS];
static char tmpdir[PATH_MAX];
static int keep_tmp; /* BATON_KEEP_TMP, read once (getenv is not async-signal-safe) */
static pid_t owner_pid;
static int initialized;

void harness__sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static harness_proc_t *find_proc(pid_t pid)
{
    if (pid <= 0)
        return NULL;
    for (int i = 0; i < HARNESS_MAX_PROCS; i++)
        if (procs[i].pid == pid)
            return &procs[i];
    return NULL;
}

/* Reap whatever in pid's group has exited (we are a subreaper, so orphaned grandchildren in
 * the group are ours too). Async-signal-safe. */
static void reap_group(pid_t pgid)
{
    int st;
    pid_t r;
    while ((r = waitpid(-pgid, &st, WNOHANG)) > 0) {
        for (int i = 0; i < HARNESS_MAX_PROCS; i++)
            if (procs[i].pid == r) {
                procs[i].alive = 0;
                procs[i].status = st;
            }
    }
}

/* Is anything of the group left? Reaps first. Async-signal-safe. */
static int group_exists(pid_t pgid)
{
    reap_group(pgid);
    return kill(-pgid, 0) == 0 || errno == EPERM;
}

/* Kill every registered group with SIGKILL and reap, within ~2 s. Async-signal-safe. */
static void kill_all_now(void)
{
    for (int i = 0; i < HARNESS_MAX_PROCS; i++)
        if (procs[i].pid > 0)
            kill(-procs[i].pid, SIGKILL);
    for (int i = 0; i < HARNESS_MAX_PROCS; i++) {
        if (procs[i].pid <= 0)
            continue;
        for (int t = 0; t < 200 && group_exists(procs[i].pid); t++) {
            struct timespec ts = {0, 10000000L};
            nanosleep(&ts, NULL);
        }
    }
}

/* Parent pid and state of a process from /proc, or -1 when it is gone. */
static pid_t proc_ppid(pid_t pid, char *state)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')'); /* the command name may contain anything */
    int ppid = -1;
    char st = '?';
    if (!rp || sscanf(rp + 1, " %c %d", &st, &ppid) != 2)
        return -1;
    if (state)
        *state = st;
    return ppid;
}

/* All descendants of root (which may have left root's process group, as postgres backends
 * do with setsid), written to out; returns how many. */
static int descendants(pid_t root, pid_t *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t all[4096], parent[4096];
    int total = 0;
    struct dirent *e;
    while ((e = readdir(d)) && total < 4096) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0)
            continue;
        pid_t pp = proc_ppid(pid, NULL);
        if (pp < 0)
            continue;
        all[total] = pid;
        parent[total++] = pp;
    }
    closedir(d);
    /* Breadth-first over the parent links. */
    out[n++] = root;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < total && n < max; j++)
            if (parent[j] == out[i])
                out[n++] = all[j];
    return n;
}

/* SIGKILL pid's group and every descendant, reap what is ours, and wait (up to 5 s) until
 * all of them are gone or zombies. */
static void kill_tree(pid_t pid)
{
    pid_t tree[256];
    int n = descendants(pid, tree, 256);
    kill(-pid, SIGKILL);
    for (int i = 0; i < n; i++)
        kill(tree[i], SIGKILL);
    int64_t deadline = baton_mono_ms() + 5000;
    for (;;) {
        int left = 0;
        reap_group(pid);
        for (int i = 0; i < n; i++) {
            char st = '?';
            waitpid(tree[i], NULL, WNOHANG); /* orphans are ours: we are a subreaper */
            if (proc_ppid(tree[i], &st) >= 0 && st != 'Z')
                left++;
        }
        if ((!left && !group_exists(pid)) || baton_mono_ms() >= deadline)
            return;
        harness__sleep_ms(5);
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tmpdir(void)
{
    if (!tmpdir[0])
        return;
    if (keep_tmp) {
        fprintf(stderr, "harness: kept tmp dir %s (BATON_KEEP_TMP)\n", tmpdir);
        return;
    }
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
}

static int grace_ms(void)
{
    const char *g = getenv("BATON_HARNESS_GRACE_MS");
    int v = g ? atoi(g) : 3000;
    return v > 0 ? v : 3000;
}

void harness_cleanup(void)
{
    if (getpid() != owner_pid)
        return;
    /* Signal everyone first, then wait once for all of them: shutdowns run in parallel. */
    for (int i = 0; i < HARNESS_MAX_PROCS; i++)
        if (procs[i].pid > 0 && group_exists(procs[i].pid))
            kill(-procs[i].pid, procs[i].stop_sig);
    int64_t deadline = baton_mono_ms() + grace_ms();
    for (int i = 0; i < HARNESS_MAX_PROCS; i++) {
        while (procs[i].pid > 0 && group_exists(procs[i].pid) && baton_mono_ms() < deadline)
            harness__sleep_ms(10);
    }
    for (int i = 0; i < HARNESS_MAX_PROCS; i++) {
        if (procs[i].pid <= 0)
            continue;
        if (group_exists(procs[i].pid))
            fprintf(stderr, "harness: %s (pid %d) did not stop in time, SIGKILL\n", procs[i].name,
                    (int)procs[i].pid);
        kill_tree(procs[i].pid);
    }
    memset(procs, 0, sizeof(procs));
}

static void at_exit(void)
{
    if (getpid() != owner_pid)
        return;
    harness_cleanup();
    remove_tmpdir();
}

/* SIGINT / SIGTERM / SIGABRT of the test: kill everything (async-signal-safe path), remove
 * the tmp dir with a forked rm, then die of the same signal. */
static void on_fatal_signal(int sig)
{
    if (getpid() == owner_pid) {
        kill_all_now();
        if (tmpdir[0] && !keep_tmp) {
            pid_t p = fork();
            if (p == 0) {
                char *const av[] = {"rm", "-rf", tmpdir, NULL};
                execv("/bin/rm", av);
                _exit(127);
            }
            if (p > 0)
                waitpid(p, NULL, 0);
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void harness__init(void)
{
    if (initialized)
        return;
    initialized = 1;
    owner_pid = getpid();
    keep_tmp = getenv("BATON_KEEP_TMP") != NULL;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    atexit(at_exit);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
    /* A write to a server that just died must be an error return, not a dead test. */
    signal(SIGPIPE, SIG_IGN);
}

/* Remove the tmp dirs of test processes that died without cleaning up (SIGKILL, a ctest
 * timeout): "baton-test-<pid>-XXXXXX" whose pid no longer exists. Their servers died with
 * them (PR_SET_PDEATHSIG). */
static void sweep_stale(const char *base)
{
    if (keep_tmp)
        return;
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int pid = 0;
        if (sscanf(e->d_name, "baton-test-%d-", &pid) != 1 || pid <= 0 || pid == getpid())
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", base, e->d_name) < (int)sizeof(path))
            nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

const char *harness_tmpdir(void)
{
    harness__init();
    if (tmpdir[0])
        return tmpdir;
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    sweep_stale(base);
    snprintf(tmpdir, sizeof(tmpdir), "%s/baton-test-%d-XXXXXX", base, (int)getpid());
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", tmpdir, strerror(errno));
        abort();
    }
    chmod(tmpdir, 0755);
    return tmpdir;
}

char *harness_path(const char *rel)
{
    return baton_xasprintf("%s/%s", harness_tmpdir(), rel);
}

char *harness_bin_path(const char *name)
{
    const char *dir = getenv("BATON_BIN_DIR");
    if (!dir || !*dir)
        dir = HARNESS_BIN_DIR;
    return baton_xasprintf("%s/%s", dir, name);
}

/* Child side of spawn: never returns. Writes errno to errfd when exec (or setup) fails. */
static void child_exec(const harness_spawn_opts_t *o, char *const argv[], char *const env[],
                       const char *log, pid_t parent, int errfd)
{
    int e;
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGABRT, SIG_DFL);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || in < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        goto fail;
    if (o && o->run_as_uid > 0) {
        if (setgroups(0, NULL) != 0 || setgid(o->run_as_gid) != 0 || setuid(o->run_as_uid) != 0)
            goto fail;
    }
    /* After any uid change: a credential change clears the parent-death signal. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        goto fail;
    if (getppid() != parent)
        _exit(126); /* the test died while we were starting */
    if (chdir(o && o->cwd ? o->cwd : tmpdir) != 0)
        goto fail;
    for (int i = 0; env && env[i]; i++)
        putenv((char *)env[i]);
    execvp(argv[0], argv);
fail:
    e = errno;
    if (write(errfd, &e, sizeof(e)) < 0) {
    }
    _exit(127);
}

pid_t harness__spawn_ex(const char *name, char *const argv[], char *const envp_extra[],
                        const char *log_path, const harness_spawn_opts_t *o)
{
    harness_tmpdir();
    harness_proc_t *slot = NULL;
    for (int i = 0; !slot && i < HARNESS_MAX_PROCS; i++)
        if (procs[i].pid == 0)
            slot = &procs[i];
    if (!slot) {
        fprintf(stderr, "harness: too many processes\n");
        return -1;
    }
    char log[PATH_MAX];
    if (log_path)
        baton_strlcpy(log, log_path, sizeof(log));
    else if (snprintf(log, sizeof(log), "%s/%s.log", tmpdir, name) >= (int)sizeof(log))
        return -1;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork for %s: %s\n", name, strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        close(pfd[0]);
        child_exec(o, argv, envp_extra, log, parent, pfd[1]);
    }
    setpgid(pid, pid); /* also here: no race with an early kill(-pid) */
    close(pfd[1]);
    int child_errno = 0;
    ssize_t n;
    while ((n = read(pfd[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR) {
    }
    close(pfd[0]);
    if (n > 0) {
        waitpid(pid, NULL, 0);
        fprintf(stderr, "harness: cannot start %s (%s): %s (log %s)\n", name, argv[0],
                strerror(child_errno), log);
        return -1;
    }
    slot->pid = pid;
    slot->alive = 1;
    slot->stop_sig = SIGTERM;
    baton_strlcpy(slot->name, name, sizeof(slot->name));
    baton_strlcpy(slot->log, log, sizeof(slot->log));
    return pid;
}

pid_t harness_spawn(const char *name, char *const argv[], char *const envp_extra[],
                    const char *log_path)
{
    return harness__spawn_ex(name, argv, envp_extra, log_path, NULL);
}

int harness_kill(pid_t pid, int sig)
{
    harness_proc_t *p = find_proc(pid);
    if (!p)
        return BATON_ENOENT;
    if (sig == SIGKILL) { /* a crash: take the whole tree down, like a lost machine */
        kill_tree(pid);
        return 0;
    }
    return kill(-pid, sig) == 0 ? 0 : BATON_ENOENT;
}

int harness_alive(pid_t pid)
{
    harness_proc_t *p = find_proc(pid);
    if (!p)
        return 0;
    reap_group(pid);
    return p->alive;
}

int harness_wait_exit(pid_t pid, int timeout_ms, int *status)
{
    harness_proc_t *p = find_proc(pid);
    if (!p)
        return BATON_ENOENT;
    int64_t deadline = baton_mono_ms() + timeout_ms;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            p->alive = 0;
            if (status)
                *status = st;
            return 0;
        }
        if (r < 0 && errno == ECHILD) { /* already reaped by a group reap */
            p->alive = 0;
            if (status)
                *status = p->status;
            return 0;
        }
        if (baton_mono_ms() >= deadline)
            return BATON_ETIMEDOUT;
        harness__sleep_ms(5);
    }
}

int harness__wait_group_gone(pid_t pgid, int timeout_ms)
{
    int64_t deadline = baton_mono_ms() + timeout_ms;
    while (group_exists(pgid)) {
        if (baton_mono_ms() >= deadline)
            return BATON_ETIMEDOUT;
        harness__sleep_ms(5);
    }
    return 0;
}

int harness_stop(pid_t pid, int grace)
{
    harness_proc_t *p = find_proc(pid);
    if (!p)
        return BATON_ENOENT;
    if (group_exists(pid)) {
        kill(-pid, p->stop_sig);
        if (harness__wait_group_gone(pid, grace) != 0) {
            fprintf(stderr, "harness: %s (pid %d) did not stop in %d ms, SIGKILL\n", p->name,
                    (int)pid, grace);
            kill_tree(pid);
        }
    }
    harness_wait_exit(pid, 1000, NULL);
    p->pid = 0; /* forget it: the pid may be reused */
    return 0;
}

void harness_set_stop_signal(pid_t pid, int sig)
{
    harness_proc_t *p = find_proc(pid);
    if (p)
        p->stop_sig = sig;
}

const char *harness_log_path(pid_t pid)
{
    harness_proc_t *p = find_proc(pid);
    return p ? p->log : NULL;
}

void harness_log_tail(const char *path, int nlines)
{
    char *text = harness_read_file(path);
    if (!text) {
        fprintf(stderr, "| (no log at %s)\n", path);
        return;
    }
    size_t len = strlen(text);
    const char *start = text + len;
    int seen = 0;
    while (start > text) {
        if (start[-1] == '\n' && start != text + len && ++seen >= nlines)
            break;
        start--;
    }
    const char *line = start;
    while (*line) {
        const char *nl = strchr(line, '\n');
        int n = nl ? (int)(nl - line) : (int)strlen(line);
        fprintf(stderr, "| %.*s\n", n, line);
        if (!nl)
            break;
        line = nl + 1;
    }
    free(text);
}

char *harness_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    baton_buf_t b = BATON_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        baton_buf_append(&b, chunk, n);
    fclose(f);
    if (!b.data)
        return baton_xstrdup("");
    return baton_buf_steal(&b);
}

void harness__report_failure(const char *what, pid_t pid, const char *log)
{
    fprintf(stderr, "harness: %s (log %s)\n", what, log ? log : "?");
    if (log)
        harness_log_tail(log, 20);
    (void)pid;
}
