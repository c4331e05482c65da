/* A faster offset lookup for librdkafka's mock broker.
 *
 * The mock answers every Fetch by finding the message set that holds the fetch offset, walking
 * the partition's log from its oldest set (librdkafka: "FIXME: Maintain an index"). A log keeps
 * up to 100,000 sets per partition, and consumers fetch near its newest end, so under a steady
 * stream the broker's CPU grows with everything the partition has ever held: at 2,000 events/s
 * it went from 0.23 to 0.57 cores within 30 s and dragged every service's latency with it. A
 * real Kafka broker indexes its log; this file makes the development broker behave like one.
 *
 * How: baton-devkafka links librdkafka statically with `-Wl,--wrap=rd_kafka_mock_msgset_find`,
 * so the Fetch handler calls __wrap_rd_kafka_mock_msgset_find below, which walks the same list
 * from its newest set backwards. Same list, same answer, in O(consumer lag) instead of O(log).
 *
 * The walk reads four fields of two librdkafka-internal structs. Their offsets were read off
 * the disassembly of rd_kafka_mock_msgset_find in Debian bookworm's librdkafka.a (2.0.2), so
 * the faster walk is used only when the linked library reports exactly that version and the
 * build is LP64; anything else calls the original function. While enabled, the first 4,096
 * lookups and every 1,024th after are also answered by the original walk and compared: one
 * difference logs an error and turns the faster walk off for good. */
#include "baton/log.h"

#include <librdkafka/rdkafka.h>

#include <stdint.h>

/* rd_kafka_mock_msgset_t: TAILQ_ENTRY link first, then the first and last offset it holds. */
struct mset_view {
    struct mset_view *next;  /* link.tqe_next */
    struct mset_view **prev; /* link.tqe_prev: the previous set's `next` (== that set, link is
                              * the first member) or, for the oldest set, &head.first */
    int64_t first_offset;
    int64_t last_offset;
};

/* The parts of rd_kafka_mock_partition_t the lookup reads (librdkafka 2.0.2, LP64). */
#define MPART_START_OFFSET 0x18 /* int64_t start_offset */
#define MPART_END_OFFSET 0x20   /* int64_t end_offset */
#define MPART_MSGSETS 0x40      /* TAILQ_HEAD msgsets: first @+0, last @+8 */
#define LOOKUP_LIBRDKAFKA_VERSION 0x020002ff

#define CHECK_FIRST 4096u
#define CHECK_EVERY 1024u

const void *__real_rd_kafka_mock_msgset_find(const void *mpart, int64_t offset, int on_follower);
const void *__wrap_rd_kafka_mock_msgset_find(const void *mpart, int64_t offset, int on_follower);

/* 1 enabled, 0 off; decided on the first call. Only the mock cluster's thread calls us. */
static int lookup_state = -1;
static unsigned long lookups;

static int64_t field_i64(const void *mpart, unsigned off)
{
    return *(const int64_t *)((const char *)mpart + off);
}

static const void *newest_first(const void *mpart, int64_t offset)
{
    if (offset < field_i64(mpart, MPART_START_OFFSET) ||
        offset > field_i64(mpart, MPART_END_OFFSET))
        return NULL;
    const char *head = (const char *)mpart + MPART_MSGSETS;
    /* head->last points at the newest set's `next` field, i.e. at the newest set itself; an
     * empty list has it point at head->first, i.e. at head. */
    const struct mset_view *m = *(struct mset_view *const *)(head + sizeof(void *));
    while ((const char *)m != head) {
        if (m->first_offset <= offset && offset <= m->last_offset)
            return m;
        if (m->last_offset < offset)
            return NULL; /* sets are in offset order: nothing older can hold it */
        m = (const struct mset_view *)m->prev;
    }
    return NULL;
}

const void *__wrap_rd_kafka_mock_msgset_find(const void *mpart, int64_t offset, int on_follower)
{
    if (lookup_state < 0) {
        lookup_state = sizeof(void *) == 8 && rd_kafka_version() == LOOKUP_LIBRDKAFKA_VERSION;
        if (lookup_state)
            LOG_INFO("mock broker offset lookup: newest set first (librdkafka %s)",
                     rd_kafka_version_str());
        else
            LOG_INFO("mock broker offset lookup: librdkafka's own (librdkafka %s is not the "
                     "version the faster lookup was read off)",
                     rd_kafka_version_str());
    }
    if (!lookup_state || on_follower)
        return __real_rd_kafka_mock_msgset_find(mpart, offset, on_follower);
    const void *m = newest_first(mpart, offset);
    lookups++;
    if (lookups <= CHECK_FIRST || lookups % CHECK_EVERY == 0) {
        const void *want = __real_rd_kafka_mock_msgset_find(mpart, offset, on_follower);
        if (want != m) {
            LOG_ERROR("mock broker offset lookup disagrees with librdkafka's at offset %lld; "
                      "using librdkafka's from now on",
                      (long long)offset);
            lookup_state = 0;
            return want;
        }
    }
    return m;
}
