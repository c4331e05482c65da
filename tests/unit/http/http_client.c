/* http_client.c — see http_client.h. */
#include "http_client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *data;
    size_t len, off;
} upload_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    baton_buf_append(ud, p, sz * n);
    return sz * n;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
    upload_t *u = ud;
    size_t want = sz * n, left = u->len - u->off;
    if (want > 1000)
        want = 1000; /* several chunks */
    if (want > left)
        want = left;
    memcpy(p, u->data + u->off, want);
    u->off += want;
    return want;
}

void http_do(CURL *curl, const char *method, const char *url, const char *body, size_t len,
             const char *const *headers, int chunked, reply_t *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl ? curl : curl_easy_init();
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    upload_t up = {body, len, 0};
    if (body && chunked) {
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    const char *ca = getenv("HTTP_TEST_CAINFO");
    if (ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    out->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &out->new_connections);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    baton_strlcpy(out->ctype, ct ? ct : "", sizeof out->ctype);
    if (!out->body.data)
        baton_buf_puts(&out->body, "");
    if (!out->headers.data)
        baton_buf_puts(&out->headers, "");
    curl_slist_free_all(hl);
    if (!curl)
        curl_easy_cleanup(c);
}

const char *reply_header(const reply_t *r, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = r->headers.data; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(eol - v);
            if (vl >= len)
                vl = len - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
        }
        p = eol + 2;
    }
    return buf;
}

void reply_free(reply_t *r)
{
    baton_buf_free(&r->body);
    baton_buf_free(&r->headers);
}

__attribute__((constructor)) static void http_client_global_init(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}
