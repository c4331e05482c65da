/* nt_text.c — what a notification says: templates per kind and channel with {{placeholders}}
 * from the request (no patient data: a request carries none, and the placeholders only reach
 * Baton's own ids and the pathway / stage titles), the webhook JSON body of API.md, its HMAC
 * signature and the WCTP 1.3 SubmitRequest. */
#include "notifier.h"

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kinds[] = {"assigned", "reminder", "escalation", "reassigned",
                                    "completed"};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const char *const builtin[NKINDS] = {
    "New task: {{stage_title}} ({{pathway_title}}). Task {{task_id}}.",
    "Reminder: {{stage_title}} ({{pathway_title}}) is waiting. Task {{task_id}}.",
    "ESCALATION level {{level}}: {{stage_title}} ({{pathway_title}}) needs action. Task "
    "{{task_id}}.",
    "Task reassigned to you: {{stage_title}} ({{pathway_title}}). Task {{task_id}}.",
    "Completed: {{stage_title}} ({{pathway_title}}). Task {{task_id}}."};
static const char builtin_other[] = "Baton {{kind}}: {{stage_title}} ({{pathway_title}}). Task "
                                    "{{task_id}}.";
static const char builtin_subject[] = "[Baton] {{kind}}: {{stage_title}}";

/* Loaded templates: [kind][channel], NULL = fall back to [kind][NT_CHANNELS] (the file
 * <kind>.txt), then the built-in text. */
static char *tpl[NKINDS][NT_CHANNELS + 1];
static char *subject_tpl;

/* The HMAC key is fixed for the process: one keyed context, re-initialised per signature
 * (HMAC() fetched the algorithm and built a context for every webhook). */
static pthread_mutex_t mac_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_MAC *mac_alg;
static EVP_MAC_CTX *mac_ctx;
static char *mac_key;

static void mac_clear(void)
{
    EVP_MAC_CTX_free(mac_ctx);
    EVP_MAC_free(mac_alg);
    free(mac_key);
    mac_ctx = NULL;
    mac_alg = NULL;
    mac_key = NULL;
}

static char *read_file(const char *dir, const char *name)
{
    char *path = baton_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f)
        return NULL;
    baton_buf_t b = BATON_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        baton_buf_append(&b, chunk, n);
    fclose(f);
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.data[--b.len] = 0; /* a trailing newline is the editor's, not the message's */
    if (!b.data)
        baton_buf_puts(&b, "");
    return baton_buf_steal(&b);
}

int nt_text_init(const nt_cfg_t *cfg, char *err, size_t errlen)
{
    const char *dir = cfg->templates_dir;
    if (!dir || !*dir)
        return 0;
    int found = 0;
    for (size_t k = 0; k < NKINDS; k++) {
        for (int c = 0; c <= NT_CHANNELS; c++) {
            char name[96];
            if (c < NT_CHANNELS)
                snprintf(name, sizeof name, "%s.%s.txt", kinds[k],
                         baton_roster_channel_name((baton_roster_channel_t)c));
            else
                snprintf(name, sizeof name, "%s.txt", kinds[k]);
            if ((tpl[k][c] = read_file(dir, name)))
                found++;
        }
    }
    if ((subject_tpl = read_file(dir, "subject.email.txt")))
        found++;
    if (!found) {
        baton_seterr(err, errlen, "BATON_NOTIFIER_TEMPLATES_DIR: no template files found");
        return BATON_ENOENT;
    }
    return 0;
}

void nt_text_free(void)
{
    for (size_t k = 0; k < NKINDS; k++)
        for (int c = 0; c <= NT_CHANNELS; c++) {
            free(tpl[k][c]);
            tpl[k][c] = NULL;
        }
    free(subject_tpl);
    subject_tpl = NULL;
    pthread_mutex_lock(&mac_lock);
    mac_clear();
    pthread_mutex_unlock(&mac_lock);
}

static int channel_index(const char *channel)
{
    for (int c = 0; c < NT_CHANNELS; c++)
        if (strcmp(channel, baton_roster_channel_name((baton_roster_channel_t)c)) == 0)
            return c;
    return 0;
}

/* The value of one placeholder. */
static void put_var(baton_buf_t *b, const Baton__V1__NotificationRequest *r, const char *name,
                    size_t n, int count)
{
#define IS(s) (n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
    char tmp[40];
    if (IS("kind"))
        baton_buf_puts(b, r->kind);
    else if (IS("pathway"))
        baton_buf_puts(b, r->pathway);
    else if (IS("pathway_title"))
        baton_buf_puts(b, *r->pathway_title ? r->pathway_title : r->pathway);
    else if (IS("stage"))
        baton_buf_puts(b, r->stage);
    else if (IS("stage_title"))
        baton_buf_puts(b, *r->stage_title ? r->stage_title : r->stage);
    else if (IS("level"))
        baton_buf_appendf(b, "%d", (int)r->level);
    else if (IS("task_id"))
        baton_buf_puts(b, r->task_id);
    else if (IS("instance_id"))
        baton_buf_puts(b, r->instance_id);
    else if (IS("person"))
        baton_buf_puts(b, r->person);
    else if (IS("id"))
        baton_buf_puts(b, r->notification_id);
    else if (IS("count"))
        baton_buf_appendf(b, "%d", count);
    else if (IS("created_at") && baton_time_format(r->created_at_ms, tmp, sizeof tmp) == 0)
        baton_buf_puts(b, tmp);
#undef IS
}

static char *expand(const char *t, const Baton__V1__NotificationRequest *r, int count)
{
    baton_buf_t b = BATON_BUF_INIT;
    while (*t) {
        const char *open = strstr(t, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (!close) {
            baton_buf_puts(&b, t);
            break;
        }
        baton_buf_append(&b, t, (size_t)(open - t));
        const char *name = open + 2;
        while (*name == ' ')
            name++;
        size_t n = (size_t)(close - name);
        while (n && name[n - 1] == ' ')
            n--;
        put_var(&b, r, name, n, count);
        t = close + 2;
    }
    if (!b.data)
        baton_buf_puts(&b, "");
    return baton_buf_steal(&b);
}

char *nt_text_render(const Baton__V1__NotificationRequest *r, const char *channel)
{
    int c = channel_index(channel);
    const char *t = builtin_other;
    for (size_t k = 0; k < NKINDS; k++)
        if (strcmp(r->kind, kinds[k]) == 0) {
            t = tpl[k][c] ? tpl[k][c] : tpl[k][NT_CHANNELS] ? tpl[k][NT_CHANNELS] : builtin[k];
            break;
        }
    return expand(t, r, 1);
}

char *nt_text_subject(const Baton__V1__NotificationRequest *r, int count)
{
    if (count > 1 && !subject_tpl)
        return baton_xasprintf("[Baton] %d notifications", count);
    return expand(subject_tpl ? subject_tpl : builtin_subject, r, count);
}

char *nt_text_for(const nt_delivery_t *d, const char *channel)
{
    if (d->njobs == 1)
        return nt_text_render(d->jobs->env->notification_request, channel);
    /* a bundle: a count line, then one line per notification (email / webhook keep the
     * newlines; SMS and pagers show them as the gateway does) */
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_appendf(&b, "%d Baton notifications:", d->njobs);
    for (const nt_job_t *j = d->jobs; j; j = j->next) {
        char *t = nt_text_render(j->env->notification_request, channel);
        baton_buf_appendf(&b, "\n%s", t);
        free(t);
    }
    return baton_buf_steal(&b);
}

static void json_str(baton_buf_t *b, const char *key, const char *v, bool comma)
{
    baton_buf_appendf(b, "%s\"%s\":\"", comma ? "," : "", key);
    baton_json_escape(b, v);
    baton_buf_putc(b, '"');
}

/* The members of one notification (without braces), in API.md's order. */
static void json_item(baton_buf_t *b, const char *id, const Baton__V1__NotificationRequest *r,
                      const char *text, bool with_person)
{
    char ts[BATON_RFC3339_LEN] = "";
    baton_time_format(r->created_at_ms, ts, sizeof ts);
    json_str(b, "id", id, false);
    json_str(b, "kind", r->kind, true);
    if (with_person)
        json_str(b, "person", r->person, true);
    json_str(b, "task_id", r->task_id, true);
    json_str(b, "instance_id", r->instance_id, true);
    json_str(b, "pathway", r->pathway, true);
    json_str(b, "stage", r->stage, true);
    baton_buf_appendf(b, ",\"level\":%d", (int)r->level);
    json_str(b, "text", text, true);
    json_str(b, "created_at", ts, true);
}

void nt_text_webhook_body(const nt_delivery_t *d, baton_buf_t *out)
{
    const Baton__V1__NotificationRequest *head = d->jobs->env->notification_request;
    char *text = nt_text_for(d, "webhook");
    baton_buf_putc(out, '{');
    json_item(out, d->njobs > 1 ? d->bundle_id : d->jobs->id, head, text, true);
    free(text);
    if (d->njobs > 1) {
        baton_buf_puts(out, ",\"bundle\":[");
        for (const nt_job_t *j = d->jobs; j; j = j->next) {
            const Baton__V1__NotificationRequest *r = j->env->notification_request;
            char *t = nt_text_render(r, "webhook");
            baton_buf_puts(out, j == d->jobs ? "{" : ",{");
            json_item(out, j->id, r, t, false);
            baton_buf_putc(out, '}');
            free(t);
        }
        baton_buf_putc(out, ']');
    }
    baton_buf_putc(out, '}');
}

/* HMAC-SHA256 of body with secret into mac (32 bytes); false when OpenSSL fails. */
static bool hmac_sha256(const char *secret, const void *body, size_t len, unsigned char *mac)
{
    pthread_mutex_lock(&mac_lock);
    bool ok = true;
    if (!mac_ctx || strcmp(mac_key, secret) != 0) {
        mac_clear();
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                               OSSL_PARAM_construct_end()};
        mac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
        mac_ctx = mac_alg ? EVP_MAC_CTX_new(mac_alg) : NULL;
        mac_key = baton_xstrdup(secret);
        ok = mac_ctx &&
             EVP_MAC_init(mac_ctx, (const unsigned char *)secret, strlen(secret), params) == 1;
    } else {
        ok = EVP_MAC_init(mac_ctx, NULL, 0, NULL) == 1; /* same key, fresh state */
    }
    size_t mlen = 0;
    ok = ok && EVP_MAC_update(mac_ctx, body, len) == 1 &&
         EVP_MAC_final(mac_ctx, mac, &mlen, 32) == 1 && mlen == 32;
    if (!ok)
        mac_clear();
    pthread_mutex_unlock(&mac_lock);
    return ok;
}

void nt_text_signature(const char *secret, const void *body, size_t len, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 32;
    if (!hmac_sha256(secret, body, len, mac)) /* cannot happen; the one-shot path then */
        HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &mlen);
    char sig[8 + 2 * EVP_MAX_MD_SIZE] = "sha256=";
    for (unsigned i = 0; i < mlen; i++) {
        sig[7 + 2 * i] = hex[mac[i] >> 4];
        sig[8 + 2 * i] = hex[mac[i] & 15];
    }
    sig[7 + 2 * mlen] = '\0';
    baton_strlcpy(out, sig, outlen);
}

void nt_xml_escape(baton_buf_t *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            baton_buf_puts(out, "&lt;");
            break;
        case '>':
            baton_buf_puts(out, "&gt;");
            break;
        case '&':
            baton_buf_puts(out, "&amp;");
            break;
        case '"':
            baton_buf_puts(out, "&quot;");
            break;
        case '\'':
            baton_buf_puts(out, "&apos;");
            break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' && *s != '\r')
                baton_buf_putc(out, ' '); /* not allowed in XML 1.0 */
            else
                baton_buf_putc(out, *s);
        }
    }
}

/* WCTP 1.3 enterprise submit: wctp-SubmitRequest with the header (originator, message
 * control, recipient) and an alphanumeric payload. messageID is the notification (or bundle)
 * id, so the carrier can drop a resent duplicate. */
void nt_text_wctp(const nt_cfg_t *cfg, const nt_delivery_t *d, const char *text, baton_buf_t *out)
{
    char ts[BATON_RFC3339_LEN] = "";
    baton_time_format(baton_now_ms(), ts, sizeof ts);
    ts[19] = 0; /* the DTD's submitTimestamp: yyyy-mm-ddThh:mm:ss (UTC) */
    baton_buf_puts(out,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<!DOCTYPE wctp-Operation SYSTEM \"http://dtd.wctp.org/wctp-dtd-v1r3.dtd\">\n"
                   "<wctp-Operation wctpVersion=\"wctp-dtd-v1r3\">\n"
                   "<wctp-SubmitRequest>\n");
    baton_buf_appendf(out, "<wctp-SubmitHeader submitTimestamp=\"%s\">\n", ts);
    baton_buf_puts(out, "<wctp-Originator senderID=\"");
    nt_xml_escape(out, cfg->wctp_sender);
    if (cfg->wctp_security_code && *cfg->wctp_security_code) {
        baton_buf_puts(out, "\" securityCode=\"");
        nt_xml_escape(out, cfg->wctp_security_code);
    }
    baton_buf_puts(out, "\"/>\n<wctp-MessageControl messageID=\"");
    nt_xml_escape(out, d->njobs > 1 ? d->bundle_id : d->jobs->id);
    baton_buf_puts(out, "\" allowResponse=\"false\" notifyWhenDelivered=\"false\"/>\n"
                        "<wctp-Recipient recipientID=\"");
    nt_xml_escape(out, d->address);
    baton_buf_puts(out, "\"/>\n</wctp-SubmitHeader>\n<wctp-Payload>\n<wctp-Alphanumeric>");
    nt_xml_escape(out, text);
    baton_buf_puts(out, "</wctp-Alphanumeric>\n</wctp-Payload>\n</wctp-SubmitRequest>\n"
                        "</wctp-Operation>\n");
}
