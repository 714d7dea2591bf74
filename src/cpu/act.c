/* CPU activations: a thread takes a range of y's elements, row piece by row piece; operands
 * widened to float, the function applied, the result rounded to y's type. As in act.cu, a
 * gate is one overflow-free logistic σ(z) = (z >= 0 ? 1 : e) / (1 + e), e = e^−|z|, gelu's
 * ½(1 + tanh u) is σ(2u) and ½(1 + erf z) is ½·erfc(−z): accurate where the gate is nearly
 * closed, where 1 + tanh u would cancel. */
#include <math.h>

#include "cpu/cpu.h"
#include "cpu/rowio.h"

#define TILE 512

/* 2·√(2/π) and 1/√2, rounded to float */
#define GELU_2K 1.5957691216057308f
#define GELU_C 0.044715f
#define INV_SQRT2 0.70710678118654752f

static float sigmoid(float z) {
    float e = expf(-fabsf(z));
    return (z >= 0 ? 1.0f : e) / (1.0f + e);
}

static float act_unary(mlxn_act_op op, float x, float cap) {
    switch (op) {
    case MLXN_ACT_SILU:
    case MLXN_ACT_SWIGLU: return x * sigmoid(x);
    case MLXN_ACT_GELU_TANH:
    case MLXN_ACT_GEGLU_TANH: return x * sigmoid(GELU_2K * (x + GELU_C * (x * x * x)));
    case MLXN_ACT_GELU_ERF:
    case MLXN_ACT_GEGLU_ERF: return 0.5f * x * erfcf(-x * INV_SQRT2);
    case MLXN_ACT_SOFTCAP: return cap * tanhf(x / cap);
    default: return x;
    }
}

static void act_range(void *ctx, int64_t begin, int64_t end, int worker) {
    const mlxn_act_args *a = ctx;
    float va[TILE], vb[TILE];
    for (int64_t i = begin; i < end;) {
        const int64_t r = i / a->n, c = i - r * a->n;
        int64_t m = a->n - c;
        if (m > end - i) m = end - i;
        if (m > TILE) m = TILE;
        rowio_load(a->ta, a->a, r * a->a_stride + c, va, m);
        if (a->op == MLXN_ACT_SIGMOID_MUL) {
            rowio_load(a->tb, a->b, r * a->b_stride + c, vb, m);
            for (int64_t k = 0; k < m; k++) va[k] = va[k] * sigmoid(vb[k]);
        } else {
            for (int64_t k = 0; k < m; k++) va[k] = act_unary(a->op, va[k], a->cap);
            if (mlxn_act_binary(a->op)) {
                rowio_load(a->tb, a->b, r * a->b_stride + c, vb, m);
                for (int64_t k = 0; k < m; k++) va[k] = va[k] * vb[k];
            }
        }
        rowio_store(a->ty, a->y, i, va, m);
        i += m;
    }
}

static void act_run(cpu_device *dev, const void *args) {
    const mlxn_act_args *a = args;
    mlxn_parallel_for(dev->tp, a->rows * a->n, 16384, act_range, (void *)a);
}

mlxn_status mlxn_cpu_act(void *stream, const mlxn_act_args *a) {
    return mlxn_cpu_submit(stream, act_run, a, sizeof *a);
}
