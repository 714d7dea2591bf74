/* Rows family: embedding lookup. The validated arguments a backend receives; compiled by C
 * and CUDA. y[i][k] = dequant(table[ids[i]])[k] · scale; an id outside [0, n_rows) gives a
 * row of zeros (the front end has already refused it where it could read the ids). */
#ifndef MLXN_OPS_ROWS_H
#define MLXN_OPS_ROWS_H

#include <stddef.h>
#include <stdint.h>
#include "mlxn.h"

typedef struct mlxn_get_rows_args {
    mlxn_type tt, ty;     /* table: F32/F16/BF16 or a block format with a dequantizer; y: F32/F16/BF16 */
    const void *table;    /* [n_rows][k] */
    const int32_t *ids;   /* [n_ids] */
    void *y;              /* [n_ids][k] */
    int64_t n_ids;        /* > 0 */
    int64_t n_rows;       /* >= 0 */
    int64_t k;            /* > 0, a multiple of tt's block */
    size_t row_bytes;     /* bytes of one table row */
    float scale;
    int scaled;           /* scale != 1: the multiply is done */
} mlxn_get_rows_args;

#endif
