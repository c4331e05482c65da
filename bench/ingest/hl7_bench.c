/* hl7_bench.c — HL7 v2 parsing speed of libs/hl7 on the sample messages, for bench/ingest/run.sh.
 *
 *   hl7_bench DIR ROUNDS
 *
 * Reads every *.hl7 of DIR (a UTF-8 BOM stripped, LF / CRLF segment ends turned into CR, as
 * on the wire), keeps those that parse, then times ROUNDS passes over them of:
 *   parse      baton_hl7_parse + free
 *   ingest     parse + baton_hl7_map + baton_hl7_ack (what ingest does per message, without I/O)
 * and prints one JSON object: {"messages": n, "parse_msgs_per_s": x, "ingest_msgs_per_s": y}. */
#include "baton/hl7.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    baton_buf_t b = BATON_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        baton_buf_append(&b, chunk, n);
    fclose(f);
    char *s = b.data ? b.data : baton_xstrdup("");
    size_t o = 0, i = 0;
    if (b.len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    for (; i < b.len; i++) {
        if (s[i] == '\r' && i + 1 < b.len && s[i + 1] == '\n')
            continue;
        s[o++] = s[i] == '\n' ? '\r' : s[i];
    }
    s[o] = '\0';
    *len = o;
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DIR ROUNDS\n", argv[0]);
        return 2;
    }
    long rounds = atol(argv[2]);
    DIR *d = opendir(argv[1]);
    if (!d)
        return 1;
    char *msgs[512];
    size_t lens[512], n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 512) {
        if (!strstr(de->d_name, ".hl7"))
            continue;
        char *path = baton_xasprintf("%s/%s", argv[1], de->d_name);
        size_t len;
        char *m = load(path, &len);
        free(path);
        baton_hl7_msg_t *msg;
        baton_hl7_error_t e;
        if (m && baton_hl7_parse(m, len, &msg, &e) == 0) {
            baton_hl7_msg_free(msg);
            msgs[n] = m;
            lens[n++] = len;
        } else {
            free(m);
        }
    }
    closedir(d);
    baton_hl7_sender_t any = {NULL, NULL, "bench"};
    baton_hl7_map_config_t cfg = {&any, 1, 0, NULL, 0};
    baton_hl7_ack_opts_t ao = {"ACK1", 1, NULL, NULL};
    size_t sink = 0;
    int64_t t0 = baton_mono_ns();
    for (long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            baton_hl7_msg_t *msg;
            baton_hl7_error_t e;
            if (baton_hl7_parse(msgs[i], lens[i], &msg, &e) == 0) {
                sink += baton_hl7_segment_count(msg);
                baton_hl7_msg_free(msg);
            }
        }
    }
    int64_t t1 = baton_mono_ns();
    for (long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            baton_hl7_msg_t *msg;
            baton_hl7_error_t e;
            json_t *ev = NULL;
            if (baton_hl7_parse(msgs[i], lens[i], &msg, &e) != 0)
                continue;
            int rc = baton_hl7_map(msg, &cfg, &ev, &e);
            size_t alen = 0;
            char *ack = baton_hl7_ack(msg, rc ? &e : NULL, &ao, &alen);
            sink += alen;
            free(ack);
            json_decref(ev);
            baton_hl7_msg_free(msg);
        }
    }
    int64_t t2 = baton_mono_ns();
    double total = (double)rounds * (double)n;
    printf("{\"messages\": %zu, \"rounds\": %ld, \"parse_msgs_per_s\": %.0f, "
           "\"ingest_msgs_per_s\": %.0f, \"sink\": %zu}\n",
           n, rounds, total / ((double)(t1 - t0) / 1e9), total / ((double)(t2 - t1) / 1e9), sink);
    for (size_t i = 0; i < n; i++)
        free(msgs[i]);
    return 0;
}
