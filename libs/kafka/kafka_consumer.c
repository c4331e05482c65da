/* The group consumer: batch poll, explicit bounded commits, rebalance hooks, bounded close.
 *
 * Assignment protocol: EAGER (roundrobin assignor) by default. A rebalance revokes every
 * partition and then assigns the complete new set, which is the simplest contract for the
 * services ("stop all revoked work at once, load the assigned partitions before acting": the
 * callback always sees whole sets). Measured against librdkafka 2.0.2's mock cluster, eager and
 * cooperative-sticky both work (two members split 4 partitions in ~3 s, a leave is absorbed in
 * ~5 s with short group timers); neither is more reliable there, so the simpler one is the
 * default. A caller who sets partition.assignment.strategy=cooperative-sticky gets incremental
 * assign/unassign (the callback then lists only the partitions added or removed): assign()
 * follows rd_kafka_rebalance_protocol(). */
#include "kafka_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct baton_kafka_consumer {
    baton_kafka__client_t cl; /* first: rd_kafka_opaque() points here */
    baton_kafka_rebalance_cb *rb_cb;
    void *rb_opaque;
    baton_kafka_message_t *cur; /* the batch poll is collecting, for dropping revoked ones */
    size_t cur_n;
    bool closed;
    bool close_incomplete; /* close ran out of time: destroy must not try again */
};

static baton_kafka_partition_t *to_parts(const rd_kafka_topic_partition_list_t *l)
{
    baton_kafka_partition_t *parts = baton_xcalloc(l->cnt ? (size_t)l->cnt : 1, sizeof *parts);
    for (int i = 0; i < l->cnt; i++) {
        parts[i].topic = l->elems[i].topic;
        parts[i].partition = l->elems[i].partition;
        parts[i].offset = l->elems[i].offset == RD_KAFKA_OFFSET_INVALID ? BATON_KAFKA_OFFSET_STORED
                                                                        : l->elems[i].offset;
    }
    return parts;
}

/* Messages of revoked partitions that the current poll collected go back unprocessed. */
static void drop_revoked(baton_kafka_consumer_t *c, const rd_kafka_topic_partition_list_t *l)
{
    size_t keep = 0;
    for (size_t i = 0; i < c->cur_n; i++) {
        baton_kafka_message_t *m = &c->cur[i];
        if (rd_kafka_topic_partition_list_find(l, m->topic, m->partition)) {
            rd_kafka_message_destroy(m->priv_);
            continue;
        }
        c->cur[keep++] = *m;
    }
    c->cur_n = keep;
}

static void assign(baton_kafka_consumer_t *c, rd_kafka_topic_partition_list_t *l, bool add)
{
    rd_kafka_t *rk = c->cl.rk;
    if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0) {
        rd_kafka_error_t *e =
            add ? rd_kafka_incremental_assign(rk, l) : rd_kafka_incremental_unassign(rk, l);
        if (e) {
            baton_kafka__client_error(&c->cl, BATON_EIO, BATON_LOG_ERROR, "%s: %s",
                                      add ? "incremental assign" : "incremental unassign",
                                      rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        return;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, add ? l : NULL);
    if (e)
        baton_kafka__client_error(&c->cl, baton_kafka__err(e), BATON_LOG_ERROR, "assign: %s",
                                  rd_kafka_err2str(e));
}

static void on_rebalance(baton_kafka_consumer_t *c, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l)
{
    baton_kafka_partition_t *parts = to_parts(l);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (c->rb_cb)
            c->rb_cb(c, BATON_KAFKA_ASSIGNED, parts, (size_t)l->cnt, c->rb_opaque);
        for (int i = 0; i < l->cnt; i++) /* where the service wants to start */
            if (parts[i].offset != BATON_KAFKA_OFFSET_STORED)
                l->elems[i].offset = parts[i].offset;
        assign(c, l, true);
    } else {
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            baton_kafka__client_error(&c->cl, baton_kafka__err(err), BATON_LOG_WARN,
                                      "rebalance: %s", rd_kafka_err2str(err));
        drop_revoked(c, l);
        bool lost = rd_kafka_assignment_lost(c->cl.rk);
        if (c->rb_cb)
            c->rb_cb(c, lost ? BATON_KAFKA_LOST : BATON_KAFKA_REVOKED, parts, (size_t)l->cnt,
                     c->rb_opaque);
        assign(c, l, false);
    }
    free(parts);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque)
{
    on_rebalance(opaque, err, l);
}

baton_kafka_consumer_t *baton_kafka_consumer_new(const baton_kafka_conf_t *conf,
                                                 const char *group_id, char *err, size_t errlen)
{
    static const char *const defaults[] = {
        "auto.offset.reset", "earliest", "partition.assignment.strategy", "roundrobin",
        "statistics.interval.ms", "1000", "reconnect.backoff.max.ms", "2000",
        /* also bounds how long a commit sent to a
         * vanished coordinator lingers */
        "session.timeout.ms", "10000",
        /* small requests go out at once (Nagle would hold one behind an unacknowledged one) */
        "socket.nagle.disable", "true", NULL};
    /* Offsets move only when the service says its work is done. */
    const char *const forced[] = {
        "group.id", group_id, "enable.auto.commit", "false", "enable.auto.offset.store",
        "false",    NULL};
    char errstr[512];
    rd_kafka_conf_t *rc = NULL;
    if (!baton_kafka_conf_get(conf, "bootstrap.servers") || !group_id || !*group_id) {
        baton_seterr(err, errlen, "kafka consumer: bootstrap servers and a group id are needed");
        return NULL;
    }
    baton_kafka_consumer_t *c = baton_xcalloc(1, sizeof *c);
    baton_kafka__client_init(&c->cl, conf);
    c->rb_cb = conf->rebalance_cb;
    c->rb_opaque = conf->rebalance_opaque;
    if (!(rc = baton_kafka__rdconf(conf, defaults, forced, &c->cl, errstr, sizeof errstr))) {
        baton_seterr(err, errlen, "kafka consumer config: %s", errstr);
        goto err;
    }
    rd_kafka_conf_set_rebalance_cb(rc, rebalance_cb);
    if (!(c->cl.rk = rd_kafka_new(RD_KAFKA_CONSUMER, rc, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(rc);
        baton_seterr(err, errlen, "kafka consumer: %s", errstr);
        goto err;
    }
    /* logs → main queue → consumer queue: everything is served by consumer_poll */
    rd_kafka_set_log_queue(c->cl.rk, NULL);
    rd_kafka_poll_set_consumer(c->cl.rk);
    return c;
err:
    baton_kafka__client_destroy(&c->cl);
    free(c);
    return NULL;
}

int baton_kafka_consumer_subscribe(baton_kafka_consumer_t *c, const char *const *topics, size_t n,
                                   char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->cl.rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        baton_seterr(err, errlen, "subscribe: %s", rd_kafka_err2str(e));
        return BATON_EINVAL;
    }
    return 0;
}

/* An error event from consumer_poll. Returns BATON_EIO when the consumer is unusable. */
static int poll_error(baton_kafka_consumer_t *c, const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return 0;
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        pthread_mutex_lock(&c->cl.mu);
        c->cl.health.fatal = true;
        pthread_mutex_unlock(&c->cl.mu);
    }
    baton_kafka__client_error(&c->cl, baton_kafka__err(m->err), BATON_LOG_WARN, "consume%s%s: %s",
                              m->rkt ? " " : "", m->rkt ? rd_kafka_topic_name(m->rkt) : "",
                              rd_kafka_message_errstr(m));
    return m->err == RD_KAFKA_RESP_ERR__FATAL ? BATON_EIO : 0;
}

static void fill(baton_kafka_message_t *out, rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tst;
    out->topic = rd_kafka_topic_name(m->rkt);
    out->partition = m->partition;
    out->offset = m->offset;
    out->timestamp_ms = rd_kafka_message_timestamp(m, &tst);
    out->key = m->key;
    out->key_len = m->key_len;
    out->value = m->payload;
    out->value_len = m->len;
    out->priv_ = m;
}

int baton_kafka_consumer_poll(baton_kafka_consumer_t *c, baton_kafka_message_t *out, size_t max,
                              int timeout_ms)
{
    int64_t deadline = baton_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int rc = 0;
    c->cur = out;
    c->cur_n = 0;
    while (c->cur_n < max) {
        int64_t rem = deadline - baton_mono_ms();
        /* wait only for the first message; then take what has already been fetched */
        int wait = c->cur_n == 0 && rem > 0 ? (int)rem : 0;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->cl.rk, wait);
        if (!m) {
            if (c->cur_n > 0 || wait == 0)
                break;
            continue;
        }
        if (m->err) {
            rc = poll_error(c, m);
            rd_kafka_message_destroy(m);
            if (rc != 0)
                break;
            continue;
        }
        fill(&out[c->cur_n++], m);
    }
    size_t n = c->cur_n;
    c->cur = NULL;
    c->cur_n = 0;
    if (n > 0)
        baton_kafka__client_ok(&c->cl);
    if (rc != 0) {
        baton_kafka_messages_release(out, n);
        return rc;
    }
    return (int)n;
}

void baton_kafka_messages_release(baton_kafka_message_t *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].priv_)
            rd_kafka_message_destroy(msgs[i].priv_);
        memset(&msgs[i], 0, sizeof msgs[i]);
    }
}

int baton_kafka_message_header(const baton_kafka_message_t *m, const char *name, const void **value,
                               size_t *len)
{
    rd_kafka_headers_t *hdrs;
    if (!m->priv_ || rd_kafka_message_headers(m->priv_, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return BATON_ENOENT;
    const void *v;
    size_t sz;
    if (rd_kafka_header_get_last(hdrs, name, &v, &sz) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return BATON_ENOENT;
    *value = v;
    *len = sz;
    return 0;
}

/* ---------------------------------------------------------------- commits */

static int commit_result(baton_kafka_consumer_t *c, rd_kafka_event_t *ev, char *err, size_t errlen)
{
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    const rd_kafka_topic_partition_list_t *res = rd_kafka_event_topic_partition_list(ev);
    for (int i = 0; !e && res && i < res->cnt; i++) {
        if (res->elems[i].err) {
            e = res->elems[i].err;
            baton_seterr(err, errlen, "commit %s [%d]: %s", res->elems[i].topic,
                         (int)res->elems[i].partition, rd_kafka_err2str(e));
        }
    }
    if (!e) {
        baton_kafka__client_ok(&c->cl);
        return 0;
    }
    if (rd_kafka_event_error(ev))
        baton_seterr(err, errlen, "commit: %s", rd_kafka_event_error_string(ev));
    return baton_kafka__err(e);
}

/* Commit l and wait up to timeout_ms for the coordinator, on a queue of our own (the
 * blocking rd_kafka_commit has no timeout: it would hang with the coordinator gone). */
static int commit_list(baton_kafka_consumer_t *c, rd_kafka_topic_partition_list_t *l,
                       int timeout_ms, char *err, size_t errlen)
{
    if (l->cnt == 0)
        return 0;
    int64_t deadline = baton_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->cl.rk);
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(c->cl.rk, l, q, NULL, NULL);
    int rc = BATON_ETIMEDOUT;
    if (e) {
        baton_seterr(err, errlen, "commit: %s", rd_kafka_err2str(e));
        rc = baton_kafka__err(e);
        goto out;
    }
    for (int64_t rem; (rem = deadline - baton_mono_ms()) > 0;) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)rem);
        if (!ev)
            continue;
        bool done = rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT;
        if (done)
            rc = commit_result(c, ev, err, errlen);
        rd_kafka_event_destroy(ev);
        if (done)
            goto out;
    }
    pthread_mutex_lock(&c->cl.mu);
    if (c->cl.health.brokers_up == 0)
        rc = BATON_EUNAVAIL;
    pthread_mutex_unlock(&c->cl.mu);
    baton_seterr(err, errlen, "commit: no answer from the group coordinator in %d ms", timeout_ms);
out:
    rd_kafka_queue_destroy(q); /* a late answer finds the queue still referenced: safe */
    return rc;
}

int baton_kafka_consumer_commit(baton_kafka_consumer_t *c, const baton_kafka_partition_t *offs,
                                size_t n, int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, offs[i].topic, offs[i].partition)->offset =
            offs[i].offset;
    int rc = commit_list(c, l, timeout_ms, err, errlen);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int baton_kafka_consumer_commit_messages(baton_kafka_consumer_t *c,
                                         const baton_kafka_message_t *msgs, size_t n,
                                         int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(l, msgs[i].topic, msgs[i].partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(l, msgs[i].topic, msgs[i].partition);
        else if (tp->offset >= msgs[i].offset + 1)
            continue;
        tp->offset = msgs[i].offset + 1;
    }
    int rc = commit_list(c, l, timeout_ms, err, errlen);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* ---------------------------------------------------------------- state, close */

int baton_kafka_consumer_assignment(baton_kafka_consumer_t *c, baton_kafka_partition_t **parts,
                                    size_t *n)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(c->cl.rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return BATON_EIO;
    baton_kafka_partition_t *out = to_parts(l);
    for (int i = 0; i < l->cnt; i++)
        out[i].topic = baton_xstrdup(out[i].topic); /* outlive the list */
    *parts = out;
    *n = (size_t)l->cnt;
    rd_kafka_topic_partition_list_destroy(l);
    return 0;
}

void baton_kafka_partitions_free(baton_kafka_partition_t *parts, size_t n)
{
    for (size_t i = 0; parts && i < n; i++)
        free((char *)parts[i].topic);
    free(parts);
}

void baton_kafka_consumer_health(baton_kafka_consumer_t *c, baton_kafka_health_t *out)
{
    baton_kafka__client_health(&c->cl, out);
    out->queued = 0;
}

/* What the close queue delivers: rebalance (revoke) events, logs and errors. */
static void close_event(baton_kafka_consumer_t *c, rd_kafka_event_t *ev)
{
    const char *fac, *msg;
    int level;
    switch (rd_kafka_event_type(ev)) {
    case RD_KAFKA_EVENT_REBALANCE:
        on_rebalance(c, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev));
        break;
    case RD_KAFKA_EVENT_LOG:
        if (rd_kafka_event_log(ev, &fac, &msg, &level) == 0 && c->cl.log_cb)
            c->cl.log_cb(baton_kafka__level(level), fac, msg, c->cl.log_opaque);
        break;
    case RD_KAFKA_EVENT_ERROR:
        baton_kafka__client_error(&c->cl, baton_kafka__err(rd_kafka_event_error(ev)),
                                  BATON_LOG_WARN, "close: %s", rd_kafka_event_error_string(ev));
        break;
    default:
        break;
    }
}

int baton_kafka_consumer_close(baton_kafka_consumer_t *c, int timeout_ms)
{
    if (c->closed)
        return c->close_incomplete ? BATON_ETIMEDOUT : 0;
    c->closed = true;
    int64_t deadline = baton_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->cl.rk);
    /* the asynchronous close lets us bound the wait; rebalance events come to q */
    rd_kafka_set_log_queue(c->cl.rk, q); /* nobody polls the consumer queue any more */
    rd_kafka_error_t *e = rd_kafka_consumer_close_queue(c->cl.rk, q);
    if (e) {
        baton_kafka__client_error(&c->cl, BATON_EIO, BATON_LOG_WARN, "close: %s",
                                  rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rd_kafka_set_log_queue(c->cl.rk, NULL);
        rd_kafka_queue_destroy(q);
        c->close_incomplete = true;
        return BATON_EIO;
    }
    for (int64_t rem;
         !rd_kafka_consumer_closed(c->cl.rk) && (rem = deadline - baton_mono_ms()) > 0;) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, rem < 100 ? (int)rem : 100);
        if (!ev)
            continue;
        close_event(c, ev);
        rd_kafka_event_destroy(ev);
    }
    c->close_incomplete = !rd_kafka_consumer_closed(c->cl.rk);
    rd_kafka_set_log_queue(c->cl.rk, NULL);
    rd_kafka_queue_destroy(q);
    return c->close_incomplete ? BATON_ETIMEDOUT : 0;
}

/* rd_kafka_destroy waits for outstanding requests: a commit sent while the coordinator was
 * gone lingers for up to session.timeout.ms. So destroy runs on a thread of its own, and
 * consumer_free waits for it only a bounded time; a late destroy finishes in the background
 * (the service is exiting). The thread owns the consumer; the handshake is refcounted. */
typedef struct {
    baton_kafka_consumer_t *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int refs;
} destroyer_t;

static void destroyer_unref(destroyer_t *d)
{
    bool last = --d->refs == 0;
    pthread_mutex_unlock(&d->mu);
    if (last) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
    }
}

static void *destroy_main(void *arg)
{
    destroyer_t *d = arg;
    baton_kafka_consumer_t *c = d->c;
    /* after a close that ran out of time, do not let destroy start (and wait on) another */
    rd_kafka_destroy_flags(c->cl.rk,
                           c->close_incomplete ? RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE : 0);
    baton_kafka__client_destroy(&c->cl);
    free(c);
    pthread_mutex_lock(&d->mu);
    d->done = true;
    pthread_cond_signal(&d->cv);
    destroyer_unref(d);
    return NULL;
}

#define DESTROY_WAIT_MS 2000

void baton_kafka_consumer_free(baton_kafka_consumer_t *c)
{
    if (!c)
        return;
    baton_kafka_consumer_close(c, 5000);
    destroyer_t *d = baton_xcalloc(1, sizeof *d);
    d->c = c;
    d->refs = 2;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t th;
    if (pthread_create(&th, NULL, destroy_main, d) != 0) {
        d->refs = 1;
        destroy_main(d); /* no thread: destroy here, unbounded */
        return;
    }
    pthread_detach(th);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += DESTROY_WAIT_MS / 1000;
    pthread_mutex_lock(&d->mu);
    while (!d->done && pthread_cond_timedwait(&d->cv, &d->mu, &ts) == 0)
        ;
    destroyer_unref(d);
}
