/* hl7_batch.c — HL7 batch files: FHS/BHS ... MSH ... BTS/FTS, split into messages. */
#include "hl7_internal.h"

#include <ctype.h>
#include <string.h>

typedef struct {
    size_t start, end; /* the current message's bytes in the copy; start == SIZE_MAX: none */
} cur_t;

static void push_msg(baton_hl7_batch_t *b, cur_t *cur)
{
    if (cur->start == (size_t)-1)
        return;
    size_t i = b->count++;
    b->msgs = baton_xrealloc(b->msgs, b->count * sizeof *b->msgs);
    b->errors = baton_xrealloc(b->errors, b->count * sizeof *b->errors);
    b->raw = baton_xrealloc(b->raw, b->count * sizeof *b->raw);
    b->raw_len = baton_xrealloc(b->raw_len, b->count * sizeof *b->raw_len);
    b->raw[i] = b->copy + cur->start;
    b->raw_len[i] = cur->end - cur->start;
    baton_hl7_parse(b->raw[i], b->raw_len[i], &b->msgs[i], &b->errors[i]);
    cur->start = (size_t)-1;
}

/* The 3-letter id of a line, or "" when it does not look like a segment. */
static void line_id(const char *p, size_t n, char id[4])
{
    id[0] = '\0';
    if (n < 3 || (n > 3 && isalnum((unsigned char)p[3])))
        return;
    memcpy(id, p, 3);
    id[3] = '\0';
}

int baton_hl7_batch_parse(const char *data, size_t len, baton_hl7_batch_t *out,
                          baton_hl7_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (err)
        memset(err, 0, sizeof *err);
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    out->copy = baton_xmalloc(len + 1);
    memcpy(out->copy, data, len);
    out->copy[len] = '\0';
    cur_t cur = {(size_t)-1, 0};
    int lines = 0;
    for (size_t pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && out->copy[end] != '\r' && out->copy[end] != '\n')
            end++;
        const char *p = out->copy + pos;
        size_t n = end - pos;
        size_t next = end + 1;
        int blank = 1;
        for (size_t i = 0; i < n && blank; i++)
            blank = p[i] == ' ' || p[i] == '\t';
        if (blank) {
            pos = next;
            continue;
        }
        lines++;
        char id[4];
        line_id(p, n, id);
        if (!strcmp(id, "FHS") && lines != 1) {
            hl7__seterr(err, BATON_EPARSE, "AE", BATON_HL7_ERR_SEGMENT_SEQUENCE, lines, "FHS", 0,
                        "segment %d: FHS must be the first segment", lines);
            goto err;
        }
        if (!strcmp(id, "FHS") || !strcmp(id, "BHS") || !strcmp(id, "BTS") || !strcmp(id, "FTS")) {
            push_msg(out, &cur);
        } else if (!strcmp(id, "MSH")) {
            push_msg(out, &cur);
            cur.start = pos;
            cur.end = end;
        } else if (cur.start != (size_t)-1) {
            cur.end = end;
        } else {
            hl7__seterr(err, BATON_EPARSE, "AE", BATON_HL7_ERR_SEGMENT_SEQUENCE, lines, "", 0,
                        "segment %d: expected MSH", lines);
            goto err;
        }
        pos = next;
    }
    push_msg(out, &cur);
    if (out->count == 0) {
        hl7__seterr(err, BATON_EPARSE, "AE", BATON_HL7_ERR_SEGMENT_SEQUENCE, 1, "MSH", 0,
                    "no MSH segment");
        goto err;
    }
    return 0;
err:
    baton_hl7_batch_free(out);
    return BATON_EPARSE;
}

void baton_hl7_batch_free(baton_hl7_batch_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->count; i++)
        baton_hl7_msg_free(b->msgs[i]);
    free(b->msgs);
    free(b->errors);
    free(b->raw);
    free(b->raw_len);
    free(b->copy);
    memset(b, 0, sizeof *b);
}
