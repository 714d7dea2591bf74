/* Runs chosen op families of the test driver on one backend (argv: cpu|cuda family...), for
 * running a few families under compute-sanitizer within a time limit. Not built by default:
 *   cc dev/ops_families.c tests/ops_rows.c tests/ops_layout.c tests/ops_kvcache.c
 *      tests/ops_sample.c -Iinclude -Isrc -Itests BUILD/tests/libmlxn_testlib.a -LBUILD -lmlxn -lm */
#include <stdio.h>
#include <string.h>

#include "opcheck.h"
#include "ops_cases.h"

static const t_op_family families[] = {
    {"rows", t_ops_rows},
    {"layout", t_ops_layout},
    {"kvcache", t_ops_kvcache},
    {"sample", t_ops_sample},
};

int main(int argc, char **argv) {
    const char *backend = argc > 1 ? argv[1] : "cpu";
    mlxn_device *dev = NULL;
    int rc = t_open_backend(backend, &dev);
    if (rc) return t_finish(backend), rc;
    mlxn_stream *s = NULL;
    if (!CHECK_ST(mlxn_stream_create(dev, &s), MLXN_OK)) return t_finish(backend);
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        bool want = argc <= 2;
        for (int a = 2; a < argc; a++) want |= !strcmp(argv[a], families[i].name);
        if (!want) continue;
        int before = t_failed;
        families[i].run(dev, s);
        printf("%-8s %-12s %s\n", backend, families[i].name, t_failed == before ? "ok" : "FAILED");
        fflush(stdout);
    }
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    return t_finish(backend);
}
