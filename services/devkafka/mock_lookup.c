/* An offset index for librdkafka's mock broker.
 *
 * The mock answers every Fetch by finding the message set that holds the fetch offset, walking
 * the partition's log from its oldest set (librdkafka: "FIXME: Maintain an index"). A log keeps
 * up to 100,000 sets per partition and consumers fetch near its newest end, so under a steady
 * stream the broker's CPU grows with everything the partition has ever held: at 2,000 events/s
 * it went from 0.23 to 0.57 cores within 30 s and dragged every service's latency with it. A
 * real Kafka broker indexes its log; this file gives the development broker an index too.
 *
 * How: baton-devkafka links librdkafka statically with `-Wl,--wrap=rd_kafka_mock_msgset_find`,
 * so the Fetch handler calls __wrap_rd_kafka_mock_msgset_find below. Per partition it keeps an
 * array of (set, first offset, last offset) in log order and answers by binary search. Before
 * each lookup the array is brought up to date with the log, which librdkafka changes in two
 * ways only (rd_kafka_mock_partition_log_append): a new set at the newest end, and sets
 * removed from the oldest end to stay within the retention limits, after which start_offset
 * is the first offset of the oldest set left. So entries whose first offset is below
 * start_offset are gone (dropped without touching their memory), and the sets after the
 * newest entry still alive are found by walking back from the log's newest set to it.
 *
 * The index reads five fields of two librdkafka-internal structs. Their offsets were read off
 * the disassembly of rd_kafka_mock_msgset_find and rd_kafka_mock_msgset_destroy in Debian
 * bookworm's librdkafka.a (2.0.2), so the index is used only when the linked library reports
 * exactly that version and the build is LP64; anything else calls the original function.
 * While on, the first 4,096 lookups and every 1,024th after are also answered by the original
 * walk and compared: one difference logs an error and turns the index off for good. */
#include "mock_lookup.h"
#include "mock_layout.h"

#include "baton/core.h"
#include "baton/log.h"

#include <librdkafka/rdkafka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* rd_kafka_mock_msgset_t: TAILQ_ENTRY link first, then the first and last offset it holds. */
struct mset_view {
    struct mset_view *next;  /* link.tqe_next */
    struct mset_view **prev; /* link.tqe_prev: the previous set's `next` (== that set, link is
                              * the first member) or, for the oldest set, &head.first */
    int64_t first_offset;
    int64_t last_offset;
};

/* The parts of rd_kafka_mock_partition_t the index reads (librdkafka 2.0.2, LP64). */
#define MPART_START_OFFSET 0x18 /* int64_t start_offset */
#define MPART_END_OFFSET 0x20   /* int64_t end_offset */
#define MPART_MSGSETS 0x40      /* TAILQ_HEAD msgsets: first @+0, last @+8 */

#define CHECK_FIRST 4096u
#define CHECK_EVERY 1024u

const void *__real_rd_kafka_mock_msgset_find(const void *mpart, int64_t offset, int on_follower);
const void *__wrap_rd_kafka_mock_msgset_find(const void *mpart, int64_t offset, int on_follower);

typedef struct {
    const struct mset_view *set;
    int64_t first, last;
} entry_t;

/* One partition's sets in log order: v[head .. head + n). */
typedef struct {
    const void *mpart;
    entry_t *v;
    size_t head, n, cap;
} part_index_t;

/* Only the mock cluster's thread calls us: no locking. */
static struct {
    int state; /* -1 undecided, 1 index on, 0 librdkafka's own walk */
    unsigned long lookups;
    part_index_t *parts; /* open addressing by mpart pointer */
    size_t nparts, cap;
} lk = {-1, 0, NULL, 0, 0};

static int64_t field_i64(const void *mpart, unsigned off)
{
    return *(const int64_t *)((const char *)mpart + off);
}

static size_t slot_of(const void *mpart, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)mpart * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

static part_index_t *index_of(const void *mpart)
{
    if (lk.cap == 0 || 2 * (lk.nparts + 1) > lk.cap) {
        size_t ncap = lk.cap ? lk.cap * 2 : 256;
        part_index_t *np = baton_xcalloc(ncap, sizeof(*np));
        for (size_t i = 0; i < lk.cap; i++) {
            if (!lk.parts[i].mpart)
                continue;
            size_t s = slot_of(lk.parts[i].mpart, ncap);
            while (np[s].mpart)
                s = (s + 1) & (ncap - 1);
            np[s] = lk.parts[i];
        }
        free(lk.parts);
        lk.parts = np;
        lk.cap = ncap;
    }
    size_t s = slot_of(mpart, lk.cap);
    while (lk.parts[s].mpart && lk.parts[s].mpart != mpart)
        s = (s + 1) & (lk.cap - 1);
    if (!lk.parts[s].mpart) {
        lk.parts[s].mpart = mpart;
        lk.nparts++;
    }
    return &lk.parts[s];
}

static void push(part_index_t *x, const struct mset_view *m)
{
    if (x->head + x->n == x->cap) {
        if (x->head > x->cap / 2) { /* mostly dropped entries in front: move down */
            memmove(x->v, x->v + x->head, x->n * sizeof(*x->v));
            x->head = 0;
        } else {
            x->cap = x->cap ? x->cap * 2 : 1024;
            x->v = baton_xrealloc(x->v, x->cap * sizeof(*x->v));
        }
    }
    x->v[x->head + x->n++] = (entry_t){m, m->first_offset, m->last_offset};
}

/* Bring x up to date with the partition's log (see the top of the file). */
static void sync_index(part_index_t *x, const void *mpart)
{
    int64_t start = field_i64(mpart, MPART_START_OFFSET);
    while (x->n && x->v[x->head].first < start) {
        x->head++;
        x->n--;
    }
    if (!x->n)
        x->head = 0;
    const char *head = (const char *)mpart + MPART_MSGSETS;
    /* head->last points at the newest set's `next`, i.e. at the newest set itself; an empty
     * list has it point at head->first, i.e. at head */
    const struct mset_view *newest = *(struct mset_view *const *)(head + sizeof(void *));
    const struct mset_view *known = x->n ? x->v[x->head + x->n - 1].set : NULL;
    if ((const char *)newest == head || newest == known)
        return;
    /* the sets after `known`, newest first, then appended oldest first */
    size_t k = 0, cap = 16;
    const struct mset_view **fresh = baton_xmalloc(cap * sizeof(*fresh));
    for (const struct mset_view *m = newest; (const char *)m != head && m != known;
         m = (const struct mset_view *)m->prev) {
        if (k == cap)
            fresh = baton_xrealloc(fresh, (cap *= 2) * sizeof(*fresh));
        fresh[k++] = m;
    }
    while (k)
        push(x, fresh[--k]);
    free(fresh);
}

static const void *indexed_find(const void *mpart, int64_t offset)
{
    if (offset < field_i64(mpart, MPART_START_OFFSET) ||
        offset > field_i64(mpart, MPART_END_OFFSET))
        return NULL;
    part_index_t *x = index_of(mpart);
    sync_index(x, mpart);
    if (!x->n)
        return NULL;
    const entry_t *v = x->v + x->head;
    size_t lo = 0, hi = x->n; /* the last entry whose first offset is <= offset */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].first <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || offset > v[lo - 1].last)
        return NULL;
    return v[lo - 1].set;
}

const void *__wrap_rd_kafka_mock_msgset_find(const void *mpart, int64_t offset, int on_follower)
{
    if (lk.state < 0) {
        lk.state = devkafka_mock_layout_known();
        if (lk.state)
            LOG_INFO("mock broker offset lookup: indexed (librdkafka %s)", rd_kafka_version_str());
        else
            LOG_INFO("mock broker offset lookup: librdkafka's own (librdkafka %s is not the "
                     "version the index was built for)",
                     rd_kafka_version_str());
    }
    if (!lk.state || on_follower)
        return __real_rd_kafka_mock_msgset_find(mpart, offset, on_follower);
    const void *m = indexed_find(mpart, offset);
    lk.lookups++;
    if (lk.lookups <= CHECK_FIRST || lk.lookups % CHECK_EVERY == 0) {
        const void *want = __real_rd_kafka_mock_msgset_find(mpart, offset, on_follower);
        if (want != m) {
            LOG_ERROR("mock broker offset lookup disagrees with librdkafka's at offset %lld; "
                      "using librdkafka's from now on",
                      (long long)offset);
            lk.state = 0;
            return want;
        }
    }
    return m;
}

void devkafka_mock_lookup_free(void)
{
    for (size_t i = 0; i < lk.cap; i++)
        free(lk.parts[i].v);
    free(lk.parts);
    lk.parts = NULL;
    lk.nparts = lk.cap = 0;
}
