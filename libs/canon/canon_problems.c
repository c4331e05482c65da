/* The problem list (RFC 9457 `errors` entries) and RFC 6901 pointers. */
#include "baton/canon.h"

#include <stdlib.h>
#include <string.h>

void baton_canon_problems_free(baton_canon_problems_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].pointer);
        free(p->items[i].detail);
    }
    free(p->items);
    p->items = NULL;
    p->n = p->cap = 0;
}

void baton_canon_problems_add(baton_canon_problems_t *p, const char *pointer, const char *detail)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->items = baton_xrealloc(p->items, p->cap * sizeof *p->items);
    }
    p->items[p->n].pointer = baton_xstrdup(pointer ? pointer : "");
    p->items[p->n].detail = baton_xstrdup(detail ? detail : "");
    p->n++;
}

json_t *baton_canon_problems_json(const baton_canon_problems_t *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; p && i < p->n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "pointer", p->items[i].pointer, "detail",
                                             p->items[i].detail));
    return arr;
}

const char *baton_canon_title(int rc)
{
    switch (rc) {
    case 0:
        return "OK";
    case BATON_EPERM:
        return "Tenant not allowed";
    case BATON_EPARSE:
        return "Malformed JSON";
    case BATON_ETOOBIG:
        return "Body too large";
    default:
        return "Invalid event";
    }
}
