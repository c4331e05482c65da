/* Descriptor-driven protobuf-c → JSON. Hand-written: protobuf-c has no JSON support and no
 * maintained C library maps protobuf-c messages to JSON. */
#include "event_int.h"

#include <stdlib.h>
#include <string.h>

void baton_event__base64(baton_buf_t *b, const ProtobufCBinaryData *d)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < d->len; i += 3) {
        unsigned v = (unsigned)d->data[i] << 16;
        if (i + 1 < d->len)
            v |= (unsigned)d->data[i + 1] << 8;
        if (i + 2 < d->len)
            v |= d->data[i + 2];
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
                     i + 1 < d->len ? b64[(v >> 6) & 63] : '=', i + 2 < d->len ? b64[v & 63] : '='};
        baton_buf_append(b, q, 4);
    }
}

static json_t *bytes_to_json(const ProtobufCBinaryData *d)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_event__base64(&b, d);
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    baton_buf_free(&b);
    return j;
}

/* One scalar, enum, string, bytes or message value at p; NULL when it is a proto3 default
 * that is left out (skip_default). */
static json_t *value_to_json(const ProtobufCFieldDescriptor *f, const void *p, int skip_default)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int32_t v = *(const int32_t *)p;
        return skip_default && v == 0 ? NULL : json_integer(v);
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint32_t v = *(const uint32_t *)p;
        return skip_default && v == 0 ? NULL : json_integer(v);
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t v = *(const int64_t *)p;
        return skip_default && v == 0 ? NULL : json_integer(v);
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t v = *(const uint64_t *)p;
        return skip_default && v == 0 ? NULL : json_integer((json_int_t)v);
    }
    case PROTOBUF_C_TYPE_FLOAT: {
        float v = *(const float *)p;
        return skip_default && v == 0 ? NULL : json_real(v);
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        double v = *(const double *)p;
        return skip_default && v == 0 ? NULL : json_real(v);
    }
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean v = *(const protobuf_c_boolean *)p;
        return skip_default && !v ? NULL : json_boolean(v);
    }
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        if (skip_default && v == 0)
            return NULL;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        return ev ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        if (!s || (skip_default && !*s))
            return NULL;
        json_t *j = json_string(s);
        return j ? j : json_string("\xef\xbf\xbd"); /* not UTF-8: say so, don't drop */
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *d = p;
        return skip_default && d->len == 0 ? NULL : bytes_to_json(d);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        return m ? baton_event_to_json(m) : NULL;
    }
    }
    return NULL;
}

size_t baton_event__value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

int baton_event__is_map_entry(const ProtobufCFieldDescriptor *f)
{
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
        return 0;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t n = strlen(d->name);
    return d->n_fields == 2 && n > 5 && strcmp(d->name + n - 5, "Entry") == 0 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static json_t *repeated_to_json(const ProtobufCFieldDescriptor *f, size_t count, const char *arr)
{
    if (baton_event__is_map_entry(f)) {
        json_t *obj = json_object();
        const ProtobufCMessageDescriptor *d = f->descriptor;
        for (size_t i = 0; i < count; i++) {
            const char *entry = ((char *const *)arr)[i];
            const char *key = *(char *const *)(entry + d->fields[0].offset);
            json_t *v = value_to_json(&d->fields[1], entry + d->fields[1].offset, 0);
            if (key && v)
                json_object_set_new(obj, key, v);
            else
                json_decref(v);
        }
        return obj;
    }
    json_t *a = json_array();
    size_t sz = baton_event__value_size(f);
    for (size_t i = 0; i < count; i++) {
        json_t *v = value_to_json(f, arr + i * sz, 0);
        json_array_append_new(a, v ? v : json_null());
    }
    return a;
}

json_t *baton_event_to_json(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    json_t *obj = json_object();
    const char *base = (const char *)msg;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *v = NULL;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
            if (which == f->id)
                v = value_to_json(f, base + f->offset, 0);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)(base + f->quantifier_offset);
            if (count)
                v = repeated_to_json(f, count, *(char *const *)(base + f->offset));
        } else {
            v = value_to_json(f, base + f->offset, 1);
        }
        if (v)
            json_object_set_new(obj, f->name, v);
    }
    return obj;
}

const char *baton_event_body_name(const Baton__V1__Envelope *env)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &baton__v1__envelope__descriptor, (unsigned)env->body_case);
    return f ? f->name : "none";
}
