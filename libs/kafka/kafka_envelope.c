/* baton.v1.Envelope on the wire: protobuf-c pack / unpack and the standard Kafka headers. */
#include "kafka_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int baton_kafka_envelope_pack(const Baton__V1__Envelope *env, uint8_t **out, size_t *len)
{
    size_t n = baton__v1__envelope__get_packed_size(env);
    uint8_t *buf = baton_xmalloc(n ? n : 1);
    *len = baton__v1__envelope__pack(env, buf);
    *out = buf;
    return 0;
}

Baton__V1__Envelope *baton_kafka_envelope_unpack(const void *data, size_t len, char *err,
                                                 size_t errlen)
{
    Baton__V1__Envelope *env = baton__v1__envelope__unpack(NULL, len, data);
    if (!env)
        baton_seterr(err, errlen, "not a baton.v1.Envelope (%zu bytes)", len);
    return env;
}

void baton_kafka_envelope_free(Baton__V1__Envelope *env)
{
    if (env)
        baton__v1__envelope__free_unpacked(env, NULL);
}

static void add(baton_kafka_std_headers_t *out, const char *name, const char *value)
{
    out->h[out->count++] = (baton_kafka_header_t){name, value, strlen(value)};
}

void baton_kafka_std_headers(const Baton__V1__Envelope *env, baton_kafka_std_headers_t *out)
{
    out->count = 0;
    snprintf(out->schema_version, sizeof out->schema_version, "%u", env->schema_version);
    add(out, "content-type", BATON_KAFKA_CONTENT_TYPE);
    add(out, "event-type", env->type ? env->type : "");
    add(out, "schema-version", out->schema_version);
    if (env->traceparent && *env->traceparent)
        add(out, "traceparent", env->traceparent);
}
