/* test_hl7_mllp.c — MLLP framing: chunking, several frames, garbage, oversize, encoding. */
#include "baton/hl7.h"
#include "test.h"

typedef struct {
    int frames;
    char got[8][256];
    int toobig;
} sink_t;

/* Feed data in chunks of `chunk` bytes, collecting frames. */
static void feed(baton_hl7_mllp_t *d, const char *data, size_t len, size_t chunk, sink_t *s)
{
    for (size_t off = 0; off < len;) {
        size_t n = len - off < chunk ? len - off : chunk;
        const char *p = data + off;
        off += n;
        while (n > 0) {
            size_t used = 0;
            const char *f;
            size_t flen;
            int rc = baton_hl7_mllp_decode(d, p, n, &used, &f, &flen);
            ASSERT_TRUE(used <= n);
            p += used;
            n -= used;
            if (rc == 1) {
                ASSERT_TRUE(s->frames < 8 && flen < 256);
                memcpy(s->got[s->frames], f, flen);
                s->got[s->frames][flen] = '\0';
                ASSERT_EQ_INT(strlen(s->got[s->frames]), flen);
                s->frames++;
            } else if (rc == BATON_ETOOBIG) {
                s->toobig++;
            } else {
                ASSERT_EQ_INT(rc, 0);
                ASSERT_EQ_INT(n, 0);
            }
        }
    }
}

static const char STREAM[] = "\x0bMSH|^~\\&|A|F|B|G|2026||ADT^A01|M1|P|2.5\rPID|1||P1\r\x1c\r"
                             "\x0bMSH|^~\\&|A|F|B|G|2026||ADT^A03|M2|P|2.5\r\x1c\r"
                             "\x0b\x1c\r";

TEST(hl7_mllp_byte_by_byte_and_any_chunking)
{
    for (size_t chunk = 1; chunk <= sizeof STREAM; chunk++) {
        baton_hl7_mllp_t *d = baton_hl7_mllp_new(0);
        sink_t s = {0};
        feed(d, STREAM, sizeof STREAM - 1, chunk, &s);
        ASSERT_EQ_INT(s.frames, 3);
        ASSERT_EQ_STR(s.got[0], "MSH|^~\\&|A|F|B|G|2026||ADT^A01|M1|P|2.5\rPID|1||P1\r");
        ASSERT_EQ_STR(s.got[1], "MSH|^~\\&|A|F|B|G|2026||ADT^A03|M2|P|2.5\r");
        ASSERT_EQ_STR(s.got[2], "");
        baton_hl7_mllp_stats_t st = baton_hl7_mllp_stats(d);
        ASSERT_EQ_INT(st.frames, 3);
        ASSERT_EQ_INT(st.garbage_bytes, 0);
        ASSERT_EQ_INT(st.oversize, 0);
        baton_hl7_mllp_free(d);
    }
}

TEST(hl7_mllp_garbage_between_frames)
{
    const char in[] = "junk\r\n\x0b"
                      "A1\x1c\r"
                      "xx\x0b"
                      "A2\x1c" /* no CR after FS: still a frame */
                      "yy\x0b"
                      "cut short\x0b"
                      "A3\x1c\r\r";
    for (size_t chunk = 1; chunk <= sizeof in; chunk += 3) {
        baton_hl7_mllp_t *d = baton_hl7_mllp_new(0);
        sink_t s = {0};
        feed(d, in, sizeof in - 1, chunk, &s);
        ASSERT_EQ_INT(s.frames, 3);
        ASSERT_EQ_STR(s.got[0], "A1");
        ASSERT_EQ_STR(s.got[1], "A2");
        ASSERT_EQ_STR(s.got[2], "A3");
        baton_hl7_mllp_stats_t st = baton_hl7_mllp_stats(d);
        /* "junk\r\n" 6 + "xx" 2 + "yy" 2 + VT"cut short" 10 + trailing CR 1 */
        ASSERT_EQ_INT(st.garbage_bytes, 21);
        baton_hl7_mllp_free(d);
    }
}

TEST(hl7_mllp_oversize_frame)
{
    const char in[] = "\x0b"
                      "0123456789ABCDEF\x1c\r"
                      "\x0bok\x1c\r";
    for (size_t chunk = 1; chunk <= sizeof in; chunk++) {
        baton_hl7_mllp_t *d = baton_hl7_mllp_new(10);
        sink_t s = {0};
        feed(d, in, sizeof in - 1, chunk, &s);
        ASSERT_EQ_INT(s.toobig, 1);
        ASSERT_EQ_INT(s.frames, 1);
        ASSERT_EQ_STR(s.got[0], "ok");
        ASSERT_EQ_INT(baton_hl7_mllp_stats(d).oversize, 1);
        baton_hl7_mllp_free(d);
    }
    /* exactly max_frame bytes is fine */
    baton_hl7_mllp_t *d = baton_hl7_mllp_new(10);
    sink_t s = {0};
    feed(d,
         "\x0b"
         "0123456789\x1c\r",
         13, 4, &s);
    ASSERT_EQ_INT(s.frames, 1);
    ASSERT_EQ_INT(s.toobig, 0);
    baton_hl7_mllp_free(d);
}

TEST(hl7_mllp_encode)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_hl7_mllp_encode(&b, "MSH|x\r", 6);
    ASSERT_EQ_INT(b.len, 9);
    ASSERT_TRUE(memcmp(b.data, "\x0bMSH|x\r\x1c\r", 9) == 0);
    /* round trip */
    baton_hl7_mllp_t *d = baton_hl7_mllp_new(0);
    size_t used;
    const char *f;
    size_t flen;
    ASSERT_EQ_INT(baton_hl7_mllp_decode(d, b.data, b.len, &used, &f, &flen), 1);
    ASSERT_EQ_INT(flen, 6);
    ASSERT_EQ_INT(used, 8);
    ASSERT_TRUE(memcmp(f, "MSH|x\r", 6) == 0);
    ASSERT_EQ_INT(baton_hl7_mllp_decode(d, b.data + used, b.len - used, &used, &f, &flen), 0);
    ASSERT_EQ_INT(used, 1);
    ASSERT_EQ_INT(baton_hl7_mllp_stats(d).garbage_bytes, 0);
    baton_hl7_mllp_free(d);
    baton_buf_free(&b);
}
