/* The op test driver: every op case against the float64 oracle on one backend (argv[1]:
 * cpu or cuda), eager and graph-replayed; further arguments name the families to run (all
 * but the parts, such as qmatmul_grids, when none are named). Exit 77 (skipped) when the backend has no device. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "opcheck.h"
#include "ops_cases.h"

int main(int argc, char **argv) {
    const char *backend = argc > 1 ? argv[1] : "cpu";
    for (int a = 2; a < argc; a++) {
        bool known = false;
        for (size_t i = 0; i < t_op_families_count; i++) known |= strcmp(argv[a], t_op_families[i].name) == 0;
        if (!known) {
            fprintf(stderr, "test_ops: no op family named '%s'\n", argv[a]);
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
    for (size_t i = 0; i < t_op_families_count; i++) {
        bool chosen = argc <= 2 && !t_op_families[i].part;
        for (int a = 2; a < argc && !chosen; a++) chosen = strcmp(argv[a], t_op_families[i].name) == 0;
        if (!chosen) continue;
        int before = t_failed;
        t_op_families[i].run(dev, s);
        printf("%-8s %-13s %s\n", backend, t_op_families[i].name, t_failed == before ? "ok" : "FAILED");
    }
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    char prog[64];
    snprintf(prog, sizeof prog, "ops %s", backend);
    return t_finish(prog);
}
