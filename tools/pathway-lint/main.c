/* baton-pathway-lint — check pathway definitions before deploying them, with the router's own
 * loader: every error as `file:line: what is wrong`, exit 0 when everything loads.
 *
 *   baton-pathway-lint pathways/              a directory, as the router loads it (all or nothing)
 *   baton-pathway-lint my-new-pathway.yaml    single files */
#include "baton/pathway.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int lint(const char *path)
{
    struct stat st;
    char err[512] = "";
    baton_pathway_errors_t errs = {0};
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: no such file or directory\n", path);
        return 1;
    }
    baton_pathway_set_t *set = S_ISDIR(st.st_mode)
                                   ? baton_pathway_load_dir(path, &errs, err, sizeof err)
                                   : baton_pathway_load_file(path, &errs, err, sizeof err);
    if (!set) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.items[i]);
        if (errs.n == 0)
            fprintf(stderr, "%s\n", err);
        baton_pathway_errors_free(&errs);
        return 1;
    }
    for (size_t i = 0; i < baton_pathway_count(set); i++) {
        const baton_pathway_def_t *d = baton_pathway_at(set, i);
        printf("%s: ok: %s v%u (%zu stages): %s\n", path, d->id, d->version, d->nstages, d->title);
    }
    baton_pathway_set_free(set);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: baton-pathway-lint DIR|FILE...\n"
                "Checks pathway definitions with the router's loader; prints every error as\n"
                "file:line: message and exits 1 when any file does not load.\n");
        return argc < 2 ? 2 : 0;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= lint(argv[i]);
    return rc;
}
