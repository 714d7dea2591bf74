/* Norm family: the validated arguments a backend receives. Compiled by C and CUDA.
 * y is [rows][n] in segments of seg elements (seg = n, or head_dim), each normalized alone. */
#ifndef MLXN_OPS_NORM_H
#define MLXN_OPS_NORM_H

#include <stdint.h>
#include "mlxn.h"

typedef enum mlxn_norm_kind {
    MLXN_NORM_RMS = 0,   /* x / sqrt(mean(x²) + eps) */
    MLXN_NORM_LAYER = 1, /* (x − μ) / sqrt(mean((x − μ)²) + eps) */
    MLXN_NORM_L2 = 2,    /* x / max(sqrt(sum(x²)), eps) */
} mlxn_norm_kind;

typedef struct mlxn_norm_args {
    mlxn_norm_kind kind;
    mlxn_type tx, tw, tb, tr, ty; /* h has tx; tw, tb, tr unused when the pointer is NULL */
    const void *x;     /* x_col applied: row i starts x_stride elements after row i − 1 */
    const void *w;     /* NULL or [seg] */
    const void *b;     /* NULL or [seg] (LAYER only) */
    const void *r;     /* residual mode: [rows][n]; NULL otherwise */
    void *h;           /* residual mode: [rows][n] of tx, = x + r; NULL otherwise */
    void *y;           /* [rows][n] */
    int64_t rows, n;   /* > 0 */
    int64_t seg;       /* n, or head_dim dividing n */
    int64_t x_stride;  /* elements between rows of x: n, or the wider buffer's row (residual: n) */
    float eps, w_offset;
} mlxn_norm_args;

#endif
