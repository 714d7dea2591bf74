/* CUDA kv_append: one thread block per new row (Q8_0 with many rows: a warp per row at a time). A row
 * is skipped when a later row of the call takes the same slot (the later one wins): for a few
 * rows each block scans the later ones, for many a slot table in the stream workspace records
 * each slot's last row first (two small kernels; on sm_90 the next kernel of the three is a
 * programmatic dependent launch, so it starts, and loads its rows, while the one before
 * finishes). The threads then store the row's H·D values in chunks of 8: F16/BF16 through
 * 16-byte stores, Q8_0 by four threads per block of 32 that share the block's absmax and
 * quantize as the reference does (bit-exact: d = absmax / 127 and 1 / d correctly rounded,
 * q = roundf(x · (1 / d)), each product rounded once) into shared memory, from where the row's
 * blocks go to the cache in 8-, 4- or 2-byte words. */
#include "cuda/dequant.cuh"
#include "cuda/rowops.cuh"

#include <cstring>

#define KV_SCAN_ROWS 64 /* up to this many rows, each block scans the later ones itself */

struct kv_params {
    long long m, h, l, d;
    int ring;
    int vec;      /* 16-byte loads of x chunks and stores of cache chunks are aligned */
    int *last;    /* more than KV_SCAN_ROWS rows: [l], the last row of the call per slot */
    int stage;    /* Q8_0: 0, or the width in bytes (8, 4, 2) of the stores that copy a row's
                   * blocks, quantized into shared memory first, out to the cache */
    int dshift;   /* log2(d) when d is a power of two, else -1 */
    int wstage;   /* Q8_0 warp kernel: bytes of shared memory per warp (a row's blocks, 16-aligned) */
    unsigned nw, nw_r, nw_inv; /* Q8_0 warp kernel: copy words per head (nw), 32 mod nw, ceil(2^32 / nw)
                                * (lane / nw = umulhi(lane, nw_inv) for lane < 32) */
    long long cw_step, cw_wrap; /* Q8_0 warp kernel: cache bytes from a copy word to the one 32 later,
                                 * and the further step when its word in the head wraps */
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
    mlxn_pdl_trigger(); /* the marks wait for this grid's stores in mlxn_pdl_wait */
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.m; i += (long long)gridDim.x * blockDim.x) {
        const long long slot = kv_pos_slot(pos[i], p);
        if (slot >= 0) p.last[slot] = -1;
    }
}
static __global__ void kv_last_mark(const int32_t *__restrict__ pos, kv_params p) {
    mlxn_pdl_trigger(); /* the row kernel may start: it waits for the marks before reading them */
    mlxn_pdl_wait();    /* the clears */
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.m; i += (long long)gridDim.x * blockDim.x) {
        const long long slot = kv_pos_slot(pos[i], p);
        if (slot >= 0) atomicMax(&p.last[slot], (int)i);
    }
}

/* The slot row i goes to, or -1 when skipped (a bad position, or a later row in the same
 * slot). Called by every thread of the block. */
static __device__ __forceinline__ long long kv_slot_last(const int32_t *__restrict__ pos, long long i, const kv_params &p) {
    const long long slot = kv_pos_slot(pos[i], p);
    mlxn_pdl_wait(); /* the slot table's marks */
    return slot >= 0 && p.last[slot] == i ? slot : -1;
}
static __device__ long long kv_slot(const int32_t *__restrict__ pos, long long i, const kv_params &p) {
    if (p.last) return kv_slot_last(pos, i, p);
    const long long slot = kv_pos_slot(pos[i], p);
    int later = 0;
    for (long long j = i + 1 + threadIdx.x; slot >= 0 && j < p.m; j += blockDim.x) later |= kv_pos_slot(pos[j], p) == slot;
    return __syncthreads_or(later) || slot < 0 ? -1 : slot;
}

#define KV_THREADS 64 /* per row: H·D/8 chunks, two per thread for a decoder's 8 × 128 */

/* Head and element offset in it of chunk c (elements 8c..8c+7) of a row: a shift when D is a
 * power of two, else a 32-bit division (a row has fewer than 2^32 elements, checked at launch). */
static __device__ __forceinline__ void kv_chunk_at(long long c, const kv_params &p, long long &hh, long long &col) {
    const unsigned e = 8u * (unsigned)c;
    const unsigned h = p.dshift >= 0 ? e >> p.dshift : e / (unsigned)p.d;
    hh = h, col = e - h * (unsigned)p.d;
}

template <typename TC>
static __device__ __forceinline__ void kv_store_float(TC *__restrict__ cache, long long c, long long slot, const kv_params &p,
                                                      const float (&v)[8]) {
    long long hh, col;
    kv_chunk_at(c, p, hh, col);
    mlxn_st8(cache + (hh * p.l + slot) * p.d + col, 8, p.vec, v);
}

/* absmax / 127 correctly rounded: the product with rn(1/127) and one FMA correction (Markstein:
 * a correctly rounded reciprocal and a quotient within 1 ulp give the correctly rounded
 * quotient). Checked equal to the IEEE quotient for every finite a >= 0, subnormals included;
 * infinity is passed through (inf / 127). */
static __device__ __forceinline__ float kv_div127(float a) {
    const float r = 0x1.020408p-7f; /* rn(1 / 127) */
    const float q = __fmul_rn(a, r);
    const float q1 = __fmaf_rn(__fmaf_rn(-127.0f, q, a), r, q);
    return a <= 0x1.fffffep127f ? q1 : a;
}

/* (int8_t)mlxn_trunc_int(roundf(y)) as an int (its low byte is the value): with f = |y|,
 * roundf(f) = floor(rn(f + (1/2 − 2^-25))) for every f32 f in [0, 2^22] (checked on the host
 * for all of them: the constant below 1/2 keeps 1/2 − 2^-25 from rounding up to 1, and a tie
 * n + 1/2 still rounds up to n + 1), and the floor comes from adding 2^23 rounding down (the
 * integer lands in the low mantissa bits; 0x4B000000's low byte is 0). Three FP adds, no
 * conversion unit (F2I/FRND run at 16/clk/SM). |y| is clamped to 2^22 first, so inf and NaN
 * give 0 as the reference's out-of-range conversion does (|y| <= 127 · (1 + 3 u) whenever
 * 1 / d is finite). */
static __device__ __forceinline__ int kv_q8_round(float y) {
    const float f = fminf(fabsf(y), 0x1p22f); /* fminf(NaN, c) = c */
    const int b = (int)__float_as_uint(__fadd_rd(__fadd_rn(f, 0x1.fffffep-2f), 0x1p23f));
    return y < 0.0f ? -b : b;
}

/* Where chunk c's block of 32 goes: the stage (head-major, as in the cache) or the cache. */
static __device__ __forceinline__ uint8_t *kv_q8_block(uint8_t *__restrict__ cache, long long c, long long slot,
                                                       const kv_params &p) {
    long long hh, col;
    kv_chunk_at(c, p, hh, col);
    const long long nb = p.d / 32, b = col / 32;
    return p.stage ? kv_stage + (hh * nb + b) * (long long)sizeof(mlxn_block_q8_0)
                   : cache + ((hh * p.l + slot) * nb + b) * (long long)sizeof(mlxn_block_q8_0);
}

/* kv_q8_round for |y| <= 2^22 (no clamp): callers know x and 1 / d are finite, so |y| <= 127 · (1 + 3 u). */
static __device__ __forceinline__ int kv_q8_round_fin(float y) {
    const int b = (int)__float_as_uint(__fadd_rd(__fadd_rn(fabsf(y), 0x1.fffffep-2f), 0x1p23f));
    return y < 0.0f ? -b : b;
}

/* The 8 quantized values of a chunk at its place in the block (2-byte aligned); FIN: the
 * caller knows |y| <= 2^22 (kv_q8_round_fin). */
template <bool FIN = false> static __device__ __forceinline__ void kv_q8_put(uint8_t *blk, int sub, const float (&v)[8], float id) {
    int q[8];
#pragma unroll
    for (int j = 0; j < 8; j++) q[j] = FIN ? kv_q8_round_fin(__fmul_rn(v[j], id)) : kv_q8_round(__fmul_rn(v[j], id));
    uint16_t *qs = reinterpret_cast<uint16_t *>(blk + 2 + 8 * sub);
#pragma unroll
    for (int j = 0; j < 8; j += 2) qs[j / 2] = (uint16_t)__byte_perm((unsigned)q[j], (unsigned)q[j + 1], 0x0040);
}

/* Q8_0: chunks ca and cb = ca + blockDim.x of the row (cb only when has_b); the four chunks of
 * a block of 32 sit in four consecutive lanes (c mod 4 = lane mod 4, as every step is a
 * multiple of 4 threads), which share the block's absmax. Lanes 0 and 2 of a quad compute
 * chunk a's block scale, lanes 1 and 3 chunk b's (one division pair a thread instead of two),
 * and pass 1 / d around; lane 0 stores a's d, lane 1 b's. */
static __device__ __forceinline__ void kv_store_q8_0(uint8_t *__restrict__ cache, long long ca, long long cb, bool has_b,
                                                     long long slot, const kv_params &p, const float (&va)[8],
                                                     const float (&vb)[8]) {
    const unsigned group = 0xFu << (threadIdx.x & 28);
    const int sub = (int)(threadIdx.x & 3);
    float amax_a = 0.0f, amax_b = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; j++) amax_a = fmaxf(amax_a, fabsf(va[j])), amax_b = fmaxf(amax_b, fabsf(vb[j]));
    amax_a = fmaxf(amax_a, __shfl_xor_sync(group, amax_a, 1));
    amax_b = fmaxf(amax_b, __shfl_xor_sync(group, amax_b, 1));
    amax_a = fmaxf(amax_a, __shfl_xor_sync(group, amax_a, 2));
    amax_b = fmaxf(amax_b, __shfl_xor_sync(group, amax_b, 2));
    const float d = kv_div127(sub & 1 ? amax_b : amax_a), id = d != 0.0f ? __frcp_rn(d) : 0.0f;
    const float id_a = __shfl_sync(group, id, 0, 4), id_b = __shfl_sync(group, id, 1, 4);
    uint8_t *blk_a = kv_q8_block(cache, ca, slot, p);
    if (sub == 0) *reinterpret_cast<uint16_t *>(blk_a) = __half_as_ushort(__float2half_rn(d));
    kv_q8_put(blk_a, sub, va, id_a);
    if (has_b) {
        uint8_t *blk_b = kv_q8_block(cache, cb, slot, p);
        if (sub == 1) *reinterpret_cast<uint16_t *>(blk_b) = __half_as_ushort(__float2half_rn(d));
        kv_q8_put(blk_b, sub, vb, id_b);
    }
}

/* One row per block step: the first two chunks of each thread are loaded before the slot is
 * known (the loads overlap the position lookup), then stored; any further chunks follow, two
 * at a time for Q8_0. */
template <typename TX, typename TC, bool Q8>
static __global__ void kv_append_rows(const TX *__restrict__ x, const int32_t *__restrict__ pos, TC *__restrict__ cache,
                                      kv_params p) {
    const long long n = p.h * p.d / 8;
    for (long long i = blockIdx.x; i < p.m; i += gridDim.x) {
        const TX *xr = x + i * p.h * p.d;
        const long long c0 = threadIdx.x, c1 = threadIdx.x + blockDim.x;
        float v0[8], v1[8];
#pragma unroll
        for (int j = 0; j < 8; j++) v1[j] = 0.0f;
        if (c0 < n) mlxn_ld8(xr + 8 * c0, 8, p.vec, v0);
        if (c1 < n) mlxn_ld8(xr + 8 * c1, 8, p.vec, v1);
        const long long slot = kv_slot(pos, i, p);
        if (slot < 0) continue;
        if constexpr (Q8) {
            uint8_t *cb = reinterpret_cast<uint8_t *>(cache);
            if (c0 < n) kv_store_q8_0(cb, c0, c1, c1 < n, slot, p, v0, v1);
            for (long long c = c1 + blockDim.x; c < n; c += 2 * (long long)blockDim.x) {
                const long long c2 = c + blockDim.x;
                mlxn_ld8(xr + 8 * c, 8, p.vec, v0);
                if (c2 < n) mlxn_ld8(xr + 8 * c2, 8, p.vec, v1);
                else
#pragma unroll
                    for (int j = 0; j < 8; j++) v1[j] = 0.0f;
                kv_store_q8_0(cb, c, c2, c2 < n, slot, p, v0, v1);
            }
            if (p.stage) { /* slot is the block's: every thread reaches these barriers or none */
                __syncthreads();
                if (p.stage == 8) kv_copy_out<8>(cb, slot, p);
                else if (p.stage == 4) kv_copy_out<4>(cb, slot, p);
                else kv_copy_out<2>(cb, slot, p);
                __syncthreads(); /* the next row's quantization reuses the stage */
            }
        } else {
            if (c0 < n) kv_store_float(cache, c0, slot, p, v0);
            if (c1 < n) kv_store_float(cache, c1, slot, p, v1);
            for (long long c = c1 + blockDim.x; c < n; c += blockDim.x) {
                mlxn_ld8(xr + 8 * c, 8, p.vec, v0);
                kv_store_float(cache, c, slot, p, v0);
            }
        }
    }
}

#define KV_WARP_THREADS 128 /* Q8_0 warp kernel: four rows per block, one per warp */

/* The magnitudes' bits of a 16-bit pair, sign bits cleared: as unsigned integers they order as
 * the magnitudes do, NaN above infinity. */
static __device__ __forceinline__ unsigned kv_mag2(unsigned w) { return w & 0x7fff7fffu; }
static __device__ __forceinline__ unsigned kv_max2(unsigned a, unsigned b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    unsigned r; /* one VIMNMX.U16x2 (__vmaxu2 is several instructions) */
    asm("max.u16x2 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return __vmaxu2(a, b);
#endif
}
template <typename TX> static __device__ __forceinline__ float kv_mag_f32(unsigned bits) {
    if constexpr (std::is_same<TX, __half>::value) return __half2float(__ushort_as_half((unsigned short)bits));
    else return __uint_as_float(bits << 16);
}

/* row_unpack with one instruction per bf16 value (a shift or a mask of its word). */
template <typename TX> static __device__ __forceinline__ void kv_unpack(const row_raw<TX> &r, float (&v)[8]) {
    if constexpr (std::is_same<TX, __nv_bfloat16>::value) {
        const unsigned w[4] = {r.w[0].x, r.w[0].y, r.w[0].z, r.w[0].w};
#pragma unroll
        for (int k = 0; k < 4; k++) v[2 * k] = __uint_as_float(w[k] << 16), v[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
    } else row_unpack(r, v);
}

/* Loads the chunks g + lane + 32c (c < 4) of row xr; chunks past the row's n are zeros. */
template <typename TX>
static __device__ __forceinline__ void kv_unit_load(const TX *__restrict__ xr, unsigned g, unsigned lane, unsigned n,
                                                    row_raw<TX> (&raw)[4]) {
    const TX *xc = xr + 8 * (g + lane);
    if (g + 128 <= n) {
#pragma unroll
        for (int c = 0; c < 4; c++) row_ld_raw(xc + 256 * c, raw[c]);
        return;
    }
#pragma unroll
    for (int c = 0; c < 4; c++) {
        if (g + lane + 32 * c < n) row_ld_raw(xc + 256 * c, raw[c]);
        else
#pragma unroll
            for (int k = 0; k < (int)(sizeof(TX) / 2); k++) raw[c].w[k] = make_uint4(0, 0, 0, 0);
    }
}

/* The absmax of block `sub` of the quad's four (lane c of the quad: block c), in f32: the four
 * lanes of a quad hold its four chunks (fmaxf skips NaN, as kv_append_rows does). */
template <typename TX> static __device__ __forceinline__ float kv_unit_amax_f32(const row_raw<TX> (&raw)[4], unsigned sub) {
    float am[4];
#pragma unroll
    for (int c = 0; c < 4; c++) {
        float v[8];
        kv_unpack(raw[c], v);
        am[c] = 0.0f;
#pragma unroll
        for (int k = 0; k < 8; k++) am[c] = fmaxf(am[c], fabsf(v[k]));
    }
#pragma unroll
    for (int c = 0; c < 4; c++) am[c] = fmaxf(am[c], __shfl_xor_sync(0xffffffffu, am[c], 1));
#pragma unroll
    for (int c = 0; c < 4; c++) am[c] = fmaxf(am[c], __shfl_xor_sync(0xffffffffu, am[c], 2));
    return sub == 0 ? am[0] : sub == 1 ? am[1] : sub == 2 ? am[2] : am[3];
}

/* Quantizes a unit into the warp's stage. The four lanes of a quad hold the four chunks of each
 * of their four blocks of 32 (chunk g + lane + 32c is in block (g + lane + 32c) / 4); each
 * block's absmax comes from two xor-shuffles, lane c of the quad computes block c's d and 1 / d
 * (one division pair a thread), which four width-4 shuffles hand around. 16-bit x: the absmax
 * is an integer max over the magnitudes' bits, two values an instruction, unpacked once; when
 * any value of the unit is NaN (it would win that max; the reference's fmaxf skips it) the
 * absmax is taken again in f32. The quantization skips kv_q8_round's clamp when every block of
 * the unit has finite x and a finite 1 / d. */
template <typename TX>
static __device__ __forceinline__ void kv_unit_quant(const row_raw<TX> (&raw)[4], uint8_t *stage, unsigned g, unsigned lane,
                                                     unsigned n) {
    const unsigned sub = lane & 3, quad = lane & 28;
    float a;
    bool fin = false;
    if constexpr (sizeof(TX) == 2) {
        unsigned m[4];
#pragma unroll
        for (int c = 0; c < 4; c++)
            m[c] = kv_max2(kv_max2(kv_mag2(raw[c].w[0].x), kv_mag2(raw[c].w[0].y)),
                           kv_max2(kv_mag2(raw[c].w[0].z), kv_mag2(raw[c].w[0].w)));
#pragma unroll
        for (int c = 0; c < 4; c++) m[c] = kv_max2(m[c], __shfl_xor_sync(0xffffffffu, m[c], 1));
#pragma unroll
        for (int c = 0; c < 4; c++) m[c] = kv_max2(m[c], __shfl_xor_sync(0xffffffffu, m[c], 2));
        const unsigned ms = sub == 0 ? m[0] : sub == 1 ? m[1] : sub == 2 ? m[2] : m[3];
        const unsigned mb = max(ms >> 16, ms & 0xffffu);
        constexpr unsigned inf = std::is_same<TX, __half>::value ? 0x7c00u : 0x7f80u;
        fin = __all_sync(0xffffffffu, mb < inf); /* no NaN or infinity in the unit */
        /* a NaN: the f32 absmax, as kv_append_rows takes it */
        a = __all_sync(0xffffffffu, mb <= inf) ? kv_mag_f32<TX>(mb) : kv_unit_amax_f32(raw, sub);
    } else {
        a = kv_unit_amax_f32(raw, sub);
    }
    const float d = kv_div127(a), id = d != 0.0f ? __frcp_rn(d) : 0.0f;
    fin = __all_sync(0xffffffffu, fin && id <= 0x1.fffffep127f);
    if (g + lane + 32 * sub < n) /* lane c of the quad: block c's scale */
        *reinterpret_cast<uint16_t *>(stage + ((g + lane + 32 * sub) >> 2) * sizeof(mlxn_block_q8_0)) =
            __half_as_ushort(__float2half_rn(d));
    uint8_t *blk = stage + ((g + lane) >> 2) * sizeof(mlxn_block_q8_0); /* chunk c's block: + 8c blocks */
    const bool full = g + 128 <= n;
#pragma unroll
    for (int c = 0; c < 4; c++) {
        const float idc = __shfl_sync(0xffffffffu, id, quad | c);
        if (full || g + lane + 32 * c < n) {
            float v[8];
            kv_unpack(raw[c], v);
            if (fin) kv_q8_put<true>(blk + 8 * c * sizeof(mlxn_block_q8_0), (int)sub, v, idc);
            else kv_q8_put<false>(blk + 8 * c * sizeof(mlxn_block_q8_0), (int)sub, v, idc);
        }
    }
}

/* Copies a warp's staged row to its slot in words of W bytes (see kv_copy_out). Lane l's words
 * are l + 32k: word w is word o = w mod nw of head w / nw; from one of the lane's words to the
 * next the cache address moves by p.cw_step, and by p.cw_wrap more when o passes nw (the
 * lane's first head and word come in as hh, o). */
template <int W>
static __device__ __forceinline__ void kv_warp_copy_out(uint8_t *__restrict__ cache, const uint8_t *stage, long long slot,
                                                        const kv_params &p, unsigned lane, unsigned hh, unsigned o) {
    using word = typename std::conditional<W == 8, uint2, typename std::conditional<W == 4, unsigned, unsigned short>::type>::type;
    const unsigned seg = (unsigned)(p.d / 32) * (unsigned)sizeof(mlxn_block_q8_0), total = (unsigned)p.h * p.nw;
    uint8_t *dst = cache + (slot + (long long)hh * p.l) * (long long)seg + o * W;
    for (unsigned w = lane; w < total; w += 32) {
        *reinterpret_cast<word *>(dst) = *reinterpret_cast<const word *>(stage + w * W);
        o += p.nw_r, dst += p.cw_step;
        if (o >= p.nw) o -= p.nw, dst += p.cw_wrap;
    }
}

/* One unit (128 chunks of a row) of the warp kernel: unit g of row i (in raw) is quantized, its
 * row copied out when it is the row's last unit, and the next unit (of row i + step after the
 * last one) loaded into raw. False when no unit is left. A persistent grid with the next unit
 * loaded before the quantization (two buffers, one resident wave) measured slower, 77% of copy
 * against 83% (H100, bf16 8 × 128 rows): its 64 registers left 32 warps an SM instead of 40. */
template <typename TX>
static __device__ __forceinline__ bool kv_q8_unit(const TX *__restrict__ x, const int32_t *__restrict__ pos, uint8_t *__restrict__ cache,
                                                  const kv_params &p, uint8_t *stage, unsigned lane, unsigned hh0, unsigned o0,
                                                  long long &i, unsigned &g, long long &slot, row_raw<TX> (&raw)[4]) {
    const unsigned n = (unsigned)(p.h * p.d) / 8; /* chunks of the row; a multiple of 4 */
    long long ni = i;
    unsigned ng = g + 128;
    if (ng >= n) ng = 0, ni = i + (long long)gridDim.x * (KV_WARP_THREADS / 32);
    const bool more = ni < p.m;
    if (slot >= 0) kv_unit_quant(raw, stage, g, lane, n);
    if (more) kv_unit_load(x + ni * p.h * p.d, ng, lane, n, raw);
    if (ng == 0) { /* row i is quantized */
        if (slot >= 0) {
            __syncwarp();
            if (p.stage == 8) kv_warp_copy_out<8>(cache, stage, slot, p, lane, hh0, o0);
            else if (p.stage == 4) kv_warp_copy_out<4>(cache, stage, slot, p, lane, hh0, o0);
            else kv_warp_copy_out<2>(cache, stage, slot, p, lane, hh0, o0);
            __syncwarp(); /* the next row's quantization reuses the stage */
        }
        if (!more) return false;
        const long long s = kv_pos_slot(pos[ni], p);
        slot = s >= 0 && p.last[s] == ni ? s : -1;
    }
    i = ni, g = ng;
    return true;
}

/* Q8_0 with the slot table (more than KV_SCAN_ROWS rows) and 16-byte aligned rows: one warp
 * per row at a time (rows i, i + gridDim.x · 4, ...), so no block barriers; the warp's share
 * of the shared memory holds its row's blocks. */
template <typename TX>
static __global__ void __launch_bounds__(KV_WARP_THREADS, sizeof(TX) == 4 ? 8 : 10) kv_append_q8_warp(const TX *__restrict__ x, const int32_t *__restrict__ pos,
                                                                     uint8_t *__restrict__ cache, kv_params p) {
    const unsigned lane = threadIdx.x & 31;
    uint8_t *stage = kv_stage + (threadIdx.x >> 5) * (unsigned)p.wstage;
    const unsigned hh0 = __umulhi(lane, p.nw_inv), o0 = lane - hh0 * p.nw; /* lane's first copy word */
    long long i = (long long)blockIdx.x * (KV_WARP_THREADS / 32) + (threadIdx.x >> 5);
    if (i >= p.m) return;
    row_raw<TX> raw[4];
    kv_unit_load(x + i * p.h * p.d, 0, lane, (unsigned)(p.h * p.d) / 8, raw);
    long long slot = kv_slot_last(pos, i, p); /* waits for the slot table */
    unsigned g = 0;
    while (kv_q8_unit<TX>(x, pos, cache, p, stage, lane, hh0, o0, i, g, slot, raw)) {}
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
    if ((unsigned long long)a->h * (unsigned long long)a->d >= (1ull << 32))
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "cuda kv_append: rows of %lld x %lld elements", (long long)a->h, (long long)a->d);
    const size_t xsz = a->tx == MLXN_TYPE_F32 ? 4 : 2;
    kv_params p = {a->m, a->h, a->l, a->d, a->ring, 0, nullptr, 0, -1, 0};
    for (int k = 0; k < 32; k++)
        if (a->d == (1ll << k)) p.dshift = k;
    size_t stage_bytes = 0;
    if (a->tc == MLXN_TYPE_Q8_0) { /* stage when a row's blocks fit in 48 KiB */
        const size_t seg = (size_t)(a->d / 32) * sizeof(mlxn_block_q8_0), cb = (uintptr_t)a->cache;
        stage_bytes = (size_t)a->h * seg;
        p.stage = seg % 8 == 0 && cb % 8 == 0 ? 8 : seg % 4 == 0 && cb % 4 == 0 ? 4 : 2;
        if (stage_bytes > (48u << 10)) p.stage = 0, stage_bytes = 0;
    }
    p.vec = aligned16(a->x) && (size_t)a->d * xsz % 16 == 0 &&
            (a->tc == MLXN_TYPE_Q8_0 || (aligned16(a->cache) && a->d % 8 == 0));
    /* Q8_0 through the warp kernel: the slot table, 16-byte loads, four rows' blocks in 48 KiB */
    const size_t wstage = (stage_bytes + 15) / 16 * 16;
    const bool q8_warp = p.stage && a->m > KV_SCAN_ROWS && p.vec && wstage * (KV_WARP_THREADS / 32) <= (48u << 10);
    if (q8_warp) {
        p.wstage = (int)wstage;
        p.nw = (unsigned)((size_t)(a->d / 32) * sizeof(mlxn_block_q8_0) / (size_t)p.stage); /* >= 34 / 8 */
        p.nw_r = 32 % p.nw, p.nw_inv = (unsigned)(((1ull << 32) + p.nw - 1) / p.nw);
        const long long hstride = a->l * (long long)p.nw * p.stage; /* cache bytes from a head to the next */
        p.cw_step = (long long)(32 / p.nw) * hstride + (long long)p.nw_r * p.stage;
        p.cw_wrap = hstride - (long long)p.nw * p.stage;
    }
    const unsigned threads = KV_THREADS, grid = (unsigned)(a->m < 65535 ? a->m : 65535);
    bool pdl = false; /* the row kernel: a dependent launch after the slot table's marks */
    if (a->m > KV_SCAN_ROWS) {
        void *ws = nullptr;
        mlxn_status st = mlxn_cuda_workspace(s, (size_t)a->l * sizeof(int), &ws);
        if (st) return st;
        p.last = static_cast<int *>(ws);
        pdl = mlxn_cuda_sm90(s->dev);
        const unsigned g = mlxn_grid_for(s->dev, a->m, 256);
        kv_last_clear<<<g, 256, 0, s->s>>>(a->pos, p);
        MLXN_CUDA_CHECK_LAUNCH();
        if ((st = mlxn_cuda_launch(s->s, kv_last_mark, dim3(g), dim3(256), 0, 1, pdl, a->pos, p))) return st;
    }
    return mlxn_dispatch_float(a->tx, [&](auto tx) -> mlxn_status {
        using TX = decltype(tx);
        const TX *x = static_cast<const TX *>(a->x);
        if (q8_warp) {
            const long long blocks = (a->m + KV_WARP_THREADS / 32 - 1) / (KV_WARP_THREADS / 32);
            return mlxn_cuda_launch(s->s, kv_append_q8_warp<TX>, dim3((unsigned)(blocks < 65535 ? blocks : 65535)),
                                    dim3(KV_WARP_THREADS), wstage * (KV_WARP_THREADS / 32), 1, pdl, x, a->pos,
                                    static_cast<uint8_t *>(a->cache), p);
        }
        if (a->tc == MLXN_TYPE_Q8_0)
            return mlxn_cuda_launch(s->s, kv_append_rows<TX, uint8_t, true>, dim3(grid), dim3(threads), stage_bytes, 1, pdl, x, a->pos,
                                    static_cast<uint8_t *>(a->cache), p);
        if (a->d % 8) { /* no early loads to overlap: an ordinary launch */
            if (a->tc == MLXN_TYPE_F16)
                kv_append_any<TX, __half><<<grid, threads, 0, s->s>>>(x, a->pos, static_cast<__half *>(a->cache), p);
            else
                kv_append_any<TX, __nv_bfloat16><<<grid, threads, 0, s->s>>>(x, a->pos, static_cast<__nv_bfloat16 *>(a->cache), p);
            MLXN_CUDA_CHECK_LAUNCH();
            return MLXN_OK;
        }
        if (a->tc == MLXN_TYPE_F16)
            return mlxn_cuda_launch(s->s, kv_append_rows<TX, __half, false>, dim3(grid), dim3(threads), 0, 1, pdl, x, a->pos,
                                    static_cast<__half *>(a->cache), p);
        return mlxn_cuda_launch(s->s, kv_append_rows<TX, __nv_bfloat16, false>, dim3(grid), dim3(threads), 0, 1, pdl, x, a->pos,
                                static_cast<__nv_bfloat16 *>(a->cache), p);
    });
}
