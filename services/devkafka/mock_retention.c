/* The mock broker's retention, raised.
 *
 * librdkafka's mock keeps at most 5 MB and 100,000 message sets per partition and drops the
 * oldest sets beyond that. A consumer that falls further behind than that finds its next
 * offset gone, is reset to the log's start by auto.offset.reset, and never sees what was
 * dropped: in bench/e2e the audit, behind by 400,000 lifecycle messages at the end of the
 * max-rate phase, skipped 390,933 of them (its baton_audit_offset_gap_total counted every one),
 * and a fault test or a demo that stops a consumer for long enough would lose messages the same
 * way. A real Kafka keeps days. So baton-devkafka raises both limits of every partition
 * before its first append, to BATON_DEVKAFKA_RETENTION_BYTES (the mock holds its log in
 * memory: the limit is what it may grow to, not what it takes).
 *
 * How: baton-devkafka links librdkafka statically with
 * `-Wl,--wrap=rd_kafka_mock_partition_log_append`, so the Produce handler calls the wrapper
 * below, which sets the partition's max_size and max_cnt and calls the original. The two
 * fields' offsets in rd_kafka_mock_partition_t were read off the disassembly of
 * rd_kafka_mock_partition_log_append in Debian bookworm's librdkafka.a (2.0.2: size 0x50,
 * cnt 0x58, max_size 0x60, max_cnt 0x68); they are written only when the linked library
 * reports exactly that version on an LP64 build and both fields still hold librdkafka's
 * defaults (5 MiB, 100,000) or the values set here. Anything else leaves the mock as it is and
 * logs so once. */
#include "mock_layout.h"
#include "mock_retention.h"

#include "baton/core.h"
#include "baton/log.h"

#include <librdkafka/rdkafka.h>

#include <stdint.h>

#define MPART_MAX_SIZE 0x60 /* size_t max_size */
#define MPART_MAX_CNT 0x68  /* size_t max_cnt */
#define MOCK_DEFAULT_MAX_SIZE ((size_t)5 * 1024 * 1024)
#define MOCK_DEFAULT_MAX_CNT ((size_t)100000)

int __real_rd_kafka_mock_partition_log_append(void *mpart, const void *records,
                                              const void *transactional_id, int64_t *base_offset);
int __wrap_rd_kafka_mock_partition_log_append(void *mpart, const void *records,
                                              const void *transactional_id, int64_t *base_offset);

/* Set before the mock cluster starts; read on its thread only after. */
static struct {
    size_t bytes; /* 0: leave librdkafka's limits */
    int state;    /* -1 undecided, 1 raising, 0 not */
} rt = {0, -1};

void devkafka_mock_retention_set(size_t bytes)
{
    rt.bytes = bytes;
}

int __wrap_rd_kafka_mock_partition_log_append(void *mpart, const void *records,
                                              const void *transactional_id, int64_t *base_offset)
{
    if (rt.state < 0) {
        rt.state = rt.bytes > 0 && devkafka_mock_layout_known();
        if (rt.state)
            LOG_INFO("mock broker retention: %zu bytes per partition", rt.bytes);
        else if (rt.bytes > 0)
            LOG_WARN("mock broker retention: librdkafka's own, about 5 MB per partition "
                     "(librdkafka %s is not the version the retention setting was built for)",
                     rd_kafka_version_str());
    }
    if (rt.state == 1) {
        size_t *max_size = (size_t *)((char *)mpart + MPART_MAX_SIZE);
        size_t *max_cnt = (size_t *)((char *)mpart + MPART_MAX_CNT);
        /* as many sets as bytes: the byte limit is the one that binds */
        if (*max_size == MOCK_DEFAULT_MAX_SIZE && *max_cnt == MOCK_DEFAULT_MAX_CNT) {
            *max_size = rt.bytes;
            *max_cnt = rt.bytes;
        } else if (*max_size != rt.bytes || *max_cnt != rt.bytes) {
            rt.state = 0;
            LOG_ERROR("mock broker retention: a partition's limits are not librdkafka's defaults "
                      "(%zu bytes, %zu sets); left as they are, about 5 MB per partition",
                      *max_size, *max_cnt);
        }
    }
    return __real_rd_kafka_mock_partition_log_append(mpart, records, transactional_id, base_offset);
}
