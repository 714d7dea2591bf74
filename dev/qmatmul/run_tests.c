/* The qmatmul op cases alone, on one backend (argv[1]: cpu or cuda): the same cases the op
 * driver (tests/test_ops.c) runs, without the other families, for runs on a lent GPU.
 * Built by dev/qmatmul/build_carry.sh against a library build. */
#include <stdio.h>

#include "opcheck.h"
#include "ops_cases.h"

int main(int argc, char **argv) {
    const char *backend = argc > 1 ? argv[1] : "cpu";
    mlxn_device *dev = NULL;
    int rc = t_open_backend(backend, &dev);
    if (rc) return t_finish(backend);
    mlxn_stream *s = NULL;
    if (!CHECK_ST(mlxn_stream_create(dev, &s), MLXN_OK)) return t_finish(backend);
    t_ops_qmatmul(dev, s);
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    return t_finish("qmatmul");
}
