/* Status strings, the thread-local error message, logging, version and build facts. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "core/core.h"

#define MLXN_STR2(x) #x
#define MLXN_STR(x) MLXN_STR2(x)

const char *mlxn_version(void) {
    return MLXN_STR(MLXN_VERSION_MAJOR) "." MLXN_STR(MLXN_VERSION_MINOR) "." MLXN_STR(MLXN_VERSION_PATCH);
}

#ifndef MLXN_BUILD_CUDA_ARCHS
#define MLXN_BUILD_CUDA_ARCHS ""
#endif

const char *mlxn_build_info(void) {
#ifdef MLXN_HAVE_CUDA
    return "cuda=on (archs " MLXN_BUILD_CUDA_ARCHS ", static runtime), cc=" __VERSION__;
#else
    return "cuda=off, cc=" __VERSION__;
#endif
}

const char *mlxn_status_str(mlxn_status s) {
    switch (s) {
    case MLXN_OK: return "ok";
    case MLXN_ERR_INVALID_ARG: return "invalid argument";
    case MLXN_ERR_UNSUPPORTED: return "unsupported";
    case MLXN_ERR_OUT_OF_MEMORY: return "out of memory";
    case MLXN_ERR_IO: return "i/o error";
    case MLXN_ERR_FORMAT: return "malformed file";
    case MLXN_ERR_DEVICE: return "device error";
    }
    return "unknown status";
}

static thread_local char last_error[512];

const char *mlxn_last_error(void) { return last_error; }

void mlxn_clear_error(void) { last_error[0] = 0; }

mlxn_status mlxn_err(mlxn_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    mlxn_log(MLXN_LOG_DEBUG, "%s: %s", mlxn_status_str(s), last_error);
    return s;
}

/* ── logging ── */

static mlxn_log_fn log_fn;
static void *log_user;
static int env_level = -1; /* read once from MLXN_LOG: the one environment variable */

static int default_level(void) {
    if (env_level < 0) {
        const char *e = getenv("MLXN_LOG");
        int lv = MLXN_LOG_WARN;
        if (e) {
            if (!strcmp(e, "error")) lv = MLXN_LOG_ERROR;
            else if (!strcmp(e, "info")) lv = MLXN_LOG_INFO;
            else if (!strcmp(e, "debug")) lv = MLXN_LOG_DEBUG;
        }
        env_level = lv;
    }
    return env_level;
}

void mlxn_log_set(mlxn_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void mlxn_log(mlxn_log_level level, const char *fmt, ...) {
    mlxn_log_fn fn = log_fn;
    if (!fn && (int)level > default_level()) return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (fn) {
        fn(level, msg, log_user);
        return;
    }
    static const char *names[] = {"error", "warn", "info", "debug"};
    fprintf(stderr, "mlxn %s: %s\n", names[level & 3], msg);
}
