/* hl7_internal.h — the message layout shared by the hl7 lib's files (not public). */
#ifndef BATON_HL7_INTERNAL_H
#define BATON_HL7_INTERNAL_H

#include "baton/hl7.h"

/* A byte range of msg->buf. */
typedef struct {
    uint32_t off, len;
} hl7__span_t;

/* One segment: its id and its fields as spans[first .. first + nspans). spans[first] is the
 * segment id; for MSH/FHS/BHS spans[first + 1] is MSH-2 (MSH-1 is the separator itself). */
typedef struct {
    char id[4];
    uint32_t first;
    uint32_t nspans;
} hl7__seg_t;

typedef struct hl7__chunk {
    struct hl7__chunk *next;
    size_t used, cap;
    char data[];
} hl7__chunk_t;

struct baton_hl7_msg {
    char *buf; /* the copy of the message, NUL-terminated */
    size_t len;
    baton_hl7_delims_t d;
    hl7__seg_t *segs;
    size_t nsegs, segcap;
    hl7__span_t *spans;
    size_t nspans, spancap;
    hl7__chunk_t *arena; /* decoded strings handed out by the accessors */
};

/* Parse; strict = 0 skips the MSH-9/MSH-10/single-MSH checks (used to echo the header of a
 * broken message in an ACK). */
int hl7__parse(const char *data, size_t len, int strict, baton_hl7_msg_t **out,
               baton_hl7_error_t *err);
void hl7__seterr(baton_hl7_error_t *err, int code, const char *ack, int hl7_code, int segment,
                 const char *seg_id, int field, const char *fmt, ...) BATON_PRINTF(8, 9);
/* Find the seg_rep-th (1-based) segment called seg; returns its index or -1. */
long hl7__find_seg(const baton_hl7_msg_t *msg, const char *seg, int seg_rep);
/* Decode escapes of raw[0..n) into out (n bytes of room suffice); returns the length. */
size_t hl7__unescape_to(const baton_hl7_delims_t *d, const char *raw, size_t n, char *out);
/* Is the segment one whose field 1 is the separator (MSH, FHS, BHS)? */
int hl7__is_header(const char *id);

#endif
