/* publish.c — durable before acknowledged: envelopes go to baton.inbound.v1 and the request
 * waits for Kafka's delivery reports (acks=all) before it may answer 202 / AA. Combined with the
 * idempotency records (idem.c) in ingest_accept, the one path every input takes. */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

int ingest_publish(ingest_t *app, Baton__V1__Envelope *const *envs, size_t n)
{
    if (n == 0)
        return 0;
    baton_kafka_health_t h;
    baton_kafka_producer_health(app->producer, &h);
    if (h.brokers_up == 0) { /* fail fast: nothing is queued that could surface after a 503 */
        baton_counter_inc(app->m.produce_errors[0]);
        return BATON_EUNAVAIL;
    }
    baton_kafka_envelope_out_t stack[16];
    baton_kafka_envelope_out_t *outs = n <= 16 ? stack : baton_xcalloc(n, sizeof *outs);
    for (size_t i = 0; i < n; i++) {
        outs[i].topic = BATON_TOPIC_INBOUND;
        outs[i].env = envs[i];
    }
    char err[256];
    int64_t t0 = baton_mono_ns();
    int rc =
        n == 1 ? baton_kafka_produce_envelope(app->producer, BATON_TOPIC_INBOUND, envs[0],
                                              (int)ingest_cfg.produce_timeout_ms, err, sizeof err)
               : baton_kafka_produce_envelopes(app->producer, outs, n,
                                               (int)ingest_cfg.produce_timeout_ms, err, sizeof err);
    baton_histogram_observe_since(app->m.produce_latency, t0);
    if (outs != stack)
        free(outs);
    if (rc) {
        int k = rc == BATON_EUNAVAIL ? 0 : rc == BATON_ETIMEDOUT ? 1 : rc == BATON_EAGAIN ? 2 : 3;
        baton_counter_inc(app->m.produce_errors[k]);
        baton_buf_t f = BATON_BUF_INIT;
        baton_log_kv(&f, "error", baton_strerror(rc));
        baton_log_kv_int(&f, "records", (long long)n);
        BATON_LOG(BATON_LOG_WARN, f.data, "kafka produce failed: %s", err);
        baton_buf_free(&f);
        if (rc != BATON_EAGAIN && rc != BATON_ETIMEDOUT)
            rc = BATON_EUNAVAIL;
    }
    return rc;
}

int ingest_accept(ingest_t *app, ingest_source_t src, const char *tenant,
                  Baton__V1__Envelope *const *envs, size_t n, int *status)
{
    const char **ids = baton_xcalloc(n ? n : 1, sizeof *ids);
    size_t *slot = baton_xcalloc(n ? n : 1, sizeof *slot); /* env i → claim index */
    long *dup_of = baton_xcalloc(n ? n : 1, sizeof *dup_of);
    size_t nid = 0;
    for (size_t i = 0; i < n; i++) {
        dup_of[i] = -1;
        status[i] = 0;
        if (!envs[i])
            continue;
        for (size_t j = 0; j < i && dup_of[i] < 0; j++) /* the same id twice in one request */
            if (envs[j] && dup_of[j] < 0 && strcmp(envs[j]->id, envs[i]->id) == 0)
                dup_of[i] = (long)j;
        if (dup_of[i] >= 0)
            continue;
        slot[i] = nid;
        ids[nid++] = envs[i]->id;
    }
    ingest_idem_t *recs = baton_xcalloc(nid ? nid : 1, sizeof *recs);
    int rc = ingest_idem_claim(app, tenant, ids, nid, recs);
    Baton__V1__Envelope **owned = baton_xcalloc(nid ? nid : 1, sizeof *owned);
    size_t nown = 0;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            if (envs[i] && dup_of[i] < 0 && recs[slot[i]].state == INGEST_IDEM_OWNED)
                owned[nown++] = envs[i];
        rc = ingest_publish(app, owned, nown);
        /* finish needs envs aligned with recs */
        const Baton__V1__Envelope **aligned = baton_xcalloc(nid ? nid : 1, sizeof *aligned);
        for (size_t i = 0; i < n; i++)
            if (envs[i] && dup_of[i] < 0)
                aligned[slot[i]] = envs[i];
        ingest_idem_finish(app, recs, (const Baton__V1__Envelope *const *)aligned, nid, rc == 0);
        free(aligned);
    } else {
        ingest_metrics_rejected(&app->m, src, INGEST_REJ_REDIS);
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!envs[i] || dup_of[i] >= 0)
            continue;
        ingest_idem_t *r = &recs[slot[i]];
        if (r->state == INGEST_IDEM_DONE) {
            status[i] = 200;
            baton_counter_inc(app->m.dedup[src]);
        } else if (r->state == INGEST_IDEM_OWNED && rc == 0) {
            status[i] = 202;
            ingest_metrics_accepted(&app->m, src, envs[i]->type, 1);
        } else {
            status[i] = 503;
            bad = 1;
            if (r->state == INGEST_IDEM_OWNED)
                ingest_metrics_rejected(&app->m, src, INGEST_REJ_KAFKA);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (envs[i] && dup_of[i] >= 0) {
            int s = status[dup_of[i]];
            status[i] = s == 202 ? 200 : s;
            if (s != 503)
                baton_counter_inc(app->m.dedup[src]);
        }
    }
    free(owned);
    free(recs);
    free(dup_of);
    free(slot);
    free(ids);
    return bad ? (rc ? rc : BATON_EUNAVAIL) : 0;
}
