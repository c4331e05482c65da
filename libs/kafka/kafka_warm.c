/* kafka_warm.c — learning output topics' partitions before the first produce (a service that
 * starts produces its first batch without first waiting for the topics' metadata). */
#include "kafka_int.h"

int baton_kafka_producer_warm(baton_kafka_producer_t *p, const char *const *topics, size_t n,
                              int timeout_ms, char *err, size_t errlen)
{
    /* the producer's first member is its client (kafka_producer.c) */
    rd_kafka_t *rk = ((baton_kafka__client_t *)(void *)p)->rk;
    int64_t deadline = baton_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (size_t i = 0; i < n; i++) {
        /* the topic object outlives the handle (librdkafka keeps its topics until destroy) */
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topics[i], NULL);
        if (!t) {
            baton_seterr(err, errlen, "topic %s: %s", topics[i],
                         rd_kafka_err2str(rd_kafka_last_error()));
            return BATON_EINVAL;
        }
        int64_t rem = deadline - baton_mono_ms();
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, rem > 0 ? (int)rem : 1);
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(t);
        if (e) {
            baton_seterr(err, errlen, "metadata of %s: %s", topics[i], rd_kafka_err2str(e));
            return baton_kafka__err(e);
        }
    }
    return 0;
}
