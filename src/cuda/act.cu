/* CUDA activations: a grid-stride loop over 8-element chunks of y's rows, 16-byte accesses
 * where the pointers allow, the same formulas as the CPU backend (src/cpu/act.c says why the
 * gates go through an overflow-free logistic and erfc). */
#include "cuda/rowops.cuh"

struct act_kp {
    mlxn_act_op op;
    long long rows, n, a_stride, b_stride;
    long long per_row, chunks; /* chunks per row of y, in all */
    bool vec, div32;           /* 16-byte accesses; chunk indexes fit 32-bit division */
    float cap;
};

/* σ(z) without overflow: e^−|z| <= 1 */
static __device__ __forceinline__ float act_sigmoid(float z) {
    const float e = expf(-fabsf(z));
    return (z >= 0.0f ? 1.0f : e) / (1.0f + e);
}

static __device__ __forceinline__ float act_unary(mlxn_act_op op, float x, float cap) {
    switch (op) {
    case MLXN_ACT_SILU:
    case MLXN_ACT_SWIGLU: return x * act_sigmoid(x);
    case MLXN_ACT_GELU_TANH:
    case MLXN_ACT_GEGLU_TANH: return x * act_sigmoid(1.5957691216057308f * (x + 0.044715f * (x * x * x)));
    case MLXN_ACT_GELU_ERF:
    case MLXN_ACT_GEGLU_ERF: return 0.5f * x * erfcf(-x * 0.70710678118654752f);
    case MLXN_ACT_SOFTCAP: return cap * tanhf(x / cap);
    default: return x;
    }
}

template <typename TA, typename TB, typename TY>
static __global__ void act_kernel(const TA *__restrict__ a, const TB *__restrict__ b, TY *y, const act_kp p) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; q < p.chunks; q += stride) {
        long long r = 0, c = q;
        if (p.rows > 1) {
            r = p.div32 ? (long long)((unsigned)q / (unsigned)p.per_row) : q / p.per_row;
            c = q - r * p.per_row;
        }
        const long long e0 = ROW_VEC * c;
        const int valid = p.n - e0 < ROW_VEC ? (int)(p.n - e0) : ROW_VEC;
        float va[ROW_VEC], vb[ROW_VEC];
        row_ld8(a + r * p.a_stride + e0, valid, p.vec, va);
        if (p.op == MLXN_ACT_SIGMOID_MUL) {
            row_ld8(b + r * p.b_stride + e0, valid, p.vec, vb);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) va[k] = va[k] * act_sigmoid(vb[k]);
        } else {
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) va[k] = act_unary(p.op, va[k], p.cap);
            if (mlxn_act_binary(p.op)) {
                row_ld8(b + r * p.b_stride + e0, valid, p.vec, vb);
#pragma unroll
                for (int k = 0; k < ROW_VEC; k++) va[k] = va[k] * vb[k];
            }
        }
        row_st8(y + r * p.n + e0, valid, p.vec, va);
    }
}

extern "C" mlxn_status mlxn_cuda_act(void *stream, const mlxn_act_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    const long long per_row = (a->n + ROW_VEC - 1) / ROW_VEC, chunks = per_row * a->rows;
    act_kp p = {a->op, a->rows, a->n, a->a_stride, a->b_stride, per_row, chunks, false, chunks < 0xffffffffLL, a->cap};
    const size_t ea = row_esize(a->ta), eb = row_esize(a->tb), ey = row_esize(a->ty);
    const bool one = a->rows == 1; /* row strides matter only past the first row */
    p.vec = row_aligned16(a->a) && row_aligned16(a->y) && (one || row_aligned_count(a->a_stride, ea)) &&
            (one || row_aligned_count(a->n, ey)) &&
            (!a->b || (row_aligned16(a->b) && (one || row_aligned_count(a->b_stride, eb))));
    const unsigned threads = 256, grid = mlxn_grid_for(s->dev, chunks, threads);
    /* unary ops have no b: instantiate them with TB = TA rather than a separate set */
    return mlxn_dispatch_float(a->ta, [&](auto ta) {
        return mlxn_dispatch_float(a->b ? a->tb : a->ta, [&](auto tb) {
            return mlxn_dispatch_float(a->ty, [&](auto ty) {
                using TA = decltype(ta);
                using TB = decltype(tb);
                using TY = decltype(ty);
                act_kernel<TA, TB, TY><<<grid, threads, 0, s->s>>>(static_cast<const TA *>(a->a),
                                                                   static_cast<const TB *>(a->b),
                                                                   static_cast<TY *>(a->y), p);
                MLXN_CUDA_CHECK_LAUNCH();
                return MLXN_OK;
            });
        });
    });
}
