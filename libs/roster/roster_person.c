/* People: validation of PUT /v1/people/{id} bodies (JSON-pointer-located errors, values never
 * echoed) and the canonical JSON they are stored as. */
#include "roster_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PERSON_MAX_BYTES (64 * 1024)
#define NAME_MAX_BYTES 200

static const char *const channel_names[] = {"webhook", "sms", "email", "pager"};

const char *baton_roster_channel_name(baton_roster_channel_t c)
{
    return (unsigned)c < 4 ? channel_names[c] : "unknown";
}

void baton_roster_person_free(baton_roster_person_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ncontacts; i++)
        free(p->contacts[i].address);
    free(p->contacts);
    free(p->tenant);
    free(p->id);
    free(p->name);
    free(p->quiet_tz);
    free(p);
}

/* ---- field checks (1 = fine) ---- */

static int text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int printable_ok(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return n >= min && n <= max;
}

static int url_ok(const char *s)
{
    size_t skip = !strncasecmp(s, "https://", 8) ? 8 : !strncasecmp(s, "http://", 7) ? 7 : 0;
    return skip && printable_ok(s, skip + 1, 512) && s[skip] != '/';
}

static int sms_ok(const char *s)
{
    size_t n = 0;
    if (*s++ != '+')
        return 0;
    for (; s[n]; n++)
        if (!isdigit((unsigned char)s[n]))
            return 0;
    return n >= 7 && n <= 15;
}

static int email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!printable_ok(s, 3, 254) || !at || at == s || strchr(at + 1, '@'))
        return 0;
    const char *dom = at + 1, *dot = strchr(dom, '.');
    size_t dn = strlen(dom);
    return dot && dot != dom && dom[dn - 1] != '.';
}

static int address_ok(baton_roster_channel_t c, const char *s)
{
    switch (c) {
    case BATON_ROSTER_WEBHOOK:
        return url_ok(s);
    case BATON_ROSTER_SMS:
        return sms_ok(s);
    case BATON_ROSTER_EMAIL:
        return email_ok(s);
    case BATON_ROSTER_PAGER:
        return printable_ok(s, 1, 128);
    }
    return 0;
}

static const char *const address_rule[] = {
    "must be an http:// or https:// URL",
    "must be an E.164 number: + and 7-15 digits",
    "must be an email address",
    "must be 1-128 printable characters without spaces",
};

/* "HH:MM" → minutes after midnight, or -1. */
static int hhmm(const char *s)
{
    if (strlen(s) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && !isdigit((unsigned char)s[i]))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

static int tz_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '/' || s[n - 1] == '/' || strstr(s, ".."))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || strchr("_+-/.", s[i])))
            return 0;
    return 1;
}

/* ---- parsing ---- */

typedef struct {
    baton_roster_errors_t *errs;
    baton_buf_t ptr; /* scratch for pointers */
} pctx_t;

/* Reports at pointer prefix + key (key may be NULL). */
static void bad(pctx_t *c, const char *prefix, const char *key, const char *detail)
{
    baton_buf_reset(&c->ptr);
    baton_buf_puts(&c->ptr, prefix);
    if (key)
        baton_json_pointer_append(&c->ptr, key);
    baton_roster__err(c->errs, c->ptr.data ? c->ptr.data : "", 0, "%s", detail);
}

/* A string member, or NULL (reporting missing / wrong type). */
static const char *str_member(pctx_t *c, json_t *o, const char *prefix, const char *key,
                              int required)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            bad(c, prefix, key, "required");
        return NULL;
    }
    if (!json_is_string(v)) {
        bad(c, prefix, key, "must be a string");
        return NULL;
    }
    return json_string_value(v);
}

static void unknown_keys(pctx_t *c, json_t *o, const char *prefix, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        size_t k = 0;
        while (known[k] && strcmp(known[k], key) != 0)
            k++;
        if (!known[k])
            bad(c, prefix, key, "unknown field");
    }
}

static void parse_contact(pctx_t *c, json_t *o, size_t i, baton_roster_contact_t *out)
{
    static const char *const known[] = {"channel", "address", NULL};
    char prefix[48];
    snprintf(prefix, sizeof prefix, "/contacts/%zu", i);
    if (!json_is_object(o)) {
        bad(c, prefix, NULL, "must be an object");
        return;
    }
    unknown_keys(c, o, prefix, known);
    const char *ch = str_member(c, o, prefix, "channel", 1);
    const char *addr = str_member(c, o, prefix, "address", 1);
    int chan = -1;
    for (int k = 0; ch && k < 4; k++)
        if (!strcmp(ch, channel_names[k]))
            chan = k;
    if (ch && chan < 0)
        bad(c, prefix, "channel", "must be one of webhook, sms, email, pager");
    if (addr && chan >= 0 && !address_ok((baton_roster_channel_t)chan, addr))
        bad(c, prefix, "address", address_rule[chan]);
    else if (addr && chan >= 0)
        *out = (baton_roster_contact_t){(baton_roster_channel_t)chan, baton_xstrdup(addr)};
}

static void parse_contacts(pctx_t *c, json_t *root, baton_roster_person_t *p)
{
    json_t *a = json_object_get(root, "contacts");
    if (!a) {
        bad(c, "", "contacts", "required");
        return;
    }
    size_t n = json_is_array(a) ? json_array_size(a) : 0;
    if (n < 1 || n > BATON_ROSTER_MAX_CONTACTS) {
        bad(c, "", "contacts", "must be an array of 1-16 contacts");
        return;
    }
    p->contacts = baton_xcalloc(n, sizeof *p->contacts);
    p->ncontacts = n;
    for (size_t i = 0; i < n; i++)
        parse_contact(c, json_array_get(a, i), i, &p->contacts[i]);
}

static void parse_quiet(pctx_t *c, json_t *root, baton_roster_person_t *p)
{
    static const char *const known[] = {"start", "end", "tz", NULL};
    json_t *q = json_object_get(root, "quiet_hours");
    if (!q || json_is_null(q))
        return;
    if (!json_is_object(q)) {
        bad(c, "", "quiet_hours", "must be an object");
        return;
    }
    unknown_keys(c, q, "/quiet_hours", known);
    const char *s = str_member(c, q, "/quiet_hours", "start", 1);
    const char *e = str_member(c, q, "/quiet_hours", "end", 1);
    const char *tz = str_member(c, q, "/quiet_hours", "tz", 0);
    int sm = s ? hhmm(s) : -1, em = e ? hhmm(e) : -1;
    if (s && sm < 0)
        bad(c, "/quiet_hours", "start", "must be a time of day HH:MM");
    if (e && em < 0)
        bad(c, "/quiet_hours", "end", "must be a time of day HH:MM");
    if (sm >= 0 && sm == em)
        bad(c, "/quiet_hours", "end", "must differ from start");
    if (tz && !tz_ok(tz))
        bad(c, "/quiet_hours", "tz", "must be an IANA time zone name");
    p->has_quiet_hours = sm >= 0 && em >= 0;
    p->quiet_start_min = sm;
    p->quiet_end_min = em;
    if (tz && tz_ok(tz))
        p->quiet_tz = baton_xstrdup(tz);
}

static void parse_person(pctx_t *c, const char *id, json_t *root, baton_roster_person_t *p)
{
    static const char *const known[] = {"id", "tenant", "name", "contacts", "quiet_hours", NULL};
    unknown_keys(c, root, "", known);
    const char *body_id = str_member(c, root, "", "id", 0);
    if (!baton_roster_ident_ok(id))
        bad(c, "", "id", BATON_ROSTER_IDENT_RULE);
    else if (body_id && strcmp(body_id, id) != 0)
        bad(c, "", "id", "does not match the id in the path");
    const char *tenant = str_member(c, root, "", "tenant", 1);
    if (tenant && !baton_roster_tenant_ok(tenant))
        bad(c, "", "tenant", BATON_ROSTER_TENANT_RULE);
    const char *name = str_member(c, root, "", "name", 1);
    if (name && !text_ok(name, NAME_MAX_BYTES))
        bad(c, "", "name", "must be 1-200 bytes of text without control characters");
    p->id = baton_xstrdup(id);
    p->tenant = baton_xstrdup(tenant ? tenant : "");
    p->name = baton_xstrdup(name ? name : "");
    parse_contacts(c, root, p);
    parse_quiet(c, root, p);
}

int baton_roster_person_parse(const char *id, const char *json, size_t len,
                              baton_roster_person_t **out, baton_roster_errors_t *errs)
{
    *out = NULL;
    if (len > PERSON_MAX_BYTES) {
        baton_roster__err(errs, "", 0, "body larger than %d bytes", PERSON_MAX_BYTES);
        return BATON_ETOOBIG;
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) { /* jerr.text may quote the input: report the place only */
        baton_roster__err(errs, "", 0, "invalid JSON at line %d column %d", jerr.line, jerr.column);
        return BATON_EINVAL;
    }
    if (!json_is_object(root)) {
        baton_roster__err(errs, "", 0, "must be a JSON object");
        json_decref(root);
        return BATON_EINVAL;
    }
    size_t before = errs->total;
    pctx_t c = {errs, BATON_BUF_INIT};
    baton_roster_person_t *p = baton_xcalloc(1, sizeof *p);
    parse_person(&c, id ? id : "", root, p);
    baton_buf_free(&c.ptr);
    json_decref(root);
    if (errs->total > before) {
        baton_roster_person_free(p);
        return BATON_EINVAL;
    }
    *out = p;
    return 0;
}

char *baton_roster_person_to_json(const baton_roster_person_t *p)
{
    json_t *o = json_object(), *a = json_array();
    json_object_set_new(o, "id", json_string(p->id));
    json_object_set_new(o, "tenant", json_string(p->tenant));
    json_object_set_new(o, "name", json_string(p->name));
    for (size_t i = 0; i < p->ncontacts; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "channel",
                                           baton_roster_channel_name(p->contacts[i].channel),
                                           "address", p->contacts[i].address));
    json_object_set_new(o, "contacts", a);
    if (p->has_quiet_hours) {
        char s[24], e[24];
        snprintf(s, sizeof s, "%02d:%02d", p->quiet_start_min / 60, p->quiet_start_min % 60);
        snprintf(e, sizeof e, "%02d:%02d", p->quiet_end_min / 60, p->quiet_end_min % 60);
        json_t *q = json_pack("{s:s, s:s}", "start", s, "end", e);
        if (p->quiet_tz)
            json_object_set_new(q, "tz", json_string(p->quiet_tz));
        json_object_set_new(o, "quiet_hours", q);
    }
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!txt)
        abort(); /* only fails on out-of-memory */
    return txt;
}
