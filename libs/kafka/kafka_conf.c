/* Configuration, and what producer and consumer share: building the rd_kafka_conf_t, the
 * log / error / statistics callbacks behind the health, and error-code mapping. */
#include "kafka_int.h"

#include "baton/config.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

baton_kafka_conf_t *baton_kafka_conf_new(const char *bootstrap)
{
    baton_kafka_conf_t *conf = baton_xcalloc(1, sizeof *conf);
    if (bootstrap && *bootstrap)
        baton_kafka_conf_set(conf, "bootstrap.servers", bootstrap);
    return conf;
}

void baton_kafka_conf_free(baton_kafka_conf_t *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < conf->count; i++) {
        free(conf->names[i]);
        free(conf->values[i]);
    }
    free(conf->names);
    free(conf->values);
    free(conf);
}

/* Check name=value against librdkafka without keeping anything. */
static int check_property(const char *name, const char *value, char *err, size_t errlen)
{
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    char errstr[256] = "";
    rd_kafka_conf_res_t r = rd_kafka_conf_set(scratch, name, value, errstr, sizeof errstr);
    rd_kafka_conf_destroy(scratch);
    if (r == RD_KAFKA_CONF_OK)
        return 0;
    baton_seterr(err, errlen, "%s", errstr);
    return BATON_EINVAL;
}

static int conf_set(baton_kafka_conf_t *conf, const char *name, const char *value, char *err,
                    size_t errlen)
{
    if (!conf || !name || !value) {
        baton_seterr(err, errlen, "NULL property name or value");
        return BATON_EINVAL;
    }
    int rc = check_property(name, value, err, errlen);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < conf->count; i++) {
        if (strcmp(conf->names[i], name) == 0) {
            free(conf->values[i]);
            conf->values[i] = baton_xstrdup(value);
            return 0;
        }
    }
    if (conf->count == conf->cap) {
        conf->cap = conf->cap ? conf->cap * 2 : 8;
        conf->names = baton_xrealloc(conf->names, conf->cap * sizeof *conf->names);
        conf->values = baton_xrealloc(conf->values, conf->cap * sizeof *conf->values);
    }
    conf->names[conf->count] = baton_xstrdup(name);
    conf->values[conf->count++] = baton_xstrdup(value);
    return 0;
}

int baton_kafka_conf_set(baton_kafka_conf_t *conf, const char *name, const char *value)
{
    return conf_set(conf, name, value, NULL, 0);
}

const char *baton_kafka_conf_get(const baton_kafka_conf_t *conf, const char *name)
{
    for (size_t i = 0; conf && i < conf->count; i++)
        if (strcmp(conf->names[i], name) == 0)
            return conf->values[i];
    return NULL;
}

struct env_ctx {
    baton_kafka_conf_t *conf;
    int rc;
    char *err;
    size_t errlen;
};

static void env_one(const char *name, const char *value, void *ud)
{
    struct env_ctx *ctx = ud;
    char why[256];
    if (ctx->rc != 0)
        return;
    if (conf_set(ctx->conf, name, value, why, sizeof why) != 0) {
        /* name back to the variable it came from, for an error the operator can act on */
        baton_buf_t var = BATON_BUF_INIT;
        baton_buf_puts(&var, "BATON_KAFKA_");
        for (const char *p = name; *p; p++)
            baton_buf_putc(&var, *p == '.' ? '_' : (char)toupper((unsigned char)*p));
        baton_seterr(ctx->err, ctx->errlen, "%s: %s", var.data, why);
        baton_buf_free(&var);
        ctx->rc = BATON_EINVAL;
    }
}

int baton_kafka_conf_set_from_env(baton_kafka_conf_t *conf, char *err, size_t errlen)
{
    /* BATON_KAFKA_BOOTSTRAP is the bootstrap list, a service config option of its own */
    static const char *const skip[] = {"bootstrap", NULL};
    struct env_ctx ctx = {conf, 0, err, errlen};
    baton_config_env_passthrough("BATON_KAFKA_", skip, env_one, &ctx);
    return ctx.rc;
}

void baton_kafka_conf_set_log_cb(baton_kafka_conf_t *conf, baton_kafka_log_cb *cb, void *opaque)
{
    conf->log_cb = cb;
    conf->log_opaque = opaque;
}

void baton_kafka_conf_set_rebalance_cb(baton_kafka_conf_t *conf, baton_kafka_rebalance_cb *cb,
                                       void *opaque)
{
    conf->rebalance_cb = cb;
    conf->rebalance_opaque = opaque;
}

/* ---------------------------------------------------------------- errors and health */

int baton_kafka__err(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return 0;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return BATON_EAGAIN;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return BATON_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
        return BATON_EUNAVAIL;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return BATON_ENOENT;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return BATON_EINVAL;
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    case RD_KAFKA_RESP_ERR__STATE:
        return BATON_ECONFLICT;
    default:
        return BATON_EIO;
    }
}

static void emit(baton_kafka__client_t *cl, baton_log_level_t level, const char *fac,
                 const char *msg)
{
    if (cl->log_cb)
        cl->log_cb(level, fac, msg, cl->log_opaque);
}

void baton_kafka__client_error(baton_kafka__client_t *cl, int berr, baton_log_level_t level,
                               const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&cl->mu);
    cl->health.last_error = berr;
    baton_strlcpy(cl->health.last_error_text, msg, sizeof cl->health.last_error_text);
    cl->health.last_error_ms = baton_now_ms();
    pthread_mutex_unlock(&cl->mu);
    emit(cl, level, "ERROR", msg);
}

void baton_kafka__client_ok(baton_kafka__client_t *cl)
{
    int64_t now = baton_now_ms();
    pthread_mutex_lock(&cl->mu);
    cl->health.last_ok_ms = now;
    pthread_mutex_unlock(&cl->mu);
}

void baton_kafka__client_health(baton_kafka__client_t *cl, baton_kafka_health_t *out)
{
    pthread_mutex_lock(&cl->mu);
    *out = cl->health;
    pthread_mutex_unlock(&cl->mu);
}

void baton_kafka__client_init(baton_kafka__client_t *cl, const baton_kafka_conf_t *conf)
{
    pthread_mutex_init(&cl->mu, NULL);
    cl->health.brokers_up = -1;
    cl->log_cb = conf->log_cb;
    cl->log_opaque = conf->log_opaque;
}

void baton_kafka__client_destroy(baton_kafka__client_t *cl)
{
    pthread_mutex_destroy(&cl->mu);
}

/* ---------------------------------------------------------------- librdkafka callbacks */

/* syslog level → ours (syslog.h stays out: its LOG_* names clash with baton/log.h). */
baton_log_level_t baton_kafka__level(int level)
{
    if (level <= 3)
        return BATON_LOG_ERROR;
    if (level == 4)
        return BATON_LOG_WARN;
    return level <= 6 ? BATON_LOG_INFO : BATON_LOG_DEBUG;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    baton_kafka__client_t *cl = rd_kafka_opaque(rk);
    if (cl)
        emit(cl, baton_kafka__level(level), fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    baton_kafka__client_t *cl = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[200];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
        pthread_mutex_lock(&cl->mu);
        cl->health.fatal = true;
        pthread_mutex_unlock(&cl->mu);
        baton_kafka__client_error(cl, BATON_EIO, BATON_LOG_ERROR, "fatal: %s: %s",
                                  rd_kafka_err2name(orig), why);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        pthread_mutex_lock(&cl->mu);
        cl->health.brokers_up = 0;
        pthread_mutex_unlock(&cl->mu);
    }
    baton_kafka__client_error(cl, baton_kafka__err((rd_kafka_resp_err_t)err), BATON_LOG_WARN,
                              "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Count brokers in state UP from the statistics JSON: the ones learned from metadata
 * (nodeid >= 0); a bootstrap connection alone counts as one. */
static int count_brokers_up(const char *json)
{
    json_t *root = json_loads(json, 0, NULL);
    if (!root)
        return -1;
    int learned = 0, bootstrap = 0;
    const char *name;
    json_t *b;
    json_object_foreach(json_object_get(root, "brokers"), name, b)
    {
        const char *state = json_string_value(json_object_get(b, "state"));
        const char *source = json_string_value(json_object_get(b, "source"));
        if (!state || strcmp(state, "UP") != 0 || !source)
            continue;
        if (strcmp(source, "learned") == 0)
            learned++;
        else if (strcmp(source, "configured") == 0)
            bootstrap = 1;
    }
    json_decref(root);
    return learned ? learned : bootstrap;
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    baton_kafka__client_t *cl = opaque;
    int up = count_brokers_up(json);
    if (up >= 0) {
        pthread_mutex_lock(&cl->mu);
        cl->health.brokers_up = up;
        pthread_mutex_unlock(&cl->mu);
    }
    return 0; /* librdkafka frees json */
}

static int apply_pairs(rd_kafka_conf_t *rc, const char *const *kv, char *err, size_t errlen)
{
    char errstr[256];
    for (; kv && kv[0]; kv += 2) {
        if (rd_kafka_conf_set(rc, kv[0], kv[1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            baton_seterr(err, errlen, "%s: %s", kv[0], errstr);
            return BATON_EINVAL;
        }
    }
    return 0;
}

rd_kafka_conf_t *baton_kafka__rdconf(const baton_kafka_conf_t *conf, const char *const *defaults,
                                     const char *const *forced, baton_kafka__client_t *cl,
                                     char *err, size_t errlen)
{
    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    char errstr[256];
    if (apply_pairs(rc, defaults, err, errlen) != 0)
        goto err;
    for (size_t i = 0; i < conf->count; i++) {
        if (rd_kafka_conf_set(rc, conf->names[i], conf->values[i], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            baton_seterr(err, errlen, "%s: %s", conf->names[i], errstr);
            goto err;
        }
    }
    if (apply_pairs(rc, forced, err, errlen) != 0)
        goto err;
    /* logs are queued and served by our poll calls, never on librdkafka's threads */
    static const char *const logq[] = {"log.queue", "true", NULL};
    if (apply_pairs(rc, logq, err, errlen) != 0)
        goto err;
    rd_kafka_conf_set_opaque(rc, cl);
    rd_kafka_conf_set_log_cb(rc, log_cb);
    rd_kafka_conf_set_error_cb(rc, error_cb);
    rd_kafka_conf_set_stats_cb(rc, stats_cb);
    return rc;
err:
    rd_kafka_conf_destroy(rc);
    return NULL;
}
