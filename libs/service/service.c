/* The shared service runtime: see baton/service.h. */
#include "baton/service.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t baton_svc_running = 1;

struct baton_svc {
    char name[32];
    const baton_config_opt_t *opts;
    baton_metrics_t *metrics;
    baton_kafka_conf_t *kconf;
    baton_ops_t *ops;
    pthread_mutex_t lock; /* guards ready and reason (read from the ops threads) */
    bool ready;
    char reason[160];
    baton_gauge_t *ready_gauge;
};

static void on_signal(int sig)
{
    (void)sig;
    baton_svc_running = 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static bool ready_check(void *ud, char *reason, size_t reasonlen)
{
    baton_svc_t *svc = ud;
    pthread_mutex_lock(&svc->lock);
    bool ready = svc->ready;
    if (!ready)
        baton_strlcpy(reason, svc->reason[0] ? svc->reason : "starting", reasonlen);
    pthread_mutex_unlock(&svc->lock);
    return ready;
}

void baton_svc_kafka_log(baton_log_level_t level, const char *facility, const char *message,
                         void *opaque)
{
    (void)opaque;
    if (level < baton_log_min_level)
        return;
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv(&f, "component", "kafka");
    baton_log_kv(&f, "facility", facility ? facility : "");
    baton_log_write(level, f.data, "%s", message ? message : "");
    baton_buf_free(&f);
}

/* Loads config and logging; returns 0, 1 (handled --help), or a negative error. */
static int load_config(const char *name, const char *summary, int argc, char **argv,
                       const baton_config_opt_t *opts, baton_svc_common_t *common)
{
    char prog[48], err[256];
    snprintf(prog, sizeof prog, "baton-%s", name);
    int rc = baton_config_handle_args(argc, argv, prog, summary, opts);
    if (rc != 0)
        return rc;
    baton_log_init(name, BATON_LOG_INFO);
    if (baton_config_load(opts, err, sizeof err) != 0) {
        LOG_FATAL("configuration: %s", err);
        return BATON_EINVAL;
    }
    baton_log_level_t level;
    if (baton_log_level_parse(common->log_level, &level) != 0) {
        LOG_FATAL("configuration: BATON_LOG_LEVEL: expected debug, info, warn or error");
        return BATON_EINVAL;
    }
    baton_log_init(name, level);
    baton_buf_t desc = BATON_BUF_INIT;
    baton_log_kv(&desc, "version", BATON_VERSION);
    baton_config_describe(opts, &desc);
    BATON_LOG(BATON_LOG_INFO, desc.data, "starting");
    baton_buf_free(&desc);
    return 0;
}

baton_svc_t *baton_svc_init(const char *name, const char *summary, int argc, char **argv,
                            const baton_config_opt_t *opts, baton_svc_common_t *common,
                            int *exit_code)
{
    char err[256];
    int rc = load_config(name, summary, argc, argv, opts, common);
    if (rc != 0) {
        *exit_code = rc == 1 ? 0 : 2;
        if (rc != 1)
            baton_config_free(opts);
        return NULL;
    }
    baton_svc_t *svc = baton_xcalloc(1, sizeof *svc);
    baton_strlcpy(svc->name, name, sizeof svc->name);
    svc->opts = opts;
    pthread_mutex_init(&svc->lock, NULL);
    baton_strlcpy(svc->reason, "starting", sizeof svc->reason);
    svc->metrics = baton_metrics_new();
    baton_metrics_register_process(svc->metrics, name, BATON_VERSION);
    svc->ready_gauge = baton_metrics_gauge_child(
        baton_metrics_gauge(svc->metrics, "baton_ready", "1 when /readyz answers 200", NULL));

    svc->kconf = baton_kafka_conf_new(common->kafka_bootstrap);
    baton_kafka_conf_set_log_cb(svc->kconf, baton_svc_kafka_log, svc);
    if (baton_kafka_conf_set_from_env(svc->kconf, err, sizeof err) != 0) {
        LOG_FATAL("configuration: %s", err);
        *exit_code = 2;
        goto err;
    }
    install_signals();
    svc->ops = baton_ops_start(common->ops_bind, (int)common->ops_port, svc->metrics, ready_check,
                               svc, err, sizeof err);
    if (!svc->ops) {
        LOG_FATAL("ops listener: %s", err);
        *exit_code = 1;
        goto err;
    }
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv_int(&f, "ops_port", baton_ops_port(svc->ops));
    BATON_LOG(BATON_LOG_INFO, f.data, "ops listener up");
    baton_buf_free(&f);
    return svc;
err:
    baton_svc_free(svc);
    return NULL;
}

const char *baton_svc_name(const baton_svc_t *svc)
{
    return svc->name;
}

baton_metrics_t *baton_svc_metrics(baton_svc_t *svc)
{
    return svc->metrics;
}

baton_kafka_conf_t *baton_svc_kafka_conf(baton_svc_t *svc)
{
    return svc->kconf;
}

int baton_svc_ops_port(const baton_svc_t *svc)
{
    return svc->ops ? baton_ops_port(svc->ops) : 0;
}

void baton_svc_set_ready(baton_svc_t *svc, bool ready, const char *reason)
{
    pthread_mutex_lock(&svc->lock);
    bool changed = svc->ready != ready || (!ready && reason && strcmp(reason, svc->reason) != 0);
    svc->ready = ready;
    baton_strlcpy(svc->reason, ready || !reason ? "" : reason, sizeof svc->reason);
    pthread_mutex_unlock(&svc->lock);
    baton_gauge_set(svc->ready_gauge, ready ? 1 : 0);
    if (changed) {
        if (ready)
            LOG_INFO("ready");
        else
            LOG_WARN("not ready: %s", reason ? reason : "");
    }
}

bool baton_svc_is_ready(baton_svc_t *svc)
{
    pthread_mutex_lock(&svc->lock);
    bool r = svc->ready;
    pthread_mutex_unlock(&svc->lock);
    return r;
}

void baton_svc_free(baton_svc_t *svc)
{
    if (!svc)
        return;
    baton_ops_stop(svc->ops);
    baton_kafka_conf_free(svc->kconf);
    baton_metrics_free(svc->metrics);
    baton_config_free(svc->opts);
    pthread_mutex_destroy(&svc->lock);
    free(svc);
}
