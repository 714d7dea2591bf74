/* CUDA kv_append: one thread block per new row. A row is skipped when a later row of the call
 * takes the same slot (the later one wins): for a few rows each block scans the later ones,
 * for many a slot table in the stream workspace records each slot's last row first. The
 * block's threads then store the row's H·D values in chunks of 8: F16/BF16 through 16-byte
 * stores, Q8_0 by four threads per block of 32 that share the block's absmax and quantize as
 * the reference does (bit-exact: IEEE division, roundf, no fused operations) into shared
 * memory, from where the row's blocks go to the cache in 8-, 4- or 2-byte words. */
#include "cuda/dequant.cuh"

#define KV_SCAN_ROWS 64 /* up to this many rows, each block scans the later ones itself */

struct kv_params {
    long long m, h, l, d;
    int ring;
    int vec;      /* 16-byte loads of x chunks and stores of cache chunks are aligned */
    int *last;    /* more than KV_SCAN_ROWS rows: [l], the last row of the call per slot */
    int stage;    /* Q8_0: 0, or the width in bytes (8, 4, 2) of the stores that copy a row's
                   * blocks, quantized into shared memory first, out to the cache */
};

/* Q8_0 staging: one row's H·D/32 blocks (the launch's dynamic shared memory). */
extern __shared__ __align__(16) uint8_t kv_stage[];

/* Copies the staged row to its slot: per head D/32 · 34 contiguous bytes, in words of W bytes
 * (W divides that and the cache's alignment). Called by every thread of the block. */
template <int W> static __device__ __forceinline__ void kv_copy_out(uint8_t *__restrict__ cache, long long slot, const kv_params &p) {
    using word = typename std::conditional<W == 8, uint2, typename std::conditional<W == 4, unsigned, unsigned short>::type>::type;
    const unsigned seg = (unsigned)(p.d / 32) * (unsigned)sizeof(mlxn_block_q8_0), nw = seg / W, total = (unsigned)p.h * nw;
    for (unsigned w = threadIdx.x; w < total; w += blockDim.x) {
        const unsigned hh = w / nw, o = w - hh * nw;
        *reinterpret_cast<word *>(cache + ((long long)hh * p.l + slot) * seg + (long long)o * W) =
            *reinterpret_cast<const word *>(kv_stage + hh * seg + o * W);
    }
}

static __device__ __forceinline__ long long kv_pos_slot(int32_t q, const kv_params &p) {
    return q < 0 || (!p.ring && q >= p.l) ? -1 : p.ring ? q % p.l : q;
}

/* The slot table: every slot a row lands in to -1, then (next kernel) to its largest row. */
static __global__ void kv_last_clear(const int32_t *__restrict__ pos, kv_params p) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.m; i += (long long)gridDim.x * blockDim.x) {
        const long long slot = kv_pos_slot(pos[i], p);
        if (slot >= 0) p.last[slot] = -1;
    }
}
static __global__ void kv_last_mark(const int32_t *__restrict__ pos, kv_params p) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.m; i += (long long)gridDim.x * blockDim.x) {
        const long long slot = kv_pos_slot(pos[i], p);
        if (slot >= 0) atomicMax(&p.last[slot], (int)i);
    }
}

/* The slot row i goes to, or -1 when skipped (a bad position, or a later row in the same
 * slot). Called by every thread of the block. */
static __device__ long long kv_slot(const int32_t *__restrict__ pos, long long i, const kv_params &p) {
    const long long slot = kv_pos_slot(pos[i], p);
    if (p.last) return slot >= 0 && p.last[slot] == i ? slot : -1;
    int later = 0;
    for (long long j = i + 1 + threadIdx.x; slot >= 0 && j < p.m; j += blockDim.x) later |= kv_pos_slot(pos[j], p) == slot;
    return __syncthreads_or(later) || slot < 0 ? -1 : slot;
}

#define KV_THREADS 64 /* per row: H·D/8 chunks, two per thread for a decoder's 8 × 128 */

template <typename TC>
static __device__ __forceinline__ void kv_store_float(TC *__restrict__ cache, long long c, long long slot, const kv_params &p,
                                                      const float (&v)[8]) {
    const long long e = 8 * c, hh = e / p.d, col = e % p.d;
    mlxn_st8(cache + (hh * p.l + slot) * p.d + col, 8, p.vec, v);
}

/* Q8_0: chunk c of the row is elements 8c..8c+7; the four chunks of a block of 32 sit in four
 * consecutive lanes (c mod 4 = lane mod 4, as every step is a multiple of 4 threads), which
 * share the block's absmax. */
static __device__ __forceinline__ void kv_store_q8_0(uint8_t *__restrict__ cache, long long c, long long slot,
                                                     const kv_params &p, const float (&v)[8]) {
    const unsigned group = 0xFu << (threadIdx.x & 28);
    const long long e = 8 * c, hh = e / p.d, b = e % p.d / 32;
    const int sub = (int)(c & 3);
    /* staged: the row's blocks in shared memory (head-major, as in the cache), copied out after */
    uint8_t *blk = p.stage ? kv_stage + (hh * (p.d / 32) + b) * (long long)sizeof(mlxn_block_q8_0)
                           : cache + ((hh * p.l + slot) * (p.d / 32) + b) * sizeof(mlxn_block_q8_0);
    float amax = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; j++) amax = fmaxf(amax, fabsf(v[j]));
    amax = fmaxf(amax, __shfl_xor_sync(group, amax, 1));
    amax = fmaxf(amax, __shfl_xor_sync(group, amax, 2));
    const float d = __fdiv_rn(amax, 127.0f), id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
    if (sub == 0) *reinterpret_cast<uint16_t *>(blk) = __half_as_ushort(__float2half_rn(d));
    uint16_t *qs = reinterpret_cast<uint16_t *>(blk + 2 + 8 * sub); /* 2-byte aligned */
#pragma unroll
    for (int j = 0; j < 8; j += 2) {
        const int q0 = (int)roundf(__fmul_rn(v[j], id)), q1 = (int)roundf(__fmul_rn(v[j + 1], id));
        qs[j / 2] = (uint16_t)((uint8_t)(int8_t)q0 | ((uint16_t)(uint8_t)(int8_t)q1 << 8));
    }
}

/* One row per block step: the first two chunks of each thread are loaded before the slot is
 * known (the loads overlap the position lookup), then stored; any further chunks follow. */
template <typename TX, typename TC, bool Q8>
static __global__ void kv_append_rows(const TX *__restrict__ x, const int32_t *__restrict__ pos, TC *__restrict__ cache,
                                      kv_params p) {
    const long long n = p.h * p.d / 8;
    for (long long i = blockIdx.x; i < p.m; i += gridDim.x) {
        const TX *xr = x + i * p.h * p.d;
        const long long c0 = threadIdx.x, c1 = threadIdx.x + blockDim.x;
        float v0[8], v1[8];
        if (c0 < n) mlxn_ld8(xr + 8 * c0, 8, p.vec, v0);
        if (c1 < n) mlxn_ld8(xr + 8 * c1, 8, p.vec, v1);
        const long long slot = kv_slot(pos, i, p);
        if (slot < 0) continue;
        auto store = [&](long long c, const float (&v)[8]) {
            if constexpr (Q8) kv_store_q8_0(reinterpret_cast<uint8_t *>(cache), c, slot, p, v);
            else kv_store_float(cache, c, slot, p, v);
        };
        if (c0 < n) store(c0, v0);
        if (c1 < n) store(c1, v1);
        for (long long c = c1 + blockDim.x; c < n; c += blockDim.x) {
            mlxn_ld8(xr + 8 * c, 8, p.vec, v0);
            store(c, v0);
        }
        if constexpr (Q8) { /* slot is the block's: every thread reaches these barriers or none */
            if (p.stage) {
                __syncthreads();
                uint8_t *cb = reinterpret_cast<uint8_t *>(cache);
                if (p.stage == 8) kv_copy_out<8>(cb, slot, p);
                else if (p.stage == 4) kv_copy_out<4>(cb, slot, p);
                else kv_copy_out<2>(cb, slot, p);
                __syncthreads(); /* the next row's quantization reuses the stage */
            }
        }
    }
}

/* Head dims that are not a multiple of 8 (F16/BF16 only): one element per thread step. */
template <typename TX, typename TC>
static __global__ void kv_append_any(const TX *__restrict__ x, const int32_t *__restrict__ pos, TC *__restrict__ cache,
                                     kv_params p) {
    for (long long i = blockIdx.x; i < p.m; i += gridDim.x) {
        const long long slot = kv_slot(pos, i, p);
        if (slot < 0) continue;
        const TX *xr = x + i * p.h * p.d;
        for (long long e = threadIdx.x; e < p.h * p.d; e += blockDim.x)
            cache[(e / p.d * p.l + slot) * p.d + e % p.d] = mlxn_from_f32<TC>(mlxn_to_f32(xr[e]));
    }
}

static bool aligned16(const void *q) { return ((uintptr_t)q & 15) == 0; }

extern "C" mlxn_status mlxn_cuda_kv_append(void *stream, const mlxn_kv_append_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    const size_t xsz = a->tx == MLXN_TYPE_F32 ? 4 : 2;
    kv_params p = {a->m, a->h, a->l, a->d, a->ring, 0, nullptr, 0};
    size_t stage_bytes = 0;
    if (a->tc == MLXN_TYPE_Q8_0) { /* stage when a row's blocks fit in 48 KiB */
        const size_t seg = (size_t)(a->d / 32) * sizeof(mlxn_block_q8_0), cb = (uintptr_t)a->cache;
        stage_bytes = (size_t)a->h * seg;
        p.stage = seg % 8 == 0 && cb % 8 == 0 ? 8 : seg % 4 == 0 && cb % 4 == 0 ? 4 : 2;
        if (stage_bytes > (48u << 10)) p.stage = 0, stage_bytes = 0;
    }
    p.vec = aligned16(a->x) && (size_t)a->d * xsz % 16 == 0 &&
            (a->tc == MLXN_TYPE_Q8_0 || (aligned16(a->cache) && a->d % 8 == 0));
    const unsigned threads = KV_THREADS, grid = (unsigned)(a->m < 65535 ? a->m : 65535);
    if (a->m > KV_SCAN_ROWS) {
        void *ws = nullptr;
        const mlxn_status st = mlxn_cuda_workspace(s, (size_t)a->l * sizeof(int), &ws);
        if (st) return st;
        p.last = static_cast<int *>(ws);
        const unsigned g = mlxn_grid_for(s->dev, a->m, 256);
        kv_last_clear<<<g, 256, 0, s->s>>>(a->pos, p);
        MLXN_CUDA_CHECK_LAUNCH();
        kv_last_mark<<<g, 256, 0, s->s>>>(a->pos, p);
        MLXN_CUDA_CHECK_LAUNCH();
    }
    return mlxn_dispatch_float(a->tx, [&](auto tx) -> mlxn_status {
        using TX = decltype(tx);
        const TX *x = static_cast<const TX *>(a->x);
        if (a->tc == MLXN_TYPE_Q8_0) {
            kv_append_rows<TX, uint8_t, true>
                <<<grid, threads, stage_bytes, s->s>>>(x, a->pos, static_cast<uint8_t *>(a->cache), p);
        } else if (a->d % 8) {
            if (a->tc == MLXN_TYPE_F16)
                kv_append_any<TX, __half><<<grid, threads, 0, s->s>>>(x, a->pos, static_cast<__half *>(a->cache), p);
            else
                kv_append_any<TX, __nv_bfloat16><<<grid, threads, 0, s->s>>>(x, a->pos, static_cast<__nv_bfloat16 *>(a->cache), p);
        } else if (a->tc == MLXN_TYPE_F16) {
            kv_append_rows<TX, __half, false><<<grid, threads, 0, s->s>>>(x, a->pos, static_cast<__half *>(a->cache), p);
        } else {
            kv_append_rows<TX, __nv_bfloat16, false><<<grid, threads, 0, s->s>>>(x, a->pos, static_cast<__nv_bfloat16 *>(a->cache), p);
        }
        MLXN_CUDA_CHECK_LAUNCH();
        return MLXN_OK;
    });
}
