/* Convert family: whole-tensor conversion between any two types with reference row
 * functions (dequantize x's rows to f32, quantize them into y's type). */
#ifndef MLXN_OPS_CONVERT_H
#define MLXN_OPS_CONVERT_H

#include <stdint.h>
#include "mlxn.h"

typedef struct mlxn_convert_args {
    mlxn_type tx, ty;
    const void *x;
    void *y;
    int64_t rows;       /* > 0 */
    int64_t row_elems;  /* elements per row, a multiple of both types' blocks */
    size_t x_row_bytes, y_row_bytes;
} mlxn_convert_args;

#endif
