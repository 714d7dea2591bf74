/* KV cache family: appending rows at positions read on the device. The validated arguments
 * a backend receives; compiled by C and CUDA. */
#ifndef MLXN_OPS_KVCACHE_H
#define MLXN_OPS_KVCACHE_H

#include <stdint.h>
#include "mlxn.h"

/* cache[h][slot][:] = x[i][h·d : (h+1)·d] with slot = ring ? pos[i] mod l : pos[i]; a row
 * whose position is negative (or >= l without ring) is skipped, and a row is skipped when a
 * later row of the call has the same slot. */
typedef struct mlxn_kv_append_args {
    mlxn_type tx;          /* F32, F16, BF16 */
    mlxn_type tc;          /* F16, BF16, Q8_0 */
    const void *x;         /* [m][h·d] */
    const int32_t *pos;    /* [m] */
    void *cache;           /* [h][l][d] */
    int64_t m, h, l, d;    /* m, h, l > 0; d > 0, a multiple of 32 for Q8_0 */
    int ring;
} mlxn_kv_append_args;

#endif
