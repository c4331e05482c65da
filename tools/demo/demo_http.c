/* The demo's HTTP client: libcurl easy handles, one per call (the demo is not a load test). */
#include "demo.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    baton_buf_append(ud, p, size * n);
    return size * n;
}

int demo_http(const demo_conf_t *c, const char *method, const char *path, const char *bearer,
              const char *content_type, const char *body, demo_resp_t *out)
{
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    char *url = baton_xasprintf("%s%s", c->url, path);
    char *auth = baton_xasprintf("Authorization: Bearer %s", bearer ? bearer : c->api_key);
    char *ctype = content_type ? baton_xasprintf("Content-Type: %s", content_type) : NULL;
    struct curl_slist *hdrs = curl_slist_append(NULL, auth);
    if (ctype)
        hdrs = curl_slist_append(hdrs, ctype);
    baton_buf_t resp = BATON_BUF_INIT;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(h);
    out->status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = baton_buf_steal(&resp);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    free(url);
    free(auth);
    free(ctype);
    return rc == CURLE_OK ? 0 : -1;
}

json_t *demo_get_json(const demo_conf_t *c, const char *path)
{
    demo_resp_t r;
    json_t *j = NULL;
    if (demo_http(c, "GET", path, NULL, NULL, NULL, &r) == 0 && r.status == 200)
        j = json_loads(r.body, 0, NULL);
    free(r.body);
    return j;
}
