/* harness_kafka.h — a test's own Kafka clients against a harness_devkafka broker: a producer
 * that sends at once, and a reader in a group of its own that reads the given topics from the
 * beginning and never commits (long poll interval: it must not drop out of its group while the
 * case is busy elsewhere). */
#ifndef BATON_HARNESS_KAFKA_H
#define BATON_HARNESS_KAFKA_H

#include "baton/kafka.h"
#include "harness.h"

typedef struct {
    baton_kafka_conf_t *conf;         /* the producer's */
    baton_kafka_producer_t *producer; /* linger.ms 0 */
    baton_kafka_consumer_t *reader;   /* group "<name>-reader-<pid>" */
} harness_kafka_io_t;

/* Redis and the broker (the caller owns both). 0, or the first failure's code with err. */
int harness_servers_start(harness_redis_t *redis, harness_devkafka_t *kafka, char *err,
                          size_t errlen);
/* 0, or a BATON_E* code with err (nothing left to free). */
int harness_kafka_io_start(harness_kafka_io_t *io, const char *bootstrap, const char *name,
                           const char *const *topics, size_t ntopics, char *err, size_t errlen);
void harness_kafka_io_stop(harness_kafka_io_t *io);

#endif
