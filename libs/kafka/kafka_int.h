/* kafka_int.h — what the kafka lib's files share; not part of the public API. */
#ifndef BATON_KAFKA_INT_H
#define BATON_KAFKA_INT_H

#include "baton/kafka.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>

struct baton_kafka_conf {
    char **names; /* parallel arrays of owned strings; names[i] unique */
    char **values;
    size_t count, cap;
    baton_kafka_log_cb *log_cb;
    void *log_opaque;
    baton_kafka_rebalance_cb *rebalance_cb;
    void *rebalance_opaque;
};

/* The part producer and consumer share; the first member of both, and rd_kafka_opaque(). */
typedef struct {
    rd_kafka_t *rk;
    baton_kafka_log_cb *log_cb;
    void *log_opaque;
    pthread_mutex_t mu; /* guards health */
    baton_kafka_health_t health;
} baton_kafka__client_t;

/* Build an rd_kafka_conf_t: `defaults` (NULL-terminated name, value, name, value, ...), then
 * the caller's properties, then `forced` (same shape), then the lib's callbacks. On failure
 * returns NULL with "property: reason" in err. */
rd_kafka_conf_t *baton_kafka__rdconf(const baton_kafka_conf_t *conf, const char *const *defaults,
                                     const char *const *forced, baton_kafka__client_t *cl,
                                     char *err, size_t errlen);
void baton_kafka__client_init(baton_kafka__client_t *cl, const baton_kafka_conf_t *conf);
void baton_kafka__client_destroy(baton_kafka__client_t *cl);
/* Record an error in the health and hand it to the log callback. */
void baton_kafka__client_error(baton_kafka__client_t *cl, int berr, baton_log_level_t level,
                               const char *fmt, ...) BATON_PRINTF(4, 5);
void baton_kafka__client_ok(baton_kafka__client_t *cl);
void baton_kafka__client_health(baton_kafka__client_t *cl, baton_kafka_health_t *out);
/* syslog level (librdkafka's) → ours. */
baton_log_level_t baton_kafka__level(int syslog_level);
/* librdkafka error → BATON_E* (given whether any broker is known to be up). */
int baton_kafka__err(rd_kafka_resp_err_t e);

#endif
