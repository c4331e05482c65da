/* Helpers shared by the test_fhir sources. */
#ifndef FHIR_TEST_UTIL_H
#define FHIR_TEST_UTIL_H

#include "baton/canon.h"
#include "baton/fhir.h"
#include "test.h"

#define FHIR_NOW_MS 1795255200000LL /* 2026-11-21T10:00:00Z */

static inline baton_fhir_opts_t fhir_opts(void)
{
    baton_fhir_opts_t o = {.tenant = "acme", .now_ms = FHIR_NOW_MS};
    return o;
}

static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        TEST_FAIL("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        TEST_FAIL("short read %s", path);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static inline int map_str(const char *body, baton_fhir_result_t *r)
{
    baton_fhir_opts_t o = fhir_opts();
    return baton_fhir_map(body, strlen(body), &o, r);
}

/* Member of the n-th event (or NULL). */
static inline const char *ev_str(const baton_fhir_result_t *r, size_t item, const char *member)
{
    return json_string_value(json_object_get(r->items[item].event, member));
}

static inline const char *ev_attr(const baton_fhir_result_t *r, size_t item, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(r->items[item].event, "attributes"), key));
}

/* "code@expression" of issue i of an outcome. */
static inline const char *issue_str(const json_t *oo, size_t i, char *buf, size_t len)
{
    json_t *issue = json_array_get(json_object_get(oo, "issue"), i);
    const char *expr = json_string_value(json_array_get(json_object_get(issue, "expression"), 0));
    snprintf(buf, len, "%s@%s", json_string_value(json_object_get(issue, "code")),
             expr ? expr : "-");
    return buf;
}

/* Every event of a result must pass baton_canon_convert as the ingest service will run it. */
static inline void assert_events_convert(const baton_fhir_result_t *r)
{
    for (size_t i = 0; i < r->n_items; i++) {
        if (r->items[i].kind != BATON_FHIR_ITEM_EVENT)
            continue;
        baton_canon_opts_t co = {.auth_tenant = "acme",
                                 .now_ms = FHIR_NOW_MS,
                                 .source = "fhir",
                                 .source_message_id = r->items[i].source_message_id};
        baton_canon_problems_t p = BATON_CANON_PROBLEMS_INIT;
        Baton__V1__Envelope *env = NULL;
        int rc = baton_canon_convert(r->items[i].event, &co, &env, &p);
        if (rc != 0)
            TEST_FAIL("event %zu does not convert: %s %s", i, p.n ? p.items[0].pointer : "",
                      p.n ? p.items[0].detail : "");
        ASSERT_EQ_STR(env->clinical->source, "fhir");
        ASSERT_EQ_STR(env->clinical->source_message_id, r->items[i].source_message_id);
        baton_canon_envelope_free(env);
    }
}

#endif
