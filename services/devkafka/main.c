/* baton-devkafka — a standalone Kafka broker for the demo and the tests, built on librdkafka's
 * mock cluster (a real Kafka wire-protocol broker, in memory).
 *
 * Control: SIGUSR1 takes every broker down (connections closed and refused, data kept),
 * SIGUSR2 brings them up again, SIGTERM / SIGINT exit 0. When the brokers listen, the bootstrap
 * list is logged as one JSON line and, when BATON_DEVKAFKA_BOOTSTRAP_FILE is set, written there
 * atomically (tmp file + rename) so a waiter never reads half a list. */
#include "baton/config.h"
#include "baton/log.h"
#ifdef BATON_DEVKAFKA_LOOKUP
#include "mock_lookup.h"
#include "mock_retention.h"
#endif

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The topics every Baton service expects; anything else is auto-created on first use (with
 * the mock's built-in default of 4 partitions, which librdkafka 2.0.2 does not let us change). */
static const char *const baton_topics[] = {"baton.inbound.v1",   "baton.timers.v1",
                                           "baton.lifecycle.v1", "baton.notify.v1",
                                           "baton.dlq.v1",       NULL};

static struct {
    long long brokers;
    long long partitions;
    long long retention_mb;
    char *bootstrap_file;
    char *log_level;
    char *debug;
} cfg;

static const baton_config_opt_t opts[] = {
    {"brokers", "BATON_DEVKAFKA_BROKERS", BATON_CFG_INT, "1", 1, 16, "number of mock brokers",
     &cfg.brokers},
    {"partitions", "BATON_DEVKAFKA_PARTITIONS", BATON_CFG_INT, "4", 1, 256,
     "partitions of each pre-created baton.* topic", &cfg.partitions},
    {"retention_mb", "BATON_DEVKAFKA_RETENTION_MB", BATON_CFG_INT, "1024", 0, 1048576,
     "MiB each partition keeps before its oldest messages are dropped (held in memory; 0 = "
     "librdkafka's own, about 5 MB, which a consumer behind by more skips)",
     &cfg.retention_mb},
    {"bootstrap_file", "BATON_DEVKAFKA_BOOTSTRAP_FILE", BATON_CFG_STR, "", 0, 0,
     "write the bootstrap list here (atomically) once the brokers listen", &cfg.bootstrap_file},
    {"log_level", "BATON_LOG_LEVEL", BATON_CFG_STR, "info", 0, 0, "debug | info | warn | error",
     &cfg.log_level},
    {"debug", "BATON_DEVKAFKA_DEBUG", BATON_CFG_STR, "", 0, 0,
     "librdkafka debug contexts for the mock cluster, e.g. mock,protocol (logged at debug)",
     &cfg.debug},
    {0}};

static volatile sig_atomic_t running = 1;
static volatile sig_atomic_t want_down, want_up;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        want_down = 1;
    else if (sig == SIGUSR2)
        want_up = 1;
    else
        running = 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* librdkafka's log lines, served on the main thread through the log queue. */
static void rk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* syslog levels (syslog.h is not included: its LOG_* names clash with baton/log.h) */
    baton_log_level_t l = level <= 3   ? BATON_LOG_ERROR
                          : level == 4 ? BATON_LOG_WARN
                          : level <= 6 ? BATON_LOG_INFO
                                       : BATON_LOG_DEBUG;
    if (strcmp(fac, "CONFWARN") == 0)
        l = BATON_LOG_DEBUG; /* "no bootstrap.servers": true and harmless for this handle */
    if (l < baton_log_min_level)
        return;
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv(&f, "facility", fac);
    baton_log_write(l, f.data, "rdkafka: %s", buf);
    baton_buf_free(&f);
}

/* The client handle the mock cluster hangs off; it never talks to a broker itself. */
static rd_kafka_t *make_handle(char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    if (rd_kafka_conf_set(conf, "log.queue", "true", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", "baton-devkafka", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        /* the mock broker's accepted sockets inherit TCP_NODELAY from this setting; without it
         * every multi-partition produce stalls ~40 ms (Nagle + delayed ACK), which real
         * brokers, who set TCP_NODELAY, never do */
        rd_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        (*cfg.debug &&
         rd_kafka_conf_set(conf, "debug", cfg.debug, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)) {
        baton_seterr(err, errlen, "rdkafka conf: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, rk_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        baton_seterr(err, errlen, "rd_kafka_new: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_set_log_queue(rk, NULL); /* served by rd_kafka_poll() in the main loop */
    return rk;
}

static int create_topics(rd_kafka_mock_cluster_t *mc, char *err, size_t errlen)
{
    int rf = cfg.brokers < 3 ? (int)cfg.brokers : 3;
    for (const char *const *t = baton_topics; *t; t++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, *t, (int)cfg.partitions, rf);
        if (e) {
            baton_seterr(err, errlen, "create topic %s: %s", *t, rd_kafka_err2str(e));
            return BATON_EIO;
        }
    }
    return 0;
}

/* Write data to path via "<path>.tmp.<pid>" + rename, so readers see all or nothing. */
static int write_atomic(const char *path, const char *data, char *err, size_t errlen)
{
    char *tmp = baton_xasprintf("%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = BATON_EIO;
    if (!f) {
        baton_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    int ok =
        fputs(data, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok) {
        baton_seterr(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        baton_seterr(err, errlen, "rename %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

static void announce(const char *bootstrap)
{
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv(&f, "bootstrap", bootstrap);
    baton_log_kv_int(&f, "brokers", cfg.brokers);
    baton_log_kv_int(&f, "partitions", cfg.partitions);
    baton_log_kv_int(&f, "retention_mb", cfg.retention_mb);
    baton_log_write(BATON_LOG_INFO, f.data, "devkafka ready");
    baton_buf_free(&f);
}

static void set_brokers(rd_kafka_mock_cluster_t *mc, int up)
{
    /* Broker ids run 1..n; one call per broker works on every librdkafka that has the API. */
    for (int32_t id = 1; id <= (int32_t)cfg.brokers; id++) {
        rd_kafka_resp_err_t e =
            up ? rd_kafka_mock_broker_set_up(mc, id) : rd_kafka_mock_broker_set_down(mc, id);
        if (e)
            LOG_WARN("broker %d: set %s: %s", (int)id, up ? "up" : "down", rd_kafka_err2str(e));
    }
    baton_buf_t f = BATON_BUF_INIT;
    baton_log_kv(&f, "state", up ? "up" : "down");
    baton_log_write(BATON_LOG_INFO, f.data, "brokers %s", up ? "resumed" : "paused");
    baton_buf_free(&f);
}

static void run(rd_kafka_t *rk, rd_kafka_mock_cluster_t *mc)
{
    while (running) {
        rd_kafka_poll(rk, 100);
        if (want_down) {
            want_down = 0;
            set_brokers(mc, 0);
        }
        if (want_up) {
            want_up = 0;
            set_brokers(mc, 1);
        }
    }
}

int main(int argc, char **argv)
{
    char err[512];
    int rc = baton_config_handle_args(argc, argv, "baton-devkafka",
                                      "in-memory Kafka broker (librdkafka mock cluster) for "
                                      "the demo and the tests. SIGUSR1 pauses every broker, "
                                      "SIGUSR2 resumes them, SIGTERM exits",
                                      opts);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    baton_log_init("devkafka", BATON_LOG_INFO);
    if (baton_config_load(opts, err, sizeof err) != 0) {
        LOG_FATAL("config: %s", err);
        return 2;
    }
    baton_log_level_t lvl;
    if (baton_log_level_parse(cfg.log_level, &lvl) != 0) {
        LOG_FATAL("config: BATON_LOG_LEVEL: expected debug, info, warn or error");
        baton_config_free(opts);
        return 2;
    }
    baton_log_min_level = lvl;
    if (*cfg.debug)
        baton_log_min_level = BATON_LOG_DEBUG; /* debug contexts log at debug level */
    install_signals();

    int exit_code = 1;
#ifdef BATON_DEVKAFKA_LOOKUP
    devkafka_mock_retention_set((size_t)cfg.retention_mb * 1024 * 1024);
#else
    if (cfg.retention_mb)
        LOG_WARN("mock broker retention: librdkafka's own, about 5 MB per partition (built "
                 "without librdkafka.a)");
#endif
    rd_kafka_mock_cluster_t *mc = NULL;
    rd_kafka_t *rk = make_handle(err, sizeof err);
    if (!rk)
        goto out;
    if (!(mc = rd_kafka_mock_cluster_new(rk, (int)cfg.brokers))) {
        baton_seterr(err, sizeof err, "rd_kafka_mock_cluster_new failed");
        goto out;
    }
    if (create_topics(mc, err, sizeof err) != 0)
        goto out;
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    if (*cfg.bootstrap_file && write_atomic(cfg.bootstrap_file, bootstrap, err, sizeof err) != 0)
        goto out;
    announce(bootstrap);

    run(rk, mc);
    LOG_INFO("devkafka stopping");
    if (*cfg.bootstrap_file)
        unlink(cfg.bootstrap_file); /* a stale list must not look like a live broker */
    exit_code = 0;
out:
    if (exit_code != 0)
        LOG_FATAL("devkafka: %s", err);
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk)
        rd_kafka_destroy(rk);
#ifdef BATON_DEVKAFKA_LOOKUP
    devkafka_mock_lookup_free();
#endif
    baton_config_free(opts);
    return exit_code;
}
