/* redis_url.c — redis://[[user]:password@]host[:port][/db] parsing. */
#include "baton/redis.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Percent-decode [s, s+n) into out (cap bytes). 0 or BATON_EINVAL. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return BATON_EINVAL;
            char hex[3] = {s[i + 1], s[i + 2], 0};
            c = (char)strtol(hex, NULL, 16);
            i += 2;
        }
        if (o + 1 >= cap)
            return BATON_EINVAL;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

static int parse_int(const char *s, size_t n, long min, long max, int *out)
{
    if (n == 0 || n > 9)
        return BATON_EINVAL;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return BATON_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return BATON_EINVAL;
    *out = (int)v;
    return 0;
}

static int parse_userinfo(const char *s, size_t n, baton_redis_url_t *out)
{
    const char *colon = memchr(s, ':', n);
    if (!colon) /* "redis://secret@host": a bare userinfo is the password */
        return pct_decode(s, n, out->password, sizeof(out->password));
    if (pct_decode(s, (size_t)(colon - s), out->user, sizeof(out->user)) != 0)
        return BATON_EINVAL;
    return pct_decode(colon + 1, n - (size_t)(colon - s) - 1, out->password, sizeof(out->password));
}

int baton_redis_url_parse(const char *url, baton_redis_url_t *out, char *err, size_t errlen)
{
    static const char scheme[] = "redis://";
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (!url || strncmp(url, scheme, strlen(scheme)) != 0) {
        baton_seterr(err, errlen, "redis URL must start with redis://");
        return BATON_EINVAL;
    }
    const char *p = url + strlen(scheme);
    const char *at = strrchr(p, '@'); /* host, port and db never contain '@' */
    if (at) {
        if (parse_userinfo(p, (size_t)(at - p), out) != 0) {
            baton_seterr(err, errlen, "redis URL: bad user or password encoding");
            return BATON_EINVAL;
        }
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    const char *hp_end = slash ? slash : p + strlen(p);
    const char *host = p, *host_end, *port = NULL;
    if (*p == '[') { /* [ipv6]:port */
        host = p + 1;
        host_end = memchr(p, ']', (size_t)(hp_end - p));
        if (!host_end) {
            baton_seterr(err, errlen, "redis URL: unterminated [ in host");
            return BATON_EINVAL;
        }
        if (host_end + 1 < hp_end && host_end[1] == ':')
            port = host_end + 2;
        else if (host_end + 1 != hp_end)
            goto bad_host;
    } else {
        host_end = memchr(p, ':', (size_t)(hp_end - p));
        if (host_end)
            port = host_end + 1;
        else
            host_end = hp_end;
    }
    if (host_end == host || (size_t)(host_end - host) >= sizeof(out->host))
        goto bad_host;
    memcpy(out->host, host, (size_t)(host_end - host));
    if (port && parse_int(port, (size_t)(hp_end - port), 1, 65535, &out->port) != 0) {
        baton_seterr(err, errlen, "redis URL: bad port");
        return BATON_EINVAL;
    }
    if (slash && slash[1] && parse_int(slash + 1, strlen(slash + 1), 0, 100000, &out->db) != 0) {
        baton_seterr(err, errlen, "redis URL: database must be a number after the /");
        return BATON_EINVAL;
    }
    return 0;
bad_host:
    baton_seterr(err, errlen, "redis URL: bad host");
    return BATON_EINVAL;
}
