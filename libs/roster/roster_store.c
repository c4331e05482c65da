/* The roster in Redis: key layout (documented in baton/roster.h), the one write script, and
 * resolution as one pipelined round trip. */
#include "roster_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRUNE_BATCH 1000

/* The only script that changes shifts: writes (moving a re-written id off its old index
 * entry), deletes, and prunes, atomically.
 * KEYS[1] shifts hash, KEYS[2] ends zset, KEYS[2+i] the index key of written shift i.
 * ARGV[1] prune cutoff in ms ('' = no pruning), ARGV[2] prune limit, ARGV[3] D = ids to
 * delete, ARGV[4..3+D] those ids, then per written shift: id, start, end, member, record.
 * Old index keys are read from the records: they carry the same {tenant} hash tag, so they
 * live in the same cluster slot as the declared keys.
 * Returns {written, pruned, deleted}. */
static const char write_lua[] =
    "local h, ends = KEYS[1], KEYS[2]\n"
    "local function unindex(id)\n"
    "  local old = redis.call('HGET', h, id)\n"
    "  if old then\n"
    "    local k, m = string.match(old, '^([^\\n]*)\\n([^\\n]*)\\n')\n"
    "    if k then redis.call('ZREM', k, m) end\n"
    "    redis.call('HDEL', h, id)\n"
    "  end\n"
    "  redis.call('ZREM', ends, id)\n"
    "  return old and 1 or 0\n"
    "end\n"
    "local d = tonumber(ARGV[3])\n"
    "local deleted = 0\n"
    "for i = 1, d do deleted = deleted + unindex(ARGV[3 + i]) end\n"
    "local n = (#ARGV - 3 - d) / 5\n"
    "for i = 1, n do\n"
    "  local b = 3 + d + (i - 1) * 5\n"
    "  local id = ARGV[b + 1]\n"
    "  unindex(id)\n"
    "  redis.call('ZADD', KEYS[2 + i], ARGV[b + 2], ARGV[b + 4])\n"
    "  redis.call('ZADD', ends, ARGV[b + 3], id)\n"
    "  redis.call('HSET', h, id, ARGV[b + 5])\n"
    "end\n"
    "local pruned = 0\n"
    "if ARGV[1] ~= '' then\n"
    "  local ids = redis.call('ZRANGEBYSCORE', ends, '-inf', ARGV[1], 'LIMIT', 0, "
    "tonumber(ARGV[2]))\n"
    "  for _, id in ipairs(ids) do pruned = pruned + unindex(id) end\n"
    "end\n"
    "return {n, pruned, deleted}\n";

static baton_redis_script_t write_script_s;

static void write_script_init(void)
{
    baton_redis_script_init(&write_script_s, write_lua);
}

static baton_redis_script_t *write_script(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, write_script_init);
    return &write_script_s;
}

/* ---- keys ---- */

static char *key_person(const char *tenant, const char *id)
{
    return baton_xasprintf("baton:roster:{%s}:person:%s", tenant, id);
}

static char *key_shifts(const char *tenant)
{
    return baton_xasprintf("baton:roster:{%s}:shifts", tenant);
}

static char *key_ends(const char *tenant)
{
    return baton_xasprintf("baton:roster:{%s}:ends", tenant);
}

/* ":" + one component of a multi-part key. Identifiers may hold ':', written "%3A" here so
 * that ("a:b", "c") and ("a", "b:c") are different keys ('%' is never in an identifier). */
static void key_part(baton_buf_t *b, const char *s)
{
    baton_buf_putc(b, ':');
    for (; *s; s++) {
        if (*s == ':')
            baton_buf_puts(b, "%3A");
        else
            baton_buf_putc(b, *s);
    }
}

/* The index a shift lives in: its unit's, or its facility's when it has no unit. */
static char *key_index(const char *tenant, const char *facility, const char *unit, const char *role)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_appendf(&b, "baton:roster:{%s}:%s", tenant, unit && *unit ? "unit" : "fac");
    key_part(&b, facility);
    if (unit && *unit)
        key_part(&b, unit);
    key_part(&b, role);
    return baton_buf_steal(&b);
}

static int io_err(baton_redis_t *r, int rc, redisReply *reply, char *err, size_t errlen)
{
    baton_seterr(err, errlen, "roster: redis: %s", baton_redis_errstr(r));
    if (reply)
        freeReplyObject(reply);
    return rc ? rc : BATON_EIO;
}

/* ---- people ---- */

int baton_roster_person_put(baton_redis_t *r, const baton_roster_person_t *p, char *err,
                            size_t errlen)
{
    if (!baton_roster_tenant_ok(p->tenant) || !baton_roster_ident_ok(p->id)) {
        baton_seterr(err, errlen, "roster: person has no valid tenant or id");
        return BATON_EINVAL;
    }
    char *key = key_person(p->tenant, p->id), *json = baton_roster_person_to_json(p);
    redisReply *reply = NULL;
    int rc = baton_redis_command(r, &reply, "SET %s %s", key, json);
    free(key);
    free(json);
    if (rc)
        return io_err(r, rc, reply, err, errlen);
    freeReplyObject(reply);
    return 0;
}

int baton_roster_person_get(baton_redis_t *r, const char *tenant, const char *id,
                            baton_roster_person_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!baton_roster_tenant_ok(tenant) || !baton_roster_ident_ok(id))
        return BATON_ENOENT; /* such a person can never have been stored */
    char *key = key_person(tenant, id);
    redisReply *reply = NULL;
    int rc = baton_redis_command(r, &reply, "GET %s", key);
    free(key);
    if (rc)
        return io_err(r, rc, reply, err, errlen);
    if (reply->type != REDIS_REPLY_STRING) {
        freeReplyObject(reply);
        return BATON_ENOENT;
    }
    baton_roster_errors_t errs = BATON_ROSTER_ERRORS_INIT;
    rc = baton_roster_person_parse(id, reply->str, reply->len, out, &errs);
    baton_roster_errors_free(&errs);
    freeReplyObject(reply);
    if (rc == 0 && strcmp((*out)->tenant, tenant) != 0) {
        baton_roster_person_free(*out);
        *out = NULL;
        rc = BATON_EPARSE;
    }
    if (rc) {
        baton_seterr(err, errlen, "roster: stored person record does not validate");
        return BATON_EPARSE;
    }
    return 0;
}

int baton_roster_person_delete(baton_redis_t *r, const char *tenant, const char *id, char *err,
                               size_t errlen)
{
    if (!baton_roster_tenant_ok(tenant) || !baton_roster_ident_ok(id))
        return BATON_ENOENT;
    char *key = key_person(tenant, id);
    redisReply *reply = NULL;
    int rc = baton_redis_command(r, &reply, "DEL %s", key);
    free(key);
    if (rc)
        return io_err(r, rc, reply, err, errlen);
    rc = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1 ? 0 : BATON_ENOENT;
    freeReplyObject(reply);
    return rc;
}

/* ---- shifts ---- */

/* The argument vector of one script call; it frees the strings it was given to own. */
typedef struct {
    const char **argv;
    char **owned; /* strings to free */
    size_t argc, nowned, cap;
} args_t;

/* Append a borrowed argument (it must outlive the call). */
static void arg_ref(args_t *a, const char *s)
{
    if (a->argc == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->argv = baton_xrealloc(a->argv, a->cap * sizeof *a->argv);
        a->owned = baton_xrealloc(a->owned, a->cap * sizeof *a->owned);
    }
    a->argv[a->argc++] = s;
}

/* Append an argument the vector frees. */
static void arg_own(args_t *a, char *s)
{
    arg_ref(a, s);
    a->owned[a->nowned++] = s;
}

static void args_free(args_t *a)
{
    for (size_t i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->argv);
}

static char *member_of(const baton_roster_shift_t *s)
{
    return baton_xasprintf("%lld|%d|%s|%s", (long long)s->end_ms, s->tier, s->person, s->id);
}

/* One write-script call. shifts may be NULL (n = 0); del_id may be NULL; cutoff < 0: no
 * pruning. */
static int run_write(baton_redis_t *r, const char *tenant, const baton_roster_shift_t *shifts,
                     size_t n, const char *del_id, long long cutoff, long long counts[3], char *err,
                     size_t errlen)
{
    args_t a = {0};
    arg_own(&a, key_shifts(tenant));
    arg_own(&a, key_ends(tenant));
    for (size_t i = 0; i < n; i++)
        arg_own(&a, key_index(tenant, shifts[i].facility, shifts[i].unit, shifts[i].role));
    int numkeys = (int)a.argc;
    arg_own(&a, cutoff >= 0 ? baton_xasprintf("%lld", cutoff) : baton_xstrdup(""));
    arg_own(&a, baton_xasprintf("%d", PRUNE_BATCH));
    arg_own(&a, baton_xstrdup(del_id ? "1" : "0"));
    if (del_id)
        arg_ref(&a, del_id);
    for (size_t i = 0; i < n; i++) {
        const baton_roster_shift_t *s = &shifts[i];
        char *member = member_of(s), *json = baton_roster_shift_to_json(s);
        arg_ref(&a, s->id);
        arg_own(&a, baton_xasprintf("%lld", (long long)s->start_ms));
        arg_own(&a, baton_xasprintf("%lld", (long long)s->end_ms));
        arg_own(&a, member);
        arg_own(&a, baton_xasprintf("%s\n%s\n%s", a.argv[2 + i], member, json));
        free(json);
    }
    redisReply *reply = NULL;
    int rc = baton_redis_evalsha(r, write_script(), numkeys, (int)a.argc, a.argv, NULL, &reply);
    args_free(&a);
    if (rc)
        return io_err(r, rc, reply, err, errlen);
    int ok = reply->type == REDIS_REPLY_ARRAY && reply->elements == 3;
    for (size_t i = 0; ok && i < 3; i++) {
        ok = reply->element[i]->type == REDIS_REPLY_INTEGER;
        counts[i] = ok ? reply->element[i]->integer : 0;
    }
    freeReplyObject(reply);
    if (!ok) {
        baton_seterr(err, errlen, "roster: unexpected reply from the write script");
        return BATON_EIO;
    }
    return 0;
}

int baton_roster_shifts_put(baton_redis_t *r, const baton_roster_shifts_t *s, int64_t now_ms,
                            char *err, size_t errlen)
{
    if (s->n == 0)
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].tenant, s->v[0].tenant) != 0 ||
            !baton_roster_tenant_ok(s->v[i].tenant) || !baton_roster_ident_ok(s->v[i].id)) {
            baton_seterr(err, errlen, "roster: shifts of one tenant only, validated first");
            return BATON_EINVAL;
        }
    }
    long long counts[3];
    return run_write(r, s->v[0].tenant, s->v, s->n, NULL,
                     (long long)(now_ms - BATON_ROSTER_KEEP_MS), counts, err, errlen);
}

int baton_roster_shift_delete(baton_redis_t *r, const char *tenant, const char *id, char *err,
                              size_t errlen)
{
    if (!baton_roster_tenant_ok(tenant) || !baton_roster_ident_ok(id))
        return BATON_ENOENT;
    long long counts[3];
    int rc = run_write(r, tenant, NULL, 0, id, -1, counts, err, errlen);
    return rc ? rc : counts[2] == 1 ? 0 : BATON_ENOENT;
}

int baton_roster_prune(baton_redis_t *r, const char *tenant, int64_t ended_by_ms, size_t *removed,
                       char *err, size_t errlen)
{
    if (removed)
        *removed = 0;
    if (!baton_roster_tenant_ok(tenant)) {
        baton_seterr(err, errlen, "roster: invalid tenant");
        return BATON_EINVAL;
    }
    long long counts[3];
    do {
        int rc = run_write(r, tenant, NULL, 0, NULL, (long long)ended_by_ms, counts, err, errlen);
        if (rc)
            return rc;
        if (removed)
            *removed += (size_t)counts[1];
    } while (counts[1] >= PRUNE_BATCH);
    return 0;
}

int baton_roster_shift_get(baton_redis_t *r, const char *tenant, const char *id,
                           baton_roster_shift_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!baton_roster_tenant_ok(tenant) || !baton_roster_ident_ok(id))
        return BATON_ENOENT;
    char *key = key_shifts(tenant);
    redisReply *reply = NULL;
    int rc = baton_redis_command(r, &reply, "HGET %s %s", key, id);
    free(key);
    if (rc)
        return io_err(r, rc, reply, err, errlen);
    if (reply->type != REDIS_REPLY_STRING) {
        freeReplyObject(reply);
        return BATON_ENOENT;
    }
    const char *nl = memchr(reply->str, '\n', reply->len);
    nl = nl ? memchr(nl + 1, '\n', reply->len - (size_t)(nl + 1 - reply->str)) : NULL;
    json_t *o = nl ? json_loadb(nl + 1, reply->len - (size_t)(nl + 1 - reply->str), 0, NULL) : NULL;
    rc = o ? baton_roster__shift_from_json(o, out) : BATON_EPARSE;
    json_decref(o);
    freeReplyObject(reply);
    if (rc == 0 && (strcmp(out->tenant, tenant) || strcmp(out->id, id)))
        rc = BATON_EPARSE;
    if (rc)
        baton_seterr(err, errlen, "roster: stored shift record does not parse");
    return rc;
}

/* ---- resolution ---- */

/* Parses one index entry ("end|tier|person|id", score = start) into s. 0 or -1. */
static int parse_member(const redisReply *m, const redisReply *score, baton_roster_shift_t *s)
{
    char buf[256], *save = NULL;
    if (m->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING || m->len >= sizeof buf)
        return -1;
    memcpy(buf, m->str, m->len);
    buf[m->len] = '\0';
    char *end = strtok_r(buf, "|", &save), *tier = strtok_r(NULL, "|", &save);
    char *person = strtok_r(NULL, "|", &save), *id = strtok_r(NULL, "|", &save);
    if (!end || !tier || !person || !id || !baton_roster_ident_ok(person) ||
        !baton_roster_ident_ok(id))
        return -1;
    s->start_ms = (int64_t)strtod(score->str, NULL);
    s->end_ms = strtoll(end, NULL, 10);
    s->tier = atoi(tier);
    baton_strlcpy(s->person, person, sizeof s->person);
    baton_strlcpy(s->id, id, sizeof s->id);
    return 0;
}

/* Reads the indexes of (tenant, facility, units[i], role) — units[i] NULL for the facility-wide
 * one — over shifts that started in [from - MAX_SHIFT, to], pipelined in one round trip, and
 * appends them to out. The names must be valid identifiers. */
static int fetch_indexes(baton_redis_t *r, const char *tenant, const char *facility,
                         const char *const *units, size_t nunits, const char *role, int64_t from_ms,
                         int64_t to_ms, baton_roster_shifts_t *out, char *err, size_t errlen)
{
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%lld", (long long)(from_ms - BATON_ROSTER_MAX_SHIFT_MS));
    snprintf(hi, sizeof hi, "%lld", (long long)to_ms);
    for (size_t i = 0; i < nunits; i++) {
        char *key = key_index(tenant, facility, units[i], role);
        const char *argv[] = {"ZRANGEBYSCORE", key, lo, hi, "WITHSCORES"};
        int rc = baton_redis_append_argv(r, 5, argv, NULL);
        free(key);
        if (rc)
            return io_err(r, rc, NULL, err, errlen);
    }
    redisReply **rep = NULL;
    size_t nrep = 0, total = out->n;
    int rc = baton_redis_pipeline_read(r, &rep, &nrep);
    if (rc)
        return io_err(r, rc, NULL, err, errlen);
    for (size_t i = 0; i < nrep; i++) {
        if (rep[i]->type != REDIS_REPLY_ARRAY) {
            baton_seterr(err, errlen, "roster: redis: %s",
                         rep[i]->type == REDIS_REPLY_ERROR ? rep[i]->str : "unexpected reply");
            baton_redis_replies_free(rep, nrep);
            return BATON_EIO;
        }
        total += rep[i]->elements / 2;
    }
    baton_roster_shift_t *v = baton_xrealloc(out->v, (total ? total : 1) * sizeof *v);
    size_t k = out->n;
    for (size_t i = 0; i < nrep && rc == 0; i++) {
        for (size_t j = 0; j + 1 < rep[i]->elements && rc == 0; j += 2, k++) {
            baton_roster_shift_t *sh = &v[k];
            memset(sh, 0, sizeof *sh);
            baton_strlcpy(sh->tenant, tenant, sizeof sh->tenant);
            baton_strlcpy(sh->facility, facility, sizeof sh->facility);
            baton_strlcpy(sh->unit, units[i] ? units[i] : "", sizeof sh->unit);
            baton_strlcpy(sh->role, role, sizeof sh->role);
            if (parse_member(rep[i]->element[j], rep[i]->element[j + 1], sh) != 0)
                rc = BATON_EPARSE;
        }
    }
    baton_redis_replies_free(rep, nrep);
    out->v = v; /* on failure only the capacity grew: out->n is unchanged */
    if (rc) {
        baton_seterr(err, errlen, "roster: corrupt index entry");
        return rc;
    }
    out->n = k;
    return 0;
}

int baton_roster_fetch_index(baton_redis_t *r, const char *tenant, const char *facility,
                             const char *unit, const char *role, int64_t from_ms, int64_t to_ms,
                             baton_roster_shifts_t *out, char *err, size_t errlen)
{
    const char *units[1] = {unit && *unit ? unit : NULL};
    if (!baton_roster_tenant_ok(tenant) || !baton_roster_ident_ok(facility) ||
        !baton_roster_ident_ok(role) || (units[0] && !baton_roster_ident_ok(units[0])))
        return 0; /* no shift can exist for these names; never build a key from them */
    return fetch_indexes(r, tenant, facility, units, 1, role, from_ms, to_ms, out, err, errlen);
}

/* The candidates of q: its unit's index (when it has a unit) and the facility-wide one. */
static int fetch(baton_redis_t *r, const baton_roster_query_t *q, baton_roster_shifts_t *out,
                 char *err, size_t errlen)
{
    if (!baton_roster__query_storable(q))
        return 0; /* no shift can exist for these names; never build a key from them */
    const char *units[2] = {q->unit, NULL};
    size_t skip = q->unit && *q->unit ? 0 : 1;
    return fetch_indexes(r, q->tenant, q->facility, units + skip, 2 - skip, q->role, q->at_ms,
                         q->at_ms, out, err, errlen);
}

int baton_roster_resolve(baton_redis_t *r, const baton_roster_query_t *q,
                         baton_roster_resolution_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!baton_roster__query_ok(q)) {
        baton_seterr(err, errlen, "roster: query needs a tenant, a facility and a role");
        return BATON_EINVAL;
    }
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    int rc = fetch(r, q, &s, err, errlen);
    if (rc == 0)
        rc = baton_roster_resolve_in(q, s.v, s.n, out);
    baton_roster_shifts_free(&s);
    return rc;
}

int baton_roster_oncall(baton_redis_t *r, const baton_roster_query_t *q, char **json_out, char *err,
                        size_t errlen)
{
    *json_out = NULL;
    if (!baton_roster__query_ok(q)) {
        baton_seterr(err, errlen, "roster: query needs a tenant, a facility and a role");
        return BATON_EINVAL;
    }
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    int rc = fetch(r, q, &s, err, errlen);
    baton_roster_resolution_t res;
    baton_roster_person_t *person = NULL;
    if (rc == 0 && baton_roster_resolve_in(q, s.v, s.n, &res) == 0 &&
        res.why != BATON_ROSTER_NONE) {
        rc = baton_roster_person_get(r, q->tenant, res.person, &person, err, errlen);
        if (rc == BATON_ENOENT || rc == BATON_EPARSE) /* shifts may name unknown people */
            rc = 0;
    }
    if (rc == 0)
        *json_out = baton_roster_oncall_json(q, s.v, s.n, person);
    baton_roster_person_free(person);
    baton_roster_shifts_free(&s);
    return rc;
}
