/* The load generator of the e2e driver: canonical events to POST /v1/events over keep-alive
 * HTTP/1.1 connections (plain sockets, one thread per connection).
 *
 * Fixed rate (open loop): event seq is due at start + (seq - first) / rate; any idle connection
 * takes the next event, sleeps until it is due and sends it. Latency is measured from the due
 * time, so a stalled server (or a generator short of connections) shows as latency instead of
 * silently lowering the offered rate (no coordinated omission).
 * Max rate (closed loop): each connection sends NDJSON batches back to back. */
#include "e2e.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    char buf[65536];
} conn_t;

static int conn_open(conn_t *c, const char *host, int port)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void conn_close(conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One request; returns the HTTP status (and the body in body, if not NULL) or -1. */
static int conn_post(conn_t *c, e2e_t *e, const char *ctype, const char *payload, size_t len,
                     baton_buf_t *body)
{
    if (c->fd < 0 && conn_open(c, e->host, e->port) != 0)
        return -1;
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "POST /v1/events HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                      e->host, e->port, e->api_key, ctype, len);
    if (write_all(c->fd, head, (size_t)hl) || write_all(c->fd, payload, len)) {
        conn_close(c);
        return -1;
    }
    size_t have = 0;
    char *hend = NULL;
    while (!hend) {
        if (have + 1 >= sizeof c->buf) {
            conn_close(c);
            return -1;
        }
        ssize_t r = read(c->fd, c->buf + have, sizeof c->buf - 1 - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            conn_close(c);
            return -1;
        }
        have += (size_t)r;
        c->buf[have] = 0;
        hend = strstr(c->buf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1) {
        conn_close(c);
        return -1;
    }
    size_t hlen = (size_t)(hend + 4 - c->buf), clen = 0;
    bool close_after = false;
    for (char *l = strstr(c->buf, "\r\n"); l && l < hend; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
            clen = strtoull(l + 17, NULL, 10);
        else if (strncasecmp(l + 2, "Connection: close", 17) == 0)
            close_after = true;
    }
    if (body) {
        baton_buf_reset(body);
        baton_buf_append(body, c->buf + hlen, have - hlen < clen ? have - hlen : clen);
    }
    size_t got = have - hlen;
    while (got < clen) {
        char tmp[16384];
        size_t want = clen - got < sizeof tmp ? clen - got : sizeof tmp;
        ssize_t r = read(c->fd, tmp, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            conn_close(c);
            return -1;
        }
        if (body)
            baton_buf_append(body, tmp, (size_t)r);
        got += (size_t)r;
    }
    if (close_after)
        conn_close(c);
    return status;
}

static void event_json(e2e_t *e, size_t seq, baton_buf_t *b)
{
    char id[128], at[BATON_RFC3339_LEN];
    e2e_event_id(e, seq, id, sizeof id);
    baton_time_format(baton_now_ms(), at, sizeof at);
    baton_buf_appendf(b,
                      "{\"id\":\"%s\",\"type\":\"%s\",\"tenant\":\"%s\",\"facility\":\"BF%zu\","
                      "\"unit\":\"U1\",\"patient\":\"P%zu\",\"encounter\":\"%s\","
                      "\"occurred_at\":\"%s\",\"attributes\":{\"bench_seq\":\"%zu\"}}",
                      id, e->type, e->tenant, seq % (size_t)e->facilities, seq, id, at, seq);
}

int e2e_post_one(e2e_t *e, size_t seq)
{
    conn_t *c = baton_xcalloc(1, sizeof *c);
    c->fd = -1;
    baton_buf_t b = BATON_BUF_INIT;
    e2e_map_put(e, seq);
    event_json(e, seq, &b);
    e->evs[seq].due_ns = e->evs[seq].sent_ns = baton_mono_ns();
    int st = conn_post(c, e, "application/json", b.data, b.len, NULL);
    e->evs[seq].acked_ns = baton_mono_ns();
    e->evs[seq].status = st;
    if (st == 202)
        atomic_fetch_add(&e->accepted, 1);
    conn_close(c);
    free(c);
    baton_buf_free(&b);
    return st == 202 ? 0 : -1;
}

typedef struct {
    e2e_t *e;
    const e2e_load_cfg_t *cfg;
    int64_t t0;
    size_t end_seq;
    /* per thread results */
    size_t sent, accepted, failed, requests, non_2xx, io_errors;
    int64_t last_ns, late_max_ns;
} worker_t;

static void sleep_until(int64_t mono_ns)
{
    struct timespec ts = {.tv_sec = mono_ns / 1000000000, .tv_nsec = mono_ns % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static size_t count_accepted(const baton_buf_t *body)
{
    size_t n = 0;
    for (const char *p = body->data; p && (p = strstr(p, "\"status\":")) != NULL; p += 9) {
        const char *q = p + 9;
        while (*q == ' ')
            q++;
        if (strncmp(q, "202", 3) == 0)
            n++;
    }
    return n;
}

static void *fixed_worker(void *arg)
{
    worker_t *w = arg;
    e2e_t *e = w->e;
    conn_t *c = baton_xcalloc(1, sizeof *c);
    c->fd = -1;
    baton_buf_t b = BATON_BUF_INIT;
    for (;;) {
        size_t seq = atomic_fetch_add(&e->next, 1);
        if (seq >= w->end_seq)
            break;
        e2e_ev_t *ev = &e->evs[seq];
        ev->due_ns =
            w->t0 + (int64_t)((double)(seq - w->cfg->first_seq) * 1e9 / w->cfg->rate + 0.5);
        e2e_map_put(e, seq);
        baton_buf_reset(&b);
        event_json(e, seq, &b);
        sleep_until(ev->due_ns);
        ev->sent_ns = baton_mono_ns();
        if (ev->sent_ns - ev->due_ns > w->late_max_ns)
            w->late_max_ns = ev->sent_ns - ev->due_ns;
        int st = conn_post(c, e, "application/json", b.data, b.len, NULL);
        if (st < 0) /* a dropped keep-alive connection: one retry on a fresh one */
            st = conn_post(c, e, "application/json", b.data, b.len, NULL);
        ev->acked_ns = w->last_ns = baton_mono_ns();
        ev->status = st;
        w->sent++;
        w->requests++;
        if (st == 202) {
            w->accepted++;
            atomic_fetch_add(&e->accepted, 1);
        } else {
            w->failed++;
            if (st < 0)
                w->io_errors++;
            else
                w->non_2xx++;
        }
    }
    conn_close(c);
    free(c);
    baton_buf_free(&b);
    return NULL;
}

static void *max_worker(void *arg)
{
    worker_t *w = arg;
    e2e_t *e = w->e;
    int batch = w->cfg->batch;
    int64_t stop = w->t0 + (int64_t)(w->cfg->seconds * 1e9);
    conn_t *c = baton_xcalloc(1, sizeof *c);
    c->fd = -1;
    baton_buf_t b = BATON_BUF_INIT, body = BATON_BUF_INIT;
    while (baton_mono_ns() < stop) {
        /* back-pressure: the pipeline's sustained rate, not a backlog the broker cannot hold
         * (and in the audited phase, not a backlog the audit trail cannot catch up with) */
        while (((w->cfg->max_inflight &&
                 atomic_load(&e->accepted) - atomic_load(&e->deliveries) > w->cfg->max_inflight) ||
                (w->cfg->max_audit_lag && atomic_load(&e->audit_lag) > w->cfg->max_audit_lag)) &&
               baton_mono_ns() < stop)
            sleep_until(baton_mono_ns() + 1000000);
        if (baton_mono_ns() >= stop)
            break;
        size_t seq0 = atomic_fetch_add(&e->next, (size_t)batch);
        if (seq0 + (size_t)batch > e->cap)
            break;
        baton_buf_reset(&b);
        for (int i = 0; i < batch; i++) {
            e2e_map_put(e, seq0 + (size_t)i);
            event_json(e, seq0 + (size_t)i, &b);
            baton_buf_putc(&b, '\n');
        }
        int64_t t = baton_mono_ns();
        int st = conn_post(c, e, "application/x-ndjson", b.data, b.len, &body);
        int64_t done = w->last_ns = baton_mono_ns();
        size_t ok = st == 202 ? (size_t)batch : st == 207 ? count_accepted(&body) : 0;
        for (int i = 0; i < batch; i++) {
            e2e_ev_t *ev = &e->evs[seq0 + (size_t)i];
            ev->due_ns = ev->sent_ns = t;
            ev->acked_ns = done;
            ev->status = st;
        }
        w->requests++;
        w->sent += (size_t)batch;
        w->accepted += ok;
        atomic_fetch_add(&e->accepted, ok);
        w->failed += (size_t)batch - ok;
        if (st < 0)
            w->io_errors++;
        else if (st != 202)
            w->non_2xx++;
    }
    conn_close(c);
    free(c);
    baton_buf_free(&b);
    baton_buf_free(&body);
    return NULL;
}

int e2e_load_run(e2e_t *e, const e2e_load_cfg_t *cfg, e2e_load_result_t *out)
{
    memset(out, 0, sizeof *out);
    atomic_store(&e->next, cfg->first_seq);
    size_t end = cfg->first_seq + (size_t)(cfg->rate * cfg->seconds);
    if (cfg->max || end > e->cap)
        end = e->cap;
    int n = cfg->conns;
    worker_t *w = baton_xcalloc((size_t)n, sizeof *w);
    pthread_t *th = baton_xcalloc((size_t)n, sizeof *th);
    int64_t t0 = baton_mono_ns() + 20 * 1000000LL; /* let every thread get ready */
    for (int i = 0; i < n; i++) {
        w[i] = (worker_t){.e = e, .cfg = cfg, .t0 = t0, .end_seq = end};
        pthread_create(&th[i], NULL, cfg->max ? max_worker : fixed_worker, &w[i]);
    }
    int64_t late = 0;
    out->start_ns = t0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        out->sent += w[i].sent;
        out->accepted += w[i].accepted;
        out->failed += w[i].failed;
        out->requests += w[i].requests;
        out->non_2xx += w[i].non_2xx;
        out->io_errors += w[i].io_errors;
        if (w[i].last_ns > out->end_ns)
            out->end_ns = w[i].last_ns;
        if (w[i].late_max_ns > late)
            late = w[i].late_max_ns;
    }
    out->late_sends_ms_max = (double)late / 1e6;
    free(w);
    free(th);
    return 0;
}
