/* The op test driver: every op case against the float64 oracle on one backend (argv[1]:
 * cpu or cuda), eager and graph-replayed; further arguments name the families or parts to
 * run (every family, no part, when none are named). Exit 77 (skipped) when the backend has no
 * device. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "opcheck.h"
#include "ops_cases.h"

static bool named(int argc, char **argv, const char *name) {
    for (int a = 2; a < argc; a++)
        if (!strcmp(argv[a], name)) return true;
    return false;
}

/* the entries of table t that are chosen (all when every is set, else those named) */
static void run_table(const t_op_family *t, size_t n, bool every, int argc, char **argv, const char *backend,
                      mlxn_device *dev, mlxn_stream *s) {
    for (size_t i = 0; i < n; i++) {
        if (!every && !named(argc, argv, t[i].name)) continue;
        int before = t_failed;
        t[i].run(dev, s);
        printf("%-8s %-13s %s\n", backend, t[i].name, t_failed == before ? "ok" : "FAILED");
    }
}

int main(int argc, char **argv) {
    const char *backend = argc > 1 ? argv[1] : "cpu";
    for (int a = 2; a < argc; a++) {
        bool known = false;
        for (size_t i = 0; i < t_op_families_count; i++) known |= strcmp(argv[a], t_op_families[i].name) == 0;
        for (size_t i = 0; i < t_op_parts_count; i++) known |= strcmp(argv[a], t_op_parts[i].name) == 0;
        if (!known) {
            fprintf(stderr, "test_ops: no op family or part named '%s'\n", argv[a]);
            return 2;
        }
    }
    mlxn_device *dev = NULL;
    int rc = t_open_backend(backend, &dev);
    if (rc) {
        t_finish(backend);
        return rc;
    }
    mlxn_stream *s = NULL;
    if (!CHECK_ST(mlxn_stream_create(dev, &s), MLXN_OK)) return t_finish(backend);
    run_table(t_op_families, t_op_families_count, argc <= 2, argc, argv, backend, dev, s);
    run_table(t_op_parts, t_op_parts_count, false, argc, argv, backend, dev, s);
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    char prog[64];
    snprintf(prog, sizeof prog, "ops %s", backend);
    return t_finish(prog);
}
