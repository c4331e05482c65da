/* libFuzzer target: the roster's JSON bodies. The first byte picks the parser (even: PUT
 * /v1/shifts, odd: PUT /v1/people/{id}); the rest is the body.
 * Invariants (a violation traps): all-or-nothing, and a parsed person survives its own
 * canonical JSON unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/roster.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static void person(const char *body, size_t len)
{
    baton_roster_person_t *p = NULL, *q = NULL;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    int rc = baton_roster_person_parse("p1", body, len, &p, &e);
    CHECK((rc == 0) == (p != NULL) && (rc == 0) == (e.total == 0));
    if (p) {
        char *a = baton_roster_person_to_json(p);
        CHECK(baton_roster_person_parse("p1", a, strlen(a), &q, &e) == 0);
        char *b = baton_roster_person_to_json(q);
        CHECK(strcmp(a, b) == 0);
        free(a);
        free(b);
    }
    free(baton_roster_errors_json(&e));
    baton_roster_person_free(p);
    baton_roster_person_free(q);
    baton_roster_errors_free(&e);
}

static void shifts(const char *body, size_t len)
{
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    int rc = baton_roster_shifts_parse_json(body, len, NULL, &s, &e);
    CHECK((rc == 0) == (e.total == 0) && (rc == 0) == (s.n > 0));
    for (size_t i = 0; i < s.n; i++) {
        CHECK(s.v[i].start_ms < s.v[i].end_ms && s.v[i].tier >= 1);
        free(baton_roster_shift_to_json(&s.v[i]));
    }
    free(baton_roster_errors_json(&e));
    baton_roster_shifts_free(&s);
    baton_roster_errors_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        person((const char *)data + 1, size - 1);
    else
        shifts((const char *)data + 1, size - 1);
    return 0;
}
