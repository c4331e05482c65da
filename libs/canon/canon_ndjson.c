/* Splitting an application/x-ndjson body into lines. */
#include "baton/canon.h"

#include <string.h>

void baton_canon_ndjson_init(baton_canon_ndjson_t *it, const char *body, size_t len,
                             size_t max_lines)
{
    memset(it, 0, sizeof *it);
    it->body = body ? body : "";
    it->len = body ? len : 0;
    it->max_lines = max_lines;
    if (it->len >= 3 && memcmp(it->body, "\xEF\xBB\xBF", 3) == 0)
        it->pos = 3;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

int baton_canon_ndjson_next(baton_canon_ndjson_t *it, const char **line, size_t *line_len,
                            size_t *line_no)
{
    while (it->pos < it->len) {
        const char *start = it->body + it->pos;
        size_t rest = it->len - it->pos;
        const char *nl = memchr(start, '\n', rest);
        size_t n = nl ? (size_t)(nl - start) : rest;
        size_t next = it->pos + n + (nl ? 1 : 0);
        size_t this_line = it->line_no + 1;
        if (is_blank(start, n)) {
            it->pos = next;
            it->line_no = this_line;
            continue;
        }
        if (it->max_lines && it->count >= it->max_lines) {
            *line_no = this_line;
            return BATON_ETOOBIG;
        }
        if (n > 0 && start[n - 1] == '\r')
            n--;
        it->pos = next;
        it->line_no = this_line;
        it->count++;
        *line = start;
        *line_len = n;
        *line_no = this_line;
        return 1;
    }
    return 0;
}
