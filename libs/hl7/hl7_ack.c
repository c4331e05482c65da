/* hl7_ack.c — the ACK a receiver sends back: MSH (swapped), MSA and, on error, ERR. */
#include "hl7_internal.h"

#include <string.h>
#include <time.h>

static const char *code_text(int code)
{
    switch (code) {
    case 0:
        return "Message accepted";
    case 100:
        return "Segment sequence error";
    case 101:
        return "Required field missing";
    case 102:
        return "Data type error";
    case 103:
        return "Table value not found";
    case 200:
        return "Unsupported message type";
    case 201:
        return "Unsupported event code";
    case 202:
        return "Unsupported processing id";
    case 203:
        return "Unsupported version id";
    default:
        return "Application internal error";
    }
}

/* Append raw MSH-field (whole field, as received: already escaped for these delimiters). */
static int put_field(baton_buf_t *b, const baton_hl7_msg_t *m, int field, int comp)
{
    const char *p;
    size_t n;
    if (!m || baton_hl7_raw(m, "MSH", 1, field, comp ? 1 : 0, comp, 0, &p, &n) != 0 || n == 0)
        return 0;
    baton_buf_append(b, p, n);
    return 1;
}

static void put_dtm(baton_buf_t *b, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    baton_buf_appendf(b, "%04d%02d%02d%02d%02d%02d+0000", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void put_control_id(baton_buf_t *b, const baton_hl7_ack_opts_t *o)
{
    if (o && o->control_id) {
        baton_buf_puts(b, o->control_id);
        return;
    }
    char id[BATON_ID_LEN], hex[33];
    size_t k = 0;
    baton_uuidv7(id);
    for (const char *p = id; *p && k < 32; p++)
        if (*p != '-')
            hex[k++] = *p;
    hex[k] = '\0';
    /* 20 characters (the ST length of MSH-10 before v2.7): the ms timestamp + random tail */
    baton_buf_append(b, hex, 12);
    baton_buf_append(b, hex + 24, 8);
}

/* Occurrence number of the err's segment among segments with the same id (ERL-2). */
static int seg_occurrence(const baton_hl7_msg_t *m, const baton_hl7_error_t *e)
{
    if (!m || e->segment < 1 || (size_t)e->segment > m->nsegs)
        return e->segment > 0 ? 1 : 0;
    int n = 0;
    for (int i = 0; i < e->segment; i++)
        n += memcmp(m->segs[i].id, m->segs[e->segment - 1].id, 3) == 0;
    return n;
}

/* Before v2.5 ERR had only ERR-1 (ELD: segment^sequence^field^code&text&HL70357); such
 * receivers get it filled in as well as the v2.5 fields, which they ignore. */
static int legacy_version(const baton_hl7_msg_t *m)
{
    const char *p;
    size_t n;
    if (!m || baton_hl7_raw(m, "MSH", 1, 12, 1, 1, 0, &p, &n) != 0 || n < 3)
        return 0;
    return p[0] == '2' && p[1] == '.' && p[2] >= '0' && p[2] <= '4' && (n == 3 || p[3] == '.');
}

static void put_location(baton_buf_t *b, const baton_hl7_msg_t *m, char cs,
                         const baton_hl7_error_t *e, int always_field)
{
    if (!e->seg_id[0])
        return;
    baton_buf_puts(b, e->seg_id);
    baton_buf_appendf(b, "%c%d", cs, seg_occurrence(m, e));
    if (e->field > 0 || always_field)
        baton_buf_putc(b, cs);
    if (e->field > 0)
        baton_buf_appendf(b, "%d", e->field);
}

static void put_err(baton_buf_t *b, const baton_hl7_msg_t *m, const baton_hl7_delims_t *d,
                    const baton_hl7_error_t *e)
{
    char fs = d->field, cs = d->comp;
    baton_buf_appendf(b, "ERR%c", fs);
    if (legacy_version(m)) { /* ERR-1 */
        put_location(b, m, cs, e, 1);
        if (!e->seg_id[0])
            baton_buf_appendf(b, "%c%c", cs, cs);
        baton_buf_appendf(b, "%c%d", cs, e->hl7_code);
        if (d->sub)
            baton_buf_appendf(b, "%c%s%cHL70357", d->sub, code_text(e->hl7_code), d->sub);
    }
    baton_buf_putc(b, fs);
    put_location(b, m, cs, e, 0); /* ERR-2 error location */
    baton_buf_appendf(b, "%c%d%c%s%cHL70357%cE", fs, e->hl7_code, cs, code_text(e->hl7_code), cs,
                      fs);
    baton_buf_appendf(b, "%c%c%c%c", fs, fs, fs, fs); /* ERR-5..7 empty, then ERR-8 */
    baton_hl7_escape(d, e->text, b);
    baton_buf_putc(b, '\r');
}

char *baton_hl7_ack(const baton_hl7_msg_t *msg, const baton_hl7_error_t *err,
                    const baton_hl7_ack_opts_t *opts, size_t *len)
{
    baton_hl7_delims_t d = {'|', '^', '~', '\\', '&', 0};
    if (msg)
        d = msg->d;
    char fs = d.field;
    int ok = !err || err->code == 0;
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_appendf(&b, "MSH%c", fs);
    if (!put_field(&b, msg, 2, 0))
        baton_buf_puts(&b, "^~\\&");
    baton_buf_putc(&b, fs);
    if (!put_field(&b, msg, 5, 0))
        baton_buf_puts(&b, opts && opts->app ? opts->app : "BATON");
    baton_buf_putc(&b, fs);
    if (!put_field(&b, msg, 6, 0) && opts && opts->facility)
        baton_buf_puts(&b, opts->facility);
    baton_buf_putc(&b, fs);
    put_field(&b, msg, 3, 0);
    baton_buf_putc(&b, fs);
    put_field(&b, msg, 4, 0);
    baton_buf_putc(&b, fs);
    put_dtm(&b, opts && opts->now_ms ? opts->now_ms : baton_now_ms());
    baton_buf_appendf(&b, "%c%cACK", fs, fs);
    const char *p;
    size_t n;
    if (msg && baton_hl7_raw(msg, "MSH", 1, 9, 1, 2, 0, &p, &n) == 0 && n > 0) {
        baton_buf_putc(&b, d.comp);
        baton_buf_append(&b, p, n);
        baton_buf_appendf(&b, "%cACK", d.comp);
    }
    baton_buf_putc(&b, fs);
    put_control_id(&b, opts);
    baton_buf_putc(&b, fs);
    if (!put_field(&b, msg, 11, 0))
        baton_buf_putc(&b, 'P');
    baton_buf_putc(&b, fs);
    if (!put_field(&b, msg, 12, 0))
        baton_buf_puts(&b, "2.5");
    baton_buf_appendf(&b, "\rMSA%c%s%c", fs, ok ? "AA" : (err->ack[0] ? err->ack : "AE"), fs);
    put_field(&b, msg, 10, 0);
    baton_buf_putc(&b, '\r');
    if (!ok)
        put_err(&b, msg, &d, err);
    if (len)
        *len = b.len;
    return baton_buf_steal(&b);
}

char *baton_hl7_ack_raw(const char *data, size_t len, const baton_hl7_error_t *err,
                        const baton_hl7_ack_opts_t *opts, size_t *outlen)
{
    baton_hl7_msg_t *m = NULL;
    baton_hl7_error_t ignored;
    hl7__parse(data, len, 0, &m, &ignored);
    char *ack = baton_hl7_ack(m, err, opts, outlen);
    baton_hl7_msg_free(m);
    return ack;
}
