/* libFuzzer target: canonical event parsing/validation/conversion and NDJSON splitting.
 * Every converted envelope must pack, unpack and round-trip its key fields. */
#include "baton/canon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* assert() would vanish under NDEBUG; this does not. */
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "check failed: %s\n", #c);                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_envelope(const Baton__V1__Envelope *env)
{
    size_t n = baton__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(n ? n : 1);
    baton__v1__envelope__pack(env, buf);
    Baton__V1__Envelope *back = baton__v1__envelope__unpack(NULL, n, buf);
    CHECK(back);
    CHECK(strcmp(back->id, env->id) == 0);
    CHECK(strcmp(back->correlation_key, env->correlation_key) == 0);
    CHECK(back->clinical && back->clinical->n_attributes == env->clinical->n_attributes);
    baton__v1__envelope__free_unpacked(back, NULL);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    baton_canon_opts_t o = {.auth_tenant = "acme",
                            .now_ms = 1795255200000LL,
                            .traceparent =
                                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            .idempotency_key = (size && data[0] & 1) ? "key-1" : NULL};
    baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
    Baton__V1__Envelope *env = NULL;
    int rc = baton_canon_parse((const char *)data, size, &o, &env, &p);
    CHECK((rc == 0) == (env != NULL));
    CHECK((rc == 0) == (p.n == 0));
    if (env)
        check_envelope(env);
    json_t *arr = baton_canon_problems_json(&p);
    json_decref(arr);
    baton_canon_envelope_free(env);
    baton_canon_problems_free(&p);

    /* the same bytes as an NDJSON body */
    baton_canon_ndjson_t it;
    baton_canon_ndjson_init(&it, (const char *)data, size, 8);
    const char *line;
    size_t len, no, last = 0;
    while ((rc = baton_canon_ndjson_next(&it, &line, &len, &no)) == 1) {
        CHECK(no > last && line >= (const char *)data && line + len <= (const char *)data + size);
        last = no;
        env = NULL;
        if (baton_canon_parse(line, len, &o, &env, &p) == 0)
            check_envelope(env);
        baton_canon_envelope_free(env);
        baton_canon_problems_free(&p);
    }
    return 0;
}
