/* Shift import from CSV (POST /v1/shifts:import).
 *
 * The reader is hand-written on purpose: Debian 12 has no maintained C CSV library that fits
 * cleanly (libcsv, the only packaged one, has seen no release since 2013 and its callback API
 * would still need the line tracking, limits and error collection written here). It follows
 * RFC 4180 with the leniencies real scheduling exports need: CRLF, LF or lone CR line ends, a
 * UTF-8 byte-order mark, blank lines, blanks around fields, a bare quote inside an unquoted
 * field taken literally. Input is untrusted and fuzzed (tests/fuzz/roster): every read is
 * bounds-checked against `end`, never against a NUL terminator. */
#include "roster_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_MAX_FIELDS 256

typedef struct {
    size_t off, len; /* into text */
    int nul;         /* the field holds a NUL byte */
} csv_field_t;

typedef struct {
    const char *p, *end;
    size_t line; /* physical line at p, 1-based */
    int fatal;   /* no further records can be read (unterminated quote) */
    /* the current record */
    baton_buf_t text; /* the fields' bytes, each NUL-terminated */
    csv_field_t f[CSV_MAX_FIELDS];
    size_t nf;
    size_t rec_line; /* line the record starts on */
    const char *err; /* first structural problem in the record, static text */
} csv_reader_t;

static void field_begin(csv_reader_t *r)
{
    if (r->nf < CSV_MAX_FIELDS)
        r->f[r->nf] = (csv_field_t){r->text.len, 0, 0};
    else if (!r->err)
        r->err = "more than 256 fields";
    r->nf++;
}

static void put(csv_reader_t *r, char c)
{
    if (r->nf > CSV_MAX_FIELDS)
        return;
    if (c == '\0')
        r->f[r->nf - 1].nul = 1;
    baton_buf_putc(&r->text, c);
}

static void field_end(csv_reader_t *r)
{
    if (r->nf > CSV_MAX_FIELDS)
        return;
    r->f[r->nf - 1].len = r->text.len - r->f[r->nf - 1].off;
    baton_buf_putc(&r->text, '\0');
}

static int at_eol(const csv_reader_t *r)
{
    return r->p < r->end && (*r->p == '\n' || *r->p == '\r');
}

static void skip_blanks(csv_reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t'))
        r->p++;
}

/* The inside of a quoted field, after the opening quote. 0, or -1 at end of input. */
static int read_quoted(csv_reader_t *r)
{
    for (;;) {
        if (r->p >= r->end)
            return -1;
        char c = *r->p++;
        if (c == '"') {
            if (r->p < r->end && *r->p == '"') {
                put(r, '"');
                r->p++;
                continue;
            }
            return 0;
        }
        put(r, c);
        if (c == '\n' || c == '\r') { /* a line break inside the field: kept, counted */
            if (c == '\r' && r->p < r->end && *r->p == '\n')
                put(r, *r->p++);
            r->line++;
        }
    }
}

/* Reads the next record. 1 = a record (r->err may be set), 0 = no more records. */
static int csv_next(csv_reader_t *r)
{
    if (r->fatal || r->p >= r->end)
        return 0;
    baton_buf_reset(&r->text);
    r->nf = 0;
    r->err = NULL;
    r->rec_line = r->line;
    for (;;) {
        field_begin(r);
        skip_blanks(r);
        if (r->p < r->end && *r->p == '"') {
            r->p++;
            if (read_quoted(r) != 0) {
                field_end(r);
                r->err = "unterminated quoted field";
                r->fatal = 1;
                return 1;
            }
            skip_blanks(r);
            if (r->p < r->end && *r->p != ',' && !at_eol(r)) {
                if (!r->err)
                    r->err = "unexpected character after a closing quote";
                while (r->p < r->end && *r->p != ',' && !at_eol(r))
                    r->p++;
            }
        } else {
            while (r->p < r->end && *r->p != ',' && !at_eol(r))
                put(r, *r->p++);
        }
        field_end(r);
        if (r->p >= r->end)
            return 1;
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p++ == '\r' && r->p < r->end && *r->p == '\n')
            r->p++;
        r->line++;
        return 1;
    }
}

/* Field i of the record with blanks trimmed, or "" when the record has fewer fields.
 * *nul is set when the field holds a NUL byte. Trims in place. */
static const char *field(csv_reader_t *r, int i, int *nul)
{
    *nul = 0;
    if (i < 0 || (size_t)i >= r->nf || (size_t)i >= CSV_MAX_FIELDS)
        return "";
    char *s = r->text.data + r->f[i].off;
    size_t n = r->f[i].len;
    *nul = r->f[i].nul;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int record_blank(csv_reader_t *r)
{
    size_t n = r->nf < CSV_MAX_FIELDS ? r->nf : CSV_MAX_FIELDS;
    for (size_t i = 0; i < n; i++) {
        int nul;
        if (*field(r, (int)i, &nul) || nul)
            return 0;
    }
    return !r->err;
}

/* ---- columns ---- */

enum { C_ID, C_TENANT, C_FACILITY, C_UNIT, C_ROLE, C_PERSON, C_START, C_END, C_TIER, C_N };
/* "shift_id", not "id": exports often carry an unrelated "ID" column (an employee number),
 * which must stay an ignored extra column. */
static const char *const col_names[C_N] = {"shift_id", "tenant", "facility", "unit", "role",
                                           "person",   "start",  "end",      "tier"};
static const int col_required[C_N] = {0, 1, 1, 0, 1, 1, 1, 1, 0};

/* Maps the header record to column positions (col[c] = field index or -1). */
static int read_header(csv_reader_t *r, int col[C_N], baton_roster_errors_t *errs)
{
    int bad = 0;
    for (int c = 0; c < C_N; c++)
        col[c] = -1;
    size_t n = r->nf < CSV_MAX_FIELDS ? r->nf : CSV_MAX_FIELDS;
    for (size_t i = 0; i < n; i++) {
        int nul;
        const char *name = field(r, (int)i, &nul);
        for (int c = 0; c < C_N && !nul; c++) {
            if (strcasecmp(name, col_names[c]) != 0)
                continue;
            if (col[c] >= 0) {
                baton_roster__err(errs, "", r->rec_line, "line %zu: duplicate column %s",
                                  r->rec_line, col_names[c]);
                bad++;
            }
            col[c] = (int)i;
        }
    }
    for (int c = 0; c < C_N; c++) {
        if (col_required[c] && col[c] < 0) {
            baton_roster__err(errs, "", r->rec_line, "line %zu: missing column %s", r->rec_line,
                              col_names[c]);
            bad++;
        }
    }
    return bad;
}

/* ---- rows ---- */

typedef struct {
    baton_roster_errors_t *errs;
    size_t line;
    const size_t *lines; /* line of each row, for the batch checks */
} csv_ctx_t;

static void csv_report(void *vctx, const char *fld, const char *json_detail, const char *csv_detail)
{
    csv_ctx_t *c = vctx;
    (void)fld, (void)json_detail;
    baton_roster__err(c->errs, "", c->line, "line %zu: %s", c->line, csv_detail);
}

static void csv_tenant_mismatch(void *vctx, size_t i, size_t first, int vs_caller)
{
    csv_ctx_t *c = vctx;
    size_t line = c->lines[i];
    if (vs_caller)
        baton_roster__err(c->errs, "", line, "line %zu: tenant does not match the caller's tenant",
                          line);
    else
        baton_roster__err(c->errs, "", line,
                          "line %zu: tenant differs from line %zu (one tenant per import)", line,
                          c->lines[first]);
}

static void csv_dup_conflict(void *vctx, size_t i, size_t first)
{
    csv_ctx_t *c = vctx;
    size_t line = c->lines[i];
    baton_roster__err(c->errs, "", line,
                      "line %zu: same shift id as line %zu with different content", line,
                      c->lines[first]);
}

/* Validates the current record into *item; returns problems found. */
static int read_row(csv_reader_t *r, const int col[C_N], baton_roster_shift_t *item, csv_ctx_t *ctx)
{
    const char *v[C_N];
    int bad = 0;
    for (int c = 0; c < C_N; c++) {
        int nul;
        v[c] = field(r, col[c], &nul);
        if (nul) {
            baton_roster__err(ctx->errs, "", r->rec_line, "line %zu: %s contains a NUL byte",
                              r->rec_line, col_names[c]);
            bad++;
        }
    }
    if (bad)
        return bad;
    baton_roster__raw_shift_t raw = {.id = v[C_ID],
                                     .tenant = v[C_TENANT],
                                     .facility = v[C_FACILITY],
                                     .unit = v[C_UNIT],
                                     .role = v[C_ROLE],
                                     .person = v[C_PERSON],
                                     .start = v[C_START],
                                     .end = v[C_END],
                                     .tier_text = v[C_TIER]};
    ctx->line = r->rec_line;
    return baton_roster__shift_build(&raw, item, csv_report, ctx);
}

typedef struct {
    baton_roster_shift_t *items;
    unsigned char *valid;
    size_t *lines;
    size_t n, cap;
} rows_t;

static size_t rows_add(rows_t *rows, size_t line)
{
    if (rows->n == rows->cap) {
        rows->cap = rows->cap ? rows->cap * 2 : 64;
        rows->items = baton_xrealloc(rows->items, rows->cap * sizeof *rows->items);
        rows->valid = baton_xrealloc(rows->valid, rows->cap);
        rows->lines = baton_xrealloc(rows->lines, rows->cap * sizeof *rows->lines);
    }
    memset(&rows->items[rows->n], 0, sizeof rows->items[0]);
    rows->valid[rows->n] = 0;
    rows->lines[rows->n] = line;
    return rows->n++;
}

/* Reads every data row after the header. Returns 0 or BATON_ETOOBIG. */
static int read_rows(csv_reader_t *r, const int col[C_N], rows_t *rows, baton_roster_errors_t *errs)
{
    csv_ctx_t ctx = {errs, 0, NULL};
    while (csv_next(r)) {
        if (record_blank(r))
            continue;
        if (rows->n == BATON_ROSTER_MAX_SHIFTS) {
            baton_roster__err(errs, "", r->rec_line, "line %zu: more than %d shifts", r->rec_line,
                              BATON_ROSTER_MAX_SHIFTS);
            return BATON_ETOOBIG;
        }
        size_t i = rows_add(rows, r->rec_line);
        if (r->err) {
            baton_roster__err(errs, "", r->rec_line, "line %zu: %s", r->rec_line, r->err);
            continue;
        }
        rows->valid[i] = read_row(r, col, &rows->items[i], &ctx) == 0;
    }
    return 0;
}

int baton_roster_shifts_parse_csv(const char *csv, size_t len, const char *tenant,
                                  baton_roster_shifts_t *out, baton_roster_errors_t *errs)
{
    out->v = NULL;
    out->n = 0;
    if (len > BATON_ROSTER_MAX_BYTES) {
        baton_roster__err(errs, "", 0, "file larger than %u bytes", BATON_ROSTER_MAX_BYTES);
        return BATON_ETOOBIG;
    }
    size_t before = errs->total;
    csv_reader_t *r = baton_xcalloc(1, sizeof *r);
    r->p = csv;
    r->end = csv + len;
    r->line = 1;
    if (len >= 3 && !memcmp(csv, "\xEF\xBB\xBF", 3))
        r->p += 3;
    int col[C_N], rc = 0;
    rows_t rows = {0};
    while (csv_next(r) && record_blank(r))
        ;
    if (r->nf == 0 || record_blank(r)) {
        baton_roster__err(errs, "", 0, "no header row");
        rc = BATON_EINVAL;
    } else if (r->err) {
        baton_roster__err(errs, "", r->rec_line, "line %zu: %s", r->rec_line, r->err);
        rc = BATON_EINVAL;
    } else if (read_header(r, col, errs)) {
        rc = BATON_EINVAL;
    } else {
        size_t header_line = r->rec_line;
        rc = read_rows(r, col, &rows, errs);
        if (rc == 0 && rows.n == 0)
            baton_roster__err(errs, "", header_line, "line %zu: no shifts after the header",
                              header_line);
        csv_ctx_t ctx = {errs, 0, rows.lines};
        baton_roster__batch_report_t rep = {csv_tenant_mismatch, csv_dup_conflict, &ctx};
        baton_roster__batch_check(rows.items, rows.valid, rows.n, tenant, &rep);
        if (rc == 0 && errs->total > before)
            rc = BATON_EINVAL;
    }
    if (rc == 0) {
        out->v = baton_xcalloc(rows.n, sizeof *out->v);
        for (size_t i = 0; i < rows.n; i++)
            if (rows.valid[i])
                out->v[out->n++] = rows.items[i];
    }
    baton_roster__err_sort_lines(errs);
    free(rows.items);
    free(rows.valid);
    free(rows.lines);
    baton_buf_free(&r->text);
    free(r);
    return rc;
}
