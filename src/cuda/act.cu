/* CUDA activations: a grid-stride loop over 8-element chunks of y's rows, 16-byte accesses
 * where the pointers allow, the CPU backend's formulas (src/cpu/act.c says why the gates go
 * through an overflow-free logistic and erfc), with cheaper forms of GELU's gates and of
 * softcap's divide inside tests/ops_act.c's bounds. */
#include "cuda/rowops.cuh"

struct act_kp {
    mlxn_act_op op;
    long long rows, n, a_stride, b_stride;
    long long per_row, chunks; /* chunks per row of y, in all */
    bool vec, div32;           /* 16-byte accesses; chunk indexes fit 32-bit division */
    float cap, rcap;
};

/* σ(z) without overflow: e^−|z| <= 1 */
static __device__ __forceinline__ float act_sigmoid(float z) {
    const float e = expf(-fabsf(z));
    return (z >= 0.0f ? 1.0f : e) / (1.0f + e);
}

/* σ(z) through an approximate reciprocal of 1 + e (in [1, 2]) instead of the IEEE divide, for
 * GELU-tanh, whose bound (tests/ops_act.c) grows with |z|: measured at most 0.41 of it over
 * 8.5M f32 inputs (the divide: 0.36; dev/ops/bench_act_math.cu). The divide is about 10 of
 * the gate's 25 instructions, and 16-bit activations are bound by instructions (H100, bf16
 * rows of 4096: SiLU, which keeps the divide, 88% of copy; GELU-tanh with this, 93%). */
static __device__ __forceinline__ float act_sigmoid_fast(float z) {
    const float e = expf(-fabsf(z));
    return (z >= 0.0f ? 1.0f : e) * row_rcp_approx(1.0f + e);
}

/* erfc(a) for a >= 0 as e^−a²·p(t)/(1 + 2a), t = (a − 4)/(a + 4) in [−1, 0.43] for a <= 10.1
 * (past that erfc(a) < 2^-149): p is the degree-10 Chebyshev interpolant of
 * erfc(a)·e^a²·(1 + 2a) in t, 0.77 u from it with its coefficients rounded to f32 (fitted in
 * 40-digit arithmetic). a2 = a² computed from x (a = |x|/√2), and e^−a² = 2^(−a2·log2 e)
 * through ex2.approx: its error, about a²·u, is inside the bound's 2x²·u (tests/ops_act.c).
 * About half the instructions of erfcf (one correction of t, no extended-precision exp);
 * measured over 8.5M f32 inputs (every bf16 in [−200, 200], a grid on [−16, 16], N(0, 3)
 * and N(0, 40) draws; dev/ops/bench_act_math.cu): at most 0.68 of the f32 bound (erfcf:
 * 0.63). bf16 GELU-erf on an H100: 56% of copy with erfcf, 81% with this. */
static __device__ __forceinline__ float act_erfc_pos(float a, float a2) {
    const float num = a - 4.0f, den = a + 4.0f, r = row_rcp_approx(den);
    float t = num * r;
    t = fmaf(r, fmaf(-t, den, num), t);
    float p = 8.564457530e-04f;
    p = fmaf(p, t, 6.949390285e-03f);
    p = fmaf(p, t, -1.594436727e-02f);
    p = fmaf(p, t, 3.643504903e-02f);
    p = fmaf(p, t, -6.661387533e-02f);
    p = fmaf(p, t, 9.382031113e-02f);
    p = fmaf(p, t, -1.009939611e-01f);
    p = fmaf(p, t, 6.809321791e-02f);
    p = fmaf(p, t, 1.537752431e-02f);
    p = fmaf(p, t, -1.396210641e-01f);
    p = fmaf(p, t, 1.232995152e+00f);
    const float v = p * row_rcp_approx(fmaf(2.0f, a, 1.0f)) * row_exp2_approx(a2 * -1.44269504f);
    return a > 10.1f ? 0.0f : v;
}

/* ½·x·erfc(−x/√2) */
static __device__ __forceinline__ float act_gelu_erf(float x) {
    const float c = act_erfc_pos(fabsf(x) * 0.70710678118654752f, 0.5f * (x * x));
    return 0.5f * x * (x >= 0.0f ? 2.0f - c : c);
}

/* x / cap from rcap = 1 / cap (correctly rounded): the product and one correction give the
 * correctly rounded quotient (Markstein; short of overflow and underflow) in 3 instructions
 * instead of the divide's 10 */
static __device__ __forceinline__ float act_div_by(float x, float cap, float rcap) {
    const float q = x * rcap;
    return fmaf(fmaf(-q, cap, x), rcap, q);
}

/* The gate of op on x (SwiGLU's and GeGLU's gates are SiLU and GELU) */
template <mlxn_act_op OP> static __device__ __forceinline__ float act_unary(float x, const act_kp &p) {
    if constexpr (OP == MLXN_ACT_SILU) return x * act_sigmoid(x);
    else if constexpr (OP == MLXN_ACT_GELU_TANH)
        return x * act_sigmoid_fast(1.5957691216057308f * (x + 0.044715f * (x * x * x)));
    else if constexpr (OP == MLXN_ACT_GELU_ERF) return act_gelu_erf(x);
    else return p.cap * tanhf(act_div_by(x, p.cap, p.rcap));
}

template <mlxn_act_op OP> static __device__ __forceinline__ void act_unary8(float (&v)[ROW_VEC], const act_kp &p) {
#pragma unroll
    for (int k = 0; k < ROW_VEC; k++) v[k] = act_unary<OP>(v[k], p);
}

/* One chunk per thread step: a's and b's chunks loaded before either is used, then the op
 * chosen once per chunk, so the 8 elements' arithmetic is one straight run the scheduler can
 * interleave. (H100, bf16 rows of 4096, against the op chosen per element and b loaded after
 * a's arithmetic: SwiGLU 87% -> 101% of copy, sigmoid_mul 95% -> 101%.) */
template <typename TA, typename TB, typename TY>
static __global__ void act_kernel(const TA *__restrict__ a, const TB *__restrict__ b, TY *y, const act_kp p) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    const bool two = mlxn_act_binary(p.op); /* b is read (the gated ops and sigmoid_mul) */
    for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; q < p.chunks; q += stride) {
        long long r = 0, c = q;
        if (p.rows > 1) {
            r = p.div32 ? (long long)((unsigned)q / (unsigned)p.per_row) : q / p.per_row;
            c = q - r * p.per_row;
        }
        const long long e0 = ROW_VEC * c;
        const int valid = p.n - e0 < ROW_VEC ? (int)(p.n - e0) : ROW_VEC;
        const TA *pa = a + r * p.a_stride + e0;
        const TB *pb = two ? b + r * p.b_stride + e0 : nullptr;
        float va[ROW_VEC], vb[ROW_VEC];
        if (p.vec && valid == ROW_VEC) {
            row_raw<TA> ra;
            row_raw<TB> rb;
            row_ld_raw(pa, ra);
            if (two) row_ld_raw(pb, rb);
            row_unpack(ra, va);
            if (two) row_unpack(rb, vb);
        } else {
            row_ld8(pa, valid, p.vec, va);
            if (two) row_ld8(pb, valid, p.vec, vb);
        }
        switch (p.op) {
        case MLXN_ACT_SILU:
        case MLXN_ACT_SWIGLU: act_unary8<MLXN_ACT_SILU>(va, p); break;
        case MLXN_ACT_GELU_TANH:
        case MLXN_ACT_GEGLU_TANH: act_unary8<MLXN_ACT_GELU_TANH>(va, p); break;
        case MLXN_ACT_GELU_ERF:
        case MLXN_ACT_GEGLU_ERF: act_unary8<MLXN_ACT_GELU_ERF>(va, p); break;
        case MLXN_ACT_SOFTCAP: act_unary8<MLXN_ACT_SOFTCAP>(va, p); break;
        case MLXN_ACT_SIGMOID_MUL:
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) va[k] = va[k] * act_sigmoid(vb[k]);
            break;
        default: break;
        }
        if (two && p.op != MLXN_ACT_SIGMOID_MUL) {
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) va[k] = va[k] * vb[k];
        }
        row_st8(y + r * p.n + e0, valid, p.vec, va);
    }
}

extern "C" mlxn_status mlxn_cuda_act(void *stream, const mlxn_act_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    const long long per_row = (a->n + ROW_VEC - 1) / ROW_VEC, chunks = per_row * a->rows;
    act_kp p = {a->op, a->rows, a->n, a->a_stride, a->b_stride, per_row, chunks, false, chunks < 0xffffffffLL,
                a->cap, a->op == MLXN_ACT_SOFTCAP ? 1.0f / a->cap : 0.0f};
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
