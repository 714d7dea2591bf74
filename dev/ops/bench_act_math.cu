/* Dev bench (not part of the library): formulations of the 16-bit activations' math, each
 * checked for accuracy against double over a sweep of f32 inputs (the error over
 * tests/ops_act.c's f32 bound, before y's rounding) and timed on bf16 [4096][4096] against a
 * bf16 copy in the same run, operands rotated over 256 MB.
 *   nvcc -O3 -arch=sm_90a -I src -I include --expt-relaxed-constexpr dev/ops/bench_act_math.cu -o bench_act_math */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <vector>

#include "cuda/rowops.cuh"

enum { GELU_TANH, GELU_ERF, SOFTCAP };
static const char *const opn[] = {"gelu tanh", "gelu erf", "softcap"};


/* erfc(a), a >= 0: e^−a²·p(t)/(1 + 2a), t = (a − 4)/(a + 4); p a degree-10 Chebyshev fit. */
template <int EXP>
static __device__ __forceinline__ float erfc_pos(float a, float a2) {
    const float num = a - 4.0f, den = a + 4.0f, r = row_rcp_approx(den);
    float t = num * r;
    t = fmaf(r, fmaf(-t, den, num), t); /* one correction: t to about 1 ulp */
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
    const float e = EXP ? row_exp2_approx(a2 * -1.44269504f) : expf(-a2);
    const float v = p * row_rcp_approx(fmaf(2.0f, a, 1.0f)) * e;
    return a > 10.1f ? 0.0f : v;
}

template <int OP, int M>
static __device__ __forceinline__ float act_f(float x, float cap, float rcap) {
    if constexpr (OP == GELU_TANH) {
        const float z = 1.5957691216057308f * (x + 0.044715f * (x * x * x));
        if constexpr (M == 0) {
            const float e = expf(-fabsf(z));
            return x * ((z >= 0.0f ? 1.0f : e) / (1.0f + e));
        } else {
            const float e = M == 1 ? expf(-fabsf(z)) : row_exp2_approx(fabsf(z) * -1.44269504f);
            return x * ((z >= 0.0f ? 1.0f : e) * row_rcp_approx(1.0f + e));
        }
    } else if constexpr (OP == GELU_ERF) {
        if constexpr (M == 0) return 0.5f * x * erfcf(-x * 0.70710678118654752f);
        else {
            const float a = fabsf(x) * 0.70710678118654752f, a2 = 0.5f * (x * x);
            const float c = erfc_pos<M - 1>(a, a2);
            return 0.5f * x * (x >= 0.0f ? 2.0f - c : c);
        }
    } else {
        if constexpr (M == 0) return cap * tanhf(x / cap);
        else {
            float q = x * rcap;
            q = fmaf(fmaf(-q, cap, x), rcap, q); /* x / cap correctly rounded but for extremes */
            return cap * tanhf(q);
        }
    }
}

template <int OP, int M> static __global__ void acc_kernel(const float *x, float *y, long long n, float cap, float rcap) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        y[i] = act_f<OP, M>(x[i], cap, rcap);
}

/* HEAD's loop (one chunk per step) or ILP chunks loaded before any is computed */
template <int OP, int M, int ILP>
static __global__ void time_kernel(const __nv_bfloat16 *__restrict__ a, __nv_bfloat16 *y, long long chunks, float cap,
                                   float rcap) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; q < chunks; q += ILP * stride) {
        float v[ILP][ROW_VEC];
#pragma unroll
        for (int i = 0; i < ILP; i++)
            if (q + i * stride < chunks) row_ld8(a + ROW_VEC * (q + i * stride), ROW_VEC, true, v[i]);
#pragma unroll
        for (int i = 0; i < ILP; i++) {
            if (q + i * stride >= chunks) break;
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) v[i][k] = act_f<OP, M>(v[i][k], cap, rcap);
            row_st8(y + ROW_VEC * (q + i * stride), ROW_VEC, true, v[i]);
        }
    }
}

static __global__ void copy_kernel(const uint4 *__restrict__ a, uint4 *y, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        y[i] = a[i];
}

static double ref_f(int op, double x, double cap) {
    if (op == GELU_TANH) return x / (1 + exp(-2 * sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    if (op == GELU_ERF) return 0.5 * x * erfc(-x / sqrt(2.0));
    return cap * tanh(x / cap);
}
static double rel_bound(int op, double x) {
    const double u = 0x1p-24, k2 = 2 * sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
    return op == GELU_TANH ? u * (8 * fabs(k2) + 8) : op == GELU_ERF ? u * (2 * x * x + 10) : 6 * u;
}

#define CK(e)                                                                              \
    do {                                                                                   \
        cudaError_t err_ = (e);                                                            \
        if (err_ != cudaSuccess) {                                                         \
            fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(err_));   \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static float *g_x, *g_y;
static std::vector<float> hx;

template <int OP, int M> static void accuracy(float cap) {
    const long long n = (long long)hx.size();
    acc_kernel<OP, M><<<1024, 256>>>(g_x, g_y, n, cap, 1.0f / cap);
    CK(cudaDeviceSynchronize());
    std::vector<float> hy(n);
    CK(cudaMemcpy(hy.data(), g_y, n * 4, cudaMemcpyDeviceToHost));
    double worst = 0, wx = 0;
    long long bad = 0;
    for (long long i = 0; i < n; i++) {
        const double x = hx[i], ref = ref_f(OP, x, cap);
        const double b0 = fabs(ref) * rel_bound(OP, x) + 0x1p-149 * fabs(x);
        const double bound = b0 + 0x1p-24 * (fabs(ref) + b0) + 0x1p-149, err = fabs(hy[i] - ref);
        if (!(err <= bound)) bad++;
        if (fabs(ref) > 0x1p-100 && err / b0 > worst) worst = err / b0, wx = x;
    }
    printf("acc %-9s m%d: worst err/b0 %.3f at x=%.9g, %lld over the f32 test bound\n", opn[OP], M, worst, wx, bad);
}

static float median(std::vector<float> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <typename F> static float time_us(F launch, int nrot) {
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<float> t;
    for (int rep = 0; rep < 8; rep++) {
        CK(cudaEventRecord(e0));
        for (int i = 0; i < 64; i++) launch(i % nrot);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (rep) t.push_back(ms * 1000 / 64);
    }
    return median(t);
}

int main() {
    /* sweep: a dense grid on [-16, 16], every bf16 value in it, random N(0, 3) and N(0, 40) */
    for (long long i = 0; i <= (1 << 22); i++) hx.push_back(-16.0f + 32.0f * (float)i / (float)(1 << 22));
    for (unsigned b = 0; b < 65536; b++) {
        unsigned bits = b << 16;
        float f;
        memcpy(&f, &bits, 4);
        if (fabsf(f) <= 200.0f) hx.push_back(f);
    }
    srand(7);
    for (int i = 0; i < (1 << 22); i++) {
        double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = (rand() + 1.0) / (RAND_MAX + 2.0);
        double g = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        hx.push_back((float)(g * (i & 1 ? 3.0 : 40.0)));
    }
    CK(cudaMalloc(&g_x, hx.size() * 4));
    CK(cudaMalloc(&g_y, hx.size() * 4));
    CK(cudaMemcpy(g_x, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
    accuracy<GELU_TANH, 0>(1), accuracy<GELU_TANH, 1>(1), accuracy<GELU_TANH, 2>(1);
    accuracy<GELU_ERF, 0>(1), accuracy<GELU_ERF, 1>(1), accuracy<GELU_ERF, 2>(1);
    accuracy<SOFTCAP, 0>(30), accuracy<SOFTCAP, 1>(30), accuracy<SOFTCAP, 0>(15), accuracy<SOFTCAP, 1>(15);

    const long long n = 4096LL * 4096, chunks = n / 8;
    const int nrot = 4; /* 4 x (32 + 32) MB */
    __nv_bfloat16 *a[nrot], *y[nrot];
    std::vector<__nv_bfloat16> h(n);
    for (long long i = 0; i < n; i++) h[i] = __float2bfloat16((float)((i * 2654435761u % 20001) - 10000) / 2000.0f);
    for (int i = 0; i < nrot; i++) {
        CK(cudaMalloc(&a[i], n * 2));
        CK(cudaMalloc(&y[i], n * 2));
        CK(cudaMemcpy(a[i], h.data(), n * 2, cudaMemcpyHostToDevice));
    }
    int sms;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    const unsigned grid = (unsigned)std::min<long long>((chunks + 255) / 256, (long long)sms * 32);
    const double bytes = 4.0 * n;
    const float tc = time_us([&](int i) { copy_kernel<<<grid, 256>>>((const uint4 *)a[i], (uint4 *)y[i], n / 8); }, nrot);
    printf("copy bf16: %.2f us, %.0f GB/s\n", tc, bytes / tc / 1e3);
#define T(OP, M, ILP)                                                                                          \
    do {                                                                                                       \
        const float t = time_us([&](int i) { time_kernel<OP, M, ILP><<<grid, 256>>>(a[i], y[i], chunks, 50.0f, 0.02f); }, \
                                nrot);                                                                         \
        printf("time %-9s m%d ilp%d: %.2f us, %.1f%% of copy\n", opn[OP], M, ILP, t, 100.0 * tc / t);         \
    } while (0)
    T(GELU_TANH, 0, 1); T(GELU_TANH, 0, 2); T(GELU_TANH, 1, 1); T(GELU_TANH, 1, 2); T(GELU_TANH, 2, 1); T(GELU_TANH, 2, 2);
    T(GELU_ERF, 0, 1); T(GELU_ERF, 0, 2); T(GELU_ERF, 1, 1); T(GELU_ERF, 1, 2); T(GELU_ERF, 2, 1); T(GELU_ERF, 2, 2);
    T(SOFTCAP, 0, 1); T(SOFTCAP, 0, 2); T(SOFTCAP, 1, 1); T(SOFTCAP, 1, 2);
    CK(cudaGetLastError());
    return 0;
}
