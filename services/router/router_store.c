/* router_store.c — instance state in Redis (key layout: docs/dev/REDIS_KEYS.md): the batch
 * cache, pipelined loads and the one MULTI/EXEC that writes a batch's effects together with
 * the applied offsets of its partitions. */
#include <stdlib.h>
#include <string.h>

#include "baton/log.h"
#include "router.h"

#define KEY_ACTIVE "baton:router:instances_active"

/* Queue a command unless an earlier one of the pipeline failed: a pipeline is all or nothing
 * (a MULTI lost to a reconnect must not let the commands after it run on their own). */
#define APPEND(r, rc, ...)                                                                         \
    do {                                                                                           \
        if ((rc) == 0)                                                                             \
            (rc) = baton_redis_append((r), __VA_ARGS__);                                           \
    } while (0)

void router_cache_init(router_cache_t *c)
{
    router_map_init(&c->inst);
    router_map_init(&c->corr);
    router_map_init(&c->task);
}

static void inst_free(router_inst_t *e)
{
    baton_pathway_state_free(e->st);
    free(e);
}

static void idlist_free(router_idlist_t *l)
{
    for (size_t j = 0; j < l->n; j++)
        free(l->ids[j]);
    free(l->ids);
    free(l);
}

static void taskref_free(router_taskref_t *t)
{
    free(t->instance_id);
    free(t);
}

void router_cache_free(router_cache_t *c)
{
    router_cache_evict(c, UINT64_MAX);
    router_map_free(&c->inst);
    router_map_free(&c->corr);
    router_map_free(&c->task);
}

/* Rebuild m with the entries whose gen (read by genof) is newer than written (their keys
 * move over, not copied). */
static void evict_map(router_map_t *m, uint64_t written, uint64_t (*genof)(void *),
                      void (*fr)(void *))
{
    router_map_t keep;
    router_map_init(&keep);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        if (written != UINT64_MAX && genof(m->vals[i]) > written) {
            router_map_put_owned(&keep, m->keys[i], m->vals[i]);
            m->keys[i] = NULL;
        } else {
            fr(m->vals[i]);
        }
    }
    router_map_free(m);
    *m = keep;
}

static uint64_t inst_gen(void *p)
{
    return ((router_inst_t *)p)->gen;
}
static uint64_t idlist_gen(void *p)
{
    return ((router_idlist_t *)p)->gen;
}
static uint64_t taskref_gen(void *p)
{
    return ((router_taskref_t *)p)->gen;
}
static void inst_free_v(void *p)
{
    inst_free(p);
}
static void idlist_free_v(void *p)
{
    idlist_free(p);
}
static void taskref_free_v(void *p)
{
    taskref_free(p);
}

void router_cache_evict(router_cache_t *c, uint64_t written)
{
    evict_map(&c->inst, written, inst_gen, inst_free_v);
    evict_map(&c->corr, written, idlist_gen, idlist_free_v);
    evict_map(&c->task, written, taskref_gen, taskref_free_v);
}

static int pipe_err(baton_redis_t *r, int rc, char *err, size_t errlen)
{
    baton_seterr(err, errlen, "redis: %s", baton_redis_errstr(r));
    return rc ? rc : BATON_EIO;
}

/* Queue GET baton:inst:<id> for ids not cached yet (each once: seen marks them). */
static void want_inst(baton_redis_t *r, int *arc, router_cache_t *c, router_map_t *seen,
                      const char *id, char ***order, size_t *n)
{
    if (!id || !*id || router_map_get(&c->inst, id) || router_map_get(seen, id))
        return;
    router_map_put(seen, id, (void *)1);
    APPEND(r, *arc, "GET baton:inst:%s", id);
    *order = router_grow(*order, *n, sizeof(char *));
    (*order)[(*n)++] = baton_xstrdup(id);
}

static int load_instances(baton_redis_t *r, router_cache_t *c, uint64_t gen, char **ids, size_t n,
                          char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    redisReply **rep = NULL;
    size_t nrep = 0;
    int rc = baton_redis_pipeline_read(r, &rep, &nrep);
    if (rc || nrep != n) {
        if (!rc)
            baton_redis_replies_free(rep, nrep);
        return pipe_err(r, rc, err, errlen);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (rep[i]->type == REDIS_REPLY_ERROR) {
            baton_seterr(err, errlen, "redis: GET instance: %s", rep[i]->str);
            rc = BATON_EIO;
            break;
        }
        router_inst_t *e = baton_xcalloc(1, sizeof(*e));
        if (rep[i]->type == REDIS_REPLY_STRING) {
            e->st = baton_pathway_state_unpack((const uint8_t *)rep[i]->str, rep[i]->len);
            if (!e->st) {
                baton_buf_t f = BATON_BUF_INIT;
                baton_log_kv(&f, "instance_id", ids[i]);
                BATON_LOG(BATON_LOG_ERROR, f.data, "stored instance state does not parse; ignored");
                baton_buf_free(&f);
            }
        }
        e->stored = e->st != NULL;
        e->gen = gen;
        e->stored_active = e->st && strcmp(e->st->status, BATON_INSTANCE_ACTIVE) == 0;
        router_map_put(&c->inst, ids[i], e);
    }
    baton_redis_replies_free(rep, nrep);
    return rc;
}

int router_store_load(baton_redis_t *r, router_cache_t *c, uint64_t gen, char **keys, size_t nkeys,
                      char **ids, size_t nids, char **tasks, size_t ntasks, char *err,
                      size_t errlen)
{
    router_map_t seen;
    router_map_init(&seen);
    char **q = NULL; /* what round 1 asked, in order: 'c' + key or 't' + task id */
    size_t nq = 0;
    int arc = 0;
    for (size_t i = 0; i < nkeys + ntasks; i++) {
        int is_key = i < nkeys;
        const char *k = is_key ? keys[i] : tasks[i - nkeys];
        char *tag = baton_xasprintf("%c%s", is_key ? 'c' : 't', k ? k : "");
        if (!k || !*k || router_map_get(is_key ? &c->corr : &c->task, k) ||
            router_map_get(&seen, tag)) {
            free(tag);
            continue;
        }
        router_map_put(&seen, tag, (void *)1);
        if (is_key)
            APPEND(r, arc, "SMEMBERS baton:corr:%s", k);
        else
            APPEND(r, arc, "GET baton:task:%s", k);
        q = router_grow(q, nq, sizeof(char *));
        q[nq++] = tag;
    }
    int rc = arc;
    redisReply **rep = NULL;
    size_t nrep = 0;
    if (rc == 0 && nq && (rc = baton_redis_pipeline_read(r, &rep, &nrep)) == 0 && nrep != nq)
        rc = BATON_EIO;
    if (rc)
        rc = pipe_err(r, rc, err, errlen);
    router_map_t seen2;
    router_map_init(&seen2);
    char **order = NULL;
    size_t norder = 0;
    for (size_t i = 0; i < nq && rc == 0; i++) {
        redisReply *x = rep[i];
        if (x->type == REDIS_REPLY_ERROR) {
            baton_seterr(err, errlen, "redis: %s", x->str);
            rc = BATON_EIO;
        } else if (q[i][0] == 'c') {
            router_idlist_t *l = baton_xcalloc(1, sizeof(*l));
            l->gen = gen;
            l->ids = baton_xcalloc(x->elements + 1, sizeof(char *));
            for (size_t j = 0; j < x->elements; j++)
                if (x->element[j]->type == REDIS_REPLY_STRING)
                    l->ids[l->n++] = baton_xstrndup(x->element[j]->str, x->element[j]->len);
            router_map_put(&c->corr, q[i] + 1, l);
        } else { /* what the rest of the router files under a task id: a router_taskref_t */
            router_taskref_t *tr = baton_xcalloc(1, sizeof(*tr));
            tr->instance_id =
                x->type == REDIS_REPLY_STRING ? baton_xstrndup(x->str, x->len) : baton_xstrdup("");
            tr->gen = gen;
            router_map_put(&c->task, q[i] + 1, tr);
        }
    }
    baton_redis_replies_free(rep, nrep);
    /* round 2: every instance named by a correlation set, a task or directly */
    for (size_t i = 0; i < nq && rc == 0; i++) {
        if (q[i][0] == 'c') {
            router_idlist_t *l = router_map_get(&c->corr, q[i] + 1);
            for (size_t j = 0; j < l->n; j++)
                want_inst(r, &arc, c, &seen2, l->ids[j], &order, &norder);
        } else {
            router_taskref_t *tr = router_map_get(&c->task, q[i] + 1);
            want_inst(r, &arc, c, &seen2, tr ? tr->instance_id : NULL, &order, &norder);
        }
    }
    for (size_t i = 0; i < nids && rc == 0; i++)
        want_inst(r, &arc, c, &seen2, ids[i], &order, &norder);
    if (rc == 0 && arc)
        rc = pipe_err(r, arc, err, errlen);
    if (rc == 0)
        rc = load_instances(r, c, gen, order, norder, err, errlen);
    else if (baton_redis_pending(r))
        baton_redis_reset(r); /* drop what was queued: the batch is retried */
    for (size_t i = 0; i < norder; i++)
        free(order[i]);
    free(order);
    for (size_t i = 0; i < nq; i++)
        free(q[i]);
    free(q);
    router_map_free(&seen);
    router_map_free(&seen2);
    return rc;
}

int router_store_applied(baton_redis_t *r, const char *topic, const int32_t *parts, size_t n,
                         int64_t *out, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        APPEND(r, rc, "GET baton:router:applied:%s:%d", topic, (int)parts[i]);
    redisReply **rep = NULL;
    size_t nrep = 0;
    if (rc == 0 && n)
        rc = baton_redis_pipeline_read(r, &rep, &nrep);
    if (rc || nrep != n) {
        if (!rc)
            baton_redis_replies_free(rep, nrep);
        return pipe_err(r, rc, err, errlen);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (rep[i]->type == REDIS_REPLY_STRING)
            out[i] = strtoll(rep[i]->str, NULL, 10);
        else if (rep[i]->type == REDIS_REPLY_NIL)
            out[i] = -1;
        else
            rc = BATON_EIO;
    }
    baton_redis_replies_free(rep, nrep);
    if (rc)
        baton_seterr(err, errlen, "redis: unexpected reply reading applied offsets");
    return rc;
}

int router_store_active(baton_redis_t *r, long long *out)
{
    redisReply *rep = NULL;
    int rc = baton_redis_command(r, &rep, "GET " KEY_ACTIVE);
    *out = rc == 0 && rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : 0;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* WATCH the applied keys and check they still hold what the batch started from. Returns 0
 * (go), 1 (this very batch was written already: an earlier EXEC whose answer was lost),
 * BATON_ECONFLICT or an I/O error. */
static int fence(baton_redis_t *r, const router_applied_t *ap, size_t nap, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < nap; i++)
        APPEND(r, rc, "WATCH baton:router:applied:%s:%d", ap[i].topic, (int)ap[i].partition);
    for (size_t i = 0; i < nap; i++)
        APPEND(r, rc, "GET baton:router:applied:%s:%d", ap[i].topic, (int)ap[i].partition);
    redisReply **rep = NULL;
    size_t nrep = 0;
    if (rc == 0)
        rc = baton_redis_pipeline_read(r, &rep, &nrep);
    if (rc || nrep != 2 * nap) {
        if (!rc)
            baton_redis_replies_free(rep, nrep);
        return pipe_err(r, rc, err, errlen);
    }
    size_t same = 0, ours = 0;
    for (size_t i = 0; i < nap; i++) {
        redisReply *x = rep[nap + i];
        int64_t cur = x->type == REDIS_REPLY_STRING ? strtoll(x->str, NULL, 10) : -1;
        same += cur == ap[i].before;
        ours += cur == ap[i].after;
    }
    baton_redis_replies_free(rep, nrep);
    if (same == nap)
        return 0;
    baton_redis_command(r, NULL, "UNWATCH");
    if (ours == nap)
        return 1;
    baton_seterr(err, errlen, "another router advanced an applied offset");
    return BATON_ECONFLICT;
}

void router_store_plan(router_cache_t *c, router_plan_t *plan)
{
    memset(plan, 0, sizeof(*plan));
    for (size_t i = 0; i < c->inst.cap; i++) {
        router_inst_t *e = c->inst.keys[i] ? c->inst.vals[i] : NULL;
        if (!e || !e->dirty || !e->st)
            continue;
        const Baton__V1__InstanceState *s = e->st;
        plan->v = router_grow(plan->v, plan->n, sizeof(*plan->v));
        router_plan_item_t *it = &plan->v[plan->n++];
        memset(it, 0, sizeof(*it));
        it->id = baton_xstrdup(s->instance_id);
        it->corr = baton_xstrdup(s->correlation_key);
        it->buf = baton_pathway_state_pack(s, &it->len);
        it->active = strcmp(s->status, BATON_INSTANCE_ACTIVE) == 0;
        it->stored = e->stored;
        it->stored_active = e->stored_active;
        it->ntasks = s->n_tasks;
        it->tasks = baton_xcalloc(s->n_tasks ? s->n_tasks : 1, sizeof(char *));
        for (size_t k = 0; k < s->n_tasks; k++)
            it->tasks[k] = baton_xstrdup(s->tasks[k]->task_id);
        e->dirty = false;
        e->stored = true;
        e->stored_active = it->active;
    }
}

void router_plan_free(router_plan_t *plan)
{
    for (size_t i = 0; i < plan->n; i++) {
        router_plan_item_t *it = &plan->v[i];
        free(it->id);
        free(it->corr);
        free(it->buf);
        for (size_t k = 0; k < it->ntasks; k++)
            free(it->tasks[k]);
        free(it->tasks);
    }
    free(plan->v);
    memset(plan, 0, sizeof(*plan));
}

/* Queue the commands of one planned instance; returns its change of the active count. */
static int queue_instance(baton_redis_t *r, int *arc, const router_plan_item_t *e, int64_t ttl,
                          size_t *ncmd)
{
    int active = e->active;
    if (!active && ttl > 0)
        APPEND(r, *arc, "SET baton:inst:%s %b PX %lld", e->id, e->buf, e->len, (long long)ttl);
    else
        APPEND(r, *arc, "SET baton:inst:%s %b", e->id, e->buf, e->len);
    (*ncmd)++;
    for (size_t i = 0; i < e->ntasks; i++) {
        const char *tid = e->tasks[i];
        if (!e->stored && !active && ttl > 0)
            APPEND(r, *arc, "SET baton:task:%s %s PX %lld", tid, e->id, (long long)ttl);
        else if (!e->stored)
            APPEND(r, *arc, "SET baton:task:%s %s", tid, e->id);
        else if (!active && e->stored_active && ttl > 0)
            APPEND(r, *arc, "PEXPIRE baton:task:%s %lld", tid, (long long)ttl);
        else
            continue;
        (*ncmd)++;
    }
    if (active && !e->stored_active) {
        APPEND(r, *arc, "SADD baton:corr:%s %s", e->corr, e->id);
        (*ncmd)++;
    } else if (!active && e->stored_active) {
        APPEND(r, *arc, "SREM baton:corr:%s %s", e->corr, e->id);
        (*ncmd)++;
    }
    return active - (e->stored_active ? 1 : 0);
}

int router_store_write(baton_redis_t *r, const router_plan_t *plan, const router_applied_t *ap,
                       size_t nap, int64_t closed_ttl_ms, long long *active_out, char *err,
                       size_t errlen)
{
    int rc = fence(r, ap, nap, err, errlen);
    if (rc == 1)
        return router_store_active(r, active_out) == 0 ? 0 : pipe_err(r, 0, err, errlen);
    if (rc)
        return rc;
    size_t ncmd = 0;
    long long delta = 0;
    int arc = 0;
    APPEND(r, arc, "MULTI");
    for (size_t i = 0; i < plan->n; i++)
        delta += queue_instance(r, &arc, &plan->v[i], closed_ttl_ms, &ncmd);
    for (size_t i = 0; i < nap; i++, ncmd++)
        APPEND(r, arc, "SET baton:router:applied:%s:%d %lld", ap[i].topic, (int)ap[i].partition,
               (long long)ap[i].after);
    APPEND(r, arc, "INCRBY " KEY_ACTIVE " %lld", delta);
    APPEND(r, arc, "EXEC");
    redisReply **rep = NULL;
    size_t nrep = 0;
    if (arc) {
        baton_redis_reset(r); /* nothing of a half-queued transaction may be sent */
        return pipe_err(r, arc, err, errlen);
    }
    rc = baton_redis_pipeline_read(r, &rep, &nrep);
    if (rc)
        return pipe_err(r, rc, err, errlen);
    redisReply *ex = nrep ? rep[nrep - 1] : NULL;
    if (!ex || ex->type == REDIS_REPLY_NIL) {
        rc = BATON_ECONFLICT; /* a watched applied offset changed under us */
        baton_seterr(err, errlen, "another router wrote an applied offset during the batch");
    } else if (ex->type != REDIS_REPLY_ARRAY || ex->elements != ncmd + 1) {
        rc = BATON_EIO;
        baton_seterr(err, errlen, "redis: EXEC failed: %s",
                     ex->type == REDIS_REPLY_ERROR ? ex->str : "unexpected reply");
    } else {
        for (size_t i = 0; i < ex->elements && rc == 0; i++)
            if (ex->element[i]->type == REDIS_REPLY_ERROR) {
                baton_seterr(err, errlen, "redis: in EXEC: %s", ex->element[i]->str);
                rc = BATON_EIO;
            }
        redisReply *cnt = ex->element[ncmd];
        *active_out = cnt->type == REDIS_REPLY_INTEGER ? cnt->integer : 0;
    }
    baton_redis_replies_free(rep, nrep);
    return rc;
}
