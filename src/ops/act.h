/* Activations: the validated arguments a backend receives. Compiled by C and CUDA.
 * y[r][j] = f(a[r·a_stride + j], b[r·b_stride + j]) over rows × n; unary ops have no b. */
#ifndef MLXN_OPS_ACT_H
#define MLXN_OPS_ACT_H

#include <stdint.h>
#include "mlxn.h"

typedef enum mlxn_act_op {
    MLXN_ACT_SILU = 0,        /* a / (1 + e^−a) */
    MLXN_ACT_GELU_TANH = 1,   /* ½a(1 + tanh(√(2/π)(a + 0.044715a³))) */
    MLXN_ACT_GELU_ERF = 2,    /* ½a(1 + erf(a/√2)) */
    MLXN_ACT_SOFTCAP = 3,     /* cap · tanh(a / cap) */
    MLXN_ACT_SWIGLU = 4,      /* silu(a) · b */
    MLXN_ACT_GEGLU_TANH = 5,  /* gelu_tanh(a) · b */
    MLXN_ACT_GEGLU_ERF = 6,   /* gelu_erf(a) · b */
    MLXN_ACT_SIGMOID_MUL = 7, /* a · sigmoid(b) */
} mlxn_act_op;

/* Whether op reads b (host and device). */
#ifdef __CUDACC__
__host__ __device__
#endif
static inline int mlxn_act_binary(mlxn_act_op op) { return op >= MLXN_ACT_SWIGLU; }

typedef struct mlxn_act_args {
    mlxn_act_op op;
    mlxn_type ta, tb, ty;  /* tb = ta for unary ops */
    const void *a;
    const void *b;         /* NULL for unary ops; a + n (same buffer) for a fused gate-up row */
    void *y;               /* [rows][n], contiguous */
    int64_t rows, n;       /* > 0; a flat tensor is one row */
    int64_t a_stride, b_stride; /* elements between rows of a and of b: n, or 2n when fused */
    float cap;             /* SOFTCAP */
} mlxn_act_args;

#endif
