/* libFuzzer target: FHIR mapping. Invariants: a rejection always carries an OperationOutcome;
 * every event the lib emits passes baton_canon_convert (the ingest path) and packs. */
#include "baton/canon.h"
#include "baton/fhir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "check failed: %s\n", #c);                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_outcome(const json_t *oo)
{
    CHECK(oo && json_is_object(oo));
    CHECK(baton_fhir_outcome_count(oo) > 0);
    CHECK(baton_fhir_outcome_code(oo) != NULL);
    char *s = json_dumps(oo, JSON_COMPACT);
    CHECK(s);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    baton_fhir_opts_t o = {.tenant = "acme", .now_ms = 1795255200000LL};
    baton_fhir_result_t r;
    int rc = baton_fhir_map((const char *)data, size, &o, &r);
    if (rc)
        check_outcome(r.outcome);
    size_t events = 0;
    for (size_t i = 0; i < r.n_items; i++) {
        baton_fhir_item_t *it = &r.items[i];
        if (it->kind == BATON_FHIR_ITEM_ERROR) {
            check_outcome(it->outcome);
            continue;
        }
        if (it->kind != BATON_FHIR_ITEM_EVENT)
            continue;
        events++;
        baton_canon_opts_t co = {.auth_tenant = "acme",
                                 .now_ms = o.now_ms,
                                 .source = "fhir",
                                 .source_message_id = it->source_message_id};
        baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
        Baton__V1__Envelope *env = NULL;
        int crc = baton_canon_convert(it->event, &co, &env, &p);
        if (crc != 0)
            fprintf(stderr, "canon rejects a FHIR event: %s %s\n", p.n ? p.items[0].pointer : "",
                    p.n ? p.items[0].detail : "");
        CHECK(crc == 0);
        size_t n = baton__v1__envelope__get_packed_size(env);
        uint8_t *buf = malloc(n ? n : 1);
        baton__v1__envelope__pack(env, buf);
        free(buf);
        baton_canon_envelope_free(env);
        baton_canon_problems_free(&p);
    }
    CHECK(events == r.n_events);
    if (r.input == BATON_FHIR_TRANSACTION && rc != 0)
        CHECK(events == 0);
    baton_fhir_result_free(&r);
    return 0;
}
