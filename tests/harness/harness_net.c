/* harness_net.c — free ports, readiness waits and a tiny blocking HTTP client. */
#include "harness_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The kernel's lowest ephemeral port (ports below it never go to an outgoing connection). */
static int ephemeral_low(void)
{
    int lo = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d", &lo) != 1)
            lo = 32768;
        fclose(f);
    }
    return lo;
}

static int bind_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    socklen_t len = sizeof(a);
    int got = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        got = ntohs(a.sin_port);
    close(fd);
    return got;
}

/* Is port reserved by an owner that still exists? A reservation whose owner is gone is
 * dropped. */
static bool reserved(const char *reg, int port)
{
    char path[PATH_MAX], owner[PATH_MAX] = "";
    snprintf(path, sizeof(path), "%s/%d", reg, port);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(owner, sizeof(owner), f) != NULL;
    fclose(f);
    owner[strcspn(owner, "\n")] = '\0';
    struct stat st;
    if (ok && owner[0] && stat(owner, &st) == 0 && S_ISDIR(st.st_mode))
        return true;
    unlink(path);
    return false;
}

/* Like scripts/stack's ports: below the ephemeral range, so a server restarted on its port
 * (harness_redis_restart, harness_pg_restart) does not find it taken by some outgoing
 * connection meanwhile, and reserved in the same registry (BATON_STACK_PORTS_DIR, default
 * /tmp/baton-stack-ports: one file per port naming the owner directory, here this process's
 * tmp dir), so tests and stacks running at the same time never pick the same port. Falls back
 * to the kernel's choice when the registry cannot be used. */
int harness_free_port(void)
{
    harness__init();
    const char *reg = getenv("BATON_STACK_PORTS_DIR");
    if (!reg || !*reg)
        reg = "/tmp/baton-stack-ports";
    const char *owner = harness_tmpdir();
    int lo = 20000, hi = ephemeral_low() - 1;
    mkdir(reg, 01777);
    chmod(reg, 01777);
    char lockpath[PATH_MAX];
    snprintf(lockpath, sizeof(lockpath), "%s/.lock", reg);
    int lock = open(lockpath, O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    int port = -1;
    if (lock >= 0 && hi - lo > 1000 && flock(lock, LOCK_EX) == 0) {
        static unsigned seed;
        if (!seed)
            seed = (unsigned)getpid() ^ (unsigned)time(NULL);
        for (int i = 0; i < 4000 && port < 0; i++) {
            int p = lo + (int)(rand_r(&seed) % (unsigned)(hi - lo + 1));
            if (reserved(reg, p) || bind_port(p) != p)
                continue;
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/%d", reg, p);
            FILE *f = fopen(path, "w");
            if (f) {
                fprintf(f, "%s\n", owner);
                fclose(f);
                port = p;
            }
        }
        flock(lock, LOCK_UN);
    }
    if (lock >= 0)
        close(lock);
    return port > 0 ? port : bind_port(0);
}

int harness__connect(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int harness_wait_port(int port, int timeout_ms)
{
    harness__init();
    int64_t deadline = baton_mono_ms() + timeout_ms;
    for (;;) {
        int fd = harness__connect(port, 500);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (baton_mono_ms() >= deadline)
            return BATON_ETIMEDOUT;
        harness__sleep_ms(20);
    }
}

int harness_wait_file(const char *path, int timeout_ms)
{
    int64_t deadline = baton_mono_ms() + timeout_ms;
    for (;;) {
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size > 0)
            return 0;
        if (baton_mono_ms() >= deadline)
            return BATON_ETIMEDOUT;
        harness__sleep_ms(20);
    }
}

static int send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int harness_http_get(int port, const char *path, int *status, char **body)
{
    harness__init();
    if (body)
        *body = NULL;
    int fd = harness__connect(port, 5000);
    if (fd < 0)
        return BATON_EUNAVAIL;
    char *req = baton_xasprintf(
        "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, port);
    int rc = send_all(fd, req, strlen(req));
    free(req);
    baton_buf_t b = BATON_BUF_INIT;
    char chunk[4096];
    ssize_t n = 0;
    while (rc == 0 && (n = recv(fd, chunk, sizeof(chunk), 0)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -1;
            break;
        }
        baton_buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    if (rc != 0 || !b.data) {
        baton_buf_free(&b);
        return BATON_EIO;
    }
    int code = 0;
    char *hdr_end = strstr(b.data, "\r\n\r\n");
    if (sscanf(b.data, "HTTP/%*d.%*d %d", &code) != 1 || !hdr_end) {
        baton_buf_free(&b);
        return BATON_EPARSE;
    }
    if (status)
        *status = code;
    if (body)
        *body = baton_xstrdup(hdr_end + 4);
    baton_buf_free(&b);
    return 0;
}

int harness_wait_http_ok(int port, const char *path, int timeout_ms)
{
    int64_t deadline = baton_mono_ms() + timeout_ms;
    for (;;) {
        int code = 0;
        if (harness_http_get(port, path, &code, NULL) == 0 && code == 200)
            return 0;
        if (baton_mono_ms() >= deadline)
            return BATON_ETIMEDOUT;
        harness__sleep_ms(50);
    }
}

double harness_metric(int ops_port, const char *series)
{
    int status = 0;
    char *body = NULL;
    double v = -1;
    if (harness_http_get(ops_port, "/metrics", &status, &body) != 0 || status != 200) {
        free(body);
        return -1;
    }
    size_t len = strlen(series);
    for (const char *p = body; p && *p;) {
        if (strncmp(p, series, len) == 0 && p[len] == ' ') {
            v = strtod(p + len + 1, NULL);
            break;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    free(body);
    return v;
}
