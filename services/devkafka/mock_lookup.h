/* mock_lookup.h — the mock broker's offset index (mock_lookup.c), linked in when librdkafka is
 * linked statically (BATON_DEVKAFKA_LOOKUP). */
#ifndef BATON_DEVKAFKA_MOCK_LOOKUP_H
#define BATON_DEVKAFKA_MOCK_LOOKUP_H

/* Free the index; call after the mock cluster is destroyed. */
void devkafka_mock_lookup_free(void);

#endif
