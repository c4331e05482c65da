/* http_route.c — route patterns: "/"-separated segments, each literal or "{name}". */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>

void http_route_free(http_route_t *route)
{
    for (size_t i = 0; i < route->nseg; i++)
        free(route->seg[i].text);
    free(route->method);
    free(route->pattern);
}

void http_params_free(http_param_t *params, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(params[i].value);
}

int http_route_compile(http_route_t *route, const char *pattern)
{
    if (!pattern || pattern[0] != '/')
        return BATON_EINVAL;
    size_t nparams = 0;
    const char *p = pattern + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (route->nseg == HTTP_MAX_SEGMENTS)
            return BATON_EINVAL;
        http_segment_t *s = &route->seg[route->nseg++];
        if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
            if (len == 2 || memchr(p + 1, '{', len - 2) || memchr(p + 1, '}', len - 2) ||
                ++nparams > HTTP_MAX_PARAMS)
                return BATON_EINVAL;
            s->is_param = true;
            s->text = baton_xstrndup(p + 1, len - 2);
        } else {
            if (memchr(p, '{', len) || memchr(p, '}', len))
                return BATON_EINVAL; /* "{id}:x" and friends are not supported */
            s->text = baton_xstrndup(p, len);
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

bool http_route_match(const http_route_t *route, const char *path, http_param_t *params,
                      size_t *nparams)
{
    *nparams = 0;
    if (!path || path[0] != '/')
        return false;
    const char *p = path + 1;
    size_t i = 0;
    for (;; i++) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i == route->nseg)
            goto nomatch;
        const http_segment_t *s = &route->seg[i];
        if (s->is_param) {
            if (len == 0)
                goto nomatch;
            params[*nparams].name = s->text;
            params[(*nparams)++].value = baton_xstrndup(p, len);
        } else if (strlen(s->text) != len || memcmp(s->text, p, len) != 0) {
            goto nomatch;
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (i + 1 == route->nseg)
        return true;
nomatch:
    http_params_free(params, *nparams);
    *nparams = 0;
    return false;
}
