// The floor of one memory-bound call: a read kernel over B bytes a call, calls back to back in a
// CUDA graph over copies rotated through 1 GiB (as `mlxn bench qmatmul` times calls), launched
// plainly or as programmatic dependents (PDL; reads before griddepcontrol.wait, as the mat-vec
// reads W); µs a call and the ratio to one read over 1 GiB. Tables named in argv (floor, chunk,
// mv; all by default). nvcc -O3 -std=c++17 -arch=sm_90a dev/qmatmul/call_floor.cu -o call_floor
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cuda_runtime.h>
#include <vector>

#define CK(x)                                                                                                          \
    do {                                                                                                               \
        cudaError_t e_ = (x);                                                                                          \
        if (e_ != cudaSuccess) {                                                                                       \
            printf("%s: %s\n", #x, cudaGetErrorString(e_));                                                            \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

// The xor of the 16-byte pieces i, i + st, ... below e, four loads in flight.
__device__ __forceinline__ unsigned xor_read(const uint4 *__restrict__ p, unsigned long long i, unsigned long long e,
                                             unsigned long long st) {
    unsigned a = 0;
    for (; i + 3 * st < e; i += 4 * st) {
        uint4 v0 = __ldg(p + i), v1 = __ldg(p + i + st), v2 = __ldg(p + i + 2 * st), v3 = __ldg(p + i + 3 * st);
        a ^= v0.x ^ v0.y ^ v0.z ^ v0.w ^ v1.x ^ v1.y ^ v1.z ^ v1.w ^ v2.x ^ v2.y ^ v2.z ^ v2.w ^ v3.x ^ v3.y ^ v3.z ^
             v3.w;
    }
    for (; i < e; i += st) {
        uint4 v = __ldg(p + i);
        a ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    return a;
}

template <bool PDL>
__global__ void __launch_bounds__(512) rd(const uint4 *__restrict__ p, unsigned long long n16, unsigned *out) {
    if (PDL)
        asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
    const unsigned long long st = (unsigned long long)gridDim.x * blockDim.x;
    const unsigned a = xor_read(p, i, n16, st);
    if (PDL)
        asm volatile("griddepcontrol.wait;" ::: "memory");
    if (a == 0x12345678u)
        out[blockIdx.x * blockDim.x + threadIdx.x] = a;
}

// Each block reads one contiguous chunk (as a mat-vec block reads its rows). MODE 0: every read
// before the wait; 1: the wait first; 2: the wait first, after an L2 prefetch of the chunk's
// first pf bytes. SMEM bytes of shared memory a block (to keep the next call's blocks off the SM).
template <int MODE>
__global__ void __launch_bounds__(256)
    rdc(const uint4 *__restrict__ p, unsigned long long n16, unsigned *out, unsigned pf) {
    extern __shared__ uint4 sm[];
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    const unsigned long long per = (n16 + gridDim.x - 1) / gridDim.x, b0 = blockIdx.x * per;
    const unsigned long long e = b0 + per < n16 ? b0 + per : n16;
    if (MODE == 2 && threadIdx.x < 32) {
        const unsigned long long bytes = (e > b0 ? e - b0 : 0) * 16;
        const unsigned long long lim = bytes < pf ? bytes : pf;
        for (unsigned long long o = threadIdx.x * 4096ull; o < lim; o += 32 * 4096ull) {
            const unsigned sz = (unsigned)(lim - o < 4096 ? lim - o : 4096);
            asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p + b0 + o / 16), "r"(sz) : "memory");
        }
    }
    if (MODE != 0)
        asm volatile("griddepcontrol.wait;" ::: "memory");
    const unsigned a = xor_read(p, b0 + threadIdx.x, e, blockDim.x);
    if (MODE == 0)
        asm volatile("griddepcontrol.wait;" ::: "memory");
    if (a == 0x12345678u) {
        sm[threadIdx.x].x = a;
        out[blockIdx.x * blockDim.x + threadIdx.x] = sm[threadIdx.x ^ 1].x;
    }
}

// Shaped as the library's mat-vec (qmatmul_mv1.cu): a persistent grid of 8-warp blocks, each warp
// streaming jobs of SB bytes through a two-stage ring in shared memory by cp.async, X (8 KB,
// the same every call) read and reduced after griddepcontrol.wait into shared memory, a job's
// bytes combined with X (a dummy dot). ORDER 0: the library's (one stage before the wait, the
// next stage issued at the loop's top); 1: the second stage issued right after the wait, before
// X's loads; 2: as 0 with no X phase. A thread writes its sum only if it is 0x12345678.
#define MVP_SB 4608
#define MVP_XB 8192
__device__ __forceinline__ void mvp_cp16(void *smem, const void *g) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"((unsigned)__cvta_generic_to_shared(smem)), "l"(g));
}
template <int ORDER>
__global__ void __launch_bounds__(256, 2)
    mvp(const uint8_t *__restrict__ w, long long jobs, const uint4 *__restrict__ x, unsigned *out) {
    extern __shared__ uint4 smv[];
    uint8_t *sm = reinterpret_cast<uint8_t *>(smv);
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    uint8_t *xs = sm, *ring = sm + MVP_XB + warp * 2 * MVP_SB;
    const long long step = (long long)gridDim.x * 8;
    long long ij = blockIdx.x + (long long)gridDim.x * warp, j = ij;
    int is = 0;
    auto issue = [&]() {
        if (ij < jobs) {
            const uint8_t *src = w + ij * MVP_SB;
#pragma unroll
            for (int c = 0; c < MVP_SB / 16 / 32; c++)
                mvp_cp16(ring + is * MVP_SB + 16 * (lane + 32 * c), src + 16 * (lane + 32 * c));
            ij += step;
        }
        asm volatile("cp.async.commit_group;" ::: "memory");
        is ^= 1;
    };
    issue();
    asm volatile("griddepcontrol.wait;" ::: "memory");
    if (ORDER == 1)
        issue();
    if (ORDER != 2) {
        uint4 v[MVP_XB / 16 / 256];
#pragma unroll
        for (int i = 0; i < MVP_XB / 16 / 256; i++)
            v[i] = __ldcg(x + threadIdx.x + 256 * i);
#pragma unroll
        for (int i = 0; i < MVP_XB / 16 / 256; i++) {
            unsigned a = v[i].x | v[i].y | v[i].z | v[i].w;
#pragma unroll
            for (int o = 1; o < 4; o <<= 1)
                a |= __shfl_xor_sync(0xffffffffu, a, o);
            v[i].x ^= a;
            reinterpret_cast<uint4 *>(xs)[threadIdx.x + 256 * i] = v[i];
        }
    }
    __syncthreads();
    unsigned acc = 0;
    int st = 0;
    while (j < jobs) {
        if (ORDER != 1)
            issue();
        asm volatile("cp.async.wait_group 1;" ::: "memory");
        __syncwarp();
        const uint4 *r = reinterpret_cast<const uint4 *>(ring + st * MVP_SB);
#pragma unroll
        for (int c = 0; c < MVP_SB / 16 / 32; c++) {
            const uint4 a = r[lane + 32 * c], b = reinterpret_cast<const uint4 *>(xs)[(lane + 32 * c) & 511];
            acc = __dp4a(a.x, b.x, acc), acc = __dp4a(a.y, b.y, acc), acc = __dp4a(a.z, b.z, acc),
            acc = __dp4a(a.w, b.w, acc);
        }
        __syncwarp();
        if (ORDER == 1)
            issue();
        st ^= 1;
        j += step;
    }
    asm volatile("cp.async.wait_group 0;" ::: "memory");
    if (acc == 0x12345678u)
        out[blockIdx.x * blockDim.x + threadIdx.x] = acc;
}

// One launch of kernel k on s, as a programmatic dependent where pdl.
template <class K, class... A>
static void launch(K k, bool pdl, int grid, int nt, size_t smem, cudaStream_t s, A... args) {
    cudaLaunchConfig_t c = {};
    c.gridDim = grid;
    c.blockDim = nt;
    c.dynamicSmemBytes = smem;
    c.stream = s;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    c.attrs = at;
    c.numAttrs = pdl ? 1 : 0;
    CK(cudaLaunchKernelEx(&c, k, args...));
}

// µs a call: call(c) for c < calls captured in one graph, the median of 7 replays after 2.
template <class F> static double us_a_call(cudaStream_t s, cudaEvent_t e0, cudaEvent_t e1, int calls, F call) {
    cudaGraph_t gr;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int c = 0; c < calls; c++)
        call(c);
    CK(cudaStreamEndCapture(s, &gr));
    CK(cudaGraphInstantiate(&ge, gr, 0));
    std::vector<float> v;
    for (int r = 0; r < 9; r++) {
        CK(cudaEventRecord(e0, s));
        CK(cudaGraphLaunch(ge, s));
        CK(cudaEventRecord(e1, s));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (r >= 2)
            v.push_back(ms * 1e3f / calls);
    }
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(gr));
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

int main(int argc, char **argv) {
    auto want = [&](const char *t) {
        if (argc < 2)
            return true;
        for (int a = 1; a < argc; a++)
            if (!strcmp(argv[a], t))
                return true;
        return false;
    };
    int sms;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    const size_t total = (size_t)1 << 30;
    char *buf;
    unsigned *out;
    CK(cudaMalloc(&buf, total));
    CK(cudaMemset(buf, 1, total));
    CK(cudaMalloc(&out, 4 << 20));
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    // the ceiling: one read of 1 GiB, best of 5
    float best = 1e9f;
    for (int r = 0; r < 5; r++) {
        CK(cudaEventRecord(e0, s));
        launch(rd<false>, false, sms * 4, 512, 0, s, (const uint4 *)buf, (unsigned long long)(total / 16), out);
        CK(cudaEventRecord(e1, s));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        best = std::min(best, ms);
    }
    const double ceil_gbs = total / (best * 1e-3) / 1e9;
    printf("device SMs %d, ceiling %.1f GB/s (1 GiB read)\n", sms, ceil_gbs);
    if (want("floor")) {
        const int grids[][2] = {{1, 512}, {2, 256}, {4, 512}, {8, 256}}; // blocks an SM, threads
        printf("%8s %6s %5s %4s %9s %6s %9s\n", "MB", "grid", "nt", "pdl", "us", "ratio", "fixed us");
        for (double mb : {4.7, 9.4, 16.8, 33.0, 58.7, 134.0}) {
            const size_t B = ((size_t)(mb * 1e6) + 15) / 16 * 16;
            const int copies = (int)std::min<size_t>(64, total / B), calls = std::max(copies, 32);
            for (auto g : grids)
                for (int pdl = 0; pdl < 2; pdl++) {
                    const double us = us_a_call(s, e0, e1, calls, [&](int c) {
                        launch(pdl ? rd<true> : rd<false>, pdl, sms * g[0], g[1], 0, s,
                               (const uint4 *)(buf + (size_t)(c % copies) * B), (unsigned long long)(B / 16), out);
                    });
                    const double ideal = B / (ceil_gbs * 1e3);
                    printf("%8.1f %6d %5d %4d %9.2f %6.2f %9.2f\n", mb, sms * g[0], g[1], pdl, us, ideal / us,
                           us - ideal);
                }
        }
    }
    for (auto kf : {rdc<0>, rdc<1>, rdc<2>})
        CK(cudaFuncSetAttribute(kf, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 << 10));
    if (want("chunk")) {
        printf("\nchunked blocks (grid = SMs x bps, 256 threads), PDL: mode 0 reads before the wait, 1 waits first, 2 "
               "waits after an L2 prefetch of pf KB a block\n");
        printf("%8s %4s %8s %4s %6s %9s %6s %9s\n", "MB", "bps", "smem KB", "mode", "pf KB", "us", "ratio", "fixed us");
        const double mb2[] = {9.4, 33.0};
        const int bpss[] = {1, 2};
        const size_t smems[] = {0, 120 << 10};
        const unsigned pfs[] = {32 << 10, 64 << 10, 128 << 10, 256 << 10};
        for (double mb : mb2) {
            const size_t B = ((size_t)(mb * 1e6) + 15) / 16 * 16;
            const int copies = (int)std::min<size_t>(64, total / B), calls = std::max(copies, 32);
            for (int bps : bpss)
                for (size_t smem : smems) {
                    if (bps == 2 && smem)
                        continue;
                    for (int mode = 0; mode < 3; mode++)
                        for (unsigned pf : pfs) {
                            if (mode < 2 && pf != pfs[0])
                                continue;
                            auto k = mode == 0 ? rdc<0> : mode == 1 ? rdc<1> : rdc<2>;
                            const double us = us_a_call(s, e0, e1, calls, [&](int c) {
                                launch(k, true, sms * bps, 256, smem, s,
                                       (const uint4 *)(buf + (size_t)(c % copies) * B), (unsigned long long)(B / 16),
                                       out, pf);
                            });
                            const double ideal = B / (ceil_gbs * 1e3);
                            printf("%8.1f %4d %8zu %4d %6u %9.2f %6.2f %9.2f\n", mb, bps, smem >> 10, mode,
                                   mode == 2 ? pf >> 10 : 0, us, ideal / us, us - ideal);
                        }
                }
        }
    }
    if (want("mv")) {
        uint4 *xg;
        CK(cudaMalloc(&xg, MVP_XB));
        CK(cudaMemset(xg, 3, MVP_XB));
        const size_t smem = MVP_XB + 8 * 2 * MVP_SB;
        for (auto kf : {mvp<0>, mvp<1>, mvp<2>})
            CK(cudaFuncSetAttribute(kf, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        printf("\nmat-vec shaped (8 warps, 2-stage ring of %d B a warp, %zu KB smem a block), PDL: order 0 the "
               "library's, 1 the second stage after the wait before X, 2 no X\n",
               MVP_SB, smem >> 10);
        printf("%8s %4s %5s %9s %6s %9s\n", "MB", "bps", "order", "us", "ratio", "fixed us");
        for (double mb : {9.4, 33.0, 134.0})
            for (int bps = 1; bps <= 2; bps++)
                for (int order = 0; order < 3; order++) {
                    const long long jobs = (long long)(mb * 1e6) / MVP_SB;
                    const size_t B = (size_t)jobs * MVP_SB;
                    const int copies = (int)std::min<size_t>(64, total / B), calls = std::max(copies, 32);
                    const int grid = (int)std::min<long long>((jobs + 7) / 8, (long long)sms * bps);
                    auto k = order == 0 ? mvp<0> : order == 1 ? mvp<1> : mvp<2>;
                    const double us = us_a_call(s, e0, e1, calls, [&](int c) {
                        launch(k, true, grid, 256, smem, s, (const uint8_t *)buf + (size_t)(c % copies) * B, jobs,
                               (const uint4 *)xg, out);
                    });
                    const double ideal = B / (ceil_gbs * 1e3);
                    printf("%8.1f %4d %5d %9.2f %6.2f %9.2f\n", mb, bps, order, us, ideal / us, us - ideal);
                }
    }
    return 0;
}
