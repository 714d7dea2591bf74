// Standalone timing of the dp4a mat-vec (src/cuda/qmatmul_mv_dp4a.cuh) over its launch
// parameters, against the streaming read of readbw.cu in the same run; weights rotated over
// 4x the L2; CUDA-graph replays. Build (sm_90a):
//   nvcc -O3 -std=c++17 -arch=sm_90a -Iinclude -Isrc --expt-relaxed-constexpr \
//        dev/qmatmul/mvq_bench.cu -o mvq_bench
// Run: ./mvq_bench   (prints one line per format, shape, M and warps-per-row split)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "cuda/qmatmul.cuh"
static __device__ __forceinline__ float h2f(uint32_t h) { return __half2float(__ushort_as_half((unsigned short)h)); }
#include "cuda/qmatmul_mv_dp4a.cuh"
#include "readbw.cu"

mlxn_status mlxn_cuda_workspace(cuda_stream *, size_t, void **) { return MLXN_ERR_UNSUPPORTED; }
extern "C" mlxn_status mlxn_err(mlxn_status st, const char *, ...) { return st; }

#define CK(x) do { cudaError_t e_ = (x); if (e_) { printf("%s: %s\n", #x, cudaGetErrorString(e_)); exit(1); } } while (0)

static __global__ void fill(uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        p[i] = (uint8_t)h;
    }
}

template <class F> static double graph_time(cudaStream_t s, int calls, F &&body) {
    cudaGraph_t g; cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    for (int i = 0; i < calls; i++) body(i);
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
    CK(cudaGraphLaunch(ge, s));
    CK(cudaStreamSynchronize(s));
    std::vector<float> v;
    for (int r = 0; r < 5; r++) {
        cudaEventRecord(a, s); CK(cudaGraphLaunch(ge, s)); cudaEventRecord(b, s); CK(cudaEventSynchronize(b));
        float ms; cudaEventElapsedTime(&ms, a, b); v.push_back(ms);
    }
    std::sort(v.begin(), v.end());
    cudaGraphExecDestroy(ge); cudaGraphDestroy(g);
    return v[2] * 1e-3 / calls;
}

static uint8_t *wall; static size_t wall_bytes;
static void *xbuf; static int8_t *xq; static float2 *xd; static float *ybuf;
static cudaDeviceProp prop;
static const char *tname(mlxn_type t) {
    return t == MLXN_TYPE_Q4_0 ? "q4_0" : t == MLXN_TYPE_Q4_1 ? "q4_1" : t == MLXN_TYPE_Q8_0 ? "q8_0" : t == MLXN_TYPE_IQ4_NL ? "iq4_nl" : t == MLXN_TYPE_Q4_K ? "q4_K" : t == MLXN_TYPE_Q5_K ? "q5_K" : t == MLXN_TYPE_Q6_K ? "q6_K" : "?";
}

/* One (format, shape, M): main-kernel time for stages ST and split wk; with the X pre-pass
 * (plain, and with programmatic dependent launch) for the library's stages. */
template <mlxn_type T, int MT, int ST, int CHB>
static void one(cudaStream_t s, const qmm_kp &p, size_t wb, int copies, int wk, double ceil_bw, bool prepass, bool persist,
                char *out) {
    typedef mvq_geom<T> GE;
    const int smem = GE::template smem<MT, ST, CHB>();
    auto k = mvq_kernel<T, MT, ST, CHB>;
    CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    const int rpb = 4 * (MVQ_WARPS / wk), G = p.w_row % 16 == 0 && (CHB / mvq<T>::SUPER * mvq<T>::BB) % 16 == 0 ? 16 : 8;
    const long long qw = (long long)MT * (p.k / 32);
    const long long ntiles = (p.n + rpb - 1) / rpb;
    int bps = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&bps, k, 32 * MVQ_WARPS, smem));
    const long long cap = (long long)bps * prop.multiProcessorCount, per = (ntiles + cap - 1) / cap;
    dim3 grid(persist ? (ntiles + per - 1) / per : ntiles, 1);
    auto launch = [&](int i, bool pdl) {
        qmm_kp q = p; q.w = wall + (size_t)(i % copies) * wb;
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = grid; cfg.blockDim = dim3(32 * MVQ_WARPS); cfg.dynamicSmemBytes = smem; cfg.stream = s;
        cudaLaunchAttribute at[1];
        at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        at[0].val.programmaticStreamSerializationAllowed = 1;
        cfg.attrs = at; cfg.numAttrs = pdl ? 1 : 0;
        CK(cudaLaunchKernelEx(&cfg, k, q, (const int8_t *)xq, (const float2 *)xd, wk, G));
    };
    const double t1 = graph_time(s, 4 * copies, [&](int i) { launch(i, false); });
    out += sprintf(out, " %.2f", wb / t1 / ceil_bw);
    if (!prepass) return;
    auto pre = [&]() { mvq_quant_x_kernel<__nv_bfloat16, MT><<<(unsigned)((qw + 7) / 8), 256, 0, s>>>(p, xq, xd); };
    const double t2 = graph_time(s, 4 * copies, [&](int i) { pre(); launch(i, false); });
    const double t3 = graph_time(s, 4 * copies, [&](int i) { pre(); launch(i, true); });
    sprintf(out, " | main %.2f us, +prepass %.2f us %.3f, pdl %.2f us %.3f", t1 * 1e6, t2 * 1e6, wb / t2 / ceil_bw, t3 * 1e6,
            wb / t3 / ceil_bw);
}

template <mlxn_type T, int MT> static void run(cudaStream_t s, int N, int K, int M, double ceil_bw) {
    typedef mvq_geom<T> GE;
    const size_t row = (size_t)K / 32 / mvq<T>::SUPER * mvq<T>::BB, wb = row * N;
    const int copies = (int)(wall_bytes / wb) < 64 ? (int)(wall_bytes / wb) : 64;
    qmm_kp p = {};
    p.w_row = row; p.x = xbuf; p.x_row = K; p.x_batch = (long long)M * K; p.x_hd = K; p.y = ybuf; p.ty = MLXN_TYPE_F32;
    p.batch = 1; p.m = M; p.n = N; p.k = K;
    const int nchunk = (K / 32 + 31) / 32;
    char line[1024];
    char *o = line;
    o += sprintf(o, "%-7s %5dx%-5d M=%d  main ratio, persistent, chunk 32 / 64 blocks, wk1/2/4/8:", tname(T), N, K, M);
    for (int wk = 1; wk <= 8 && wk <= nchunk; wk *= 2) {
        o += sprintf(o, " [wk%d", wk);
        one<T, MT, 2, 32>(s, p, wb, copies, wk, ceil_bw, false, true, o); o += strlen(o);
        if (wk <= nchunk / 2 && GE::template smem<MT, 2, 64>() <= 100 * 1024) {
            one<T, MT, 2, 64>(s, p, wb, copies, wk, ceil_bw, false, true, o); o += strlen(o);
        }
        o += sprintf(o, "]");
    }
    printf("%s\n", line);
    /* the library's choice of wk */
    int wk = 1;
    while (wk < MVQ_WARPS && 2 * wk <= nchunk) wk *= 2;
    o = line + sprintf(line, "    library wk=%d ST=%d persistent:", wk, GE::STAGES);
    one<T, MT, GE::STAGES, GE::CHB>(s, p, wb, copies, wk, ceil_bw, true, true, o);
    printf("%s\n", line);
    CK(cudaGetLastError());
    fflush(stdout);
}

static double read_ceiling(cudaStream_t s) {
    const size_t bytes = (size_t)1 << 30;
    uint8_t *buf; unsigned *out;
    CK(cudaMalloc(&buf, bytes)); CK(cudaMalloc(&out, 4u * 512 * 4 * prop.multiProcessorCount));
    fill<<<1024, 256, 0, s>>>(buf, bytes, 7);
    cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
    std::vector<float> v;
    for (int it = -2; it < 9; it++) {
        cudaEventRecord(a, s);
        mlxn_read_bw<<<prop.multiProcessorCount * 4, 512, 0, s>>>((const uint4 *)buf, bytes / 16, out);
        cudaEventRecord(b, s); CK(cudaEventSynchronize(b));
        float ms; cudaEventElapsedTime(&ms, a, b);
        if (it >= 0) v.push_back(ms);
    }
    std::sort(v.begin(), v.end());
    cudaFree(buf); cudaFree(out);
    return bytes / (v[4] * 1e-3);
}

template <int MT> static void fmts(cudaStream_t s, int N, int K, int M, double c) {
    run<MLXN_TYPE_Q4_0, MT>(s, N, K, M, c);
    run<MLXN_TYPE_Q8_0, MT>(s, N, K, M, c);
    run<MLXN_TYPE_Q4_1, MT>(s, N, K, M, c);
    run<MLXN_TYPE_IQ4_NL, MT>(s, N, K, M, c);
    run<MLXN_TYPE_Q4_K, MT>(s, N, K, M, c);
    run<MLXN_TYPE_Q5_K, MT>(s, N, K, M, c);
    run<MLXN_TYPE_Q6_K, MT>(s, N, K, M, c);
}

int main(int argc, char **argv) {
    CK(cudaGetDeviceProperties(&prop, 0));
    cudaStream_t s; CK(cudaStreamCreate(&s));
    const double c = read_ceiling(s);
    printf("%s, %d SMs, L2 %d MB: streaming read %.0f GB/s\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20, c * 1e-9);
    wall_bytes = (size_t)4 * prop.l2CacheSize + ((size_t)64 << 20);
    CK(cudaMalloc(&wall, wall_bytes));
    fill<<<4096, 256, 0, s>>>(wall, wall_bytes, 1);
    CK(cudaMalloc(&xbuf, (size_t)8 * 16384 * 2));
    fill<<<64, 256, 0, s>>>((uint8_t *)xbuf, (size_t)8 * 16384 * 2, 3); /* bf16 bit patterns: some NaN, timing only */
    CK(cudaMalloc(&xq, (size_t)8 * 16384)); CK(cudaMalloc(&xd, (size_t)8 * 512 * 8)); CK(cudaMalloc(&ybuf, (size_t)8 * 16384 * 4));
    const int shapes[3][2] = {{4096, 14336}, {14336, 4096}, {4096, 4096}};
    for (int i = 0; i < 3; i++) {
        fmts<1>(s, shapes[i][0], shapes[i][1], 1, c);
        fmts<2>(s, shapes[i][0], shapes[i][1], 2, c);
        fmts<4>(s, shapes[i][0], shapes[i][1], 4, c);
    }
    return 0;
}
