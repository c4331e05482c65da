/* mock_retention.h — the mock broker's per-partition retention (mock_retention.c), linked in
 * when librdkafka is linked statically (BATON_DEVKAFKA_LOOKUP). */
#ifndef BATON_DEVKAFKA_MOCK_RETENTION_H
#define BATON_DEVKAFKA_MOCK_RETENTION_H

#include <stddef.h>

/* Raise every partition's limit to bytes (0: librdkafka's own, about 5 MB); call before the
 * mock cluster starts. */
void devkafka_mock_retention_set(size_t bytes);

#endif
