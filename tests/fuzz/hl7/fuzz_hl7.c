/* fuzz_hl7.c — libFuzzer target: MLLP decode (in odd chunks), batch parse, parse, every
 * accessor path the mapping uses, map, ACK and ACK-for-garbage on whatever comes in. */
#include "baton/hl7.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const baton_hl7_sender_t SENDERS[] = {{"F", NULL, "t1"}, {NULL, NULL, "any"}};
static const baton_hl7_map_config_t CFG = {SENDERS, 2, 60, NULL, 0};
static const baton_hl7_ack_opts_t OPTS = {"FUZZ", 1795262400000LL, NULL, NULL};

static int visit(void *ud, size_t si, const char *seg, int field, int rep, int comp, int sub,
                 const char *raw, size_t n)
{
    if (n == 0 || field < 1 || rep < 1 || comp < 1 || sub < 1 || strlen(seg) != 3)
        abort();
    volatile char last = raw[n - 1]; /* the whole leaf must be readable */
    (void)last;
    *(size_t *)ud += n;
    return 0;
}

static void one_message(const char *data, size_t len)
{
    baton_hl7_msg_t *m = NULL;
    baton_hl7_error_t e;
    if (baton_hl7_parse(data, len, &m, &e) != 0) {
        free(baton_hl7_ack_raw(data, len, &e, &OPTS, NULL));
        return;
    }
    static const char *const paths[] = {"PID-3.1",  "PID-3(2).4.2", "PV1-3.4.1", "MSH-9.2",
                                        "MSH-2",    "MSH-1",        "ZZZ[2]-1",  "OBR-4.1.1",
                                        "EVN-2(3)", "PV1-19"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        (void)baton_hl7_get_path(m, paths[i]);
    for (size_t i = 0; i < baton_hl7_segment_count(m) && i < 8; i++) {
        const char *id = baton_hl7_segment_id(m, i);
        int nf = baton_hl7_field_count(m, id, 1);
        for (int f = 1; f <= nf && f < 12; f++)
            (void)baton_hl7_get(m, id, 1, f, 0, 0, 0);
        (void)baton_hl7_rep_count(m, id, 1, 3);
    }
    size_t leaf_bytes = 0;
    if (baton_hl7_walk(m, visit, &leaf_bytes) != 0 || leaf_bytes > len)
        abort();
    json_t *ev = NULL;
    int rc = baton_hl7_map(m, &CFG, &ev, &e);
    if (rc == 0) {
        char *s = json_dumps(ev, 0);
        if (!s)
            abort(); /* every value must be valid UTF-8 */
        free(s);
        json_decref(ev);
    }
    free(baton_hl7_ack(m, rc == 0 ? NULL : &e, &OPTS, NULL));
    baton_hl7_msg_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    /* MLLP: the input as a byte stream, cut into chunks whose sizes come from the input */
    baton_hl7_mllp_t *d = baton_hl7_mllp_new(4096);
    size_t off = 0, step = size ? (size_t)data[0] % 17 + 1 : 1;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        const char *p = s + off;
        off += n;
        while (n > 0) {
            size_t used = 0, flen;
            const char *f;
            int rc = baton_hl7_mllp_decode(d, p, n, &used, &f, &flen);
            if (used > n)
                abort();
            p += used;
            n -= used;
            if (rc == 1)
                one_message(f, flen);
            else if (rc == 0 && n != 0)
                abort();
        }
    }
    baton_hl7_mllp_free(d);

    baton_hl7_batch_t b;
    baton_hl7_error_t e;
    if (baton_hl7_batch_parse(s, size, &b, &e) == 0) {
        for (size_t i = 0; i < b.count; i++)
            if (!b.msgs[i])
                free(baton_hl7_ack_raw(b.raw[i], b.raw_len[i], &b.errors[i], &OPTS, NULL));
        baton_hl7_batch_free(&b);
    }
    one_message(s, size);

    baton_hl7_delims_t dl = {'|', '^', '~', '\\', '&', '#'};
    baton_buf_t out = BATON_BUF_INIT;
    baton_hl7_unescape(&dl, s, size, &out);
    baton_buf_free(&out);
    int64_t ms;
    char tmp[64];
    size_t k = size < sizeof tmp - 1 ? size : sizeof tmp - 1;
    memcpy(tmp, s, k);
    tmp[k] = '\0';
    (void)baton_hl7_dtm_parse(tmp, 0, &ms);
    return 0;
}
