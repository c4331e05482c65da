/* nt_deliver.c — the delivery loop (main thread). Claim due jobs from the Redis schedule
 * (leased, so a crash leaves them to be claimed again once the lease ends), resolve the
 * person, hold non-urgent ones in quiet hours, merge one person's non-urgent notifications
 * claimed together into a bundle, and run the transfers on one curl multi handle with
 * per-endpoint concurrency limits. Outcomes are queued as writes and written in one pipeline
 * per loop turn; their receipts / dead letters then go to the outbox thread. Nothing here
 * waits on a receiver: curl_multi_poll wakes on sockets, on the consumer's wakeup, or when
 * the next scheduled job is due. */
#include "notifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- writes */

static void queue_write(nt_svc_t *s, nt_write_t *w)
{
    w->next = NULL;
    if (s->wq_tail)
        s->wq_tail->next = w;
    else
        s->wq = w;
    s->wq_tail = w;
}

static nt_write_t *new_write(nt_job_t *job, nt_out_t *outs)
{
    nt_write_t *w = baton_xcalloc(1, sizeof *w);
    job->next = NULL;
    w->job = job;
    w->outs = outs;
    return w;
}

void nt_finish_job(nt_svc_t *s, nt_job_t *job, const char *done, nt_out_t *outs)
{
    nt_write_t *w = new_write(job, outs);
    w->finish = true;
    w->done = done;
    queue_write(s, w);
}

void nt_reschedule_job(nt_svc_t *s, nt_job_t *job, int attempts, bool held, int64_t due,
                       nt_out_t *outs)
{
    nt_write_t *w = new_write(job, outs);
    w->attempts = attempts;
    w->held = held;
    w->due_ms = due;
    queue_write(s, w);
}

nt_out_t *nt_out_chain(nt_out_t *a, nt_out_t *b)
{
    if (!a)
        return b;
    nt_out_t *t = a;
    while (t->next)
        t = t->next;
    t->next = b;
    return a;
}

nt_out_t *nt_out_new(void)
{
    return baton_xcalloc(1, sizeof(nt_out_t));
}

/* Write every queued outcome (one pipeline, a MULTI/EXEC per NT_WRITE_CHUNK outcomes). On success
 * the outbox entries go to Kafka and the jobs leave the in-flight set; on failure everything stays
 * queued for the next turn (the writes are idempotent). */
static int flush_writes(nt_svc_t *s)
{
    if (!s->wq)
        return 0;
    int rc = nt_store_append_outcomes(s, s->wq);
    if (rc == 0)
        rc = nt_store_exec(s, s->redis_d);
    if (rc != 0) {
        if (baton_redis_pending(s->redis_d))
            baton_redis_reset(s->redis_d);
        baton_counter_inc(s->m.err_redis);
        if (s->redis_ok)
            LOG_ERROR("redis: writing outcomes failed (retrying): %s",
                      baton_redis_errstr(s->redis_d));
        s->redis_ok = rc != BATON_EUNAVAIL ? s->redis_ok : 0;
        return rc;
    }
    nt_out_t *outs = NULL, **tail = &outs; /* the writes' entries, in order, in one list */
    while (s->wq) {
        nt_write_t *w = s->wq;
        s->wq = w->next;
        *tail = w->outs;
        while (*tail)
            tail = &(*tail)->next;
        if (!w->finish && w->due_ms < s->next_claim_ms) /* a retry: look again then */
            s->next_claim_ms = w->due_ms;
        nt_inflight_del(s, w->job->id);
        nt_job_free(w->job);
        free(w);
    }
    s->wq_tail = NULL;
    if (outs)
        nt_outbox_push(s, outs);
    return 0;
}

/* ---------------------------------------------------------------- transfers */

bool nt_is_urgent(const Baton__V1__NotificationRequest *r)
{
    return r->urgent || strcmp(r->kind, "escalation") == 0;
}

static void delivery_free(nt_svc_t *s, nt_delivery_t *d)
{
    nt_channel_release(s, d);
    curl_slist_free_all(d->headers);
    curl_slist_free_all(d->rcpt);
    baton_buf_free(&d->body);
    baton_buf_free(&d->resp);
    free(d->address);
    free(d);
}

static void fail_attempt(nt_svc_t *s, nt_delivery_t *d, const char *why);

/* Transfers in flight, for the shutdown (curl 7.88 cannot list a multi's handles). */
static void active_link(nt_svc_t *s, nt_delivery_t *d)
{
    d->aprev = NULL;
    d->anext = s->active_head;
    if (s->active_head)
        s->active_head->aprev = d;
    s->active_head = d;
}

static void active_unlink(nt_svc_t *s, nt_delivery_t *d)
{
    if (d->aprev)
        d->aprev->anext = d->anext;
    else if (s->active_head == d)
        s->active_head = d->anext;
    if (d->anext)
        d->anext->aprev = d->aprev;
    d->aprev = d->anext = NULL;
}

static void start(nt_svc_t *s, nt_delivery_t *d)
{
    char err[160] = "";
    d->ep->active++;
    s->active++;
    d->start_ns = baton_mono_ns();
    baton_counter_inc(s->m.attempts[d->channel]);
    if (nt_channel_prepare(s, d, err, sizeof err) != 0 ||
        curl_multi_add_handle(s->multi, d->easy) != CURLM_OK) {
        fail_attempt(s, d, err[0] ? err : "cannot start the transfer");
        return;
    }
    active_link(s, d);
}

/* Start d now, or queue it behind the endpoint's transfers in flight. */
static void dispatch(nt_svc_t *s, nt_delivery_t *d)
{
    if (d->ep->active < d->ep->limit) {
        start(s, d);
        return;
    }
    d->next = NULL;
    if (d->ep->wait_tail)
        d->ep->wait_tail->next = d;
    else
        d->ep->wait_head = d;
    d->ep->wait_tail = d;
    s->waiting++;
}

static void start_waiting(nt_svc_t *s, nt_endpoint_t *ep)
{
    while (ep->wait_head && ep->active < ep->limit) {
        nt_delivery_t *d = ep->wait_head;
        ep->wait_head = d->next;
        if (!ep->wait_head)
            ep->wait_tail = NULL;
        s->waiting--;
        start(s, d);
    }
}

void nt_dlq_count(nt_svc_t *s, const char *reason_class)
{
    baton_counter_inc(baton_metrics_counter_child(s->m.dlq_fam, reason_class));
}

/* The transfer of d ended (ok, or failed with `why`): one write per job. */
static void complete(nt_svc_t *s, nt_delivery_t *d, bool ok, const char *why)
{
    const char *ch = baton_roster_channel_name(d->channel);
    int64_t now = baton_now_ms();
    baton_histogram_observe_since(s->m.attempt_s[d->channel], d->start_ns);
    /* one retry time for the whole delivery, so a bundle is claimed (and sent) together again */
    int64_t retry_at = now + nt_backoff_ms(s->cfg, d->jobs->attempts + 1);
    for (nt_job_t *j = d->jobs, *next; j; j = next) {
        next = j->next;
        int attempts = j->attempts + 1;
        const char *bundle = d->njobs > 1 ? d->bundle_id : NULL;
        nt_out_t *r = nt_out_new();
        if (ok) {
            nt_receipt(j, ch, NT_DELIVERED, attempts, NULL, bundle, r);
            const Baton__V1__NotificationRequest *req = j->env->notification_request;
            int64_t created = req->created_at_ms > 0 ? req->created_at_ms : j->accepted_ms;
            baton_histogram_observe(s->m.latency[d->channel], (double)(now - created) / 1000.0);
            baton_counter_inc(s->m.deliveries[d->channel][NT_DELIVERED]);
            nt_finish_job(s, j, "delivered", r);
        } else if (attempts >= s->cfg->max_attempts) {
            char reason[256];
            snprintf(reason, sizeof reason, "%s delivery failed after %d attempts: %s", ch,
                     attempts, why);
            nt_out_t *dl = nt_out_new();
            nt_dead_letter(j, reason, attempts, NULL, 0, NULL, 0, NULL, dl);
            nt_receipt(j, ch, NT_DEAD, attempts, why, bundle, r);
            baton_counter_inc(s->m.deliveries[d->channel][NT_DEAD]);
            nt_dlq_count(s, "max_attempts");
            nt_finish_job(s, j, "dead_lettered", nt_out_chain(dl, r));
        } else {
            nt_receipt(j, ch, NT_FAILED, attempts, why, bundle, r);
            baton_counter_inc(s->m.deliveries[d->channel][NT_FAILED]);
            nt_reschedule_job(s, j, attempts, false, retry_at, r);
        }
    }
    d->jobs = NULL;
    d->ep->active--;
    s->active--;
    nt_endpoint_t *ep = d->ep;
    delivery_free(s, d);
    start_waiting(s, ep);
}

static void fail_attempt(nt_svc_t *s, nt_delivery_t *d, const char *why)
{
    if (d->easy)
        curl_multi_remove_handle(s->multi, d->easy);
    complete(s, d, false, why);
}

static void drain_done(nt_svc_t *s)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(s->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        nt_delivery_t *d = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&d);
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(s->multi, msg->easy_handle);
        active_unlink(s, d);
        char why[160] = "";
        bool ok = nt_channel_result(s, d, rc, why, sizeof why);
        complete(s, d, ok, why);
    }
}

void nt_deliver_handoff(nt_svc_t *s, nt_job_t *list, int n)
{
    nt_job_t *tail = list;
    while (tail->next)
        tail = tail->next;
    pthread_mutex_lock(&s->ho_lock);
    if (s->ho_tail)
        s->ho_tail->next = list;
    else
        s->ho_head = list;
    s->ho_tail = tail;
    s->ho_n += n;
    pthread_mutex_unlock(&s->ho_lock);
}

static nt_job_t *take_handoff(nt_svc_t *s)
{
    if (!s->ho_n)
        return NULL;
    pthread_mutex_lock(&s->ho_lock);
    nt_job_t *list = s->ho_head;
    s->ho_head = s->ho_tail = NULL;
    s->ho_n = 0;
    pthread_mutex_unlock(&s->ho_lock);
    return list;
}

/* Route claimed (or handed-over) jobs into this round's deliveries. */
static void route_all(nt_svc_t *s, nt_job_t *jobs, nt_delivery_t **ds, int64_t now)
{
    for (nt_job_t *j = jobs, *next; j; j = next) {
        next = j->next;
        j->next = NULL;
        if (nt_inflight_has(s, j->id)) { /* ours already (its lease was renewed) */
            nt_job_free(j);
            continue;
        }
        nt_inflight_add(s, j->id);
        nt_route(s, j, ds, now);
    }
}

/* Claim due jobs from the schedule (when there is room and something may be due). */
static void claim_due(nt_svc_t *s, nt_delivery_t **ds, int64_t now)
{
    int room = (int)s->cfg->max_inflight - s->active - s->waiting;
    if (room <= 0 || s->wq || (!s->wake_claim && now < s->next_claim_ms))
        return;
    int max = room < (int)s->cfg->claim_batch ? room : (int)s->cfg->claim_batch;
    s->wake_claim = 0;
    nt_job_t *jobs = NULL;
    int64_t next_due = INT64_MAX;
    int n = nt_store_claim(s, now, max, &jobs, &next_due);
    if (n < 0) {
        baton_counter_inc(s->m.err_redis);
        if (s->redis_ok)
            LOG_ERROR("redis: claiming due notifications failed: %s",
                      baton_redis_errstr(s->redis_d));
        s->redis_ok = 0;
        s->next_claim_ms = now + 500;
        return;
    }
    s->redis_ok = 1;
    /* look again when the next job is due, and at least every claim_poll_ms: other instances
     * release jobs (SIGTERM) and operators may reschedule them */
    s->next_claim_ms = n >= max ? 0 : next_due;
    if (s->next_claim_ms > now + s->cfg->claim_poll_ms)
        s->next_claim_ms = now + s->cfg->claim_poll_ms;
    route_all(s, jobs, ds, now);
}

/* Jobs handed over by the consumer, then due ones from the schedule: into deliveries. */
static void claim(nt_svc_t *s)
{
    nt_delivery_t *ds = NULL;
    int64_t now = baton_now_ms();
    route_all(s, take_handoff(s), &ds, now);
    claim_due(s, &ds, now);
    for (nt_delivery_t *d = ds, *next; d; d = next) {
        next = d->next;
        d->next = NULL;
        if (d->njobs > 1) {
            nt_bundle_id(d);
            baton_counter_inc(s->m.bundles);
            baton_counter_add(s->m.bundled, (uint64_t)d->njobs);
        }
        const char *url = d->channel == BATON_ROSTER_WEBHOOK ? d->address
                          : d->channel == BATON_ROSTER_SMS   ? s->cfg->sms_url
                          : d->channel == BATON_ROSTER_EMAIL ? s->cfg->smtp_url
                                                             : s->cfg->wctp_url;
        d->ep = nt_endpoint(s, url);
        dispatch(s, d);
    }
    s->busy = s->active + s->waiting;
}

/* ---------------------------------------------------------------- the loop */

static int renew_one(nt_svc_t *s, const nt_delivery_t *d, const char *until)
{
    int rc = 0;
    char *due = baton_xasprintf("%s:due", s->kp);
    for (const nt_job_t *j = d->jobs; j && rc == 0; j = j->next) {
        const char *argv[] = {"ZADD", due, "XX", until, j->id};
        rc = baton_redis_append_argv(s->redis_d, 5, argv, NULL);
    }
    free(due);
    return rc;
}

/* Extend the leases of everything held in memory (running, or waiting for an endpoint slot)
 * every lease/3, so no other instance claims what this one still works on. */
static void renew_leases(nt_svc_t *s)
{
    int64_t mono = baton_mono_ms();
    if (mono < s->next_renew_ms || s->wq)
        return;
    s->next_renew_ms = mono + s->cfg->lease_ms / 3;
    char until[24];
    snprintf(until, sizeof until, "%lld", (long long)(baton_now_ms() + s->cfg->lease_ms));
    int rc = 0;
    for (const nt_delivery_t *d = s->active_head; d && rc == 0; d = d->anext)
        rc = renew_one(s, d, until);
    for (const nt_endpoint_t *ep = s->endpoints; ep && rc == 0; ep = ep->next)
        for (const nt_delivery_t *d = ep->wait_head; d && rc == 0; d = d->next)
            rc = renew_one(s, d, until);
    if (rc == 0)
        rc = nt_store_exec(s, s->redis_d);
    if (rc != 0) {
        if (baton_redis_pending(s->redis_d))
            baton_redis_reset(s->redis_d);
        baton_counter_inc(s->m.err_redis);
    }
}

static void housekeeping(nt_svc_t *s)
{
    int64_t mono = baton_mono_ms();
    baton_gauge_set(s->m.inflight, s->active + s->waiting);
    s->busy = s->active + s->waiting;
    renew_leases(s);
    if (mono < s->next_house_ms)
        return;
    s->next_house_ms = mono + 1000;
    long long depth = nt_store_depth(s, s->redis_d);
    if (depth >= 0) {
        baton_gauge_set(s->m.queue_depth, (double)depth);
        s->redis_ok = 1;
    } else {
        s->redis_ok = 0;
    }
    nt_update_ready(s);
}

/* How long curl_multi_poll may sleep: until the next due job, at most poll_ms. */
static int wait_ms(nt_svc_t *s)
{
    if (s->ho_n)
        return 0;
    bool can_claim = (int)s->cfg->max_inflight > s->active + s->waiting && !s->wq;
    if (can_claim && (s->wake_claim || s->next_claim_ms == 0))
        return 0;
    int64_t w = s->wq ? 100 : s->cfg->poll_ms; /* queued writes: Redis trouble, retry soon */
    if (can_claim) {
        int64_t until = s->next_claim_ms - baton_now_ms();
        if (until < w)
            w = until;
    }
    long t = 0;
    curl_multi_timeout(s->multi, &t);
    if (t >= 0 && t < w)
        w = t;
    return w > 0 ? (int)w : 0;
}

/* After SIGTERM: deliveries that never started are released (due now, attempts
 * unchanged) for the next instance. */
static void release_waiting(nt_svc_t *s)
{
    int64_t now = baton_now_ms();
    for (nt_job_t *j = take_handoff(s), *next; j; j = next) { /* handed over, not started */
        next = j->next;
        nt_reschedule_job(s, j, j->attempts, j->held, now, NULL);
    }
    for (nt_endpoint_t *ep = s->endpoints; ep; ep = ep->next) {
        while (ep->wait_head) {
            nt_delivery_t *d = ep->wait_head;
            ep->wait_head = d->next;
            s->waiting--;
            for (nt_job_t *j = d->jobs, *next; j; j = next) {
                next = j->next;
                nt_reschedule_job(s, j, j->attempts, j->held, now, NULL);
            }
            d->jobs = NULL;
            delivery_free(s, d);
        }
        ep->wait_tail = NULL;
    }
}

int nt_deliver_run(nt_svc_t *s)
{
    int64_t stop_at = 0;
    while (1) {
        if (baton_svc_running)
            claim(s);
        else if (!stop_at) {
            stop_at = baton_mono_ms() + s->cfg->shutdown_grace_ms;
            release_waiting(s);
            LOG_INFO("stopping: %d deliveries in flight", s->active);
        }
        int running = 0;
        curl_multi_perform(s->multi, &running);
        drain_done(s);
        flush_writes(s);
        housekeeping(s);
        if (stop_at && ((s->active == 0 && !s->wq) || baton_mono_ms() > stop_at))
            break;
        curl_multi_poll(s->multi, NULL, 0, stop_at ? 50 : wait_ms(s), NULL);
    }
    if (s->active > 0)
        LOG_WARN("%d deliveries still in flight after the grace period: released", s->active);
    return 0;
}

/* Release the transfers still running after the grace period (their jobs go back to the
 * schedule, due now), then free everything. */
void nt_deliver_free(nt_svc_t *s)
{
    release_waiting(s); /* what the consumer handed over after the loop stopped */
    if (s->multi) {
        while (s->active_head) {
            nt_delivery_t *d = s->active_head;
            active_unlink(s, d);
            curl_multi_remove_handle(s->multi, d->easy);
            for (nt_job_t *j = d->jobs, *next; j; j = next) {
                next = j->next;
                nt_reschedule_job(s, j, j->attempts, j->held, baton_now_ms(), NULL);
            }
            d->jobs = NULL;
            d->ep->active--;
            s->active--;
            delivery_free(s, d);
        }
        for (int i = 0; i < 20 && s->wq && flush_writes(s) != 0; i++) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        nt_channel_pool_free(s);
        curl_multi_cleanup(s->multi);
        s->multi = NULL;
    }
    while (s->wq) { /* Redis stayed down: the leases run out and the jobs are claimed again */
        nt_write_t *w = s->wq;
        s->wq = w->next;
        nt_out_free(w->outs);
        nt_job_free(w->job);
        free(w);
    }
    while (s->endpoints) {
        nt_endpoint_t *e = s->endpoints;
        s->endpoints = e->next;
        free(e->name);
        free(e);
    }
    nt_people_free(s);
    nt_inflight_clear(s);
}
