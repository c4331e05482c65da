/* The idempotent producer: produce and wait for delivery reports, from many threads.
 *
 * Every produce call allocates one waiter shared by its messages (the per-message opaque).
 * Delivery reports are served by rd_kafka_poll, which any waiting thread may run: one waiter
 * at a time holds the "polling" token and polls in short slices, the others sleep on their
 * own condition variable. A delivery report wakes only the waiter whose last report it was;
 * a poller that leaves hands the token to the oldest sleeping waiter. (One shared condition
 * variable broadcast per report woke every waiting request thread for each report: with tens
 * of concurrent requests most of the CPU went to futex and scheduler contention.) A waiter
 * that gives up (timeout) marks its record abandoned, and the delivery report frees it. */
#include "kafka_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_SLICE_MS 100

typedef struct waiter {
    size_t remaining; /* delivery reports still to come */
    int err;          /* first failure, BATON_E* */
    char errtext[200];
    bool abandoned;
    pthread_cond_t cv;            /* this waiter's wake-up (report done, or the token) */
    struct waiter *sprev, *snext; /* in the producer's list of sleeping waiters */
} waiter_t;

struct baton_kafka_producer {
    baton_kafka__client_t cl; /* first: rd_kafka_opaque() points here */
    pthread_mutex_t wmu;      /* guards waiters, `polling` and the sleepers list */
    pthread_condattr_t ca;    /* CLOCK_MONOTONIC, for the waiters' condition variables */
    bool polling;
    waiter_t *sleep_head, *sleep_tail; /* waiters sleeping while another one polls, oldest first */
};

static waiter_t *waiter_new(baton_kafka_producer_t *p)
{
    waiter_t *w = baton_xcalloc(1, sizeof *w);
    pthread_cond_init(&w->cv, &p->ca);
    return w;
}

static void waiter_free(waiter_t *w)
{
    pthread_cond_destroy(&w->cv);
    free(w);
}

static void sleeper_add(baton_kafka_producer_t *p, waiter_t *w)
{
    w->snext = NULL;
    w->sprev = p->sleep_tail;
    if (p->sleep_tail)
        p->sleep_tail->snext = w;
    else
        p->sleep_head = w;
    p->sleep_tail = w;
}

static void sleeper_del(baton_kafka_producer_t *p, waiter_t *w)
{
    if (w->sprev)
        w->sprev->snext = w->snext;
    else
        p->sleep_head = w->snext;
    if (w->snext)
        w->snext->sprev = w->sprev;
    else
        p->sleep_tail = w->sprev;
    w->sprev = w->snext = NULL;
}

static int brokers_up(baton_kafka_producer_t *p)
{
    pthread_mutex_lock(&p->cl.mu);
    int up = p->cl.health.brokers_up;
    pthread_mutex_unlock(&p->cl.mu);
    return up;
}

/* A delivery that failed for want of a broker is "unavailable", not merely "timed out". */
static int delivery_err(baton_kafka_producer_t *p, rd_kafka_resp_err_t e)
{
    int rc = baton_kafka__err(e);
    if (rc == BATON_ETIMEDOUT && brokers_up(p) == 0)
        rc = BATON_EUNAVAIL;
    return rc;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    baton_kafka_producer_t *p = opaque;
    waiter_t *w = m->_private;
    int rc = m->err ? delivery_err(p, m->err) : 0;
    if (m->err) {
        pthread_mutex_lock(&p->cl.mu);
        p->cl.health.last_error = rc;
        snprintf(p->cl.health.last_error_text, sizeof p->cl.health.last_error_text,
                 "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
                 rd_kafka_err2str(m->err));
        p->cl.health.last_error_ms = baton_now_ms();
        pthread_mutex_unlock(&p->cl.mu);
    } else {
        baton_kafka__client_ok(&p->cl);
    }
    if (!w)
        return;
    pthread_mutex_lock(&p->wmu);
    if (rc && !w->err) {
        w->err = rc;
        snprintf(w->errtext, sizeof w->errtext, "delivery to %s failed: %s",
                 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    }
    w->remaining--;
    if (w->abandoned) {
        if (w->remaining == 0)
            waiter_free(w);
    } else if (w->remaining == 0) {
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&p->wmu);
}

baton_kafka_producer_t *baton_kafka_producer_new(const baton_kafka_conf_t *conf, char *err,
                                                 size_t errlen)
{
    /* Defaults the caller may override: murmur2 so Java producers agree on key → partition;
     * statistics feed the health; quick reconnects after a broker comes back; no Nagle delay
     * (a request must not wait behind an unacknowledged one: ingest answers only after the ack). */
    static const char *const defaults[] = {"partitioner",
                                           "murmur2_random",
                                           "statistics.interval.ms",
                                           "1000",
                                           "message.timeout.ms",
                                           "30000",
                                           "reconnect.backoff.max.ms",
                                           "2000",
                                           "socket.nagle.disable",
                                           "true",
                                           NULL};
    /* Durable before acknowledged: not negotiable. */
    static const char *const forced[] = {"enable.idempotence", "true", "acks", "all", NULL};
    char errstr[512];
    rd_kafka_conf_t *rc = NULL;
    if (!baton_kafka_conf_get(conf, "bootstrap.servers")) {
        baton_seterr(err, errlen, "kafka producer: no bootstrap servers");
        return NULL;
    }
    baton_kafka_producer_t *p = baton_xcalloc(1, sizeof *p);
    baton_kafka__client_init(&p->cl, conf);
    pthread_mutex_init(&p->wmu, NULL);
    pthread_condattr_init(&p->ca);
    pthread_condattr_setclock(&p->ca, CLOCK_MONOTONIC);

    if (!(rc = baton_kafka__rdconf(conf, defaults, forced, &p->cl, errstr, sizeof errstr))) {
        baton_seterr(err, errlen, "kafka producer config: %s", errstr);
        goto err;
    }
    rd_kafka_conf_set_dr_msg_cb(rc, dr_cb);
    if (!(p->cl.rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(rc);
        baton_seterr(err, errlen, "kafka producer: %s", errstr);
        goto err;
    }
    rd_kafka_set_log_queue(p->cl.rk, NULL); /* logs served by rd_kafka_poll */
    return p;
err:
    pthread_condattr_destroy(&p->ca);
    pthread_mutex_destroy(&p->wmu);
    baton_kafka__client_destroy(&p->cl);
    free(p);
    return NULL;
}

static void abs_deadline(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Wait (serving delivery reports) until w has no report outstanding or the deadline passes.
 * Consumes w: frees it, or leaves it abandoned for the remaining reports to free. */
static int wait_reports(baton_kafka_producer_t *p, waiter_t *w, int64_t deadline, char *err,
                        size_t errlen)
{
    pthread_mutex_lock(&p->wmu);
    while (w->remaining > 0) {
        int64_t rem = deadline - baton_mono_ms();
        if (rem <= 0)
            break;
        int slice = rem < POLL_SLICE_MS ? (int)rem : POLL_SLICE_MS;
        if (!p->polling) {
            p->polling = true;
            pthread_mutex_unlock(&p->wmu);
            rd_kafka_poll(p->cl.rk, slice);
            pthread_mutex_lock(&p->wmu);
            p->polling = false; /* taken again at once while w still waits */
        } else {
            struct timespec ts;
            abs_deadline(&ts, slice);
            sleeper_add(p, w);
            pthread_cond_timedwait(&w->cv, &p->wmu, &ts);
            sleeper_del(p, w);
        }
    }
    if (!p->polling && p->sleep_head) /* leaving: the oldest sleeper takes the token */
        pthread_cond_signal(&p->sleep_head->cv);
    int rc;
    if (w->remaining > 0) {
        w->abandoned = true;
        pthread_mutex_unlock(&p->wmu);
        rc = brokers_up(p) == 0 ? BATON_EUNAVAIL : BATON_ETIMEDOUT;
        baton_seterr(err, errlen, "no delivery report in time (%s)",
                     rc == BATON_EUNAVAIL ? "no broker reachable" : "broker slow");
        return rc;
    }
    rc = w->err;
    if (rc)
        baton_seterr(err, errlen, "%s", w->errtext);
    pthread_mutex_unlock(&p->wmu);
    waiter_free(w);
    return rc;
}

/* Produce one record on behalf of w. Returns the rd_kafka error of the produce call. */
static rd_kafka_resp_err_t produce_one(baton_kafka_producer_t *p, const baton_kafka_record_t *r,
                                       waiter_t *w)
{
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(r->header_count);
    for (size_t i = 0; i < r->header_count; i++)
        rd_kafka_header_add(hdrs, r->headers[i].name, -1, r->headers[i].value,
                            (ssize_t)r->headers[i].len);
    pthread_mutex_lock(&p->wmu);
    w->remaining++; /* before producing: another thread's poll may report it at once */
    pthread_mutex_unlock(&p->wmu);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->cl.rk, RD_KAFKA_V_TOPIC(r->topic), RD_KAFKA_V_KEY(r->key, r->key_len),
        RD_KAFKA_V_VALUE((void *)r->value, r->value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
    if (e) {
        rd_kafka_headers_destroy(hdrs); /* only owned by librdkafka on success */
        pthread_mutex_lock(&p->wmu);
        w->remaining--;
        pthread_mutex_unlock(&p->wmu);
    }
    return e;
}

static int produce_records(baton_kafka_producer_t *p, const baton_kafka_record_t *recs, size_t n,
                           int timeout_ms, bool wait_queue, char *err, size_t errlen)
{
    int64_t deadline = baton_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    waiter_t *w = waiter_new(p);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!recs[i].topic) {
            baton_seterr(err, errlen, "record without a topic");
            rc = BATON_EINVAL;
            break;
        }
        rd_kafka_resp_err_t e;
        while ((e = produce_one(p, &recs[i], w)) == RD_KAFKA_RESP_ERR__QUEUE_FULL && wait_queue &&
               baton_mono_ms() < deadline)
            rd_kafka_poll(p->cl.rk, 10); /* make room by serving delivery reports */
        if (e) {
            rc = e == RD_KAFKA_RESP_ERR__FATAL ? BATON_EIO : baton_kafka__err(e);
            baton_seterr(err, errlen, "produce to %s: %s", recs[i].topic, rd_kafka_err2str(e));
        }
    }
    if (rc != 0) {
        /* what was already produced may still be reported: hand w over to those reports */
        (void)wait_reports(p, w, 0, NULL, 0);
        return rc;
    }
    return wait_reports(p, w, deadline, err, errlen);
}

int baton_kafka_produce_sync(baton_kafka_producer_t *p, const baton_kafka_record_t *rec,
                             int timeout_ms, char *err, size_t errlen)
{
    return produce_records(p, rec, 1, timeout_ms, false, err, errlen);
}

int baton_kafka_produce_batch(baton_kafka_producer_t *p, const baton_kafka_record_t *recs, size_t n,
                              int timeout_ms, char *err, size_t errlen)
{
    return produce_records(p, recs, n, timeout_ms, true, err, errlen);
}

static int produce_envs(baton_kafka_producer_t *p, const baton_kafka_envelope_out_t *outs, size_t n,
                        int timeout_ms, bool wait_queue, char *err, size_t errlen)
{
    baton_kafka_record_t *recs = baton_xcalloc(n ? n : 1, sizeof *recs);
    baton_kafka_std_headers_t *hdrs = baton_xcalloc(n ? n : 1, sizeof *hdrs);
    uint8_t **bufs = baton_xcalloc(n ? n : 1, sizeof *bufs);
    for (size_t i = 0; i < n; i++) {
        const Baton__V1__Envelope *env = outs[i].env;
        baton_kafka_envelope_pack(env, &bufs[i], &recs[i].value_len);
        baton_kafka_std_headers(env, &hdrs[i]); /* in place: h[] points into hdrs[i] */
        recs[i].topic = outs[i].topic;
        recs[i].value = bufs[i];
        if (env->correlation_key && *env->correlation_key) {
            recs[i].key = env->correlation_key;
            recs[i].key_len = strlen(env->correlation_key);
        }
        recs[i].headers = hdrs[i].h;
        recs[i].header_count = hdrs[i].count;
    }
    int rc = produce_records(p, recs, n, timeout_ms, wait_queue, err, errlen);
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(hdrs);
    free(recs);
    return rc;
}

int baton_kafka_produce_envelope(baton_kafka_producer_t *p, const char *topic,
                                 const Baton__V1__Envelope *env, int timeout_ms, char *err,
                                 size_t errlen)
{
    baton_kafka_envelope_out_t o = {topic, env};
    return produce_envs(p, &o, 1, timeout_ms, false, err, errlen);
}

int baton_kafka_produce_envelopes(baton_kafka_producer_t *p, const baton_kafka_envelope_out_t *outs,
                                  size_t n, int timeout_ms, char *err, size_t errlen)
{
    return produce_envs(p, outs, n, timeout_ms, true, err, errlen);
}

int baton_kafka_producer_poll(baton_kafka_producer_t *p, int timeout_ms)
{
    return rd_kafka_poll(p->cl.rk, timeout_ms);
}

int baton_kafka_producer_flush(baton_kafka_producer_t *p, int timeout_ms)
{
    return rd_kafka_flush(p->cl.rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : BATON_ETIMEDOUT;
}

void baton_kafka_producer_health(baton_kafka_producer_t *p, baton_kafka_health_t *out)
{
    baton_kafka__client_health(&p->cl, out);
    out->queued = rd_kafka_outq_len(p->cl.rk);
}

void baton_kafka_producer_free(baton_kafka_producer_t *p, int flush_timeout_ms)
{
    if (!p)
        return;
    if (rd_kafka_flush(p->cl.rk, flush_timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* give up on the rest; their reports (with a purge error) free abandoned waiters */
        rd_kafka_purge(p->cl.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(p->cl.rk, 1000);
    }
    rd_kafka_destroy(p->cl.rk);
    pthread_condattr_destroy(&p->ca);
    pthread_mutex_destroy(&p->wmu);
    baton_kafka__client_destroy(&p->cl);
    free(p);
}
