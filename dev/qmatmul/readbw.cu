// The streaming-read ceiling of `mlxn bench qmatmul`: every thread reads 16-byte words
// (non-coherent path), four in flight per iteration, and folds them into one XOR written
// per thread so nothing is optimized away. Compiled to PTX (compute_80) and embedded in
// tools/cmd_bench_gpu.c:  nvcc -ptx -arch=compute_80 readbw.cu -o readbw.ptx
extern "C" __global__ void mlxn_read_bw(const uint4 *__restrict__ p, unsigned long long n16, unsigned *out) {
    unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
    const unsigned long long st = (unsigned long long)gridDim.x * blockDim.x;
    unsigned a = 0;
    for (; i + 3 * st < n16; i += 4 * st) {
        uint4 v0 = __ldg(p + i), v1 = __ldg(p + i + st), v2 = __ldg(p + i + 2 * st), v3 = __ldg(p + i + 3 * st);
        a ^= v0.x ^ v0.y ^ v0.z ^ v0.w ^ v1.x ^ v1.y ^ v1.z ^ v1.w ^ v2.x ^ v2.y ^ v2.z ^ v2.w ^ v3.x ^ v3.y ^ v3.z ^ v3.w;
    }
    for (; i < n16; i += st) {
        uint4 v = __ldg(p + i);
        a ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = a;
}
