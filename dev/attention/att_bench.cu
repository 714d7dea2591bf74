/* Attention kernel variants on one GPU: decode (M = 1) against the same run's streaming-read
 * bandwidth, prefill (M = L, causal) in TFLOP/s over the visible half, each variant checked
 * against the library's choice on the same inputs. Includes the library's attention.cu, so
 * the kernels timed are the library's own. Built by dev/attention/build.sh (sm_90a). */
#include <algorithm>
#include <stdio.h>
#include <stdlib.h>
#include <vector>

#include <stdarg.h>

#include "cuda/attention.cu"

/* The two library functions attention.cu calls, so this program needs no libmlxn. */
static char g_err[512];
extern "C" mlxn_status mlxn_err(mlxn_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    return s;
}
static const char *mlxn_last_error_dev() { return g_err; }
mlxn_status mlxn_cuda_workspace(cuda_stream *s, size_t bytes, void **out) {
    if (bytes > s->ws_bytes) { /* the old block leaks: a recorded graph may still use it */
        if (cudaMalloc(&s->ws, bytes) != cudaSuccess) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "workspace");
        s->ws_bytes = bytes;
    }
    *out = s->ws;
    return MLXN_OK;
}

#define CK(x)                                                                                   \
    do {                                                                                        \
        cudaError_t e_ = (x);                                                                   \
        if (e_ != cudaSuccess) {                                                                \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(1);                                                                            \
        }                                                                                       \
    } while (0)
#define ST_OK(x)                                                                          \
    do {                                                                                  \
        mlxn_status s_ = (x);                                                             \
        if (s_) {                                                                         \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, mlxn_last_error_dev()); \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static __global__ void read_kernel(const uint4 *p, size_t n, unsigned *out) {
    unsigned x = 0;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        uint4 a = __ldcs(p + i), b = __ldcs(p + i + stride), c = __ldcs(p + i + 2 * stride), d = __ldcs(p + i + 3 * stride);
        x ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
    }
    for (; i < n; i += stride) x ^= p[i].x;
    if (x == 0x12345678u) *out = x;
}

static __global__ void fill_kernel(unsigned short *p, size_t n, unsigned seed, int bf16) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed;
        h ^= h >> 15, h *= 2246822519u, h ^= h >> 13;
        float f = ((h & 0xffff) / 65536.0f - 0.5f) * 4.0f;
        p[i] = bf16 ? __bfloat16_as_ushort(__float2bfloat16(f)) : __half_as_ushort(__float2half(f));
    }
}

/* q8_0 rows: scale 1/64, quants from the hash */
static __global__ void fill_q8(unsigned char *p, size_t nblk, unsigned seed) {
    for (size_t b = (size_t)blockIdx.x * blockDim.x + threadIdx.x; b < nblk; b += (size_t)gridDim.x * blockDim.x) {
        unsigned char *blk = p + b * 34;
        __half d = __float2half(1.0f / 64);
        memcpy(blk, &d, 2);
        for (int k = 0; k < 32; k++) {
            unsigned h = (unsigned)(b * 32 + k) * 2654435761u ^ seed;
            h ^= h >> 15, h *= 2246822519u;
            blk[2 + k] = (unsigned char)(h >> 24);
        }
    }
}

static cuda_device g_dev;
static cuda_stream g_s;

typedef mlxn_status (*launch_fn)(cuda_stream *, const mlxn_attention_args *);

/* median seconds per call of fn over the argument sets (graph of all sets, replayed) */
static double time_calls(launch_fn fn, std::vector<mlxn_attention_args> &sets, int reps) {
    cudaGraph_t g;
    cudaGraphExec_t ge;
    for (auto &a : sets) ST_OK(fn(&g_s, &a)); /* warm: workspace, smem attributes */
    CK(cudaStreamSynchronize(g_s.s));
    CK(cudaStreamBeginCapture(g_s.s, cudaStreamCaptureModeRelaxed));
    for (auto &a : sets) ST_OK(fn(&g_s, &a));
    CK(cudaStreamEndCapture(g_s.s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    CK(cudaGraphLaunch(ge, g_s.s));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<double> t;
    for (int r = 0; r < reps; r++) {
        CK(cudaEventRecord(e0, g_s.s));
        CK(cudaGraphLaunch(ge, g_s.s));
        CK(cudaEventRecord(e1, g_s.s));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        t.push_back(ms * 1e-3 / sets.size());
    }
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

static double read_bw(size_t bytes) {
    uint4 *p;
    unsigned *o;
    CK(cudaMalloc(&p, bytes));
    CK(cudaMalloc(&o, 4));
    CK(cudaMemset(p, 1, bytes));
    const int grid = g_dev.prop.multiProcessorCount * 8;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<double> t;
    for (int r = 0; r < 12; r++) {
        CK(cudaEventRecord(e0, g_s.s));
        read_kernel<<<grid, 256, 0, g_s.s>>>(p, bytes / 16, o);
        CK(cudaEventRecord(e1, g_s.s));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (r >= 2) t.push_back(bytes / (ms * 1e-3));
    }
    std::sort(t.begin(), t.end());
    CK(cudaFree(p));
    CK(cudaFree(o));
    return t[t.size() / 2];
}

struct shape {
    const char *name;
    int hq, hkv, d;
};

static void *dalloc(size_t b) {
    void *p;
    CK(cudaMalloc(&p, b));
    return p;
}

static mlxn_attention_args make_args(const shape &sh, long long m, long long L, mlxn_type kt, void *q, void *k, void *v,
                                     void *o, const int32_t *kv_len) {
    mlxn_attention_args a = {};
    a.tq = MLXN_TYPE_BF16, a.tk = kt, a.tv = kt, a.to = MLXN_TYPE_BF16, a.tmask = MLXN_TYPE_F32;
    a.q = q, a.k = k, a.v = v, a.o = o, a.kv_len = kv_len;
    a.n_q_heads = sh.hq, a.n_kv_heads = sh.hkv, a.M = m, a.L_cap = L, a.D = sh.d;
    a.k_row_bytes = a.v_row_bytes = kt == MLXN_TYPE_Q8_0 ? (size_t)sh.d / 32 * 34 : (size_t)sh.d * 2;
    a.scale = 1.0f / sqrtf((float)sh.d);
    a.causal = 1;
    return a;
}

static void fill(void *p, mlxn_type t, size_t row_bytes, size_t rows, unsigned seed) {
    if (t == MLXN_TYPE_Q8_0) fill_q8<<<1024, 256, 0, g_s.s>>>((unsigned char *)p, rows * row_bytes / 34, seed);
    else fill_kernel<<<1024, 256, 0, g_s.s>>>((unsigned short *)p, rows * row_bytes / 2, seed, t == MLXN_TYPE_BF16);
    CK(cudaGetLastError());
}

/* max |x - y| / max |y| over two bf16 outputs */
static double rel_diff(const void *x, const void *y, size_t n) {
    std::vector<unsigned short> a(n), b(n);
    CK(cudaMemcpy(a.data(), x, n * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(b.data(), y, n * 2, cudaMemcpyDeviceToHost));
    double md = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned ua = (unsigned)a[i] << 16, ub = (unsigned)b[i] << 16;
        float fa, fb;
        memcpy(&fa, &ua, 4), memcpy(&fb, &ub, 4);
        if (fa != fa) return INFINITY;
        md = std::max(md, (double)fabsf(fa - fb)), my = std::max(my, (double)fabsf(fb));
    }
    return md / (my > 0 ? my : 1);
}

struct variant {
    const char *name;
    launch_fn fn;
};

template <int D> static mlxn_status lib(cuda_stream *s, const mlxn_attention_args *a) { return launch_d<D>(s, a); }
template <int D> static mlxn_status simt(cuda_stream *s, const mlxn_attention_args *a) { return launch_simt<D>(s, a); }
template <class C> static mlxn_status mma(cuda_stream *s, const mlxn_attention_args *a) { return launch_mma<C>(s, a); }

/* decode with clusters of at most CL slices, else the combine kernel; PDL (P) */
template <int D, int CL, bool P> static mlxn_status dec_v(cuda_stream *s, const mlxn_attention_args *a) {
    att_dec_opts o;
    o.cl_max = CL, o.pdl = P;
    return launch_mma<cfg_dec<D>>(s, a, o);
}
/* the HEAD library's attention (dev/attention/att_base.cu, built from git HEAD's sources) */
extern "C" mlxn_status base_mlxn_cuda_attention(void *stream, const mlxn_attention_args *a);
static mlxn_status base(cuda_stream *s, const mlxn_attention_args *a) { return base_mlxn_cuda_attention(s, a); }
static __global__ void empty_kernel(int x) {
    if (x == 12345) printf("x");
}
static mlxn_status two_empty(cuda_stream *s, const mlxn_attention_args *a) {
    empty_kernel<<<(unsigned)(a->n_kv_heads * 16), 128, 0, s->s>>>(0);
    empty_kernel<<<32, 128, 0, s->s>>>(0);
    return MLXN_OK;
}

static void decode(const shape &sh, long long L, mlxn_type kt, const std::vector<variant> &vs, double bw) {
    const size_t rb = kt == MLXN_TYPE_Q8_0 ? (size_t)sh.d / 32 * 34 : (size_t)sh.d * 2;
    const size_t kv_bytes = 2 * (size_t)sh.hkv * L * rb;
    int sets = (int)(4 * (size_t)g_dev.prop.l2CacheSize / kv_bytes) + 1;
    sets = std::min(sets, 64);
    void *q = dalloc((size_t)sh.hq * sh.d * 2);
    std::vector<void *> o(vs.size());
    for (auto &x : o) x = dalloc((size_t)sh.hq * sh.d * 2);
    fill(q, MLXN_TYPE_BF16, sh.d * 2, sh.hq, 7);
    std::vector<void *> ks(sets), vv(sets);
    for (int i = 0; i < sets; i++) {
        ks[i] = dalloc(kv_bytes / 2), vv[i] = dalloc(kv_bytes / 2);
        fill(ks[i], kt, rb, (size_t)sh.hkv * L, 11 + i), fill(vv[i], kt, rb, (size_t)sh.hkv * L, 101 + i);
    }
    int32_t *len = (int32_t *)dalloc(4);
    int32_t l32 = (int32_t)L;
    CK(cudaMemcpy(len, &l32, 4, cudaMemcpyHostToDevice));
    printf("%-14s decode L=%6lld kv=%-5s", sh.name, L, kt == MLXN_TYPE_Q8_0 ? "q8_0" : "f16");
    for (size_t vi = 0; vi < vs.size(); vi++) {
        std::vector<mlxn_attention_args> args;
        for (int i = 0; i < sets; i++) args.push_back(make_args(sh, 1, L, kt, q, ks[i], vv[i], o[vi], len));
        double t = time_calls(vs[vi].fn, args, 20);
        double diff = vi ? rel_diff(o[vi], o[0], (size_t)sh.hq * sh.d) : 0;
        printf(" | %s %7.2fus %6.0fGB/s %.2f d=%.0e", vs[vi].name, t * 1e6, kv_bytes / t / 1e9, kv_bytes / t / bw, diff);
    }
    printf("\n");
    fflush(stdout);
    for (int i = 0; i < sets; i++) {
        CK(cudaFree(ks[i]));
        CK(cudaFree(vv[i]));
    }
    for (auto &x : o) CK(cudaFree(x));
    CK(cudaFree(q));
    CK(cudaFree(len));
}

static void prefill(const shape &sh, long long L, const std::vector<variant> &vs) {
    void *q = dalloc((size_t)sh.hq * L * sh.d * 2), *k = dalloc((size_t)sh.hkv * L * sh.d * 2),
         *v = dalloc((size_t)sh.hkv * L * sh.d * 2);
    fill(q, MLXN_TYPE_BF16, sh.d * 2, (size_t)sh.hq * L, 3);
    fill(k, MLXN_TYPE_F16, sh.d * 2, (size_t)sh.hkv * L, 5);
    fill(v, MLXN_TYPE_F16, sh.d * 2, (size_t)sh.hkv * L, 9);
    std::vector<void *> o(vs.size());
    const size_t no = (size_t)sh.hq * L * sh.d;
    for (auto &x : o) x = dalloc(no * 2);
    const double flops = 4.0 * sh.d * ((double)L * (L + 1) / 2) * sh.hq;
    printf("%-14s prefill L=%5lld D=%3d", sh.name, L, sh.d);
    for (size_t vi = 0; vi < vs.size(); vi++) {
        std::vector<mlxn_attention_args> args{make_args(sh, L, L, MLXN_TYPE_F16, q, k, v, o[vi], nullptr)};
        double t = time_calls(vs[vi].fn, args, 5);
        double diff = vi ? rel_diff(o[vi], o[0], no) : 0;
        printf(" | %s %8.1fus %6.1fTF d=%.0e", vs[vi].name, t * 1e6, flops / t / 1e12, diff);
    }
    printf("\n");
    fflush(stdout);
    for (auto &x : o) CK(cudaFree(x));
    CK(cudaFree(q)); CK(cudaFree(k)); CK(cudaFree(v));
}

int main(int argc, char **argv) {
    const bool quick = argc > 1 && !strcmp(argv[1], "--quick");
    CK(cudaSetDevice(0));
    CK(cudaGetDeviceProperties(&g_dev.prop, 0));
    g_dev.ordinal = 0;
    g_s.dev = &g_dev;
    CK(cudaStreamCreateWithFlags(&g_s.s, cudaStreamNonBlocking));
    if (argc > 1 && !strcmp(argv[1], "--profile")) { /* for ncu: HEAD's and the library's decode, L 32768, f16 and q8_0, twice each */
        const shape llama = {"llama3-8b", 32, 8, 128};
        for (mlxn_type kt : {MLXN_TYPE_F16, MLXN_TYPE_Q8_0}) {
            const long long L = 32768;
            const size_t rb = kt == MLXN_TYPE_Q8_0 ? 128 / 32 * 34 : 256;
            void *q = dalloc(32 * 128 * 2), *o = dalloc(32 * 128 * 2), *k = dalloc(8 * L * rb), *v = dalloc(8 * L * rb);
            fill(q, MLXN_TYPE_BF16, 256, 32, 7), fill(k, kt, rb, 8 * L, 11), fill(v, kt, rb, 8 * L, 101);
            int32_t *len = (int32_t *)dalloc(4), l32 = (int32_t)L;
            CK(cudaMemcpy(len, &l32, 4, cudaMemcpyHostToDevice));
            mlxn_attention_args a = make_args(llama, 1, L, kt, q, k, v, o, len);
            for (int r = 0; r < 2; r++) {
                ST_OK(base(&g_s, &a));
                ST_OK(lib<128>(&g_s, &a));
            }
            CK(cudaStreamSynchronize(g_s.s));
        }
        return 0;
    }
    const double bw = read_bw((size_t)1 << 30);
    printf("%s, %d SMs, L2 %d MiB: read bandwidth %.0f GB/s (1 GiB, 16-byte loads)\n", g_dev.prop.name,
           g_dev.prop.multiProcessorCount, g_dev.prop.l2CacheSize >> 20, bw / 1e9);
    const shape llama = {"llama3-8b", 32, 8, 128}, qwen = {"qwen3-30b-a3b", 32, 4, 128}, g4 = {"gemma3-4b", 8, 4, 256},
                g27 = {"gemma3-27b", 32, 16, 128};
    {
        std::vector<variant> v128 = {{"base", base}, {"lib", lib<128>}, {"nopdl", dec_v<128, 8, false>}, {"2empty", two_empty}};
        std::vector<variant> v256 = {{"base", base}, {"lib", lib<256>}};
        for (long long L : {512, 2048, 8192, 32768}) decode(llama, L, MLXN_TYPE_F16, v128, bw);
        for (long long L : {512, 2048, 8192, 32768}) decode(llama, L, MLXN_TYPE_Q8_0, v128, bw);
        if (!quick) {
            for (long long L : {512, 2048, 8192, 32768}) decode(qwen, L, MLXN_TYPE_F16, v128, bw);
            for (long long L : {512, 2048, 8192, 32768}) decode(g4, L, MLXN_TYPE_F16, v256, bw);
            for (long long L : {512, 2048, 8192}) decode(g27, L, MLXN_TYPE_F16, v128, bw);
        }
    }
    {
        std::vector<variant> p128 = {{"base", base}, {"lib", lib<128>}};
        std::vector<variant> p256 = {{"base", base}, {"lib", lib<256>}};
        std::vector<variant> p64 = {{"base", base}, {"lib", lib<64>}};
        for (long long L : {512, 1024, 4096}) prefill(llama, L, p128);
        if (!quick) prefill(llama, 8192, p128);
        for (long long L : {1024, 4096}) prefill(g4, L, p256);
        const shape d256 = {"d256-32h", 32, 8, 256};
        for (long long L : {1024, 4096, 8192}) prefill(d256, L, p256);
        const shape d64 = {"d64-32h", 32, 8, 64};
        prefill(d64, 4096, p64);
    }
    return 0;
}
