// Streaming probe for the decode attention kernel: the same K/V walk as attn_mma_kernel's
// decode instance (f16, D 128, 64-key tiles, 8 KV heads x slices blocks) with no arithmetic,
// in several load structures, beside the library's own slice and combine kernels and the read
// kernel over the same bytes, all launched plainly (30 back to back, rotated over 1 GiB). It
// separates what the loads cost from what the kernel adds (dev/attention/NOTES.md, session 9).
// usage: stream_probe [L ...] (default 8192 32768 131072); PROBE_ONLY=<substring> runs the
// variants whose names hold it. Build: see NOTES.md.
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/attention.cu" /* the library's decode and combine kernels, launched plainly below */

extern "C" mlxn_status mlxn_err(mlxn_status s, const char *fmt, ...) { return s; }
mlxn_status mlxn_cuda_workspace(cuda_stream *, size_t, void **) { return MLXN_ERR_DEVICE; }

#define PD 128
#define RB (PD * 2)        // bytes per cache row
#define DP (PD + 8)        // padded smem row (elements)
#define BC 64
#define H 8

static __device__ __forceinline__ void cp16(uint32_t dst, const void *src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src) : "memory");
}
static __device__ __forceinline__ void commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> static __device__ __forceinline__ void waitg() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }
static __device__ __forceinline__ uint32_t su32(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

// Rows [g0, g0 + rows) of K and V (from kb, vb) into stage rows [s0, s0 + rows) of ks, vs: thread
// `id` of `n` copies 16-byte chunks id, id + n, ...
static __device__ __forceinline__ void copy_rows(unsigned char *ks, unsigned char *vs, int s0, const unsigned char *kb,
                                                 const unsigned char *vb, long long g0, int rows, int id, int n) {
    for (int c = id; c < rows * (PD / 8); c += n) {
        const int r = c / (PD / 8), cc = c % (PD / 8);
        cp16(su32(ks + (size_t)(s0 + r) * DP * 2 + cc * 16), kb + (size_t)(g0 + r) * RB + cc * 16);
        cp16(su32(vs + (size_t)(s0 + r) * DP * 2 + cc * 16), vb + (size_t)(g0 + r) * RB + cc * 16);
    }
}
// One word of stage row `row` of K and of V (column group col), folded into acc.
static __device__ __forceinline__ unsigned touch(const unsigned char *ks, const unsigned char *vs, int row, int col) {
    return *(const unsigned *)(ks + (size_t)row * DP * 2 + col * 4) ^ *(const unsigned *)(vs + (size_t)row * DP * 2 + col * 4);
}

// A: the library's structure. NT threads, ST stages of K and V tiles (BC x DP f16), one
// block barrier per tile; every thread touches one word of each staged tile.
template <int NT, int ST>
__global__ void __launch_bounds__(NT) p_att(const unsigned char *k, const unsigned char *v, int Lc, int chunk, unsigned *out) {
    extern __shared__ __align__(128) unsigned char sm[];
    unsigned char *ks = sm, *vs = sm + (size_t)ST * BC * DP * 2;
    const int h = blockIdx.y, split = blockIdx.z;
    const unsigned char *kb = k + ((size_t)h * Lc + (size_t)split * chunk) * RB;
    const unsigned char *vb = v + ((size_t)h * Lc + (size_t)split * chunk) * RB;
    const int nt = chunk / BC;
    auto issue = [&](int t) {
        if (t < nt) copy_rows(ks, vs, t % ST * BC, kb, vb, (long long)t * BC, BC, threadIdx.x, NT);
        commit();
    };
    for (int s = 0; s < ST - 1; s++) issue(s);
    unsigned acc = 0;
    for (int t = 0; t < nt; t++) {
        waitg<ST - 2>();
        __syncthreads();
        issue(t + ST - 1);
        acc ^= touch(ks, vs, t % ST * BC + (threadIdx.x & 63), threadIdx.x >> 6);
    }
    out[(blockIdx.z * gridDim.y + blockIdx.y) * NT + threadIdx.x] = acc;
}

// B: per-warp rings, no block barrier. Warp w of the block takes 16-key pieces w, w + NW, ...
// of the slice into its own SW stages (16 rows of K and V each).
template <int NW, int SW>
__global__ void __launch_bounds__(NW * 32) p_warp(const unsigned char *k, const unsigned char *v, int Lc, int chunk, unsigned *out) {
    extern __shared__ __align__(128) unsigned char sm[];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    unsigned char *ks = sm + (size_t)w * SW * 2 * 16 * DP * 2, *vs = ks + (size_t)SW * 16 * DP * 2;
    const int h = blockIdx.y, split = blockIdx.z;
    const unsigned char *kb = k + ((size_t)h * Lc + (size_t)split * chunk) * RB;
    const unsigned char *vb = v + ((size_t)h * Lc + (size_t)split * chunk) * RB;
    const int np = chunk / 16, mine = (np - w + NW - 1) / NW;
    auto issue = [&](int t) {
        if (t < mine) copy_rows(ks, vs, t % SW * 16, kb, vb, (long long)(w + t * NW) * 16, 16, lane, 32);
        commit();
    };
    for (int s = 0; s < SW - 1; s++) issue(s);
    unsigned acc = 0;
    for (int t = 0; t < mine; t++) {
        waitg<SW - 2>();
        __syncwarp();
        issue(t + SW - 1);
        acc ^= touch(ks, vs, t % SW * 16 + (lane & 15), lane >> 4);
        __syncwarp();
    }
    out[(blockIdx.z * gridDim.y + blockIdx.y) * NW * 32 + threadIdx.x] = acc;
}

// C: straight to registers, U 16-byte words of K and of V in flight per thread.
template <int NT, int U>
__global__ void __launch_bounds__(NT) p_ldg(const unsigned char *k, const unsigned char *v, int Lc, int chunk, unsigned *out) {
    const int h = blockIdx.y, split = blockIdx.z;
    const uint4 *kb = (const uint4 *)(k + ((size_t)h * Lc + (size_t)split * chunk) * RB);
    const uint4 *vb = (const uint4 *)(v + ((size_t)h * Lc + (size_t)split * chunk) * RB);
    const int n16 = chunk * RB / 16;
    unsigned acc = 0;
    for (int i = threadIdx.x; i < n16; i += NT * U) {
        uint4 a[U], b[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = i + u * NT < n16 ? i + u * NT : i;
            a[u] = __ldg(kb + j), b[u] = __ldg(vb + j);
        }
#pragma unroll
        for (int u = 0; u < U; u++) acc ^= a[u].x ^ a[u].w ^ b[u].y ^ b[u].z;
    }
    out[(blockIdx.z * gridDim.y + blockIdx.y) * NT + threadIdx.x] = acc;
}

__global__ void p_read(const uint4 *__restrict__ p, unsigned long long n16, unsigned *out) {
    unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
    const unsigned long long st = (unsigned long long)gridDim.x * blockDim.x;
    unsigned a = 0;
    for (; i + 3 * st < n16; i += 4 * st) {
        uint4 v0 = __ldg(p + i), v1 = __ldg(p + i + st), v2 = __ldg(p + i + 2 * st), v3 = __ldg(p + i + 3 * st);
        a ^= v0.x ^ v1.y ^ v2.z ^ v3.w;
    }
    for (; i < n16; i += st) a ^= __ldg(p + i).x;
    out[blockIdx.x * blockDim.x + threadIdx.x] = a;
}

#undef CK
#define CK(x) do { cudaError_t e_ = (x); if (e_) { printf("%s: %s\n", #x, cudaGetErrorString(e_)); exit(1); } } while (0)

typedef void (*launch_fn)(const unsigned char *, const unsigned char *, int, int, int, unsigned *);

template <int NT, int ST> static void l_att(const unsigned char *k, const unsigned char *v, int Lc, int ns, int chunk, unsigned *o) {
    const size_t sm = (size_t)ST * 2 * BC * DP * 2 + 16 * DP * 2;
    static bool set = false;
    if (!set) { CK(cudaFuncSetAttribute(p_att<NT, ST>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm)); set = true; }
    p_att<NT, ST><<<dim3(1, H, ns), NT, sm>>>(k, v, Lc, chunk, o);
}
template <int NW, int SW> static void l_warp(const unsigned char *k, const unsigned char *v, int Lc, int ns, int chunk, unsigned *o) {
    const size_t sm = (size_t)NW * SW * 2 * 16 * DP * 2;
    static bool set = false;
    if (!set) { CK(cudaFuncSetAttribute(p_warp<NW, SW>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm)); set = true; }
    p_warp<NW, SW><<<dim3(1, H, ns), NW * 32, sm>>>(k, v, Lc, chunk, o);
}
template <int NT, int U> static void l_ldg(const unsigned char *k, const unsigned char *v, int Lc, int ns, int chunk, unsigned *o) {
    p_ldg<NT, U><<<dim3(1, H, ns), NT>>>(k, v, Lc, chunk, o);
}

// The library's decode slice kernel (Llama: 32 q heads, 8 KV heads, D 128, f16, kv_len set),
// plain launches; with `cmb`, the combine kernel after it (also plain).
using cdec = mma_cfg<128, 1, 1, 4, 64, 3, true>;
static int *g_len;
static float *g_ws;
static void *g_q, *g_o;
template <bool cmb, bool len = true>
static void l_lib(const unsigned char *k, const unsigned char *v, int Lc, int ns, int chunk, unsigned *o) {
    att_params p;
    memset(&p, 0, sizeof p);
    mlxn_attention_args &a = p.a;
    a.tq = MLXN_TYPE_BF16, a.tk = a.tv = MLXN_TYPE_F16, a.to = MLXN_TYPE_BF16, a.tmask = MLXN_TYPE_F32;
    a.q = g_q, a.k = k, a.v = v, a.o = g_o, a.kv_len = len ? g_len : nullptr;
    a.n_q_heads = 32, a.n_kv_heads = H, a.M = 1, a.L_cap = Lc, a.D = PD;
    a.k_row_bytes = a.v_row_bytes = RB;
    a.scale = 0.0883883f, a.causal = 1, a.out_layout = MLXN_ATTN_OUT_MHD;
    p.n_split = ns, p.chunk = chunk;
    auto kern = attn_mma_kernel<cdec, __half, __half>;
    const size_t sm = cdec::smem(false, false);
    static bool set = false;
    if (!set) { CK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm)); set = true; }
    kern<<<dim3(1, H, ns), cdec::NT, sm>>>(p, g_ws);
    if (cmb) attn_combine_kernel<16><<<dim3(32, 4), 128>>>(p, g_ws);
}

static void l_read(const unsigned char *k, const unsigned char *v, int Lc, int ns, int chunk, unsigned *o) {
    p_read<<<132 * 4, 512>>>((const uint4 *)k, (unsigned long long)2 * H * Lc * RB / 16, o);
}

struct variant {
    const char *name;
    launch_fn f;
    int ns; // slices per head
};

int main(int argc, char **argv) {
    int Ls[8] = {8192, 32768, 131072}, nL = 3;
    if (argc > 1) {
        nL = 0;
        for (int i = 1; i < argc && nL < 8; i++) Ls[nL++] = atoi(argv[i]);
    }
    cudaDeviceProp pr;
    CK(cudaGetDeviceProperties(&pr, 0));
    printf("device %s, %d SMs\n", pr.name, pr.multiProcessorCount);
    const size_t pool = (size_t)1 << 30; // rotated over: >= 4x L2 at every L
    unsigned char *buf;
    unsigned *out;
    CK(cudaMalloc(&buf, pool));
    CK(cudaMalloc(&out, 64 << 20));
    CK(cudaMemset(buf, 0x3c, pool));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    const int reps = 30;
    { // ceiling
        const int blocks = pr.multiProcessorCount * 4;
        float best = 1e30f;
        for (int it = 0; it < 7; it++) {
            CK(cudaEventRecord(e0));
            p_read<<<blocks, 512>>>((const uint4 *)buf, pool / 16, out);
            CK(cudaEventRecord(e1));
            CK(cudaEventSynchronize(e1));
            float ms;
            cudaEventElapsedTime(&ms, e0, e1);
            if (it >= 2 && ms < best) best = ms;
        }
        printf("read ceiling: %.1f GB/s (1 GiB, best of 5)\n", pool / (best * 1e-3) / 1e9);
    }
    CK(cudaMalloc(&g_len, 4));
    CK(cudaMalloc(&g_ws, 8 << 20));
    CK(cudaMalloc(&g_q, 32 * 128 * 2));
    CK(cudaMalloc(&g_o, 32 * 128 * 2));
    CK(cudaMemset(g_q, 0x3c, 32 * 128 * 2));
    variant vs[] = {
        {"lib slice kernel", l_lib<false>, 32},
        {"lib slice + combine", l_lib<true>, 32},
        {"lib slice, no kv_len", l_lib<false, false>, 32},
        {"read kernel, same bytes", l_read, 32},
        {"att NT128 ST3 (library)", l_att<128, 3>, 32},
        {"att NT128 ST3 ns16", l_att<128, 3>, 16},
        {"att NT128 ST3 ns64", l_att<128, 3>, 64},
        {"att NT128 ST2", l_att<128, 2>, 32},
        {"att NT256 ST3", l_att<256, 3>, 32},
        {"warp NW4 SW3", l_warp<4, 3>, 32},
        {"warp NW4 SW6", l_warp<4, 6>, 32},
        {"warp NW8 SW3", l_warp<8, 3>, 16},
        {"ldg NT128 U4", l_ldg<128, 4>, 32},
        {"ldg NT256 U4", l_ldg<256, 4>, 32},
        {"ldg NT256 U8", l_ldg<256, 8>, 16},
        {"ldg NT512 U4", l_ldg<512, 4>, 32},
    };
    const int nv = sizeof vs / sizeof vs[0];
    for (int li = 0; li < nL; li++) {
        const int L = Ls[li];
        const size_t set = (size_t)2 * H * L * RB; // K and V
        const int nsets = (int)(pool / set) < 64 ? (int)(pool / set) : 64;
        CK(cudaMemcpy(g_len, &L, 4, cudaMemcpyHostToDevice));
        printf("L %d: %.1f MB per call, %d sets rotated\n", L, set / 1e6, nsets);
        for (int round = 0; round < 2; round++)
            for (int vi = 0; vi < nv; vi++) {
                const char *only = getenv("PROBE_ONLY"); /* a substring of the variant names to run */
                if (only && !strstr(vs[vi].name, only)) continue;
                const int ns = vs[vi].ns, chunk = L / ns;
                if (chunk % BC) continue;
                for (int w = 0; w < 3; w++) {
                    const unsigned char *k = buf + (size_t)(w % nsets) * set;
                    vs[vi].f(k, k + set / 2, L, ns, chunk, out);
                }
                CK(cudaEventRecord(e0));
                for (int r = 0; r < reps; r++) {
                    const unsigned char *k = buf + (size_t)(r % nsets) * set;
                    vs[vi].f(k, k + set / 2, L, ns, chunk, out);
                }
                CK(cudaEventRecord(e1));
                CK(cudaEventSynchronize(e1));
                CK(cudaGetLastError());
                float ms;
                cudaEventElapsedTime(&ms, e0, e1);
                const double us = ms * 1e3 / reps;
                printf("  r%d %-26s ns %3d: %8.2f us %7.1f GB/s\n", round, vs[vi].name, ns, us, set / (us * 1e-6) / 1e9);
            }
    }
    return 0;
}
