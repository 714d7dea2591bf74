/* Shared by the file-format tests (header-only): runs the malformed corpus of one kind
 * listed in tests/data/malformed/MANIFEST.tsv, through a path and from memory, and
 * checks each file's expected status and that its message names the format. */
#ifndef MLXN_TEST_IO_CORPUS_H
#define MLXN_TEST_IO_CORPUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static inline unsigned char *io_slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(sz > 0 ? (size_t)sz : 1);
    if (p && sz > 0 && fread(p, 1, (size_t)sz, f) != (size_t)sz) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = sz > 0 ? (size_t)sz : 0;
    return p;
}

static inline mlxn_status io_status_parse(const char *s) {
    if (!strcmp(s, "format")) return MLXN_ERR_FORMAT;
    if (!strcmp(s, "unsupported")) return MLXN_ERR_UNSUPPORTED;
    if (!strcmp(s, "io")) return MLXN_ERR_IO;
    return (mlxn_status)-1;
}

/* Returns how many files of `kind` were run. */
static inline int io_corpus(const char *kind, mlxn_status (*open_file)(const char *),
                     mlxn_status (*open_mem)(const void *, size_t)) {
    FILE *m = fopen(MLXN_TEST_DIR "/data/malformed/MANIFEST.tsv", "r");
    if (!CHECK(m != NULL, "open MANIFEST.tsv")) return 0;
    char line[512];
    int n = 0;
    size_t kl = strlen(kind);
    while (fgets(line, sizeof line, m)) {
        if (line[0] == '#' || strncmp(line, kind, kl) || line[kl] != '/') continue;
        char *file = strtok(line, "\t\n"), *want_s = strtok(NULL, "\t\n"), *what = strtok(NULL, "\t\n");
        if (!CHECK(file && want_s && what, "manifest line for %s", kind)) continue;
        mlxn_status want = io_status_parse(want_s);
        char path[400];
        snprintf(path, sizeof path, "%s/data/malformed/%s", MLXN_TEST_DIR, file);
        mlxn_clear_error();
        mlxn_status got = open_file(path);
        CHECK(got == want, "%s (%s): got %s, want %s: %s", file, what, mlxn_status_str(got), want_s,
              mlxn_last_error());
        CHECK(!strncmp(mlxn_last_error(), kind, kl), "%s: message \"%s\" does not name %s", file,
              mlxn_last_error(), kind);
        size_t sz;
        unsigned char *p = io_slurp(path, &sz);
        if (CHECK(p != NULL, "read %s", path)) {
            got = open_mem(p, sz);
            CHECK(got == want, "%s from memory: got %s, want %s: %s", file, mlxn_status_str(got),
                  want_s, mlxn_last_error());
        }
        free(p);
        n++;
    }
    fclose(m);
    printf("%s: %d malformed files\n", kind, n);
    return n;
}

#endif
