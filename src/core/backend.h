/* The backend vtable: what a backend (CPU, CUDA) provides to src/core and src/ops.
 * Compiled by C and CUDA. Backends see only their own handles (void *): a device, a
 * stream, a graph; src/core owns the public objects around them. Ops arrive validated. */
#ifndef MLXN_BACKEND_H
#define MLXN_BACKEND_H

#include "mlxn.h"
#include "ops/attention.h"
#include "ops/convert.h"
#include "ops/eltwise.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "ops/softmax.h"
#include "ops/act.h"
#include "ops/qmatmul.h"
#include "ops/rows.h"
#include "ops/layout.h"
#include "ops/kvcache.h"
#include "ops/sample.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlxn_backend_vt {
    const char *name;
    /* Number of devices; 0 with the reason written to why when there are none. */
    int (*count)(char *why, size_t why_len);
    mlxn_status (*open)(int ordinal, const mlxn_config *cfg, void **dev);
    void (*close)(void *dev);
    mlxn_status (*props)(void *dev, mlxn_device_props *out);

    /* Memory: alloc returns zeroed memory; bytes > 0. */
    mlxn_status (*alloc)(void *dev, size_t bytes, void **ptr);
    void (*free)(void *dev, void *ptr);
    mlxn_status (*write)(void *dev, void *dst, const void *src, size_t n); /* host → device */
    mlxn_status (*read)(void *dev, void *dst, const void *src, size_t n);  /* device → host */
    mlxn_status (*copy)(void *dev, void *dst, const void *src, size_t n);  /* device → device */
    mlxn_status (*fill)(void *dev, void *dst, size_t n, const void *pattern, size_t pattern_bytes);

    mlxn_status (*stream_create)(void *dev, void **stream);
    mlxn_status (*stream_sync)(void *stream);
    void (*stream_destroy)(void *stream);

    mlxn_status (*graph_begin)(void *stream);
    mlxn_status (*graph_end)(void *stream, void **graph);
    mlxn_status (*graph_replay)(void *stream, void *graph);
    void (*graph_destroy)(void *graph);

    /* Ops: one entry per op family; arguments validated by src/ops. NULL: not implemented
     * on this backend (the front end returns MLXN_ERR_UNSUPPORTED). */
    mlxn_status (*eltwise)(void *stream, const mlxn_eltwise_args *a);
    mlxn_status (*norm)(void *stream, const mlxn_norm_args *a);
    mlxn_status (*rope)(void *stream, const mlxn_rope_args *a);
    mlxn_status (*softmax)(void *stream, const mlxn_softmax_args *a);
    mlxn_status (*act)(void *stream, const mlxn_act_args *a);
    mlxn_status (*qmatmul)(void *stream, const mlxn_qmatmul_args *a);
    mlxn_status (*convert)(void *stream, const mlxn_convert_args *a);
    mlxn_status (*attention)(void *stream, const mlxn_attention_args *a);
    mlxn_status (*get_rows)(void *stream, const mlxn_get_rows_args *a);
    mlxn_status (*layout)(void *stream, const mlxn_layout_args *a);
    mlxn_status (*kv_append)(void *stream, const mlxn_kv_append_args *a);
    mlxn_status (*sample)(void *stream, const mlxn_sample_args *a);
} mlxn_backend_vt;

extern const mlxn_backend_vt mlxn_cpu_backend;
/* NULL when the library was built without CUDA. */
const mlxn_backend_vt *mlxn_cuda_backend(void);

/* Sets the thread's error message and returns s. printf-style. */
mlxn_status mlxn_err(mlxn_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void mlxn_log(mlxn_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Overflow-checked size arithmetic: false on overflow. */
static inline bool mlxn_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool mlxn_add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

#ifdef __cplusplus
}
#endif

#endif
