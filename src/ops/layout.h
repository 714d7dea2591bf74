/* Layout family: one strided copy with a cast behind copy_strided, transpose, permute, slice
 * and concat. The validated arguments a backend receives; compiled by C and CUDA. */
#ifndef MLXN_OPS_LAYOUT_H
#define MLXN_OPS_LAYOUT_H

#include <stdint.h>
#include "mlxn.h"

/* y[Σ i_d·ys[d]] = x[Σ i_d·xs[d]] for every i in the 4-D shape ne (leading dims padded with
 * 1), converted from tx to ty. Strides in elements; x's may be negative (x points at the
 * walk's origin), y's are >= 0 and never map two elements to one address. */
typedef struct mlxn_layout_args {
    mlxn_type tx, ty; /* F32, F16, BF16 */
    const void *x;
    void *y;
    int64_t ne[4];    /* every ne > 0 */
    int64_t xs[4], ys[4];
} mlxn_layout_args;

#endif
