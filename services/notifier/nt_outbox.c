/* nt_outbox.c — thread 2: receipts and dead letters into Kafka. Every entry was written to
 * the Redis outbox (with the state change it reports) before it got here; it is produced
 * (idempotent producer, acks=all, delivery reports awaited) and only then HDEL'd from the
 * outbox. A crash in between re-sends it at the next start (same envelope id: consumers drop
 * the duplicate). */
#include "notifier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NT_OUTBOX_BATCH 500

void nt_outbox_push(nt_svc_t *s, nt_out_t *list)
{
    if (!list)
        return;
    size_t n = 1;
    nt_out_t *tail = list;
    while (tail->next) {
        tail = tail->next;
        n++;
    }
    pthread_mutex_lock(&s->out_lock);
    if (s->out_tail)
        s->out_tail->next = list;
    else
        s->out_head = list;
    s->out_tail = tail;
    s->out_n += n;
    baton_gauge_set(s->m.outbox, (double)s->out_n);
    pthread_cond_signal(&s->out_cond);
    pthread_mutex_unlock(&s->out_lock);
}

/* Take up to max entries (waiting up to 100 ms for the first). */
static nt_out_t *take(nt_svc_t *s, size_t max, bool *stop)
{
    pthread_mutex_lock(&s->out_lock);
    if (!s->out_head && !s->out_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->out_cond, &s->out_lock, &ts);
    }
    nt_out_t *head = s->out_head, *t = head;
    size_t n = head ? 1 : 0;
    while (t && t->next && n < max) {
        t = t->next;
        n++;
    }
    if (t) {
        s->out_head = t->next;
        t->next = NULL;
        if (!s->out_head)
            s->out_tail = NULL;
        s->out_n -= n;
    }
    *stop = s->out_stop && !s->out_head;
    pthread_mutex_unlock(&s->out_lock);
    return head;
}

/* Put a batch back at the front (Kafka did not take it). */
static void put_back(nt_svc_t *s, nt_out_t *list)
{
    size_t n = 0;
    nt_out_t *t = list;
    for (; t; t = t->next) {
        n++;
        if (!t->next)
            break;
    }
    pthread_mutex_lock(&s->out_lock);
    t->next = s->out_head;
    s->out_head = list;
    if (!s->out_tail)
        s->out_tail = t;
    s->out_n += n;
    pthread_mutex_unlock(&s->out_lock);
}

/* Produce the entries as they are stored (the packed envelope: no pack again); the envelope
 * is decoded only for the record's key and standard headers. */
static int produce(nt_svc_t *s, nt_out_t *list)
{
    size_t n = 0;
    for (nt_out_t *o = list; o; o = o->next)
        n++;
    Baton__V1__Envelope **envs = baton_xcalloc(n, sizeof *envs);
    baton_kafka_record_t *recs = baton_xcalloc(n, sizeof *recs);
    baton_kafka_std_headers_t *hdrs = baton_xcalloc(n, sizeof *hdrs);
    size_t k = 0;
    for (nt_out_t *o = list; o; o = o->next) {
        char err[128];
        envs[k] = baton_kafka_envelope_unpack(o->data, o->len, err, sizeof err);
        if (!envs[k])
            continue; /* cannot happen for our own entries; dropped from the outbox below */
        const Baton__V1__Envelope *env = envs[k];
        baton_kafka_std_headers(env, &hdrs[k]); /* in place: h[] points into hdrs[k] */
        recs[k] = (baton_kafka_record_t){.topic = o->topic,
                                         .value = o->data,
                                         .value_len = o->len,
                                         .headers = hdrs[k].h,
                                         .header_count = hdrs[k].count};
        if (env->correlation_key && *env->correlation_key) {
            recs[k].key = env->correlation_key;
            recs[k].key_len = strlen(env->correlation_key);
        }
        k++;
    }
    char err[256] = "";
    int rc = baton_kafka_produce_batch(s->producer, recs, k, (int)s->cfg->produce_timeout_ms, err,
                                       sizeof err);
    if (rc != 0) {
        baton_counter_inc(s->m.err_kafka);
        LOG_ERROR("kafka: producing %zu receipts / dead letters failed (retrying): %s", k, err);
    }
    for (size_t i = 0; i < k; i++)
        baton_kafka_envelope_free(envs[i]);
    free(envs);
    free(recs);
    free(hdrs);
    return rc;
}

/* HDEL the produced entries (a failure leaves them to be re-sent after a restart). */
static void forget(nt_svc_t *s, nt_out_t *list)
{
    size_t n = 0;
    for (nt_out_t *o = list; o; o = o->next)
        n++;
    const char **argv = baton_xcalloc(n + 2, sizeof *argv);
    char *key = baton_xasprintf("%s:outbox", s->kp);
    argv[0] = "HDEL";
    argv[1] = key;
    size_t k = 2;
    for (nt_out_t *o = list; o; o = o->next)
        argv[k++] = o->field;
    redisReply *rep = NULL;
    if (baton_redis_command_argv(s->redis_o, &rep, (int)k, argv, NULL) != 0)
        baton_counter_inc(s->m.err_redis);
    if (rep)
        freeReplyObject(rep);
    free(key);
    free(argv);
}

static void *outbox_main(void *arg)
{
    nt_svc_t *s = arg;
    nt_store_load_outbox(s);
    int64_t stop_deadline = 0;
    for (;;) {
        bool stop = false;
        nt_out_t *batch = take(s, NT_OUTBOX_BATCH, &stop);
        if (!batch) {
            baton_kafka_producer_poll(s->producer, 0);
            if (stop)
                break;
            continue;
        }
        if (produce(s, batch) == 0) {
            forget(s, batch);
            nt_out_free(batch);
        } else {
            put_back(s, batch);
            pthread_mutex_lock(&s->out_lock);
            bool stopping = s->out_stop;
            pthread_mutex_unlock(&s->out_lock);
            if (stopping) {
                if (!stop_deadline)
                    stop_deadline = baton_mono_ms() + s->cfg->produce_timeout_ms;
                if (baton_mono_ms() > stop_deadline)
                    break; /* still in the Redis outbox: re-sent at the next start */
            }
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&s->out_lock);
        baton_gauge_set(s->m.outbox, (double)s->out_n);
        pthread_mutex_unlock(&s->out_lock);
    }
    return NULL;
}

int nt_outbox_start(nt_svc_t *s)
{
    return pthread_create(&s->outbox_thread, NULL, outbox_main, s) == 0 ? 0 : BATON_EIO;
}

void nt_outbox_stop(nt_svc_t *s)
{
    pthread_mutex_lock(&s->out_lock);
    s->out_stop = true;
    pthread_cond_signal(&s->out_cond);
    pthread_mutex_unlock(&s->out_lock);
    pthread_join(s->outbox_thread, NULL);
    nt_out_free(s->out_head);
    s->out_head = s->out_tail = NULL;
}
