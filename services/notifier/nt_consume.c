/* nt_consume.c — thread 1: baton.notify.v1 in. A polled batch is decoded; every request goes
 * through the accept script (pipelined: one round trip per batch), which drops ids already
 * pending or finished (the done key) and otherwise stores the job and schedules it (now, or
 * at the end of the person's bundle window). Messages that are not a notification request
 * are dead-lettered through the outbox in the same pipeline. Only then are the offsets
 * committed, and the delivery loop is woken. A crash before the commit replays the batch,
 * which the accept script makes harmless. */
#include "notifier.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct {
    Baton__V1__Envelope **envs; /* per message: a valid request, or NULL */
    nt_out_t *dead;             /* dead letters of invalid messages */
    size_t naccept;
    nt_job_t *handoff; /* accepted and leased: straight to the delivery loop */
    int nhandoff;
    bool scheduled; /* some were scheduled for later (a bundle window): the loop must look */
} batch_t;

/* A job for the delivery loop from an accepted message (the envelope is taken from b). */
static void hand_over(batch_t *b, const baton_kafka_message_t *m, size_t i, int64_t now)
{
    nt_job_t *j = baton_xcalloc(1, sizeof *j);
    j->env = b->envs[i];
    b->envs[i] = NULL;
    j->id = baton_xstrdup(j->env->notification_request->notification_id);
    j->raw_len = m->value_len;
    j->raw = baton_xmalloc(m->value_len ? m->value_len : 1);
    memcpy(j->raw, m->value, m->value_len);
    j->accepted_ms = now;
    j->next = b->handoff;
    b->handoff = j;
    b->nhandoff++;
}

static const char *invalid_reason(const Baton__V1__Envelope *env, const char *err)
{
    if (!env)
        return err;
    if (env->body_case != BATON__V1__ENVELOPE__BODY_NOTIFICATION_REQUEST)
        return "not a notification request";
    const Baton__V1__NotificationRequest *r = env->notification_request;
    if (!*r->notification_id)
        return "notification_id missing";
    if (!*r->person)
        return "person missing";
    if (!*env->tenant)
        return "tenant missing";
    if (strlen(r->notification_id) > 128 || strchr(r->notification_id, '{'))
        return "notification_id malformed";
    return NULL;
}

static void decode(nt_svc_t *s, batch_t *b, const baton_kafka_message_t *m, size_t i)
{
    char err[160] = "";
    Baton__V1__Envelope *env = baton_kafka_envelope_unpack(m->value, m->value_len, err, sizeof err);
    const char *why = invalid_reason(env, err);
    if (!why) {
        b->envs[i] = env;
        b->naccept++;
        return;
    }
    baton_counter_inc(s->m.req_invalid);
    baton_counter_inc(baton_metrics_counter_child(s->m.dlq_fam, "malformed"));
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv_int(&f, "partition", m->partition);
    baton_log_kv_int(&f, "offset", m->offset);
    BATON_LOG(BATON_LOG_WARN, f.data, "dead-lettering a malformed notification request: %s", why);
    baton_buf_free(&f);
    char ref[96], reason[200];
    snprintf(ref, sizeof ref, "%s:%d:%lld", m->topic, (int)m->partition, (long long)m->offset);
    snprintf(reason, sizeof reason, "malformed: %s", why);
    nt_out_t *o = baton_xcalloc(1, sizeof *o);
    nt_dead_letter(NULL, reason, 0, m->key, m->key_len, m->value, m->value_len, ref, o);
    o->next = b->dead;
    b->dead = o;
    baton_kafka_envelope_free(env);
}

#define NT_ACCEPT_CHUNK 256 /* requests per accept script call */

/* The accept script's answer for message m: accepted (handed over when leased), or a
 * duplicate. */
static void accepted_one(batch_t *b, const baton_kafka_message_t *msgs, size_t m,
                         const redisReply *x, int64_t now, size_t *accepted, size_t *dup)
{
    if (x->type != REDIS_REPLY_ARRAY || x->elements < 2 ||
        x->element[0]->type != REDIS_REPLY_INTEGER)
        return;
    if (x->element[0]->integer != 2) {
        (*dup)++;
        return;
    }
    (*accepted)++;
    if (x->elements == 3 && x->element[2]->type == REDIS_REPLY_INTEGER &&
        x->element[2]->integer == 1)
        hand_over(b, &msgs[m], m, now);
    else
        b->scheduled = true;
}

/* One pipeline: an accept script call per NT_ACCEPT_CHUNK requests, an outbox HSET per dead
 * letter. */
static int store(nt_svc_t *s, const baton_kafka_message_t *msgs, size_t n, batch_t *b)
{
    baton_redis_t *r = s->redis_c;
    int64_t now = baton_now_ms();
    /* hand over only while the delivery loop has room (else the claim path paces it) */
    bool room = s->busy + s->ho_n + (long long)n <= s->cfg->max_inflight;
    int64_t lease = room ? now + s->cfg->lease_ms : 0;
    size_t *idx = baton_xcalloc(n ? n : 1, sizeof *idx); /* request → message */
    nt_accept_t *reqs = baton_xcalloc(n ? n : 1, sizeof *reqs);
    size_t nreq = 0;
    for (size_t i = 0; i < n; i++) {
        const Baton__V1__Envelope *env = b->envs[i];
        if (!env)
            continue;
        const Baton__V1__NotificationRequest *q = env->notification_request;
        reqs[nreq] = (nt_accept_t){q->notification_id, env->tenant,   q->person,
                                   nt_is_urgent(q),    msgs[i].value, msgs[i].value_len};
        idx[nreq++] = i;
    }
    int rc = 0;
    size_t ncalls = 0;
    for (size_t i = 0; i < nreq && rc == 0; i += NT_ACCEPT_CHUNK, ncalls++)
        rc = nt_store_append_accept(
            s, r, reqs + i, nreq - i < NT_ACCEPT_CHUNK ? nreq - i : NT_ACCEPT_CHUNK, now, lease);
    for (nt_out_t *o = b->dead; o && rc == 0; o = o->next)
        rc = nt_store_append_outbox(s, r, o);
    redisReply **rep = NULL;
    size_t nrep = 0;
    if (rc == 0)
        rc = baton_redis_pipeline_read(r, &rep, &nrep);
    free(reqs);
    if (rc != 0) {
        free(idx);
        return rc;
    }
    size_t accepted = 0, dup = 0;
    for (size_t i = 0; i < nrep; i++) {
        redisReply *x = rep[i];
        if (!x || x->type == REDIS_REPLY_ERROR) {
            if (x && strncmp(x->str, "NOSCRIPT", 8) == 0)
                nt_store_init(s, r); /* Redis restarted: load again, redo the batch */
            rc = BATON_EIO;
            break;
        }
        if (i >= ncalls || x->type != REDIS_REPLY_ARRAY)
            continue; /* an outbox HSET */
        for (size_t k = 0; k < x->elements; k++) {
            size_t q = i * NT_ACCEPT_CHUNK + k;
            if (q < nreq)
                accepted_one(b, msgs, idx[q], x->element[k], now, &accepted, &dup);
        }
    }
    baton_redis_replies_free(rep, nrep);
    free(idx);
    if (rc == 0) {
        baton_counter_add(s->m.req_accepted, accepted);
        baton_counter_add(s->m.req_duplicate, dup);
    }
    return rc;
}

/* Store the batch, retrying while Redis is down for up to redis_retry_ms (not polling
 * meanwhile keeps the partitions ours; keep the bound below max.poll.interval.ms). */
static int store_retry(nt_svc_t *s, const baton_kafka_message_t *msgs, size_t n, batch_t *b)
{
    int64_t deadline = baton_mono_ms() + s->cfg->redis_retry_ms;
    for (int attempt = 0;; attempt++) {
        int rc = store(s, msgs, n, b);
        if (rc == 0)
            return 0;
        baton_counter_inc(s->m.err_redis);
        if (attempt == 0)
            LOG_ERROR("redis: storing %zu requests failed (retrying): %s", n,
                      baton_redis_errstr(s->redis_c));
        if (!baton_svc_running || baton_mono_ms() > deadline)
            return rc;
        sleep_ms(100);
    }
}

static int consume_once(nt_svc_t *s, baton_kafka_message_t *msgs, size_t cap)
{
    int n = baton_kafka_consumer_poll(s->consumer, msgs, cap, (int)s->cfg->poll_ms);
    if (n <= 0)
        return n;
    batch_t b = {.envs = baton_xcalloc((size_t)n, sizeof(Baton__V1__Envelope *))};
    for (int i = 0; i < n; i++)
        decode(s, &b, &msgs[i], (size_t)i);
    int rc = store_retry(s, msgs, (size_t)n, &b);
    if (rc == 0) {
        /* durable in Redis: deliveries may start while we commit */
        if (b.handoff)
            nt_deliver_handoff(s, b.handoff, b.nhandoff);
        b.handoff = NULL;
        if (b.scheduled || b.dead)
            s->wake_claim = 1;
        curl_multi_wakeup(s->multi);
        char err[256] = "";
        if (baton_kafka_consumer_commit_messages(s->consumer, msgs, (size_t)n, 5000, err,
                                                 sizeof err) != 0) {
            baton_counter_inc(s->m.err_commit); /* stored already: a replay is harmless */
            LOG_WARN("commit failed: %s", err);
        }
        nt_out_t *dead = b.dead;
        b.dead = NULL;
        if (dead)
            nt_outbox_push(s, dead);
    }
    nt_job_free(b.handoff); /* not stored after all: the retry redoes the batch */
    for (int i = 0; i < n; i++)
        baton_kafka_envelope_free(b.envs[i]);
    free(b.envs);
    nt_out_free(b.dead);
    baton_kafka_messages_release(msgs, (size_t)n);
    return rc == 0 ? n : rc;
}

static void *consume_main(void *arg)
{
    nt_svc_t *s = arg;
    size_t cap = (size_t)s->cfg->consume_batch;
    baton_kafka_message_t *msgs = baton_xcalloc(cap, sizeof *msgs);
    int64_t next_health = 0;
    while (baton_svc_running) {
        int rc = consume_once(s, msgs, cap);
        if (rc < 0 && baton_svc_running) {
            LOG_FATAL("consumer stopped: %s",
                      rc == BATON_EIO ? "kafka consumer failed" : "redis unavailable too long");
            s->consume_failed = 1;
            baton_svc_running = 0; /* the service exits non-zero and is restarted */
            curl_multi_wakeup(s->multi);
            break;
        }
        if (baton_mono_ms() >= next_health) {
            next_health = baton_mono_ms() + 1000;
            baton_kafka_health_t h;
            baton_kafka_consumer_health(s->consumer, &h);
            s->kafka_ok = !h.fatal && h.brokers_up != 0;
        }
    }
    baton_kafka_consumer_close(s->consumer, 5000);
    free(msgs);
    return NULL;
}

void nt_on_rebalance(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                     baton_kafka_partition_t *parts, size_t n, void *opaque)
{
    (void)c;
    (void)opaque;
    baton_buf_t f = BATON_BUF_INIT, list = BATON_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        baton_buf_appendf(&list, "%s%d", i ? "," : "", (int)parts[i].partition);
    baton_log_kv(&f, "partitions", list.data ? list.data : "");
    /* nothing to hand over: the queue in Redis is shared by every instance (leases) */
    BATON_LOG(BATON_LOG_INFO, f.data, "partitions %s",
              ev == BATON_KAFKA_ASSIGNED  ? "assigned"
              : ev == BATON_KAFKA_REVOKED ? "revoked"
                                          : "lost");
    baton_buf_free(&f);
    baton_buf_free(&list);
}

int nt_consume_start(nt_svc_t *s)
{
    return pthread_create(&s->consume_thread, NULL, consume_main, s) == 0 ? 0 : BATON_EIO;
}

void nt_consume_join(nt_svc_t *s)
{
    pthread_join(s->consume_thread, NULL);
}
