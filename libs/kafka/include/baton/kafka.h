/* baton/kafka.h — Kafka for Baton services, on librdkafka.
 *
 *   conf      bootstrap list + librdkafka properties (BATON_KAFKA_<PROP> from the environment),
 *             a log callback and, for consumers, a rebalance callback.
 *   producer  idempotent (enable.idempotence=true, acks=all). Every produce call waits for the
 *             delivery reports of what it produced: one record (ingest: "durable before 202")
 *             or a batch (router: "produce outputs, wait for the acks, then write state").
 *             Thread-safe: many threads may produce and wait at once.
 *   consumer  consumer group, no auto commit, no auto offset store: poll a batch, process it,
 *             commit explicit offsets. Rebalances reach the service through its callback, on
 *             the thread that polls. One thread per consumer.
 *   envelope  pack / unpack baton.v1.Envelope and its standard headers.
 *
 * Libraries never print: librdkafka's log lines and errors go to the conf's log callback,
 * always on a thread of the caller (inside baton_kafka_producer_poll / produce calls, or
 * baton_kafka_consumer_poll), never on a librdkafka thread.
 *
 * Errors: 0 or a negative BATON_E*; functions that can fail in interesting ways also take
 * (char *err, size_t errlen) for the reason (never PHI: topics and error texts only).
 *   BATON_EAGAIN     the local producer queue is full (back-pressure: answer 503 + Retry-After)
 *   BATON_EUNAVAIL   no broker reachable
 *   BATON_ETIMEDOUT  a wait ran out (the broker is reachable but did not answer in time)
 *   BATON_ECONFLICT  a commit lost to a rebalance (the partitions' new owner redoes the work)
 *   BATON_ETOOBIG / BATON_ENOENT / BATON_EINVAL / BATON_EIO  as their names say */
#ifndef BATON_KAFKA_H
#define BATON_KAFKA_H

#include "baton/core.h"
#include "baton/log.h"

#include <baton/v1/events.pb-c.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct baton_kafka_conf baton_kafka_conf_t;
typedef struct baton_kafka_producer baton_kafka_producer_t;
typedef struct baton_kafka_consumer baton_kafka_consumer_t;

/* The topics of the v1 contract. */
#define BATON_TOPIC_INBOUND "baton.inbound.v1"
#define BATON_TOPIC_TIMERS "baton.timers.v1"
#define BATON_TOPIC_LIFECYCLE "baton.lifecycle.v1"
#define BATON_TOPIC_NOTIFY "baton.notify.v1"
#define BATON_TOPIC_DLQ "baton.dlq.v1"

/* Special offsets (the same values as librdkafka's). */
#define BATON_KAFKA_OFFSET_BEGINNING (-2)
#define BATON_KAFKA_OFFSET_END (-1)
#define BATON_KAFKA_OFFSET_STORED (-1000) /* the group's committed offset */

/* A log line or error from librdkafka (or this lib), for the service's logger. facility is
 * librdkafka's short tag ("FAIL", "REQTMOUT", ...) or "ERROR" for error events. May be
 * called from several of the caller's threads at once when several threads produce. */
typedef void baton_kafka_log_cb(baton_log_level_t level, const char *facility, const char *message,
                                void *opaque);

/* ---------------------------------------------------------------- configuration */

/* A new configuration with the bootstrap list ("host:port,host:port"). Never NULL. */
baton_kafka_conf_t *baton_kafka_conf_new(const char *bootstrap);
void baton_kafka_conf_free(baton_kafka_conf_t *conf);
/* Set any librdkafka property ("security.protocol", "sasl.mechanism", "linger.ms", ...); a
 * later set of the same name replaces the earlier. The name and value are checked against
 * librdkafka right away: BATON_EINVAL for an unknown property or a bad value. Setting
 * "bootstrap.servers" replaces the bootstrap list. The properties the lib's guarantees rest
 * on win over these (producer: enable.idempotence, acks; consumer: enable.auto.commit,
 * enable.auto.offset.store, group.id) — see the .c files. */
int baton_kafka_conf_set(baton_kafka_conf_t *conf, const char *name, const char *value);
/* The value set for name (borrowed from conf), or NULL. "bootstrap.servers" gives the list. */
const char *baton_kafka_conf_get(const baton_kafka_conf_t *conf, const char *name);
/* Apply every BATON_KAFKA_<PROP>=value in the environment as property <prop> (prefix removed,
 * lower-cased, '_' → '.': BATON_KAFKA_SECURITY_PROTOCOL → security.protocol), except
 * BATON_KAFKA_BOOTSTRAP (the bootstrap list, read by the service's config table).
 * Returns 0, or BATON_EINVAL with "BATON_KAFKA_X: reason" in err. */
int baton_kafka_conf_set_from_env(baton_kafka_conf_t *conf, char *err, size_t errlen);
/* Where librdkafka's log lines and errors go (default: dropped). */
void baton_kafka_conf_set_log_cb(baton_kafka_conf_t *conf, baton_kafka_log_cb *cb, void *opaque);

/* ---------------------------------------------------------------- producer */

typedef struct {
    const char *name;
    const void *value;
    size_t len;
} baton_kafka_header_t;

/* One outgoing message. All pointers are borrowed for the duration of the produce call only
 * (librdkafka copies key, value and headers). The partition is chosen from the key with the
 * murmur2 partitioner (the Java client's, so other producers agree on key → partition). */
typedef struct {
    const char *topic;
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    const baton_kafka_header_t *headers;
    size_t header_count;
} baton_kafka_record_t;

/* A producer (idempotent, acks=all). conf is only read; the caller keeps and frees it.
 * Returns NULL with the reason in err. */
baton_kafka_producer_t *baton_kafka_producer_new(const baton_kafka_conf_t *conf, char *err,
                                                 size_t errlen);
/* Flush up to timeout_ms; whatever is still undelivered then is purged (its waiters get
 * BATON_EIO). Then destroy. NULL is a no-op. Returns nothing: call flush first to know. */
void baton_kafka_producer_free(baton_kafka_producer_t *p, int flush_timeout_ms);

/* Produce one record and wait up to timeout_ms for its delivery report. Thread-safe.
 * Returns 0 once the broker acknowledged the write (acks=all); BATON_EAGAIN at once when the
 * local queue is full; BATON_EUNAVAIL / BATON_ETIMEDOUT when the broker is unreachable / the
 * report did not come in time. After a timeout the message may still be delivered later
 * (at-least-once: consumers drop duplicates by event id). */
int baton_kafka_produce_sync(baton_kafka_producer_t *p, const baton_kafka_record_t *rec,
                             int timeout_ms, char *err, size_t errlen);
/* Produce n records and wait up to timeout_ms for all their delivery reports. A full local
 * queue is waited out (until the deadline) rather than failed. Returns 0 only if every record
 * was acknowledged, otherwise the first error (see produce_sync). Thread-safe. After an error
 * some of the records may have been (or still be) delivered: retry the whole batch, the
 * consumers drop duplicates by event id. */
int baton_kafka_produce_batch(baton_kafka_producer_t *p, const baton_kafka_record_t *recs, size_t n,
                              int timeout_ms, char *err, size_t errlen);

/* An envelope bound for a topic: key = env->correlation_key, value = the packed envelope,
 * headers = baton_kafka_std_headers(env). */
typedef struct {
    const char *topic;
    const Baton__V1__Envelope *env;
} baton_kafka_envelope_out_t;

/* produce_sync / produce_batch for envelopes (same errors and thread-safety). */
int baton_kafka_produce_envelope(baton_kafka_producer_t *p, const char *topic,
                                 const Baton__V1__Envelope *env, int timeout_ms, char *err,
                                 size_t errlen);
int baton_kafka_produce_envelopes(baton_kafka_producer_t *p, const baton_kafka_envelope_out_t *outs,
                                  size_t n, int timeout_ms, char *err, size_t errlen);

/* Learn the partitions of topics now (a metadata request each, up to timeout_ms in all), so
 * that the first produce to them does not wait for their metadata. Optional (a produce learns
 * them anyway). 0, or the error of the first request that failed (err says which). */
int baton_kafka_producer_warm(baton_kafka_producer_t *p, const char *const *topics, size_t n,
                              int timeout_ms, char *err, size_t errlen);

/* Serve delivery reports, logs, errors and statistics for up to timeout_ms. Call it from the
 * service loop (every ~100 ms) so health stays fresh while nothing is produced. Returns the
 * number of events served. */
int baton_kafka_producer_poll(baton_kafka_producer_t *p, int timeout_ms);
/* Wait up to timeout_ms until everything produced is delivered (or failed).
 * Returns 0 or BATON_ETIMEDOUT. */
int baton_kafka_producer_flush(baton_kafka_producer_t *p, int timeout_ms);

/* ---------------------------------------------------------------- health (for /readyz) */

typedef struct {
    /* Brokers with an open connection, from librdkafka's statistics (refreshed every
     * statistics.interval.ms, default here 1000, while the client is polled); -1 = not known
     * yet. 0 after librdkafka reported all brokers down. */
    int brokers_up;
    bool fatal;     /* unrecoverable: the service should exit and be restarted */
    int last_error; /* BATON_E* of the last error seen, 0 if none */
    char last_error_text[256];
    int64_t last_error_ms; /* wall clock of last_error, 0 if none */
    int64_t last_ok_ms;    /* last successful delivery (producer) / fetch or commit (consumer) */
    int queued;            /* producer: messages and requests not yet acknowledged */
} baton_kafka_health_t;

void baton_kafka_producer_health(baton_kafka_producer_t *p, baton_kafka_health_t *out);

/* ---------------------------------------------------------------- consumer */

typedef struct {
    const char *topic; /* borrowed: valid until the callback returns / the list is freed */
    int32_t partition;
    int64_t offset; /* next offset to read (commit semantics), or a BATON_KAFKA_OFFSET_* */
} baton_kafka_partition_t;

typedef enum {
    BATON_KAFKA_ASSIGNED, /* partitions are now ours (not yet fetching) */
    BATON_KAFKA_REVOKED,  /* partitions are being taken away: stop working on them now */
    BATON_KAFKA_LOST,     /* taken away already (session lost): their commits will fail */
} baton_kafka_rebalance_t;

/* Called inside baton_kafka_consumer_poll / _close on the caller's thread. For ASSIGNED the
 * callback may set parts[i].offset to where consumption should start (e.g. the applied offset
 * + 1 a service keeps with its state); leaving BATON_KAFKA_OFFSET_STORED uses the group's
 * committed offset (else auto.offset.reset, default here "earliest"). For REVOKED the
 * callback may still commit offsets of those partitions. Messages of revoked partitions that
 * the interrupted poll had collected are dropped from its result (they will be redelivered
 * to the new owner). With the default (eager) protocol parts is always the whole set; with
 * partition.assignment.strategy=cooperative-sticky only the partitions added or removed. */
typedef void baton_kafka_rebalance_cb(baton_kafka_consumer_t *c, baton_kafka_rebalance_t ev,
                                      baton_kafka_partition_t *parts, size_t n, void *opaque);

void baton_kafka_conf_set_rebalance_cb(baton_kafka_conf_t *conf, baton_kafka_rebalance_cb *cb,
                                       void *opaque);

/* A consumed message. Fields are valid until baton_kafka_messages_release. */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* -1 when unknown */
    const void *key;      /* NULL when the message has no key */
    size_t key_len;
    const void *value;
    size_t value_len;
    void *priv_; /* the lib's: the underlying rd_kafka_message_t */
} baton_kafka_message_t;

/* A consumer in group group_id (conf is only read). Returns NULL with the reason in err. */
baton_kafka_consumer_t *baton_kafka_consumer_new(const baton_kafka_conf_t *conf,
                                                 const char *group_id, char *err, size_t errlen);
/* Subscribe to n topics (replaces an earlier subscription). 0 or BATON_EINVAL with err. */
int baton_kafka_consumer_subscribe(baton_kafka_consumer_t *c, const char *const *topics, size_t n,
                                   char *err, size_t errlen);
/* Wait up to timeout_ms for a first message, then take (without waiting more) what else has
 * been fetched, up to max. Fills out[0..ret) and returns their count (0 on timeout), or
 * BATON_EIO after a fatal consumer error. Errors and rebalances are served in here. Release
 * the messages with baton_kafka_messages_release. */
int baton_kafka_consumer_poll(baton_kafka_consumer_t *c, baton_kafka_message_t *out, size_t max,
                              int timeout_ms);
/* Release messages returned by poll (their fields become invalid). */
void baton_kafka_messages_release(baton_kafka_message_t *msgs, size_t n);
/* The last header called name: *value / *len borrowed from the message. 0 or BATON_ENOENT. */
int baton_kafka_message_header(const baton_kafka_message_t *m, const char *name, const void **value,
                               size_t *len);

/* Commit offsets (each partition's next offset to read) and wait up to timeout_ms for the
 * group coordinator's answer. Returns 0, BATON_ECONFLICT (rebalanced meanwhile),
 * BATON_ETIMEDOUT, BATON_EUNAVAIL or BATON_EIO. */
int baton_kafka_consumer_commit(baton_kafka_consumer_t *c, const baton_kafka_partition_t *offs,
                                size_t n, int timeout_ms, char *err, size_t errlen);
/* Commit the highest offset + 1 of each topic/partition among msgs (same returns). */
int baton_kafka_consumer_commit_messages(baton_kafka_consumer_t *c,
                                         const baton_kafka_message_t *msgs, size_t n,
                                         int timeout_ms, char *err, size_t errlen);
/* The current assignment: *parts is a new array of *n (free with baton_kafka_partitions_free).
 * Returns 0 or BATON_EIO. */
int baton_kafka_consumer_assignment(baton_kafka_consumer_t *c, baton_kafka_partition_t **parts,
                                    size_t *n);
void baton_kafka_partitions_free(baton_kafka_partition_t *parts, size_t n);
void baton_kafka_consumer_health(baton_kafka_consumer_t *c, baton_kafka_health_t *out);
/* Leave the group: revoke (the rebalance callback sees REVOKED), tell the coordinator, all
 * bounded by timeout_ms even when no broker is reachable. Commit what you processed before.
 * Returns 0 or BATON_ETIMEDOUT (the consumer is closed anyway). Idempotent. */
int baton_kafka_consumer_close(baton_kafka_consumer_t *c, int timeout_ms);
/* Close (if not yet, bounded by 5 s) and destroy. NULL is a no-op. */
void baton_kafka_consumer_free(baton_kafka_consumer_t *c);

/* ---------------------------------------------------------------- envelopes */

/* Pack env into a new buffer (*out, caller frees) of *len bytes. Returns 0. */
int baton_kafka_envelope_pack(const Baton__V1__Envelope *env, uint8_t **out, size_t *len);
/* Unpack a Kafka value; NULL with the reason in err when it is not an Envelope. Free with
 * baton_kafka_envelope_free. */
Baton__V1__Envelope *baton_kafka_envelope_unpack(const void *data, size_t len, char *err,
                                                 size_t errlen);
void baton_kafka_envelope_free(Baton__V1__Envelope *env);

#define BATON_KAFKA_CONTENT_TYPE "application/x-protobuf"
#define BATON_KAFKA_STD_HEADERS_MAX 4

/* The standard headers of an envelope: content-type, event-type (env->type), schema-version
 * (decimal) and traceparent (only when set). h[] points into env and into this struct
 * itself: do not copy it, and keep env alive while the headers are used. */
typedef struct {
    baton_kafka_header_t h[BATON_KAFKA_STD_HEADERS_MAX];
    size_t count;
    char schema_version[12];
} baton_kafka_std_headers_t;

void baton_kafka_std_headers(const Baton__V1__Envelope *env, baton_kafka_std_headers_t *out);

#ifdef __cplusplus
}
#endif
#endif
