/* mock_layout.h — whether the linked librdkafka's mock broker has the struct layout that
 * mock_lookup.c and mock_retention.c read and write: offsets of librdkafka-internal fields read
 * off the disassembly of Debian bookworm's librdkafka.a (2.0.2), on an LP64 build. */
#ifndef BATON_DEVKAFKA_MOCK_LAYOUT_H
#define BATON_DEVKAFKA_MOCK_LAYOUT_H

#include <librdkafka/rdkafka.h>

#include <stdbool.h>

#define DEVKAFKA_MOCK_LAYOUT_VERSION 0x020002ff /* librdkafka 2.0.2 */

static inline bool devkafka_mock_layout_known(void)
{
    return sizeof(void *) == 8 && rd_kafka_version() == DEVKAFKA_MOCK_LAYOUT_VERSION;
}

#endif
