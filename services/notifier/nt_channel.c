/* nt_channel.c — one libcurl transfer per delivery, by channel:
 *   webhook  POST the API.md JSON body with X-Baton-Signature to the contact's URL; 2xx
 *   sms      POST to the configured gateway, form or JSON body with configurable field names,
 *            credentials from the environment (a whole Authorization header, or basic); 2xx
 *   email    SMTP (libcurl smtp:// / smtps://): MAIL FROM, RCPT TO, a minimal RFC 5322
 *            message; curl's OK means the server accepted the DATA (250)
 *   pager    WCTP 1.3 wctp-SubmitRequest over HTTP POST; 2xx with a wctp-Confirmation
 *            holding wctp-Success
 * Error texts are curl's generic ones or status codes: never addresses or message text. */
#include "notifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NT_MAX_RESPONSE (64 * 1024)

bool nt_channel_enabled(const nt_cfg_t *cfg, baton_roster_channel_t c)
{
    switch (c) {
    case BATON_ROSTER_WEBHOOK:
        return true;
    case BATON_ROSTER_SMS:
        return cfg->sms_url && *cfg->sms_url;
    case BATON_ROSTER_EMAIL:
        return cfg->smtp_url && *cfg->smtp_url;
    case BATON_ROSTER_PAGER:
        return cfg->wctp_url && *cfg->wctp_url;
    }
    return false;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    nt_delivery_t *d = ud;
    size_t len = size * n;
    if (d->resp.len < NT_MAX_RESPONSE)
        baton_buf_append(&d->resp, p, len);
    return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
    nt_delivery_t *d = ud;
    size_t left = d->body.len - d->upload_off, want = size * n;
    if (want > left)
        want = left;
    memcpy(p, d->body.data + d->upload_off, want);
    d->upload_off += want;
    return want;
}

static int timeout_for(const nt_cfg_t *cfg, const nt_delivery_t *d)
{
    if (d->ep && d->ep->timeout_ms > 0)
        return d->ep->timeout_ms;
    switch (d->channel) {
    case BATON_ROSTER_SMS:
        return (int)cfg->sms_timeout_ms;
    case BATON_ROSTER_EMAIL:
        return (int)cfg->smtp_timeout_ms;
    case BATON_ROSTER_PAGER:
        return (int)cfg->wctp_timeout_ms;
    default:
        return (int)cfg->webhook_timeout_ms;
    }
}

static void header(nt_delivery_t *d, const char *fmt, const char *v)
{
    char *h = baton_xasprintf(fmt, v);
    d->headers = curl_slist_append(d->headers, h);
    free(h);
}

static void post(nt_delivery_t *d, const char *url)
{
    curl_easy_setopt(d->easy, CURLOPT_URL, url);
    curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(d->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(d->easy, CURLOPT_POSTFIELDS, d->body.data ? d->body.data : "");
    curl_easy_setopt(d->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->body.len);
    d->headers = curl_slist_append(d->headers, "Expect:");
}

static const char *delivery_id(const nt_delivery_t *d)
{
    return d->njobs > 1 ? d->bundle_id : d->jobs->id;
}

static int prepare_webhook(nt_svc_t *s, nt_delivery_t *d)
{
    nt_text_webhook_body(d, &d->body);
    char sig[80];
    nt_text_signature(s->cfg->webhook_secret, d->body.data, d->body.len, sig, sizeof sig);
    header(d, "Content-Type: %s", "application/json");
    header(d, "X-Baton-Signature: %s", sig);
    header(d, "X-Baton-Notification-Id: %s", delivery_id(d));
    post(d, d->address);
    return 0;
}

static void form_field(CURL *e, baton_buf_t *b, const char *name, const char *v)
{
    char *k = curl_easy_escape(e, name, 0), *x = curl_easy_escape(e, v, 0);
    baton_buf_appendf(b, "%s%s=%s", b->len ? "&" : "", k, x);
    curl_free(k);
    curl_free(x);
}

static void json_field(baton_buf_t *b, const char *name, const char *v)
{
    baton_buf_puts(b, b->len > 1 ? ",\"" : "\"");
    baton_json_escape(b, name);
    baton_buf_puts(b, "\":\"");
    baton_json_escape(b, v);
    baton_buf_putc(b, '"');
}

static int prepare_sms(nt_svc_t *s, nt_delivery_t *d)
{
    const nt_cfg_t *c = s->cfg;
    char *text = nt_text_for(d, "sms");
    bool json = strcmp(c->sms_format, "json") == 0;
    bool from = c->sms_from && *c->sms_from;
    if (json) {
        baton_buf_putc(&d->body, '{');
        json_field(&d->body, c->sms_to_field, d->address);
        json_field(&d->body, c->sms_text_field, text);
        if (from)
            json_field(&d->body, c->sms_from_field, c->sms_from);
        baton_buf_putc(&d->body, '}');
        header(d, "Content-Type: %s", "application/json");
    } else {
        form_field(d->easy, &d->body, c->sms_to_field, d->address);
        form_field(d->easy, &d->body, c->sms_text_field, text);
        if (from)
            form_field(d->easy, &d->body, c->sms_from_field, c->sms_from);
        header(d, "Content-Type: %s", "application/x-www-form-urlencoded");
    }
    free(text);
    if (c->sms_auth_header && *c->sms_auth_header) {
        header(d, "Authorization: %s", c->sms_auth_header);
    } else if (c->sms_user && *c->sms_user) {
        curl_easy_setopt(d->easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(d->easy, CURLOPT_USERNAME, c->sms_user);
        curl_easy_setopt(d->easy, CURLOPT_PASSWORD, c->sms_password ? c->sms_password : "");
    }
    header(d, "X-Baton-Notification-Id: %s", delivery_id(d));
    post(d, c->sms_url);
    return 0;
}

/* A header value without line breaks (header injection) */
static void put_header_value(baton_buf_t *b, const char *v)
{
    for (; *v; v++)
        baton_buf_putc(b, (*v == '\r' || *v == '\n') ? ' ' : *v);
}

static int prepare_email(nt_svc_t *s, nt_delivery_t *d)
{
    const nt_cfg_t *c = s->cfg;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    char *subject = nt_text_subject(d->jobs->env->notification_request, d->njobs);
    char *text = nt_text_for(d, "email");
    baton_buf_t *b = &d->body;
    baton_buf_appendf(b, "Date: %s\r\nFrom: ", date);
    put_header_value(b, c->smtp_from);
    baton_buf_puts(b, "\r\nTo: ");
    put_header_value(b, d->address);
    baton_buf_puts(b, "\r\nSubject: ");
    put_header_value(b, subject);
    baton_buf_appendf(b, "\r\nMessage-ID: <%s@baton.notifier>\r\n", delivery_id(d));
    baton_buf_appendf(b, "X-Baton-Notification-Id: %s\r\n", delivery_id(d));
    baton_buf_puts(b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: 8bit\r\n\r\n");
    for (const char *p = text; *p; p++) { /* bare LF → CRLF */
        if (*p == '\n' && (p == text || p[-1] != '\r'))
            baton_buf_putc(b, '\r');
        baton_buf_putc(b, *p);
    }
    baton_buf_puts(b, "\r\n");
    free(subject);
    free(text);
    char *from = baton_xasprintf("<%s>", c->smtp_from);
    char *rcpt = baton_xasprintf("<%s>", d->address);
    d->rcpt = curl_slist_append(NULL, rcpt);
    curl_easy_setopt(d->easy, CURLOPT_URL, c->smtp_url);
    curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(d->easy, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(d->easy, CURLOPT_MAIL_RCPT, d->rcpt);
    curl_easy_setopt(d->easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(d->easy, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(d->easy, CURLOPT_READDATA, d);
    curl_easy_setopt(d->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)b->len);
    curl_easy_setopt(d->easy, CURLOPT_USE_SSL,
                     c->smtp_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
    if (c->smtp_user && *c->smtp_user) {
        curl_easy_setopt(d->easy, CURLOPT_USERNAME, c->smtp_user);
        curl_easy_setopt(d->easy, CURLOPT_PASSWORD, c->smtp_password ? c->smtp_password : "");
    }
    free(from); /* curl copies string options */
    free(rcpt);
    return 0;
}

static int prepare_pager(nt_svc_t *s, nt_delivery_t *d)
{
    char *text = nt_text_for(d, "pager");
    nt_text_wctp(s->cfg, d, text, &d->body);
    free(text);
    header(d, "Content-Type: %s", "text/xml; charset=utf-8");
    post(d, s->cfg->wctp_url);
    return 0;
}

/* A pooled easy handle, or a new one. One last set up for the same channel is taken as it
 * is: nt_channel_prepare sets every option that channel uses again, and a channel sets the
 * same set of options each time (they depend on the configuration only). Another one is
 * reset first. */
static CURL *easy_get(nt_svc_t *s, baton_roster_channel_t ch)
{
    if (!s->easy_n)
        return curl_easy_init();
    CURL *e = s->easy_pool[--s->easy_n];
    if (s->easy_ch[s->easy_n] != ch)
        curl_easy_reset(e);
    return e;
}

int nt_channel_prepare(nt_svc_t *s, nt_delivery_t *d, char *err, size_t errlen)
{
    if (!nt_channel_enabled(s->cfg, d->channel)) {
        baton_seterr(err, errlen, "channel %s not configured",
                     baton_roster_channel_name(d->channel));
        return BATON_EINVAL;
    }
    d->easy = easy_get(s, d->channel);
    if (!d->easy) {
        baton_seterr(err, errlen, "curl_easy_init failed");
        return BATON_EIO;
    }
    CURL *e = d->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, d);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_for(s->cfg, d));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->cfg->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "baton-notifier/" BATON_VERSION);
    int rc;
    switch (d->channel) {
    case BATON_ROSTER_SMS:
        rc = prepare_sms(s, d);
        break;
    case BATON_ROSTER_EMAIL:
        rc = prepare_email(s, d);
        break;
    case BATON_ROSTER_PAGER:
        rc = prepare_pager(s, d);
        break;
    default:
        rc = prepare_webhook(s, d);
        break;
    }
    if (d->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
    return rc;
}

void nt_channel_release(nt_svc_t *s, nt_delivery_t *d)
{
    if (!d->easy)
        return;
    if (s->easy_n < NT_EASY_POOL) {
        s->easy_ch[s->easy_n] = d->channel;
        s->easy_pool[s->easy_n++] = d->easy;
    } else {
        curl_easy_cleanup(d->easy);
    }
    d->easy = NULL;
}

void nt_channel_pool_free(nt_svc_t *s)
{
    while (s->easy_n)
        curl_easy_cleanup(s->easy_pool[--s->easy_n]);
}

bool nt_channel_result(nt_svc_t *s, nt_delivery_t *d, CURLcode rc, char *err, size_t errlen)
{
    (void)s;
    long code = 0;
    curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        if (rc == CURLE_OPERATION_TIMEDOUT)
            baton_seterr(err, errlen, "timeout");
        else if (d->channel == BATON_ROSTER_EMAIL && code >= 400)
            baton_seterr(err, errlen, "smtp %ld: %s", code, curl_easy_strerror(rc));
        else
            baton_seterr(err, errlen, "%s", curl_easy_strerror(rc));
        return false;
    }
    if (d->channel == BATON_ROSTER_EMAIL)
        return true;
    if (code < 200 || code > 299) {
        baton_seterr(err, errlen, "http %ld", code);
        return false;
    }
    if (d->channel == BATON_ROSTER_PAGER) {
        const char *body = d->resp.data ? d->resp.data : "";
        if (!strstr(body, "wctp-Confirmation") || !strstr(body, "wctp-Success")) {
            const char *f = strstr(body, "errorCode=\"");
            int ec = f ? atoi(f + 11) : 0;
            if (ec)
                baton_seterr(err, errlen, "wctp failure %d", ec);
            else
                baton_seterr(err, errlen, "wctp: no success confirmation");
            return false;
        }
    }
    return true;
}
