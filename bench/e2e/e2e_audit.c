/* The audit watch of the e2e driver: a thread that reads baton-audit's /metrics every interval
 * and publishes the sum of baton_audit_consumer_lag over its topics (messages on Kafka not yet
 * written to PostgreSQL) in e->audit_lag, and the largest value seen in e->audit_lag_max. The
 * load generator's "audited" phase holds its sending while that lag is above a bound, so its
 * rate is one the audit trail keeps up with. (The audit measures its lag on its own interval,
 * BATON_AUDIT_LAG_INTERVAL_MS: bench/e2e/run sets it short.) */
#include "e2e.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct e2e_audit {
    e2e_t *e;
    int port, interval_ms;
    _Atomic int stop;
    pthread_t th;
};

/* GET /metrics over HTTP/1.0 (the server closes: read to the end) into b. 0 or -1. */
static int get_metrics(int port, baton_buf_t *b)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        return -1;
    }
    baton_buf_reset(b);
    char tmp[16384];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        baton_buf_append(b, tmp, (size_t)r);
    }
    close(fd);
    baton_buf_putc(b, '\0');
    return strncmp(b->data, "HTTP/1.", 7) == 0 && strstr(b->data, " 200 ") ? 0 : -1;
}

/* The sum of the lag gauge's samples, or -1 when there is none (not measured yet). */
static long long lag_sum(const char *text)
{
    static const char name[] = "\nbaton_audit_consumer_lag{";
    long long sum = -1;
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
        const char *v = strchr(p + 1, '}');
        const char *eol = strchr(p + 1, '\n');
        if (!v || (eol && v > eol))
            continue;
        sum = (sum < 0 ? 0 : sum) + (long long)strtod(v + 1, NULL);
    }
    return sum;
}

static void *watch(void *arg)
{
    e2e_audit_t *w = arg;
    baton_buf_t b = BATON_BUF_INIT;
    while (!atomic_load(&w->stop)) {
        long long lag = get_metrics(w->port, &b) == 0 ? lag_sum(b.data) : -1;
        atomic_store(&w->e->audit_lag, lag);
        if (lag > atomic_load(&w->e->audit_lag_max))
            atomic_store(&w->e->audit_lag_max, lag);
        struct timespec ts = {w->interval_ms / 1000, (long)(w->interval_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    baton_buf_free(&b);
    return NULL;
}

e2e_audit_t *e2e_audit_start(e2e_t *e, int port, int interval_ms)
{
    e2e_audit_t *w = baton_xcalloc(1, sizeof *w);
    w->e = e;
    w->port = port;
    w->interval_ms = interval_ms > 0 ? interval_ms : 100;
    atomic_store(&e->audit_lag, -1);
    if (pthread_create(&w->th, NULL, watch, w) != 0) {
        free(w);
        return NULL;
    }
    return w;
}

void e2e_audit_stop(e2e_audit_t *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    pthread_join(w->th, NULL);
    free(w);
}
