/* baton/config.h — one table per service drives parsing from the environment, validation,
 * --help and the startup log line (secrets masked).
 *
 *   static baton_config_opt_t opts[] = {
 *     {"kafka_bootstrap", "BATON_KAFKA_BOOTSTRAP", BATON_CFG_STR, "127.0.0.1:9092", 0, 0,
 *      "Kafka bootstrap servers", &cfg.kafka_bootstrap},
 *     {"ops_port", "BATON_OPS_PORT", BATON_CFG_INT, "9100", 0, 65535, "ops listener port",
 *      &cfg.ops_port},
 *     ...
 *     {0}};
 *
 * Strings are owned by the config (freed by baton_config_free). */
#ifndef BATON_CONFIG_H
#define BATON_CONFIG_H

#include "baton/core.h"
#include <stdbool.h>
#include <stdio.h>

typedef enum {
    BATON_CFG_STR,      /* char ** */
    BATON_CFG_SECRET,   /* char **, masked in logs and --help */
    BATON_CFG_INT,      /* long long *, bounded by [min, max] */
    BATON_CFG_BOOL,     /* bool *: 1/0, true/false, yes/no, on/off */
    BATON_CFG_DURATION, /* long long * in ms: "30s", "15m", or a plain number of ms */
} baton_config_type_t;

typedef struct {
    const char *name; /* short name for logs: "kafka_bootstrap" */
    const char *env;  /* "BATON_KAFKA_BOOTSTRAP" */
    baton_config_type_t type;
    const char *def;    /* default as text; NULL = required */
    long long min, max; /* for INT / DURATION; min == max == 0 means unbounded */
    const char *help;
    void *target;
} baton_config_opt_t;

/* Parse every option from the environment (getenv) into its target.
 * Returns 0, or BATON_EINVAL with "BATON_X: why" in err. */
int baton_config_load(const baton_config_opt_t *opts, char *err, size_t errlen);
/* Free the strings baton_config_load allocated. */
void baton_config_free(const baton_config_opt_t *opts);
/* Print the table (name, env, type, default, help) for --help. */
void baton_config_print_help(FILE *out, const char *program, const char *summary,
                             const baton_config_opt_t *opts);
/* Append the effective configuration as JSON members (secrets as "***") to buf. */
void baton_config_describe(const baton_config_opt_t *opts, baton_buf_t *buf);
/* Handles --help / -h / --version in argv: prints and returns 1 (caller exits 0), 0 to go on,
 * or BATON_EINVAL for an unknown argument (message printed to stderr). */
int baton_config_handle_args(int argc, char **argv, const char *program, const char *summary,
                             const baton_config_opt_t *opts);

/* Collect every environment variable PREFIXproperty (e.g. BATON_KAFKA_security_protocol,
 * BATON_KAFKA_SASL_MECHANISM) as librdkafka-style "property=value" names: the prefix is
 * removed, the rest lower-cased, '_' turned into '.'. Calls fn(name, value, ud) for each;
 * names listed in `skip` (NULL-terminated, after conversion) are left out. */
void baton_config_env_passthrough(const char *prefix, const char *const *skip,
                                  void (*fn)(const char *name, const char *value, void *ud),
                                  void *ud);

#endif
