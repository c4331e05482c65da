/* Shared between canon_validate.c and canon_envelope.c. */
#ifndef BATON_CANON_INTERNAL_H
#define BATON_CANON_INTERNAL_H

#include "baton/canon.h"

/* The fields of a valid event; strings point into the JSON document (or opts) except the
 * attribute arrays, which are owned (sorted by key). */
typedef struct {
    const char *id; /* NULL: none given, mint one */
    const char *type, *tenant, *facility, *unit, *patient, *encounter;
    int64_t occurred_ms;
    size_t n_attrs;
    char **keys;
    char **vals;
} baton_canon__fields_t;

int baton_canon__check(const json_t *ev, const baton_canon_opts_t *opts,
                       baton_canon_problems_t *problems, baton_canon__fields_t *f);
void baton_canon__fields_free(baton_canon__fields_t *f);

#endif
