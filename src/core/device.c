/* Devices: opening a backend's device (AUTO picks CUDA when it works), config, props. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#ifndef MLXN_HAVE_CUDA
const mlxn_backend_vt *mlxn_cuda_backend(void) { return NULL; }
#endif

const char *mlxn_backend_name(mlxn_backend b) {
    switch (b) {
    case MLXN_BACKEND_AUTO: return "auto";
    case MLXN_BACKEND_CPU: return "cpu";
    case MLXN_BACKEND_CUDA: return "cuda";
    }
    return "invalid";
}

void mlxn_config_init(mlxn_config *cfg) {
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->cpu_threads = 0;
    cfg->cuda_cublaslt = 1;
}

static const mlxn_backend_vt *backend_vt(mlxn_backend b) {
    return b == MLXN_BACKEND_CPU ? &mlxn_cpu_backend : b == MLXN_BACKEND_CUDA ? mlxn_cuda_backend() : NULL;
}

mlxn_status mlxn_device_count(mlxn_backend backend, int *count) {
    if (!count) return mlxn_err(MLXN_ERR_INVALID_ARG, "device_count: count is NULL");
    *count = 0;
    if (backend != MLXN_BACKEND_CPU && backend != MLXN_BACKEND_CUDA)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "device_count: backend %d is not CPU or CUDA", (int)backend);
    const mlxn_backend_vt *vt = backend_vt(backend);
    if (!vt) {
        mlxn_err(MLXN_ERR_UNSUPPORTED, "device_count: this build of mlxn has no CUDA backend");
        return MLXN_OK;
    }
    char why[256] = "";
    *count = vt->count(why, sizeof why);
    if (*count == 0) mlxn_err(MLXN_ERR_DEVICE, "device_count: %s", why);
    return MLXN_OK;
}

static mlxn_status open_one(mlxn_backend backend, int ordinal, const mlxn_config *cfg, mlxn_device **out) {
    const mlxn_backend_vt *vt = backend_vt(backend);
    if (!vt) return mlxn_err(MLXN_ERR_UNSUPPORTED, "device_open: this build of mlxn has no CUDA backend");
    char why[256] = "";
    int n = vt->count(why, sizeof why);
    if (n == 0) return mlxn_err(MLXN_ERR_DEVICE, "device_open: no %s device: %s", vt->name, why);
    if (ordinal >= n)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "device_open: ordinal %d, but %s has %d device%s", ordinal,
                        vt->name, n, n == 1 ? "" : "s");
    mlxn_device *dev = calloc(1, sizeof *dev);
    if (!dev) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "device_open: out of host memory");
    dev->vt = vt;
    dev->backend = backend;
    dev->ordinal = ordinal;
    dev->cfg = *cfg;
    atomic_init(&dev->recording, 0);
    mlxn_status st = vt->open(ordinal, cfg, &dev->impl);
    if (st) {
        free(dev);
        return st;
    }
    *out = dev;
    return MLXN_OK;
}

mlxn_status mlxn_device_open_ex(mlxn_backend backend, int ordinal, const mlxn_config *cfg, mlxn_device **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "device_open: out is NULL");
    *out = NULL;
    mlxn_config c;
    mlxn_config_init(&c);
    if (cfg) c = *cfg;
    if (c.cpu_threads < 0)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "device_open: cfg.cpu_threads=%d, want >= 0", c.cpu_threads);
    if (c.cuda_cublaslt != 0 && c.cuda_cublaslt != 1)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "device_open: cfg.cuda_cublaslt=%d, want 0 or 1", c.cuda_cublaslt);
    if (ordinal < 0) return mlxn_err(MLXN_ERR_INVALID_ARG, "device_open: ordinal %d < 0", ordinal);
    switch (backend) {
    case MLXN_BACKEND_CPU:
        if (ordinal != 0)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "device_open: ordinal %d, but the CPU backend has one device", ordinal);
        return open_one(backend, 0, &c, out);
    case MLXN_BACKEND_CUDA:
        return open_one(backend, ordinal, &c, out);
    case MLXN_BACKEND_AUTO: {
        mlxn_status st = open_one(MLXN_BACKEND_CUDA, ordinal, &c, out);
        if (st == MLXN_OK) {
            mlxn_log(MLXN_LOG_INFO, "device_open: auto chose CUDA device %d", ordinal);
            return MLXN_OK;
        }
        mlxn_log(MLXN_LOG_INFO, "device_open: auto chose the CPU (CUDA: %s)", mlxn_last_error());
        return open_one(MLXN_BACKEND_CPU, 0, &c, out);
    }
    }
    return mlxn_err(MLXN_ERR_INVALID_ARG, "device_open: backend %d is not AUTO, CPU or CUDA", (int)backend);
}

mlxn_status mlxn_device_open(mlxn_backend backend, int ordinal, mlxn_device **out) {
    return mlxn_device_open_ex(backend, ordinal, NULL, out);
}

void mlxn_device_close(mlxn_device *dev) {
    if (!dev) return;
    dev->vt->close(dev->impl);
    free(dev);
}

mlxn_status mlxn_device_info(mlxn_device *dev, mlxn_device_props *out) {
    if (!dev) return mlxn_err(MLXN_ERR_INVALID_ARG, "device_info: dev is NULL");
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "device_info: out is NULL");
    memset(out, 0, sizeof *out);
    out->backend = dev->backend;
    out->ordinal = dev->ordinal;
    return dev->vt->props(dev->impl, out);
}
