/* Checks the wgmma conventions the sm_90a attention kernel relies on, on small products with
 * exact (small-integer) values against the CPU: shared-memory descriptors (128-byte swizzle,
 * K-major and N-major B, LBO/SBO both ways), the register layout of A and of the accumulators.
 * Prints one line per test and variant; on a mismatch, where thread 0's registers landed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_common.cuh"
#include "cuda/attention_wgmma_ops.cuh"

#define CK(x)                                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            printf("%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));         \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* 128B-swizzled tile: [chunk of 64 halves][row][64], 16-byte unit u of row r at u ^ (r & 7) */
__device__ __host__ static int swz(int rows, int r, int col) {
    int c = col / 64, u = (col % 64) / 8, e = col % 8;
    return c * rows * 64 + r * 64 + ((u ^ (r & 7)) * 8) + e;
}

__device__ static uint64_t desc(const void *p, unsigned lbo, unsigned sbo) {
    uint64_t a = (uint64_t)(__cvta_generic_to_shared(p) & 0x3ffff) >> 4;
    return a | ((uint64_t)((lbo & 0x3ffff) >> 4) << 16) | ((uint64_t)((sbo & 0x3ffff) >> 4) << 32) | (1ull << 62);
}

__device__ static void fence_operands(float *d, int n) {
    for (int i = 0; i < n; i++) asm volatile("" : "+f"(d[i])::"memory");
}

/* test 1: D[64][64] = A[64][64]·B[64][64]ᵀ, both K-major. test 2: D[64][128] = A[64][64]·V[64][128]
 * with A from registers, V N-major. test 3: as 2 with A from smem (ss_t). */
__global__ void probe(int test, unsigned lbo, unsigned sbo, const float *A, const float *B, float *D, float *raw) {
    __shared__ __align__(1024) __half sa[64 * 64], sb[64 * 128];
    const int tid = threadIdx.x, w = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
    for (int i = tid; i < 64 * 64; i += 128) sa[swz(64, i / 64, i % 64)] = __float2half(A[i]);
    if (test == 1)
        for (int i = tid; i < 64 * 64; i += 128) sb[swz(64, i / 64, i % 64)] = __float2half(B[i]);
    else
        for (int i = tid; i < 64 * 128; i += 128) sb[swz(64, i / 128, i % 128)] = __float2half(B[i]);
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
    float d[64];
    for (int i = 0; i < 64; i++) d[i] = 0;
    const int n = test == 1 ? 64 : 128;
    fence_operands(d, 64);
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
    for (int kk = 0; kk < 4; kk++) {
        if (test == 1) {
            wgmma_op<64, __half>::ss(*reinterpret_cast<float(*)[32]>(d), desc(sa + kk * 16, 16, 1024),
                                     desc(sb + kk * 16, lbo, sbo), kk > 0);
        } else if (test == 2) {
            uint32_t a[4];
            const int r0 = 16 * w + g, k0 = kk * 16 + 2 * t;
            __half2 h;
            h = __floats2half2_rn(A[r0 * 64 + k0], A[r0 * 64 + k0 + 1]), a[0] = *reinterpret_cast<uint32_t *>(&h);
            h = __floats2half2_rn(A[(r0 + 8) * 64 + k0], A[(r0 + 8) * 64 + k0 + 1]), a[1] = *reinterpret_cast<uint32_t *>(&h);
            h = __floats2half2_rn(A[r0 * 64 + k0 + 8], A[r0 * 64 + k0 + 9]), a[2] = *reinterpret_cast<uint32_t *>(&h);
            h = __floats2half2_rn(A[(r0 + 8) * 64 + k0 + 8], A[(r0 + 8) * 64 + k0 + 9]), a[3] = *reinterpret_cast<uint32_t *>(&h);
            wgmma_op<128, __half>::rs(*reinterpret_cast<float(*)[64]>(d), a, desc(sb + kk * 16 * 64, lbo, sbo), kk > 0);
        } else {
            wgmma_op<128, __half>::ss_t(*reinterpret_cast<float(*)[64]>(d), desc(sa + kk * 16, 16, 1024),
                                        desc(sb + kk * 16 * 64, lbo, sbo), kk > 0);
        }
    }
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    fence_operands(d, 64);
    for (int i = 0; i < n / 2; i++) raw[tid * 64 + i] = d[i];
    for (int i = 0; i < n / 8; i++) {
        const int r = 16 * w + g, c = 8 * i + 2 * t;
        D[r * n + c] = d[4 * i], D[r * n + c + 1] = d[4 * i + 1];
        D[(r + 8) * n + c] = d[4 * i + 2], D[(r + 8) * n + c + 1] = d[4 * i + 3];
    }
}

int main() {
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("wgmma probe on %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    float hA[64 * 64], hB[64 * 128], hD[64 * 128], ref[64 * 128], raw[128 * 64];
    for (int i = 0; i < 64 * 64; i++) hA[i] = (float)((i * 7 + i / 64 * 3) % 9 - 4);
    for (int i = 0; i < 64 * 128; i++) hB[i] = (float)((i * 5 + i / 128 * 11) % 7 - 3);
    float *A, *B, *D, *R;
    CK(cudaMalloc(&A, sizeof hA)); CK(cudaMalloc(&B, sizeof hB)); CK(cudaMalloc(&D, sizeof hD)); CK(cudaMalloc(&R, sizeof raw));
    CK(cudaMemcpy(A, hA, sizeof hA, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(B, hB, sizeof hB, cudaMemcpyHostToDevice));
    const unsigned var[][2] = {{16, 1024}, {1024, 16}, {8192, 1024}, {1024, 8192}, {4096, 1024}, {1024, 4096}};
    for (int test = 1; test <= 3; test++) {
        const int n = test == 1 ? 64 : 128;
        for (int m = 0; m < 64; m++)
            for (int c = 0; c < n; c++) {
                double s = 0;
                for (int k = 0; k < 64; k++) s += (double)hA[m * 64 + k] * (test == 1 ? hB[c * 64 + k] : hB[k * 128 + c]);
                ref[m * n + c] = (float)s;
            }
        for (unsigned vi = 0; vi < sizeof var / sizeof var[0]; vi++) {
            CK(cudaMemset(D, 0xff, sizeof hD));
            probe<<<1, 128>>>(test, var[vi][0], var[vi][1], A, B, D, R);
            CK(cudaGetLastError());
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(hD, D, sizeof hD, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(raw, R, sizeof raw, cudaMemcpyDeviceToHost));
            int bad = 0;
            for (int i = 0; i < 64 * n; i++) bad += !(hD[i] == ref[i]);
            printf("test %d lbo=%5u sbo=%5u: %s (%d of %d wrong)\n", test, var[vi][0], var[vi][1], bad ? "FAIL" : "ok", bad,
                   64 * n);
            if (bad && vi == 0) { /* where thread 0's first registers are found in ref */
                for (int r = 0; r < 8; r++) {
                    printf("  t0 d[%d]=%g at:", r, raw[r]);
                    int shown = 0;
                    for (int i = 0; i < 64 * n && shown < 4; i++)
                        if (ref[i] == raw[r]) printf(" (%d,%d)", i / n, i % n), shown++;
                    printf("\n");
                }
            }
        }
    }
    return 0;
}
