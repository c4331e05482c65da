/* idem.c — idempotency records: baton:idem:<tenant>:<id> (docs/dev/REDIS_KEYS.md).
 *
 * A request first claims each id with SET NX GET PX (value "P:<token>", expiring after the
 * produce timeout plus a margin, so a crashed claimant never blocks an id for long). The winner
 * produces; after Kafka's ack it writes "D|<type>|<event id>" for BATON_IDEMPOTENCY_TTL, after a
 * failure it deletes its claim (compare-and-delete, so it never removes another's). A request
 * that finds a claim waits (polling) until the claim turns into a record — then it answers
 * what the first answered — or disappears — then it claims again. Two concurrent identical
 * requests therefore write once and answer alike. */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";
static baton_redis_script_t release_script;
static pthread_once_t script_once = PTHREAD_ONCE_INIT;

static void script_init(void)
{
    baton_redis_script_init(&release_script, release_lua);
}

static void parse_done(ingest_idem_t *r, const char *v)
{
    /* "D|type|id" */
    const char *a = v + 2, *b = strchr(a, '|');
    r->state = INGEST_IDEM_DONE;
    if (!b) {
        r->type[0] = '\0';
        baton_strlcpy(r->event_id, a, sizeof r->event_id);
        return;
    }
    size_t tl = (size_t)(b - a) < sizeof r->type - 1 ? (size_t)(b - a) : sizeof r->type - 1;
    memcpy(r->type, a, tl);
    r->type[tl] = '\0';
    baton_strlcpy(r->event_id, b + 1, sizeof r->event_id);
}

/* SET NX GET (Redis >= 7.0) claims and reads in one command; an older server answers it with
 * an error, and from then on every pass uses SET NX and GET (two commands). */
static volatile int setnx_get_unsupported;

/* The record of recs[i] from the claim's answers: owned (set is the SET's reply, get that of
 * GET or of SET ... GET), finished by someone (D|...), or still pending. Returns 1 when
 * decided, 0 when pending, BATON_EUNAVAIL on an error reply. */
static int decide(ingest_idem_t *rec, const redisReply *set, const redisReply *get, bool combined)
{
    if (set->type == REDIS_REPLY_ERROR || get->type == REDIS_REPLY_ERROR)
        return BATON_EUNAVAIL;
    bool owned = combined ? set->type == REDIS_REPLY_NIL : set->type == REDIS_REPLY_STATUS;
    if (owned) {
        rec->state = INGEST_IDEM_OWNED;
        return 1;
    }
    if (get->type == REDIS_REPLY_STRING && strncmp(get->str, "D|", 2) == 0) {
        parse_done(rec, get->str);
        return 1;
    }
    return 0; /* another request holds it (or it vanished between SET and GET) */
}

/* One pass: SET NX (GET) for the undecided ones, GET for those that lost. Returns the number
 * still pending (held by another request), or BATON_EUNAVAIL. */
static int pass(baton_redis_t *rc, ingest_idem_t *recs, size_t n, bool *undecided, long long px)
{
    size_t q = 0;
    bool combined = !setnx_get_unsupported;
    size_t per = combined ? 1 : 2;
    char pval[48];
    for (size_t i = 0; i < n; i++) {
        if (!undecided[i])
            continue;
        snprintf(pval, sizeof pval, "P:%s", recs[i].token);
        if (combined) {
            if (baton_redis_append(rc, "SET %s %s NX GET PX %lld", recs[i].key, pval, px) != 0)
                return BATON_EUNAVAIL;
        } else {
            if (baton_redis_append(rc, "SET %s %s NX PX %lld", recs[i].key, pval, px) != 0)
                return BATON_EUNAVAIL;
            if (baton_redis_append(rc, "GET %s", recs[i].key) != 0)
                return BATON_EUNAVAIL;
        }
        q++;
    }
    if (q == 0)
        return 0;
    redisReply **rep = NULL;
    size_t nrep = 0;
    if (baton_redis_pipeline_read(rc, &rep, &nrep) != 0 || nrep != per * q) {
        baton_redis_replies_free(rep, nrep);
        return BATON_EUNAVAIL;
    }
    if (combined && rep[0]->type == REDIS_REPLY_ERROR &&
        (strstr(rep[0]->str, "syntax") || strstr(rep[0]->str, "GET option"))) {
        setnx_get_unsupported = 1; /* Redis < 7.0: claim again, in two commands */
        baton_redis_replies_free(rep, nrep);
        return pass(rc, recs, n, undecided, px);
    }
    int pending = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!undecided[i])
            continue;
        redisReply *set = rep[per * k], *get = rep[per * k + per - 1];
        k++;
        int d = decide(&recs[i], set, get, combined);
        if (d < 0) {
            baton_redis_replies_free(rep, nrep);
            return BATON_EUNAVAIL;
        }
        if (d)
            undecided[i] = false;
        else
            pending++;
    }
    baton_redis_replies_free(rep, nrep);
    return pending;
}

int ingest_idem_claim(ingest_t *app, const char *tenant, const char *const *ids, size_t n,
                      ingest_idem_t *recs)
{
    char token[BATON_ID_LEN];
    baton_uuidv7(token);
    bool *undecided = baton_xcalloc(n ? n : 1, sizeof *undecided);
    for (size_t i = 0; i < n; i++) {
        snprintf(recs[i].key, sizeof recs[i].key, "baton:idem:%s:%s", tenant, ids[i]);
        baton_strlcpy(recs[i].token, token, sizeof recs[i].token);
        recs[i].state = INGEST_IDEM_ERROR;
        undecided[i] = true;
    }
    long long px = ingest_cfg.produce_timeout_ms + 10000;
    int64_t deadline = baton_mono_ms() + ingest_cfg.produce_timeout_ms + 2000;
    int rc = 0;
    for (;;) {
        baton_redis_t *r = ingest_rpool_get(app->redis);
        int pending = pass(r, recs, n, undecided, px);
        ingest_rpool_put(app->redis, r);
        if (pending < 0) {
            rc = BATON_EUNAVAIL;
            break;
        }
        if (pending == 0)
            break;
        if (baton_mono_ms() >= deadline) {
            rc = BATON_ETIMEDOUT;
            break;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (rc) {
        /* give back what we got: nothing may stay claimed by a request that answers 503 */
        for (size_t i = 0; i < n; i++)
            if (recs[i].state != INGEST_IDEM_OWNED)
                recs[i].state = INGEST_IDEM_ERROR;
        ingest_idem_finish(app, recs, NULL, n, false);
        for (size_t i = 0; i < n; i++)
            recs[i].state = INGEST_IDEM_ERROR;
    }
    free(undecided);
    return rc;
}

void ingest_idem_finish(ingest_t *app, ingest_idem_t *recs, const Baton__V1__Envelope *const *envs,
                        size_t n, bool ok)
{
    pthread_once(&script_once, script_init);
    baton_redis_t *r = ingest_rpool_get(app->redis);
    size_t q = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].state != INGEST_IDEM_OWNED)
            continue;
        if (ok) {
            char *v = baton_xasprintf("D|%s|%s", envs[i]->type, envs[i]->id);
            if (baton_redis_append(r, "SET %s %s PX %lld", recs[i].key, v,
                                   (long long)ingest_cfg.idem_ttl_ms) == 0)
                q++;
            free(v);
        } else {
            char pval[48];
            snprintf(pval, sizeof pval, "P:%s", recs[i].token);
            const char *argv[] = {recs[i].key, pval};
            redisReply *rep = NULL;
            baton_redis_evalsha(r, &release_script, 1, 2, argv, NULL, &rep);
            if (rep)
                freeReplyObject(rep);
        }
    }
    if (q) {
        redisReply **rep = NULL;
        size_t nrep = 0;
        if (baton_redis_pipeline_read(r, &rep, &nrep) != 0)
            LOG_WARN("idempotency records not written (Redis unavailable): a resend is "
                     "produced again");
        baton_redis_replies_free(rep, nrep);
    }
    ingest_rpool_put(app->redis, r);
}
