/* verify.c — `baton-audit verify`: walk every hash chain of the audit log.
 * Exit 0: every link holds ("ok: ..." on stdout). Exit 1: the first changed, removed or
 * reordered row is named on stdout. Exit 2: usage, or the database could not be read. */
#include "audit_svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: baton-audit verify\n\n"
        "Walks the audit log's hash chains (one per Kafka topic and partition) and checks\n"
        "every row's hash, its link to the row before, seq continuity, offset order and the\n"
        "chain head.\n\n"
        "  BATON_PG_DSN   PostgreSQL to read; the role needs SELECT on audit_log and\n"
        "                 audit_chain_heads (baton_reader has it; baton_audit_writer does not)\n\n"
        "exit 0: intact; 1: broken (the first bad row is named, e.g. \"topic baton.lifecycle.v1\n"
        "partition 2 seq 17: hash mismatch (row changed)\"); 2: usage or connection error\n");
}

int audit_verify_main(int argc, char **argv)
{
    if (argc > 1) {
        bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    const char *dsn = getenv("BATON_PG_DSN");
    if (!dsn || !*dsn) {
        fprintf(stderr, "baton-audit verify: BATON_PG_DSN is not set\n");
        return 2;
    }
    char err[512] = "";
    baton_pg_t *pg = baton_pg_new(dsn, err, sizeof err);
    if (!pg) {
        fprintf(stderr, "baton-audit verify: %s\n", err);
        return 2;
    }
    baton_audit_verify_t v;
    int rc = baton_audit_verify(pg, &v, err, sizeof err);
    baton_pg_free(pg);
    if (rc != 0) {
        fprintf(stderr, "baton-audit verify: %s\n", err);
        return 2;
    }
    if (!v.ok) {
        printf("audit chain broken: %s\n", v.problem);
        fflush(stdout);
        return 1;
    }
    printf("ok: %zu chains, %zu rows verified\n", v.chains, v.rows);
    return 0;
}
