/* The attention op cases alone on one backend (argv[1]: cpu or cuda), for compute-sanitizer
 * runs that would take too long over every family. Built by dev/attention/build.sh. */
#include <stdio.h>

#include "opcheck.h"
#include "ops_cases.h"

int main(int argc, char **argv) {
    const char *backend = argc > 1 ? argv[1] : "cuda";
    mlxn_device *dev = NULL;
    int rc = t_open_backend(backend, &dev);
    if (rc) return rc;
    mlxn_stream *s = NULL;
    if (!CHECK_ST(mlxn_stream_create(dev, &s), MLXN_OK)) return t_finish(backend);
    t_ops_attention(dev, s);
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    return t_finish("attention");
}
