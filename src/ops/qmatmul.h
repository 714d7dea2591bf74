/* Quantized matmul family: the validated arguments a backend receives. Compiled by C and CUDA.
 * Y[b][m][n] = Σ_k X(b, m, k) · W[b][n][k], X element (b, m, k) at
 *   x + b·x_batch_stride + m·x_row_stride + (k / x_head_dim)·x_head_stride + k % x_head_dim
 * (in elements of tx); plain rows have x_head_dim = k and x_head_stride = 0. */
#ifndef MLXN_OPS_QMATMUL_H
#define MLXN_OPS_QMATMUL_H

#include <stddef.h>
#include <stdint.h>
#include "mlxn.h"

typedef enum mlxn_qmatmul_op {
    MLXN_QMATMUL_PRODUCT = 0, /* y = x · dequant(w)ᵀ */
    MLXN_QMATMUL_PREPARE = 1, /* y (BF16, w's shape) = dequant(w); x unused */
} mlxn_qmatmul_op;

typedef struct mlxn_qmatmul_args {
    mlxn_qmatmul_op op;
    mlxn_type tw, tx, ty;
    const void *w;           /* [batch or 1][n][k] rows of blocks */
    const void *x;           /* see above; NULL for PREPARE */
    void *y;                 /* [batch][m][n] dense; PREPARE: [batch][n][k] bf16 */
    const void *w_prepared;  /* NULL, or [batch or 1][n][k] bf16 = dequant(w) */
    int64_t batch, m, n, k;  /* batch, m, n >= 1; k >= 0, a multiple of tw's block */
    size_t w_row_bytes;      /* bytes of one row of w */
    size_t w_batch_bytes;    /* bytes between batches of w; 0 when one w serves every batch */
    int64_t x_row_stride;    /* elements */
    int64_t x_batch_stride;  /* elements */
    int64_t x_head_dim;      /* elements per head (k for plain rows), > 0 */
    int64_t x_head_stride;   /* elements between heads (0 for plain rows) */
} mlxn_qmatmul_args;

#endif
