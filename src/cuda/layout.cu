/* CUDA strided copy with a cast (copy_strided, transpose, permute, slice, concat). Three
 * kernels by the walk's innermost strides: rows (x and y both contiguous along the last dim:
 * chunks of 16 bytes of y per thread, wide accesses where aligned), a shared-memory tile transpose (y
 * contiguous along the last dim, x along the one before), and a per-element fallback. Values
 * convert through f32; equal types copy bits. */
#include "cuda/dequant.cuh"

struct lay_params {
    long long ne[4], xs[4], ys[4];
    int vec_in, vec_out; /* every row start 16-byte aligned */
};

/* y's type from x's: bits when equal, else through f32 (round to nearest even). */
template <typename TY, typename TX> static __device__ __forceinline__ TY lay_cvt(TX v) {
    if constexpr (std::is_same<TX, TY>::value) return v;
    else return mlxn_from_f32<TY>(mlxn_to_f32(v));
}

/* N consecutive elements (N·sizeof(T): 8, 16 or 32 bytes) in the widest aligned accesses when
 * vec and all N are in the row, else one by one. */
template <int N, typename T> static __device__ __forceinline__ void lay_ld(const T *p, int valid, bool vec, T (&v)[N]) {
    constexpr int B = N * (int)sizeof(T);
    if (vec && valid == N) {
        if constexpr (B == 32) {
            reinterpret_cast<uint4 *>(v)[0] = __ldg(reinterpret_cast<const uint4 *>(p));
            reinterpret_cast<uint4 *>(v)[1] = __ldg(reinterpret_cast<const uint4 *>(p) + 1);
        } else if constexpr (B == 16) {
            *reinterpret_cast<uint4 *>(v) = __ldg(reinterpret_cast<const uint4 *>(p));
        } else {
            static_assert(B == 8, "8, 16 or 32 bytes");
            *reinterpret_cast<uint2 *>(v) = __ldg(reinterpret_cast<const uint2 *>(p));
        }
    } else {
#pragma unroll
        for (int k = 0; k < N; k++)
            if (k < valid) v[k] = p[k];
    }
}

template <int N, typename T> static __device__ __forceinline__ void lay_st(T *p, int valid, bool vec, const T (&v)[N]) {
    constexpr int B = N * (int)sizeof(T);
    if (vec && valid == N) {
        if constexpr (B == 32) {
            reinterpret_cast<uint4 *>(p)[0] = reinterpret_cast<const uint4 *>(v)[0];
            reinterpret_cast<uint4 *>(p)[1] = reinterpret_cast<const uint4 *>(v)[1];
        } else if constexpr (B == 16) {
            *reinterpret_cast<uint4 *>(p) = *reinterpret_cast<const uint4 *>(v);
        } else {
            static_assert(B == 8, "8, 16 or 32 bytes");
            *reinterpret_cast<uint2 *>(p) = *reinterpret_cast<const uint2 *>(v);
        }
    } else {
#pragma unroll
        for (int k = 0; k < N; k++)
            if (k < valid) p[k] = v[k];
    }
}

/* Elements per chunk: 16 bytes of y, so each store instruction of a warp covers one contiguous
 * span (bf16 -> f32 on an H100: 44% of copy with 32-byte chunks, 85% with 16). */
template <typename TY> constexpr int lay_cw() { return sizeof(TY) == 4 ? 4 : 8; }

/* Both innermost strides 1: a block of 256 threads takes 256 / tpr rows at a time, tpr threads
 * (a power of two) per row stepping through its chunks (lay_cw elements) two at a time (both
 * loaded before either is stored), so short rows (a head of 64..256) still fill the block. */
template <typename TX, typename TY>
static __global__ void lay_rows(const TX *__restrict__ x, TY *__restrict__ y, lay_params p, int tpr_log2) {
    constexpr int CW = lay_cw<TY>();
    const long long rows = p.ne[0] * p.ne[1] * p.ne[2], chunks = (p.ne[3] + CW - 1) / CW;
    const int tpr = 1 << tpr_log2, per_block = (int)blockDim.x >> tpr_log2;
    const int sub = (int)threadIdx.x & (tpr - 1);
    const bool narrow = p.ne[1] * p.ne[2] <= 0xffffffffll && rows <= 0xffffffffll; /* 32-bit index math */
    for (long long r = (long long)blockIdx.x * per_block + (threadIdx.x >> tpr_log2); r < rows;
         r += (long long)gridDim.x * per_block) {
        long long i0, i1, i2;
        if (narrow) {
            const unsigned ur = (unsigned)r, n2 = (unsigned)p.ne[2], n1 = (unsigned)p.ne[1];
            i2 = ur % n2, i1 = ur / n2 % n1, i0 = ur / n2 / n1;
        } else {
            i2 = r % p.ne[2], i1 = r / p.ne[2] % p.ne[1], i0 = r / p.ne[2] / p.ne[1];
        }
        const TX *xr = x + i0 * p.xs[0] + i1 * p.xs[1] + i2 * p.xs[2];
        TY *yr = y + i0 * p.ys[0] + i1 * p.ys[1] + i2 * p.ys[2];
        for (long long c0 = sub; c0 < chunks; c0 += 2 * (long long)tpr) { /* two chunks loaded, then stored */
            alignas(16) TX a[2][CW];
#pragma unroll
            for (int q = 0; q < 2; q++) {
                const long long c = c0 + (long long)q * tpr;
                if (c < chunks) lay_ld<CW>(xr + CW * c, p.ne[3] - CW * c < CW ? (int)(p.ne[3] - CW * c) : CW, p.vec_in, a[q]);
            }
#pragma unroll
            for (int q = 0; q < 2; q++) {
                const long long c = c0 + (long long)q * tpr;
                if (c >= chunks) break;
                alignas(16) TY b[CW];
#pragma unroll
                for (int k = 0; k < CW; k++) b[k] = lay_cvt<TY>(a[q][k]);
                lay_st<CW>(yr + CW * c, p.ne[3] - CW * c < CW ? (int)(p.ne[3] - CW * c) : CW, p.vec_out, b);
            }
        }
    }
}

#define LAY_SPLIT 4096 /* contiguous rows at least twice this long are split into rows of it */
#define TILE 64
/* y contiguous along dim 3, x along dim 2: a 64 × 64 tile of (i2, i3) goes through shared
 * memory so that reads and writes are both coalesced, two neighbouring elements per thread
 * access (vec2_in / vec2_out: such a pair is aligned for one load or store). grid: (i3 tiles,
 * i2 tiles, dims 0·1); block 32 × 8. */
template <typename TX, typename TY>
static __global__ void lay_tile(const TX *__restrict__ x, TY *__restrict__ y, lay_params p, int vec2_in, int vec2_out) {
    __shared__ TX tile[TILE][TILE + 1]; /* [i3][i2] */
    const long long n01 = p.ne[0] * p.ne[1];
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    for (long long b = blockIdx.z; b < n01; b += gridDim.z) {
        const long long i0 = b / p.ne[1], i1 = b % p.ne[1];
        const TX *xb = x + i0 * p.xs[0] + i1 * p.xs[1];
        TY *yb = y + i0 * p.ys[0] + i1 * p.ys[1];
        for (long long t2 = blockIdx.y; t2 * TILE < p.ne[2]; t2 += gridDim.y)
            for (long long t3 = blockIdx.x; t3 * TILE < p.ne[3]; t3 += gridDim.x) {
                __syncthreads(); /* the previous tile's readers are done */
                const long long i2 = t2 * TILE + 2 * tx; /* along x's contiguous dim 2 */
                alignas(8) TX pr[TILE / 8][2]; /* every load of the tile issued before any is stored */
#pragma unroll
                for (int q = 0; q < TILE / 8; q++) {
                    const int j = ty + 8 * q;
                    const long long i3 = t3 * TILE + j;
                    if (i3 >= p.ne[3]) continue;
                    const TX *src = xb + i2 + i3 * p.xs[3];
                    if (vec2_in && i2 + 1 < p.ne[2]) {
                        if constexpr (sizeof(TX) == 4) *reinterpret_cast<float2 *>(pr[q]) = __ldg(reinterpret_cast<const float2 *>(src));
                        else *reinterpret_cast<unsigned *>(pr[q]) = __ldg(reinterpret_cast<const unsigned *>(src));
                    } else {
                        if (i2 < p.ne[2]) pr[q][0] = src[0];
                        if (i2 + 1 < p.ne[2]) pr[q][1] = src[p.xs[2]];
                    }
                }
#pragma unroll
                for (int q = 0; q < TILE / 8; q++) {
                    const int j = ty + 8 * q;
                    if (t3 * TILE + j >= p.ne[3]) continue;
                    if (i2 < p.ne[2]) tile[j][2 * tx] = pr[q][0];
                    if (i2 + 1 < p.ne[2]) tile[j][2 * tx + 1] = pr[q][1];
                }
                __syncthreads();
                const long long i3 = t3 * TILE + 2 * tx; /* along y's contiguous dim 3 */
                for (int j = ty; j < TILE; j += 8) {
                    const long long i2w = t2 * TILE + j;
                    if (i2w >= p.ne[2]) break;
                    TY *dst = yb + i2w * p.ys[2] + i3;
                    const TY v0 = lay_cvt<TY>(tile[2 * tx][j]), v1 = lay_cvt<TY>(tile[2 * tx + 1][j]);
                    if (vec2_out && i3 + 1 < p.ne[3]) {
                        TY pair[2] = {v0, v1};
                        if constexpr (sizeof(TY) == 4) *reinterpret_cast<float2 *>(dst) = *reinterpret_cast<const float2 *>(pair);
                        else *reinterpret_cast<unsigned *>(dst) = *reinterpret_cast<const unsigned *>(pair);
                    } else {
                        if (i3 < p.ne[3]) dst[0] = v0;
                        if (i3 + 1 < p.ne[3]) dst[1] = v1;
                    }
                }
            }
    }
}

/* 16-bit values from and to their bits */
template <typename T> static __device__ __forceinline__ T lay_from_bits(unsigned short b);
template <> __device__ __forceinline__ __half lay_from_bits<__half>(unsigned short b) { return __ushort_as_half(b); }
template <> __device__ __forceinline__ __nv_bfloat16 lay_from_bits<__nv_bfloat16>(unsigned short b) { return __ushort_as_bfloat16(b); }
static __device__ __forceinline__ unsigned short lay_bits(__half v) { return __half_as_ushort(v); }
static __device__ __forceinline__ unsigned short lay_bits(__nv_bfloat16 v) { return __bfloat16_as_ushort(v); }

/* 16-bit to 16-bit with both extents (ne[2], ne[3]) multiples of 8 and every x row (along dim 3)
 * and y row (along dim 2) 16-byte aligned: a tile of 64 (i3) × 128 (i2) moves through shared
 * memory in 16-byte chunks both ways. 128 threads; a thread loads 8 chunks of x (a warp
 * instruction reads 2 rows of 256 contiguous bytes; a tile is 16 KB of x, contiguous when x's
 * rows are 128 elements long), all 8 issued before any is stored to shared memory; then reads
 * back one 8 × 8 block (8 chunks of consecutive i3 rows), transposes it in registers (32 byte
 * permutes) and stores 8 chunks of y (a warp instruction writes 4 rows of 128 contiguous
 * bytes). The chunk column is swizzled by bits 3..5 of the row (chunk c of row r at c ^ (r/8
 * mod 8)), so both the row-wise stores and the block reads of a quarter warp hit 8 distinct
 * 16-byte bank groups. (A register-only transpose of 8 × 8 blocks straight from and to global
 * memory, each warp instruction touching 8 rows, measured 44.6% of copy on the bench shape,
 * against 75.6% for the 4-byte shared tile.) */
#define T16_I3 64
#define T16_I2 128
#define T16_THREADS 128
template <typename TX, typename TY>
static __global__ void __launch_bounds__(T16_THREADS) lay_tile16(const TX *__restrict__ x, TY *__restrict__ y, lay_params p) {
    static_assert(sizeof(TX) == 2 && sizeof(TY) == 2, "16-bit types");
    constexpr int CPR = T16_I2 / 8; /* chunks per tile row (i3) */
    __shared__ uint4 tile[T16_I3][CPR];
    const int t = (int)threadIdx.x;
    const long long b = blockIdx.z, b2 = (long long)blockIdx.y * T16_I2, b3 = (long long)blockIdx.x * T16_I3;
    const long long i0 = b / p.ne[1], i1 = b % p.ne[1];
    const TX *xb = x + i0 * p.xs[0] + i1 * p.xs[1] + b3 * p.xs[3] + b2;
    TY *yb = y + i0 * p.ys[0] + i1 * p.ys[1] + b2 * p.ys[2] + b3;
    /* x: chunk c of row r (q-th load of the thread): r = 8q + t / 16, c = t % 16 */
    const int c = t % CPR, r0 = t / CPR;
    const bool cin = b2 + 8 * c < p.ne[2];
    uint4 a[8];
#pragma unroll
    for (int q = 0; q < 8; q++) {
        const int rr = 8 * q + r0;
        if (cin && b3 + rr < p.ne[3]) a[q] = __ldg(reinterpret_cast<const uint4 *>(xb + rr * p.xs[3] + 8 * c));
    }
#pragma unroll
    for (int q = 0; q < 8; q++) {
        const int rr = 8 * q + r0;
        if (cin && b3 + rr < p.ne[3]) tile[rr][c ^ ((rr >> 3) & 7)] = a[q];
    }
    __syncthreads();
    /* y: the 8 × 8 block of rows 8·k3.. (i3) and chunk k2 (i2 8·k2..): lanes along i3 */
    const int k3 = t % 8, k2 = t / 8;
    if (b3 + 8 * k3 < p.ne[3] && b2 + 8 * k2 < p.ne[2]) {
        uint4 v[8];
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = tile[8 * k3 + j][k2 ^ k3];
        /* out row e (i2 = 8·k2 + e), word w: elements e of in rows 2w and 2w + 1 */
        const unsigned *in = reinterpret_cast<const unsigned *>(v);
#pragma unroll
        for (int e = 0; e < 8; e++) {
            unsigned o[4];
#pragma unroll
            for (int w = 0; w < 4; w++)
                o[w] = __byte_perm(in[4 * (2 * w) + e / 2], in[4 * (2 * w + 1) + e / 2], e % 2 ? 0x7632 : 0x5410);
            if constexpr (!std::is_same<TX, TY>::value) {
#pragma unroll
                for (int w = 0; w < 4; w++) {
                    const TY lo = lay_cvt<TY>(lay_from_bits<TX>((unsigned short)(o[w] & 0xffffu)));
                    const TY hi = lay_cvt<TY>(lay_from_bits<TX>((unsigned short)(o[w] >> 16)));
                    o[w] = (unsigned)lay_bits(lo) | ((unsigned)lay_bits(hi) << 16);
                }
            }
            *reinterpret_cast<uint4 *>(yb + (8 * k2 + e) * p.ys[2] + 8 * k3) = make_uint4(o[0], o[1], o[2], o[3]);
        }
    }
}

/* Anything else: one element per thread step. */
template <typename TX, typename TY>
static __global__ void lay_any(const TX *__restrict__ x, TY *__restrict__ y, lay_params p) {
    const long long n = p.ne[0] * p.ne[1] * p.ne[2] * p.ne[3];
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
        const long long i3 = e % p.ne[3], r = e / p.ne[3];
        const long long i2 = r % p.ne[2], i1 = r / p.ne[2] % p.ne[1], i0 = r / p.ne[2] / p.ne[1];
        y[i0 * p.ys[0] + i1 * p.ys[1] + i2 * p.ys[2] + i3 * p.ys[3]] =
            lay_cvt<TY>(x[i0 * p.xs[0] + i1 * p.xs[1] + i2 * p.xs[2] + i3 * p.xs[3]]);
    }
}

/* Every row start (outer dims with more than one element) 16-byte aligned. */
static bool rows_aligned(const void *base, const long long *st, const long long *ne, size_t esz) {
    if ((uintptr_t)base & 15) return false;
    for (int d = 0; d < 3; d++)
        if (ne[d] > 1 && ((size_t)st[d] * esz) % 16) return false;
    return true;
}

/* lay_tile16's layouts (16-bit x and y, x contiguous along dim 2, y along dim 3): both
 * extents multiples of 8, every 8-element chunk of an x row (dim 3) and of a y row (dim 2)
 * 16-byte aligned. */
static bool tile16_ok(const void *x, const long long *xs, const void *y, const long long *ys, const long long *ne) {
    if (((uintptr_t)x & 15) || ((uintptr_t)y & 15) || ne[0] < 1 || ne[1] < 1 || ne[2] < 8 || ne[3] < 8) return false;
    if (ne[2] % 8 || ne[3] % 8 || xs[3] % 8 || ys[2] % 8) return false;
    for (int d = 0; d < 2; d++)
        if (ne[d] > 1 && (xs[d] % 8 || ys[d] % 8)) return false;
    return true;
}

static unsigned cap(long long v, long long hi) { return (unsigned)(v < 1 ? 1 : v > hi ? hi : v); }

extern "C" mlxn_status mlxn_cuda_layout(void *stream, const mlxn_layout_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    lay_params p;
    for (int d = 0; d < 4; d++) p.ne[d] = a->ne[d], p.xs[d] = a->xs[d], p.ys[d] = a->ys[d];
    const size_t xsz = a->tx == MLXN_TYPE_F32 ? 4 : 2, ysz = a->ty == MLXN_TYPE_F32 ? 4 : 2;
    p.vec_in = rows_aligned(a->x, p.xs, p.ne, xsz);
    p.vec_out = rows_aligned(a->y, p.ys, p.ne, ysz);
    const int kind = p.xs[3] == 1 && p.ys[3] == 1 ? 0 : p.ys[3] == 1 && p.xs[2] == 1 && p.ne[3] > 1 ? 1 : 2;
    return mlxn_dispatch_float(a->tx, [&](auto tx) -> mlxn_status {
        return mlxn_dispatch_float(a->ty, [&](auto ty) -> mlxn_status {
            using TX = decltype(tx);
            using TY = decltype(ty);
            const TX *x = static_cast<const TX *>(a->x);
            TY *y = static_cast<TY *>(a->y);
            if (kind == 0) {
                auto rows_launch = [&](const TX *xx, TY *yy, lay_params q) {
                    q.vec_in = rows_aligned(xx, q.xs, q.ne, xsz);
                    q.vec_out = rows_aligned(yy, q.ys, q.ne, ysz);
                    const long long rows = q.ne[0] * q.ne[1] * q.ne[2], chunks = (q.ne[3] + lay_cw<TY>() - 1) / lay_cw<TY>();
                    int lg = 0;
                    while ((1ll << lg) < chunks && lg < 8) lg++;
                    const long long per_block = 256 >> lg;
                    lay_rows<TX, TY><<<cap((rows + per_block - 1) / per_block, (long long)s->dev->prop.multiProcessorCount * 64),
                                       256, 0, s->s>>>(xx, yy, q, lg);
                };
                if (p.ne[2] == 1 && p.ne[3] >= 2 * LAY_SPLIT) {
                    /* long rows (a flat copy or cast is one row): rows of LAY_SPLIT elements along
                     * dim 2, so the grid fills the device, and the tail of each row after */
                    const long long nq = p.ne[3] / LAY_SPLIT, r = p.ne[3] - nq * LAY_SPLIT;
                    lay_params m = p;
                    m.ne[2] = nq, m.ne[3] = LAY_SPLIT, m.xs[2] = LAY_SPLIT, m.ys[2] = LAY_SPLIT;
                    rows_launch(x, y, m);
                    if (r) {
                        lay_params t = p;
                        t.ne[3] = r;
                        rows_launch(x + nq * LAY_SPLIT, y + nq * LAY_SPLIT, t);
                    }
                } else {
                    rows_launch(x, y, p);
                }
            } else if (kind == 1) {
                if constexpr (sizeof(TX) == 2 && sizeof(TY) == 2) {
                    const long long n3 = (p.ne[3] + T16_I3 - 1) / T16_I3, n2 = (p.ne[2] + T16_I2 - 1) / T16_I2;
                    if (tile16_ok(a->x, p.xs, a->y, p.ys, p.ne) && n3 <= 0x7fffffff && n2 <= 65535 && p.ne[0] * p.ne[1] <= 65535) {
                        const dim3 grid((unsigned)n3, (unsigned)n2, (unsigned)(p.ne[0] * p.ne[1])); /* a tile per block */
                        lay_tile16<TX, TY><<<grid, T16_THREADS, 0, s->s>>>(x, y, p);
                        MLXN_CUDA_CHECK_LAUNCH();
                        return MLXN_OK;
                    }
                }
                const dim3 grid(cap((p.ne[3] + TILE - 1) / TILE, 65535), cap((p.ne[2] + TILE - 1) / TILE, 65535),
                                cap(p.ne[0] * p.ne[1], 65535));
                /* pairs: x pairs along dim 2 start at even offsets from an aligned base */
                const bool v2i = ((uintptr_t)a->x % (2 * xsz)) == 0 && p.xs[0] % 2 == 0 && p.xs[1] % 2 == 0 && p.xs[3] % 2 == 0;
                const bool v2o = ((uintptr_t)a->y % (2 * ysz)) == 0 && p.ys[0] % 2 == 0 && p.ys[1] % 2 == 0 && p.ys[2] % 2 == 0;
                lay_tile<TX, TY><<<grid, dim3(32, 8), 0, s->s>>>(x, y, p, v2i, v2o);
            } else {
                const long long n = p.ne[0] * p.ne[1] * p.ne[2] * p.ne[3];
                lay_any<TX, TY><<<mlxn_grid_for(s->dev, n, 256), 256, 0, s->s>>>(x, y, p);
            }
            MLXN_CUDA_CHECK_LAUNCH();
            return MLXN_OK;
        });
    });
}
