/* baton/event.h — events as JSON: any protobuf-c message (an Envelope above all) rendered
 * through its descriptor, for the audit log, the read API, baton-tail and tests.
 *
 * The rendering is canonical, so it can be hashed: field names as in the .proto (snake_case),
 * fields in field-number order (the text form: keys sorted), proto3 defaults (0, "", false, empty
 * lists) left out, oneof members only when set, enums by name, map<string,string> as an object with
 * sorted keys, 64-bit integers as JSON numbers, bytes as base64. */
#ifndef BATON_EVENT_H
#define BATON_EVENT_H

#include "baton/core.h"
#include <baton/v1/events.pb-c.h>
#include <jansson.h>

/* A new JSON object for msg (caller json_decref()s). Never NULL for a valid message. */
json_t *baton_event_to_json(const ProtobufCMessage *msg);
/* The same as compact text with sorted keys, ASCII only (caller frees): the canonical form.
 * Written directly, byte-identical to json_dumps(baton_event_to_json(msg), JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENSURE_ASCII). */
char *baton_event_to_json_text(const ProtobufCMessage *msg);
/* The name of the envelope body that is set ("clinical", "task_assigned", ...) or "none". */
const char *baton_event_body_name(const Baton__V1__Envelope *env);

#endif
