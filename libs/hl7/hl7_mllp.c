/* hl7_mllp.c — MLLP framing: <VT> message <FS><CR>, streaming decoder and encoder. */
#include "hl7_internal.h"

#include <string.h>

#define MLLP_VT 0x0b
#define MLLP_FS 0x1c
#define MLLP_CR 0x0d

enum { OUTSIDE, INSIDE, AFTER_FS, SKIPPING };

struct baton_hl7_mllp {
    size_t max_frame;
    int state;
    baton_buf_t frame;
    baton_hl7_mllp_stats_t stats;
};

baton_hl7_mllp_t *baton_hl7_mllp_new(size_t max_frame)
{
    baton_hl7_mllp_t *d = baton_xcalloc(1, sizeof *d);
    d->max_frame = max_frame ? max_frame : 1024 * 1024;
    d->state = OUTSIDE;
    return d;
}

void baton_hl7_mllp_free(baton_hl7_mllp_t *d)
{
    if (!d)
        return;
    baton_buf_free(&d->frame);
    free(d);
}

baton_hl7_mllp_stats_t baton_hl7_mllp_stats(const baton_hl7_mllp_t *d)
{
    return d->stats;
}

void baton_hl7_mllp_encode(baton_buf_t *out, const char *msg, size_t len)
{
    baton_buf_putc(out, MLLP_VT);
    baton_buf_append(out, msg, len);
    baton_buf_putc(out, MLLP_FS);
    baton_buf_putc(out, MLLP_CR);
}

/* Frame bytes are copied in runs (memchr for the FS), not byte by byte. A VT inside a frame
 * means the previous frame lost its end: its bytes count as garbage and a new frame starts.
 * The frame is delivered at FS; the CR after it is consumed when it comes (a sender that
 * leaves it out still gets its answer). */
int baton_hl7_mllp_decode(baton_hl7_mllp_t *d, const void *data, size_t len, size_t *consumed,
                          const char **frame, size_t *frame_len)
{
    const unsigned char *p = data;
    size_t i = 0;
    *frame = NULL;
    *frame_len = 0;
    while (i < len) {
        unsigned char c = p[i];
        switch (d->state) {
        case AFTER_FS:
            d->state = OUTSIDE;
            if (c == MLLP_CR) {
                i++;
                continue;
            }
            /* fall through */
        case OUTSIDE:
            i++;
            if (c == MLLP_VT) {
                baton_buf_reset(&d->frame);
                d->state = INSIDE;
            } else {
                d->stats.garbage_bytes++;
            }
            continue;
        case SKIPPING: /* the rest of an oversized frame, up to its FS (or a new VT) */
            i++;
            if (c == MLLP_FS) {
                d->state = AFTER_FS;
            } else if (c == MLLP_VT) {
                baton_buf_reset(&d->frame);
                d->state = INSIDE;
            }
            continue;
        case INSIDE: {
            size_t run = i;
            while (run < len && p[run] != MLLP_FS && p[run] != MLLP_VT)
                run++;
            if (d->frame.len + (run - i) > d->max_frame) {
                baton_buf_reset(&d->frame);
                d->stats.oversize++;
                d->state = SKIPPING;
                *consumed = i;
                return BATON_ETOOBIG;
            }
            baton_buf_append(&d->frame, p + i, run - i);
            i = run;
            if (i == len)
                continue;
            if (p[i] == MLLP_VT) { /* frame cut short: drop it, start again */
                d->stats.garbage_bytes += d->frame.len + 1;
                baton_buf_reset(&d->frame);
                i++;
                continue;
            }
            i++; /* FS */
            d->state = AFTER_FS;
            d->stats.frames++;
            if (!d->frame.data)
                baton_buf_append(&d->frame, "", 0);
            *frame = d->frame.data;
            *frame_len = d->frame.len;
            *consumed = i;
            return 1;
        }
        }
    }
    *consumed = i;
    return 0;
}
