/* http_client.h — a small libcurl client for the http tests. */
#ifndef BATON_TEST_HTTP_CLIENT_H
#define BATON_TEST_HTTP_CLIENT_H

#include "baton/core.h"
#include <curl/curl.h>

typedef struct {
    long status;
    baton_buf_t body;
    baton_buf_t headers; /* raw header block(s), lines as received */
    char ctype[128];
    long new_connections; /* CURLINFO_NUM_CONNECTS */
    CURLcode rc;
} reply_t;

/* One request. curl may be NULL (fresh handle) or a handle reused for keep-alive.
 * headers: NULL-terminated "Name: value" list or NULL. body NULL = no body.
 * chunked: send the body with Transfer-Encoding: chunked. */
void http_do(CURL *curl, const char *method, const char *url, const char *body, size_t len,
             const char *const *headers, int chunked, reply_t *out);
/* The value of response header name (case-insensitive) into buf, "" if absent. */
const char *reply_header(const reply_t *r, const char *name, char *buf, size_t len);
void reply_free(reply_t *r);

#endif
