/* mlxn info: version, build options, and every backend's devices. */
#include <stdio.h>

#include "mlxn.h"
#include "cli.h"

static void print_device(mlxn_backend b, int ordinal) {
    mlxn_device *dev;
    mlxn_device_props p;
    mlxn_status st = mlxn_device_open(b, ordinal, &dev);
    if (st == MLXN_OK) st = mlxn_device_info(dev, &p);
    if (st != MLXN_OK) {
        printf("  %s:%d  could not be opened: %s: %s\n", mlxn_backend_name(b), ordinal, mlxn_status_str(st),
               mlxn_last_error());
        return;
    }
    double gib = 1.0 / (1024.0 * 1024.0 * 1024.0);
    if (b == MLXN_BACKEND_CUDA)
        printf("  cuda:%d  %s, compute capability %d.%d, %d SMs, %.1f GiB (%.1f free), L2 %.0f MiB\n", ordinal,
               p.name, p.cc_major, p.cc_minor, p.sm_count, p.total_memory * gib, p.free_memory * gib,
               p.l2_bytes / 1048576.0);
    else
        printf("  cpu:0   %s, %d threads, SIMD %s, %.1f GiB memory, last-level cache %.0f MiB\n", p.name,
               p.threads, p.simd, p.total_memory * gib, p.l2_bytes / 1048576.0);
    mlxn_device_close(dev);
}

int mlxn_cmd_info(int argc, char **argv) {
    printf("mlxn %s\nbuild: %s\n\nbackends:\n", mlxn_version(), mlxn_build_info());
    const mlxn_backend backends[] = {MLXN_BACKEND_CPU, MLXN_BACKEND_CUDA};
    for (int i = 0; i < 2; i++) {
        int n = 0;
        mlxn_status st = mlxn_device_count(backends[i], &n);
        if (st != MLXN_OK) return mlxn_cli_fail("info", "device_count", st);
        if (n == 0) {
            printf("  %s: none (%s)\n", mlxn_backend_name(backends[i]), mlxn_last_error());
            continue;
        }
        for (int d = 0; d < n; d++) print_device(backends[i], d);
    }
    mlxn_device *dev;
    if (mlxn_device_open(MLXN_BACKEND_AUTO, 0, &dev) == MLXN_OK) {
        mlxn_device_props p;
        mlxn_device_info(dev, &p);
        printf("\nauto: %s (%s)\n", mlxn_backend_name(p.backend), p.name);
        mlxn_device_close(dev);
    }
    return 0;
}
