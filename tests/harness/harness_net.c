/* harness_net.c — free ports, readiness waits and a tiny blocking HTTP client. */
#include "harness_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

int harness_free_port(void)
{
    harness__init();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
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
