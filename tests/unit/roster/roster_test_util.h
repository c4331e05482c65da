/* Helpers shared by the test_roster sources. */
#ifndef ROSTER_TEST_UTIL_H
#define ROSTER_TEST_UTIL_H

#include "baton/roster.h"
#include "test.h"

/* Every kept error as "pointer|detail" (JSON) or "detail" (CSV), joined by '\n'. Static. */
static inline const char *errs_text(const baton_roster_errors_t *e)
{
    static baton_buf_t b;
    baton_buf_reset(&b);
    baton_buf_puts(&b, "");
    for (size_t i = 0; i < e->n; i++) {
        if (i)
            baton_buf_putc(&b, '\n');
        if (e->v[i].line == 0)
            baton_buf_appendf(&b, "%s|", e->v[i].pointer);
        baton_buf_puts(&b, e->v[i].detail);
    }
    return b.data;
}

static inline int64_t ts(const char *rfc3339)
{
    int64_t ms = 0;
    if (baton_time_parse(rfc3339, &ms) != 0)
        TEST_FAIL("bad time literal %s", rfc3339);
    return ms;
}

#endif
