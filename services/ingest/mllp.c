/* mllp.c — HL7 v2 over MLLP: a listener thread and one thread per connection. Each connection
 * may carry many messages, in any chunking, with garbage between frames (libs/hl7's streaming
 * decoder). Messages of a connection are handled in order, each answered with its ACK frame
 * only once its event is acknowledged by Kafka. The tenant comes from the sender map
 * (BATON_HL7_SENDERS): MLLP has no credentials. */
#include "ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct ingest_mllp {
    ingest_t *app;
    int fd;
    int port;
    pthread_t thread;
    volatile int stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nconn;
};

typedef struct {
    ingest_mllp_t *l;
    int fd;
} conn_t;

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int answer(ingest_mllp_t *l, int fd, const char *ack, size_t alen)
{
    baton_buf_t out = BATON_BUF_INIT;
    baton_hl7_mllp_encode(&out, ack, alen);
    int rc = write_all(fd, out.data, out.len);
    baton_buf_free(&out);
    (void)l;
    return rc;
}

/* Handle every complete frame in data; returns -1 when the peer is gone. */
static int feed(ingest_mllp_t *l, baton_hl7_mllp_t *d, int fd, const char *data, size_t n)
{
    ingest_t *app = l->app;
    size_t off = 0;
    while (off < n) {
        size_t used = 0;
        const char *frame;
        size_t flen;
        int rc = baton_hl7_mllp_decode(d, data + off, n - off, &used, &frame, &flen);
        off += used;
        if (rc == 1) {
            baton_counter_inc(app->m.mllp_frames);
            size_t alen = 0;
            char outcome;
            char *ack = ingest_hl7_process(app, frame, flen, NULL, &alen, &outcome);
            int w = answer(l, fd, ack, alen);
            free(ack);
            if (w)
                return -1;
        } else if (rc == BATON_ETOOBIG) {
            baton_hl7_error_t e = {0};
            e.code = BATON_ETOOBIG;
            baton_strlcpy(e.ack, "AR", sizeof e.ack);
            e.hl7_code = BATON_HL7_ERR_INTERNAL;
            baton_strlcpy(e.text, "message larger than the limit", sizeof e.text);
            baton_hl7_ack_opts_t ao = {0};
            size_t alen = 0;
            char *ack = baton_hl7_ack_raw("", 0, &e, &ao, &alen);
            baton_counter_inc(app->m.hl7_acks[2]);
            ingest_metrics_rejected(&app->m, INGEST_SRC_HL7, INGEST_REJ_TOO_LARGE);
            int w = answer(l, fd, ack, alen);
            free(ack);
            if (w)
                return -1;
        } else if (used == 0) {
            break;
        }
    }
    return 0;
}

static void *conn_main(void *arg)
{
    conn_t *c = arg;
    ingest_mllp_t *l = c->l;
    ingest_t *app = l->app;
    baton_hl7_mllp_t *d = baton_hl7_mllp_new((size_t)ingest_cfg.mllp_max_message);
    char *buf = baton_xmalloc(65536);
    int64_t last = baton_mono_ms();
    uint64_t garbage_seen = 0;
    while (!l->stopping) {
        struct pollfd p = {c->fd, POLLIN, 0};
        int pr = poll(&p, 1, 200);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0) {
            if (baton_mono_ms() - last > ingest_cfg.mllp_idle_timeout_ms)
                break;
            continue;
        }
        ssize_t n = recv(c->fd, buf, 65536, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        last = baton_mono_ms();
        int rc = feed(l, d, c->fd, buf, (size_t)n);
        baton_hl7_mllp_stats_t st = baton_hl7_mllp_stats(d);
        baton_counter_add(app->m.mllp_garbage, st.garbage_bytes - garbage_seen);
        garbage_seen = st.garbage_bytes;
        if (rc)
            break;
    }
    free(buf);
    baton_hl7_mllp_free(d);
    close(c->fd);
    free(c);
    baton_gauge_dec(app->m.mllp_conns);
    pthread_mutex_lock(&l->mu);
    l->nconn--;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void accept_one(ingest_mllp_t *l)
{
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    pthread_mutex_lock(&l->mu);
    bool full = l->nconn >= ingest_cfg.mllp_max_connections || l->stopping;
    if (!full)
        l->nconn++;
    pthread_mutex_unlock(&l->mu);
    if (full) {
        baton_counter_inc(l->app->m.mllp_refused);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    baton_counter_inc(l->app->m.mllp_conns_total);
    baton_gauge_inc(l->app->m.mllp_conns);
    conn_t *c = baton_xcalloc(1, sizeof *c);
    c->l = l;
    c->fd = fd;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, conn_main, c) != 0) {
        close(fd);
        free(c);
        baton_gauge_dec(l->app->m.mllp_conns);
        pthread_mutex_lock(&l->mu);
        l->nconn--;
        pthread_mutex_unlock(&l->mu);
    }
    pthread_attr_destroy(&a);
}

static void *listen_main(void *arg)
{
    ingest_mllp_t *l = arg;
    while (!l->stopping) {
        struct pollfd p = {l->fd, POLLIN, 0};
        if (poll(&p, 1, 200) > 0)
            accept_one(l);
    }
    return NULL;
}

ingest_mllp_t *ingest_mllp_start(ingest_t *app, const char *addr, int port, char *err,
                                 size_t errlen)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr && *addr ? addr : "0.0.0.0", &sa.sin_addr) != 1) {
        baton_seterr(err, errlen, "BATON_MLLP_BIND: not an IPv4 address");
        return NULL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
        baton_seterr(err, errlen, "MLLP listener on port %d: %s", port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    ingest_mllp_t *l = baton_xcalloc(1, sizeof *l);
    l->app = app;
    l->fd = fd;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    l->port = ntohs(sa.sin_port);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (pthread_create(&l->thread, NULL, listen_main, l) != 0) {
        baton_seterr(err, errlen, "MLLP listener: cannot start a thread");
        close(fd);
        free(l);
        return NULL;
    }
    return l;
}

int ingest_mllp_port(const ingest_mllp_t *l)
{
    return l ? l->port : 0;
}

void ingest_mllp_stop(ingest_mllp_t *l)
{
    if (!l)
        return;
    l->stopping = 1;
    pthread_join(l->thread, NULL);
    close(l->fd);
    /* connections notice `stopping` within one poll slice, after the message they are on */
    int64_t deadline = baton_mono_ms() + ingest_cfg.shutdown_grace_ms;
    pthread_mutex_lock(&l->mu);
    while (l->nconn > 0 && baton_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    int left = l->nconn;
    pthread_mutex_unlock(&l->mu);
    if (left > 0) {
        LOG_WARN("MLLP: %d connection(s) still busy at shutdown", left);
        return; /* leak l: detached threads still point at it */
    }
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
