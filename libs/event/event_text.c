/* event_text.c — the canonical JSON text of a protobuf-c message, written straight into a
 * buffer. It is byte for byte what event_json.c's json_t tree gives through json_dumps(
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) (tests/unit/event checks this on random
 * messages), without a heap node per value: the audit writes one such text per row. */
#include "event_int.h"

#include <stdlib.h>
#include <string.h>

static const char hexd[] = "0123456789ABCDEF";

/* Length of the UTF-8 sequence at s (and its code point in *cp), 0 when it is not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF are not). */
static size_t utf8_seq(const unsigned char *s, unsigned *cp)
{
    unsigned c = s[0];
    size_t n;
    unsigned v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

static int utf8_valid(const char *s)
{
    unsigned cp;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq(p, &cp);
        if (!n)
            return 0;
        p += n;
    }
    return 1;
}

static void put_u16(baton_buf_t *b, unsigned u)
{
    char e[6] = {'\\',        'u', hexd[(u >> 12) & 15], hexd[(u >> 8) & 15], hexd[(u >> 4) & 15],
                 hexd[u & 15]};
    baton_buf_append(b, e, sizeof e);
}

/* A JSON string, ASCII only; a string that is not valid UTF-8 becomes U+FFFD as a whole. */
static void put_string(baton_buf_t *b, const char *s)
{
    if (!utf8_valid(s))
        s = "\xef\xbf\xbd";
    baton_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        baton_buf_append(b, run, (size_t)(p - run));
        if (!*p)
            break;
        unsigned cp;
        size_t n = utf8_seq(p, &cp);
        p += n;
        switch (cp) {
        case '"':
            baton_buf_puts(b, "\\\"");
            break;
        case '\\':
            baton_buf_puts(b, "\\\\");
            break;
        case '\b':
            baton_buf_puts(b, "\\b");
            break;
        case '\f':
            baton_buf_puts(b, "\\f");
            break;
        case '\n':
            baton_buf_puts(b, "\\n");
            break;
        case '\r':
            baton_buf_puts(b, "\\r");
            break;
        case '\t':
            baton_buf_puts(b, "\\t");
            break;
        default:
            if (cp < 0x10000) {
                put_u16(b, cp);
            } else { /* a UTF-16 surrogate pair */
                cp -= 0x10000;
                put_u16(b, 0xD800 | (cp >> 10));
                put_u16(b, 0xDC00 | (cp & 0x3FF));
            }
        }
    }
    baton_buf_putc(b, '"');
}

static void put_bytes(baton_buf_t *b, const ProtobufCBinaryData *d)
{
    baton_buf_putc(b, '"');
    baton_event__base64(b, d);
    baton_buf_putc(b, '"');
}

static void put_message(baton_buf_t *b, const ProtobufCMessage *msg);

/* Whether value_to_json (event_json.c) gives a value for the field value at p. */
static int present(const ProtobufCFieldDescriptor *f, const void *p, int skip_default)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return !skip_default || *(const uint64_t *)p != 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return !skip_default || *(const float *)p != 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return !skip_default || *(const double *)p != 0;
    case PROTOBUF_C_TYPE_BOOL:
        return !skip_default || *(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s && (!skip_default || *s);
    }
    case PROTOBUF_C_TYPE_BYTES:
        return !skip_default || ((const ProtobufCBinaryData *)p)->len != 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p != NULL;
    default:
        return !skip_default || *(const int32_t *)p != 0; /* 32-bit ints, enums */
    }
}

/* A real as jansson writes it (no message field is a float or double today). */
static void put_real(baton_buf_t *b, double v)
{
    json_t *j = json_real(v);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (s)
        baton_buf_puts(b, s);
    free(s);
}

/* The value at p, which present() said is there. */
static void put_value(baton_buf_t *b, const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        baton_buf_put_int(b, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        baton_buf_put_int(b, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: /* as json_int_t, like event_json.c */
    case PROTOBUF_C_TYPE_FIXED64:
        baton_buf_put_int(b, (long long)*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        put_real(b, *(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        put_real(b, *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        baton_buf_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        if (ev)
            put_string(b, ev->name);
        else
            baton_buf_put_int(b, v);
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        put_string(b, *(char *const *)p);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        put_bytes(b, p);
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        put_message(b, *(ProtobufCMessage *const *)p);
        break;
    }
}

typedef struct {
    const char *key;
    size_t idx;
} map_key_t;

static int map_key_cmp(const void *a, const void *b)
{
    const map_key_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* A map as an object with sorted keys; of entries with the same key the last one counts, and
 * entries without a key or value, or with a key that is not UTF-8, are left out (as a json_t
 * object would). */
static void put_map(baton_buf_t *b, const ProtobufCFieldDescriptor *f, size_t count,
                    const char *arr)
{
    const ProtobufCMessageDescriptor *d = f->descriptor;
    const ProtobufCFieldDescriptor *vf = &d->fields[1];
    map_key_t stack[16];
    map_key_t *keys = count <= 16 ? stack : baton_xcalloc(count, sizeof *keys);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const char *entry = ((char *const *)arr)[i];
        const char *key = *(char *const *)(entry + d->fields[0].offset);
        if (key && present(vf, entry + vf->offset, 0) && utf8_valid(key))
            keys[n++] = (map_key_t){key, i};
    }
    qsort(keys, n, sizeof *keys, map_key_cmp);
    baton_buf_putc(b, '{');
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && strcmp(keys[i].key, keys[i + 1].key) == 0)
            continue; /* a later entry replaces this one */
        if (!first)
            baton_buf_putc(b, ',');
        first = 0;
        put_string(b, keys[i].key);
        baton_buf_putc(b, ':');
        const char *entry = ((char *const *)arr)[keys[i].idx];
        put_value(b, vf, entry + vf->offset);
    }
    baton_buf_putc(b, '}');
    if (keys != stack)
        free(keys);
}

static void put_repeated(baton_buf_t *b, const ProtobufCFieldDescriptor *f, size_t count,
                         const char *arr)
{
    if (baton_event__is_map_entry(f)) {
        put_map(b, f, count, arr);
        return;
    }
    size_t sz = baton_event__value_size(f);
    baton_buf_putc(b, '[');
    for (size_t i = 0; i < count; i++) {
        if (i)
            baton_buf_putc(b, ',');
        if (present(f, arr + i * sz, 0))
            put_value(b, f, arr + i * sz);
        else
            baton_buf_puts(b, "null");
    }
    baton_buf_putc(b, ']');
}

static void put_message(baton_buf_t *b, const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const char *base = (const char *)msg;
    int first = 1;
    baton_buf_putc(b, '{');
    for (unsigned k = 0; k < d->n_fields; k++) { /* keys sorted: the descriptor's name order */
        const ProtobufCFieldDescriptor *f = &d->fields[d->fields_sorted_by_name[k]];
        const void *p = base + f->offset;
        size_t count = 0;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id || !present(f, p, 0))
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *)(base + f->quantifier_offset);
            if (!count)
                continue;
        } else if (!present(f, p, 1)) {
            continue;
        }
        if (!first)
            baton_buf_putc(b, ',');
        first = 0;
        baton_buf_putc(b, '"');
        baton_buf_puts(b, f->name);
        baton_buf_puts(b, "\":");
        if (count)
            put_repeated(b, f, count, *(char *const *)p);
        else
            put_value(b, f, p);
    }
    baton_buf_putc(b, '}');
}

char *baton_event_to_json_text(const ProtobufCMessage *msg)
{
    baton_buf_t b = BATON_BUF_INIT;
    put_message(&b, msg);
    return baton_buf_steal(&b);
}
