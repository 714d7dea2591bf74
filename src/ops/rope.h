/* RoPE: the validated arguments a backend receives. Compiled by C and CUDA. The front end
 * has already turned base, scaling and sections into one frequency and one position
 * stream per pair, so a backend only computes θ = pos · freq[i] / ff[i] and rotates. */
#ifndef MLXN_OPS_ROPE_H
#define MLXN_OPS_ROPE_H

#include <stdint.h>
#include "mlxn.h"

#define MLXN_ROPE_MAX_PAIRS (MLXN_ROPE_MAX_ROT / 2)

typedef struct mlxn_rope_args {
    mlxn_type tx, ty;
    const void *x;        /* x_col applied: token t's heads start at x + t·x_stride */
    void *y;              /* [T][H][D] */
    const int32_t *pos;   /* stream k of token t at pos[k·T + t] */
    const float *ff;      /* NULL or [n_rot/2] frequency divisors */
    int64_t T, H, D;      /* > 0 */
    int64_t n_rot;        /* even, 0 <= n_rot <= min(D, MLXN_ROPE_MAX_ROT) */
    int64_t x_stride;     /* elements between tokens of x: H·D, or the wider buffer's row */
    int neox;             /* pair i is (i, i + n_rot/2) rather than (2i, 2i + 1) */
    float mscale;         /* multiplies cos and sin */
    float freq[MLXN_ROPE_MAX_PAIRS];     /* f_i without ff, rounded once from double */
    uint8_t stream[MLXN_ROPE_MAX_PAIRS]; /* position stream of pair i */
} mlxn_rope_args;

#endif
