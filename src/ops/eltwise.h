/* Elementwise family: the validated arguments a backend receives. Compiled by C and CUDA.
 * y[i] = f(a[i], b[i mod nb]) · scale + bias, i in [0, n), each operand F32, F16 or BF16. */
#ifndef MLXN_OPS_ELTWISE_H
#define MLXN_OPS_ELTWISE_H

#include <stdint.h>
#include "mlxn.h"

typedef enum mlxn_eltwise_op {
    MLXN_ELTWISE_COPY = 0, /* f(a)    = a      (b unused) */
    MLXN_ELTWISE_ADD = 1,  /* f(a, b) = a + b */
    MLXN_ELTWISE_MUL = 2,  /* f(a, b) = a · b */
} mlxn_eltwise_op;

typedef struct mlxn_eltwise_args {
    mlxn_eltwise_op op;
    mlxn_type ta, tb, ty; /* tb unused for COPY */
    const void *a;
    const void *b;        /* NULL for COPY */
    void *y;              /* may equal a */
    int64_t n;            /* elements of a and y, > 0 */
    int64_t nb;           /* elements of b: n, or the row length of a (row broadcast) */
    float scale, bias;
    int affine;           /* 0 when scale == 1 and bias == 0: the step is skipped */
} mlxn_eltwise_args;

#endif
