/* event_int.h — what event_json.c and event_text.c share. */
#ifndef BATON_EVENT_INT_H
#define BATON_EVENT_INT_H

#include "baton/event.h"

/* Bytes one element of a repeated field of f's type takes in its array. */
size_t baton_event__value_size(const ProtobufCFieldDescriptor *f);
/* A map<K,V> field is a repeated message of a "...Entry" type with fields key and value. */
int baton_event__is_map_entry(const ProtobufCFieldDescriptor *f);

/* Append d as standard base64 (with padding). */
void baton_event__base64(baton_buf_t *b, const ProtobufCBinaryData *d);

#endif
