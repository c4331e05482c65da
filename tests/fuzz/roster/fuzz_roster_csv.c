/* libFuzzer target: the roster CSV import (reader, header mapping, validation, batch checks),
 * then what a valid import feeds (resolution, the on-call answer, JSON output).
 * Invariants checked (a violation traps): all-or-nothing (shifts xor errors), every kept
 * shift valid and covering its own start, CSV errors prefixed with their own line number. */
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

static void check_errors(const baton_roster_errors_t *e)
{
    CHECK(e->n > 0 && e->n <= BATON_ROSTER_MAX_ERRORS && e->total >= e->n);
    for (size_t i = 0; i < e->n; i++) {
        char prefix[40];
        snprintf(prefix, sizeof prefix, "line %zu: ", e->v[i].line);
        CHECK(e->v[i].line == 0 || strncmp(e->v[i].detail, prefix, strlen(prefix)) == 0);
        CHECK(i == 0 || e->v[i - 1].line <= e->v[i].line);
    }
    free(baton_roster_errors_json(e));
}

static void check_shifts(const baton_roster_shifts_t *s)
{
    CHECK(s->n > 0 && s->n <= BATON_ROSTER_MAX_SHIFTS);
    for (size_t i = 0; i < s->n; i++) {
        const baton_roster_shift_t *x = &s->v[i];
        CHECK(x->id[0] && x->tenant[0] && x->facility[0] && x->role[0] && x->person[0]);
        CHECK(x->start_ms < x->end_ms && x->end_ms - x->start_ms <= BATON_ROSTER_MAX_SHIFT_MS);
        CHECK(x->tier >= 1 && x->tier <= BATON_ROSTER_MAX_TIER);
        CHECK(!strcmp(x->tenant, s->v[0].tenant));
        free(baton_roster_shift_to_json(x));
    }
    /* the first shift covers its own start, so the role resolves to someone */
    const baton_roster_shift_t *f = &s->v[0];
    baton_roster_query_t q = {f->tenant, f->facility, f->unit, f->role, f->start_ms, NULL, 0};
    baton_roster_resolution_t r;
    CHECK(baton_roster_resolve_in(&q, s->v, s->n, &r) == 0);
    CHECK(r.why != BATON_ROSTER_NONE && r.person[0]);
    CHECK((r.why == BATON_ROSTER_UNIT_SHIFT) == (f->unit[0] != '\0'));
    const char *ex[] = {r.person};
    q.exclude = ex;
    q.nexclude = 1;
    CHECK(baton_roster_resolve_in(&q, s->v, s->n, &r) == 0);
    free(baton_roster_oncall_json(&q, s->v, s->n, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    baton_roster_shifts_t s = BATON_ROSTER_SHIFTS_INIT;
    baton_roster_errors_t e = BATON_ROSTER_ERRORS_INIT;
    int rc = baton_roster_shifts_parse_csv((const char *)data, size, NULL, &s, &e);
    if (rc == 0) {
        CHECK(e.total == 0);
        check_shifts(&s);
    } else {
        CHECK(rc == BATON_EINVAL || rc == BATON_ETOOBIG);
        CHECK(s.n == 0 && s.v == NULL);
        check_errors(&e);
    }
    baton_roster_shifts_free(&s);
    baton_roster_errors_free(&e);
    return 0;
}
