/* baton/hl7.h — HL7 v2: parser, MLLP framing, ACK generation, mapping to canonical events.
 *
 * Parser. baton_hl7_parse() copies the input once into the message and indexes segments and
 * fields (offsets only, nothing else is copied). Components, repetitions and subcomponents
 * are found on demand; accessors return NUL-terminated strings with escapes decoded, owned by
 * the message (an arena freed with it). Any encoding characters from MSH-1/MSH-2 are honoured
 * (field, component, repetition, escape, subcomponent and the optional v2.7 truncation
 * character). Segments may end with CR, LF or CRLF; a UTF-8 BOM is skipped; Z-segments are
 * kept like any other segment.
 *
 * Numbering follows HL7: fields, repetitions, components and subcomponents are 1-based, as is
 * the segment repetition (1 = first PV1). A 0 means "the whole thing": rep 0 = the whole field
 * with every repetition, comp 0 = the whole repetition, sub 0 = the whole component. MSH-1 is
 * the field separator itself and MSH-2 the encoding characters, returned literally.
 *
 * Errors never contain message content (PHI): they name a segment index, segment id and field.
 */
#ifndef BATON_HL7_H
#define BATON_HL7_H

#include "baton/core.h"
#include <jansson.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Table 0357 (message error condition codes) values Baton uses in ERR-3. */
enum {
    BATON_HL7_ERR_SEGMENT_SEQUENCE = 100,
    BATON_HL7_ERR_REQUIRED_FIELD = 101,
    BATON_HL7_ERR_DATA_TYPE = 102,
    BATON_HL7_ERR_TABLE_VALUE = 103,
    BATON_HL7_ERR_UNSUPPORTED_TYPE = 200,
    BATON_HL7_ERR_INTERNAL = 207,
};

/* What went wrong with a message, enough to build an ACK. No PHI in any member. */
typedef struct {
    int code;       /* BATON_E* (0 = no error) */
    char ack[3];    /* "AE" (bad content) or "AR" (rejected); "" when code == 0 */
    int hl7_code;   /* table 0357 code for ERR-3 */
    int segment;    /* 1-based position of the segment in the message, 0 = not known */
    char seg_id[4]; /* "PV1", "" = not known */
    int field;      /* field number, 0 = not known */
    char text[160]; /* short human message, e.g. "PV1-19 required" (ERR-8) */
} baton_hl7_error_t;

/* ------------------------------------------------------------------ parser */

typedef struct baton_hl7_msg baton_hl7_msg_t;

/* Parse one message (MSH first). Strict about MSH (first segment, field separator, encoding
 * characters, MSH-9 message type, MSH-10 control id), lenient about the rest.
 * Returns 0 and *out (free with baton_hl7_msg_free), or BATON_EPARSE / BATON_ETOOBIG with
 * *out = NULL and err filled (err may be NULL). */
int baton_hl7_parse(const char *data, size_t len, baton_hl7_msg_t **out, baton_hl7_error_t *err);
void baton_hl7_msg_free(baton_hl7_msg_t *msg);

/* Decoded value, or NULL when the segment/field/... is not present. An empty but present
 * value is "". The string is owned by msg and lives until baton_hl7_msg_free. */
const char *baton_hl7_get(baton_hl7_msg_t *msg, const char *seg, int seg_rep, int field, int rep,
                          int comp, int sub);
/* Same addressed by a path: "PID-3", "PID-3.1", "PID-3(2).1.2", "PV1[2]-3.4.1", "MSH-9.2".
 * Brackets or parentheses after the segment id give the segment repetition, after the field
 * the field repetition (both default 1). Missing comp/sub mean the whole repetition/component.
 * Returns NULL for a malformed path or an absent value. */
const char *baton_hl7_get_path(baton_hl7_msg_t *msg, const char *path);
/* Zero-copy raw (still escaped) view of a value: 0 with *p and *n set, or BATON_ENOENT. *p points
 * into msg and is not NUL-terminated. */
int baton_hl7_raw(const baton_hl7_msg_t *msg, const char *seg, int seg_rep, int field, int rep,
                  int comp, int sub, const char **p, size_t *n);

/* Visit every non-empty leaf value (subcomponent) of the message in order, zero-copy: raw
 * points into msg (escaped, not NUL-terminated; decode with baton_hl7_unescape if needed).
 * seg_index is 0-based; field, rep, comp, sub are 1-based; MSH-1 and MSH-2 come whole.
 * A non-zero return from fn stops the walk and is returned; otherwise 0. */
typedef int (*baton_hl7_visit_fn)(void *ud, size_t seg_index, const char *seg_id, int field,
                                  int rep, int comp, int sub, const char *raw, size_t n);
int baton_hl7_walk(const baton_hl7_msg_t *msg, baton_hl7_visit_fn fn, void *ud);

size_t baton_hl7_segment_count(const baton_hl7_msg_t *msg);
/* Segment id at 0-based position i ("MSH", "PID", "ZPI"...), NULL past the end. */
const char *baton_hl7_segment_id(const baton_hl7_msg_t *msg, size_t i);
/* How many repetitions of a segment id the message has. */
int baton_hl7_segment_reps(const baton_hl7_msg_t *msg, const char *seg);
/* Number of fields of the seg_rep-th segment `seg` (MSH counts MSH-1), 0 when absent. */
int baton_hl7_field_count(const baton_hl7_msg_t *msg, const char *seg, int seg_rep);
/* Number of repetitions of a field (0 when absent or empty). */
int baton_hl7_rep_count(const baton_hl7_msg_t *msg, const char *seg, int seg_rep, int field);

/* The separators in force: field, component, repetition, escape, subcomponent, truncation
 * ('\0' when the message does not define it). */
typedef struct {
    char field, comp, rep, esc, sub, trunc;
} baton_hl7_delims_t;
baton_hl7_delims_t baton_hl7_delims(const baton_hl7_msg_t *msg);

/* Decode HL7 escapes of raw[0..n) with the given delimiters, appending to out:
 * \F\ \S\ \T\ \R\ \E\ (\P\ when a truncation character exists), \Xhh..\ and \.br\ (newline);
 * unknown or malformed escapes are kept literally. */
void baton_hl7_unescape(const baton_hl7_delims_t *d, const char *raw, size_t n, baton_buf_t *out);
/* Escape text for use as a field value with these delimiters (inverse of the above). */
void baton_hl7_escape(const baton_hl7_delims_t *d, const char *text, baton_buf_t *out);

/* ------------------------------------------------------------------ batches */

/* A batch: FHS/BHS ... MSH ... MSH ... BTS/FTS, or a single plain message (count 1). Each
 * message is parsed on its own; one that fails does not stop the others. */
typedef struct {
    size_t count;
    baton_hl7_msg_t **msgs;    /* NULL where that message failed */
    baton_hl7_error_t *errors; /* errors[i].code != 0 where msgs[i] == NULL */
    const char **raw;          /* raw[i], raw_len[i]: the bytes of message i (into a copy */
    size_t *raw_len;           /*   owned by the batch), for baton_hl7_ack_raw */
    char *copy;
} baton_hl7_batch_t;

/* Returns 0 (even when some messages failed: look at errors[i]) or BATON_EPARSE when there is
 * no message at all / the batch envelope is broken (err filled). Free with
 * baton_hl7_batch_free. */
int baton_hl7_batch_parse(const char *data, size_t len, baton_hl7_batch_t *out,
                          baton_hl7_error_t *err);
void baton_hl7_batch_free(baton_hl7_batch_t *b);

/* ------------------------------------------------------------------ ACK */

typedef struct {
    const char *control_id; /* MSH-10 of the ACK; NULL = a fresh unique id */
    int64_t now_ms;         /* MSH-7 of the ACK; 0 = the clock */
    const char *app;        /* MSH-3 when the received message names no receiver; "BATON" */
    const char *facility;   /* MSH-4 likewise; "" */
} baton_hl7_ack_opts_t;

/* Build the ACK for a parsed message: MSA-1 AA when err is NULL or err->code == 0, else
 * err->ack, MSA-2 = MSH-10, MSH with sending/receiving application and facility swapped, the
 * same encoding characters, processing id and version, and (on error) an ERR segment with
 * ERR-2 location, ERR-3 code^text^HL70357, ERR-4 "E", ERR-8 err->text.
 * Segments end with CR. Returns a fresh string (caller frees), length in *len if not NULL. */
char *baton_hl7_ack(const baton_hl7_msg_t *msg, const baton_hl7_error_t *err,
                    const baton_hl7_ack_opts_t *opts, size_t *len);
/* ACK for bytes that did not parse: reads what it can of the MSH (separators, applications,
 * MSH-10) and falls back to "|^~\&" and version 2.5. err must describe the failure. */
char *baton_hl7_ack_raw(const char *data, size_t len, const baton_hl7_error_t *err,
                        const baton_hl7_ack_opts_t *opts, size_t *outlen);

/* ------------------------------------------------------------------ MLLP */

/* Streaming decoder for <VT 0x0b> message <FS 0x1c><CR 0x0d> frames. Feed bytes in any
 * chunking; several frames per connection; bytes outside a frame are skipped and counted. */
typedef struct baton_hl7_mllp baton_hl7_mllp_t;

typedef struct {
    uint64_t frames;        /* complete frames returned */
    uint64_t garbage_bytes; /* bytes skipped outside frames (or of a frame cut by a new VT) */
    uint64_t oversize;      /* frames dropped for exceeding max_frame */
} baton_hl7_mllp_stats_t;

/* max_frame: largest message (bytes between VT and FS) accepted; 0 = 1 MiB. */
baton_hl7_mllp_t *baton_hl7_mllp_new(size_t max_frame);
void baton_hl7_mllp_free(baton_hl7_mllp_t *d);
/* Consume bytes from data[0..len), stopping after the first complete frame.
 * Returns 1 with *frame / *frame_len (valid until the next call; owned by d), 0 when all of
 * data was consumed without completing a frame, or BATON_ETOOBIG when a frame went over
 * max_frame (it is dropped up to its FS; decoding can go on). *consumed says how many bytes
 * were used; call again with the rest. */
int baton_hl7_mllp_decode(baton_hl7_mllp_t *d, const void *data, size_t len, size_t *consumed,
                          const char **frame, size_t *frame_len);
baton_hl7_mllp_stats_t baton_hl7_mllp_stats(const baton_hl7_mllp_t *d);
/* Append one frame (VT msg FS CR) to out. */
void baton_hl7_mllp_encode(baton_buf_t *out, const char *msg, size_t len);

/* ------------------------------------------------------------------ mapping */

/* One sender → tenant rule. facility matches MSH-4.1 or MSH-4.2, application MSH-3.1;
 * NULL or "*" matches anything. The first matching rule wins. */
typedef struct {
    const char *facility;
    const char *application;
    const char *tenant;
} baton_hl7_sender_t;

typedef struct {
    const baton_hl7_sender_t *senders;
    size_t nsenders;
    int tz_offset_min; /* offset applied to HL7 times that carry none (0 = they are UTC) */
    /* Codes (OBR-4.1 / OBR-4.4, case-insensitive) that make an order a discharge order;
     * NULL = the defaults (see docs: DISCHARGE, DISCH, DC_ORDER, DCPATIENT). */
    const char *const *discharge_codes;
    size_t ndischarge_codes;
} baton_hl7_map_config_t;

/* Map a parsed message to a canonical event (the JSON of POST /v1/events):
 * {"id","type","tenant","facility","unit"?,"patient","encounter"?,"occurred_at","attributes"}.
 * Returns 0 and *event (caller json_decref's), or a negative code with err filled:
 * BATON_EPERM (AR 103, unknown sender), BATON_ENOENT (AR 200, unsupported message type),
 * BATON_EINVAL (AE 101 required field missing / AE 102 bad value). */
int baton_hl7_map(baton_hl7_msg_t *msg, const baton_hl7_map_config_t *cfg, json_t **event,
                  baton_hl7_error_t *err);

/* Canonical event type for a message type / trigger pair ("ADT","A03" → "adt.discharge"),
 * NULL when unsupported. Orders return "order.placed"; discharge detection needs the message. */
const char *baton_hl7_event_type(const char *msg_type, const char *trigger);

/* HL7 DTM ("YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]") → ms since the epoch, UTC. A time without
 * an offset is taken to be at tz_offset_min. Returns 0 or BATON_EPARSE. */
int baton_hl7_dtm_parse(const char *s, int tz_offset_min, int64_t *ms_out);

#ifdef __cplusplus
}
#endif
#endif
