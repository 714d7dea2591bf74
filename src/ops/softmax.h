/* Softmax: the validated arguments a backend receives. Compiled by C and CUDA.
 * y[r] = softmax(cap(x[r] · scale) + mask[r mod mask_rows]) over rows of n. */
#ifndef MLXN_OPS_SOFTMAX_H
#define MLXN_OPS_SOFTMAX_H

#include <stdint.h>
#include "mlxn.h"

typedef struct mlxn_softmax_args {
    mlxn_type tx, tm, ty; /* tm unused without a mask */
    const void *x;        /* [rows][n] */
    const void *mask;     /* NULL or [mask_rows][n] */
    void *y;              /* [rows][n]; may equal x */
    int64_t rows, n;      /* > 0 */
    int64_t mask_rows;    /* divides rows; 0 without a mask */
    float scale;
    float softcap;        /* 0: off */
} mlxn_softmax_args;

#endif
