/* harness_kafka.c — see harness_kafka.h. */
#include "harness_kafka.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int harness_servers_start(harness_redis_t *redis, harness_devkafka_t *kafka, char *err,
                          size_t errlen)
{
    int rc = harness_redis_start(redis);
    if (rc != 0) {
        baton_seterr(err, errlen, "redis-server did not start: %s", baton_strerror(rc));
        return rc;
    }
    if ((rc = harness_devkafka_start(kafka)) != 0)
        baton_seterr(err, errlen, "baton-devkafka did not start: %s", baton_strerror(rc));
    return rc;
}

int harness_kafka_io_start(harness_kafka_io_t *io, const char *bootstrap, const char *name,
                           const char *const *topics, size_t ntopics, char *err, size_t errlen)
{
    memset(io, 0, sizeof *io);
    io->conf = baton_kafka_conf_new(bootstrap);
    baton_kafka_conf_set(io->conf, "linger.ms", "0");
    char why[256] = "";
    if (!(io->producer = baton_kafka_producer_new(io->conf, why, sizeof why))) {
        baton_seterr(err, errlen, "producer: %s", why);
        harness_kafka_io_stop(io);
        return BATON_EINVAL;
    }
    baton_kafka_conf_t *rc = baton_kafka_conf_new(bootstrap);
    static const char *const settings[][2] = {{"session.timeout.ms", "6000"},
                                              {"max.poll.interval.ms", "300000"},
                                              {"heartbeat.interval.ms", "500"},
                                              {"fetch.wait.max.ms", "20"}};
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++)
        baton_kafka_conf_set(rc, settings[i][0], settings[i][1]);
    char group[96];
    snprintf(group, sizeof group, "%s-reader-%d", name, (int)getpid());
    io->reader = baton_kafka_consumer_new(rc, group, why, sizeof why);
    baton_kafka_conf_free(rc);
    if (!io->reader ||
        baton_kafka_consumer_subscribe(io->reader, topics, ntopics, why, sizeof why) != 0) {
        baton_seterr(err, errlen, "reader: %s", why);
        harness_kafka_io_stop(io);
        return BATON_EINVAL;
    }
    return 0;
}

void harness_kafka_io_stop(harness_kafka_io_t *io)
{
    baton_kafka_consumer_free(io->reader);
    if (io->producer)
        baton_kafka_producer_free(io->producer, 2000);
    baton_kafka_conf_free(io->conf);
    memset(io, 0, sizeof *io);
}
