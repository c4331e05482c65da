/* baton/service.h — what every Baton service does the same way: argv (--help, --version),
 * the config table, JSON logging, SIGTERM/SIGINT handling, the metrics registry with the
 * process set, the Kafka configuration (bootstrap + BATON_KAFKA_<PROP> passthrough, librdkafka
 * logs into our log), and the ops listener (/metrics, /healthz, /readyz).
 *
 * A service's main.c:
 *
 *   static struct { baton_svc_common_t c; char *redis_url; } cfg;
 *   static const baton_config_opt_t opts[] = {
 *       BATON_SVC_COMMON_OPTS(cfg.c, "9102"),
 *       {"redis_url", "BATON_REDIS_URL", BATON_CFG_STR, "redis://127.0.0.1:6379", 0, 0,
 *        "Redis", &cfg.redis_url},
 *       {0}};
 *   int main(int argc, char **argv) {
 *       int rc;
 *       baton_svc_t *svc = baton_svc_init("timer", "durable escalation clocks", argc, argv,
 *                                         opts, &cfg.c, &rc);
 *       if (!svc) return rc;
 *       ... open clients; baton_svc_set_ready(svc, true, NULL) once they work ...
 *       while (baton_svc_running) { ... poll ... }
 *       ... finish the batch, flush, commit, close ...
 *       baton_svc_free(svc);
 *       return 0;
 *   }
 */
#ifndef BATON_SERVICE_H
#define BATON_SERVICE_H

#include "baton/config.h"
#include "baton/http.h"
#include "baton/kafka.h"
#include "baton/log.h"
#include "baton/metrics.h"

#include <signal.h>
#include <stdbool.h>

/* Options every service has. */
typedef struct {
    char *kafka_bootstrap;
    char *ops_bind;
    long long ops_port;
    char *log_level;
} baton_svc_common_t;

#define BATON_SVC_COMMON_OPTS(c, default_ops_port)                                                 \
    {"kafka_bootstrap",                                                                            \
     "BATON_KAFKA_BOOTSTRAP",                                                                      \
     BATON_CFG_STR,                                                                                \
     "127.0.0.1:9092",                                                                             \
     0,                                                                                            \
     0,                                                                                            \
     "Kafka bootstrap servers (host:port,...); other librdkafka properties: BATON_KAFKA_<PROP>",   \
     &(c).kafka_bootstrap},                                                                        \
        {"ops_bind",                                                                               \
         "BATON_OPS_BIND",                                                                         \
         BATON_CFG_STR,                                                                            \
         "0.0.0.0",                                                                                \
         0,                                                                                        \
         0,                                                                                        \
         "address of the ops listener (/metrics, /healthz, /readyz)",                              \
         &(c).ops_bind},                                                                           \
        {"ops_port",                                                                               \
         "BATON_OPS_PORT",                                                                         \
         BATON_CFG_INT,                                                                            \
         default_ops_port,                                                                         \
         0,                                                                                        \
         65535,                                                                                    \
         "port of the ops listener (0 = any free port)",                                           \
         &(c).ops_port},                                                                           \
    {                                                                                              \
        "log_level", "BATON_LOG_LEVEL", BATON_CFG_STR, "info", 0, 0,                               \
            "debug | info | warn | error", &(c).log_level                                          \
    }

/* Cleared by SIGTERM / SIGINT: the loop finishes its batch, flushes, commits and exits 0. */
extern volatile sig_atomic_t baton_svc_running;

typedef struct baton_svc baton_svc_t;

/* Handles argv, loads the table (opts must include BATON_SVC_COMMON_OPTS(*common, ...)),
 * initialises logging, logs the effective configuration (secrets masked), installs the
 * signal handlers, creates the metrics registry and the Kafka configuration, and starts the
 * ops listener (not ready until baton_svc_set_ready(svc, true, ...)).
 * Returns NULL with *exit_code set: 0 after --help / --version, 2 for a configuration error,
 * 1 when the ops listener cannot start. Owns the config strings (freed by baton_svc_free). */
baton_svc_t *baton_svc_init(const char *name, const char *summary, int argc, char **argv,
                            const baton_config_opt_t *opts, baton_svc_common_t *common,
                            int *exit_code);

const char *baton_svc_name(const baton_svc_t *svc);
baton_metrics_t *baton_svc_metrics(baton_svc_t *svc);
/* The Kafka configuration (bootstrap, BATON_KAFKA_* properties, logs routed to our log).
 * Owned by svc; read it to create producers and consumers. */
baton_kafka_conf_t *baton_svc_kafka_conf(baton_svc_t *svc);
/* The port the ops listener is bound to. */
int baton_svc_ops_port(const baton_svc_t *svc);

/* Readiness as /readyz reports it. reason (may be NULL) says what is missing, no PHI.
 * Thread-safe; logs a line when readiness changes. */
void baton_svc_set_ready(baton_svc_t *svc, bool ready, const char *reason);
bool baton_svc_is_ready(baton_svc_t *svc);

/* A baton_kafka_log_cb that writes librdkafka's lines into the service log. */
void baton_svc_kafka_log(baton_log_level_t level, const char *facility, const char *message,
                         void *opaque);

/* Stops the ops listener and frees everything baton_svc_init made. */
void baton_svc_free(baton_svc_t *svc);

#endif
