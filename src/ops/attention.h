/* Attention family: the validated arguments a backend receives (C and CUDA).
 * q [Hq][M][D], k/v [Hkv][L_cap][D] (rows of k_row_bytes / v_row_bytes), o per out_layout. */
#ifndef MLXN_OPS_ATTENTION_H
#define MLXN_OPS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>
#include "mlxn.h"

typedef struct mlxn_attention_args {
    mlxn_type tq, tk, tv, to, tmask;
    const void *q, *k, *v;
    void *o;
    const void *mask;       /* NULL or [M][L_cap] of tmask */
    const float *sinks;     /* NULL or [Hq] */
    const int32_t *kv_len;  /* NULL (L = L_cap) or one I32, clamped to [0, L_cap] when read */
    int64_t n_q_heads, n_kv_heads, M, L_cap, D;
    size_t k_row_bytes, v_row_bytes;
    float scale, softcap;   /* scale resolved (never 0); softcap 0: off */
    int causal;
    int32_t window;         /* 0: off */
    int out_layout;         /* mlxn_attn_layout */
} mlxn_attention_args;

#endif
