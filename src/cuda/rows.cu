/* CUDA get_rows: y[i] = dequant(table[ids[i]]) · scale. Blocks of the grid's y dimension walk
 * the ids, threads of its x dimension the row's 8-element chunks: block formats through
 * mlxn_dq<T>::load8 (bit-exact with the reference), Q4_K and Q6_K on aligned tables through
 * decoders of their own that read a chunk's bytes in a few wide loads (the same values,
 * computed by the same rounded products in the same order), float tables through 16-byte
 * loads; y written with 16-byte stores where aligned. An id outside the table gives a row of
 * zeros. */
#include "cuda/dequant.cuh"

struct gr_params {
    long long n, n_rows, k; /* ids, table rows, row length */
    size_t row_bytes;
    float scale;
    int scaled;
    int vec_in, vec_out; /* 16-byte loads of float rows / stores of y rows are aligned */
};

static __device__ __forceinline__ bool gr_id(const int32_t *ids, long long i, const gr_params &p, long long &id) {
    id = ids[i];
    return id >= 0 && id < p.n_rows;
}

/* Wide-load decoders: gr_wide<T>::ok(table, row_bytes) says whether the table's alignment allows
 * them; load8 is then a drop-in for mlxn_dq<T>::load8. */
template <typename DQ> struct gr_wide {
    static constexpr bool has = false;
    static bool ok(const void *, size_t) { return false; }
    static __device__ __forceinline__ void load8(const typename DQ::block *b, int c, float (&v)[8]) { DQ::load8(b, c, v); }
};

/* Q4_K: the 16-byte head (d, dmin, the 12 scale bytes) in one load, the chunk's 8 qs bytes in
 * another (the 144-byte blocks of a 16-byte aligned table are 16-byte aligned); scale and min
 * of group j unpacked from the head's words as mlxn_dq_scale_min_k4 does from its bytes. */
template <> struct gr_wide<mlxn_dq<MLXN_TYPE_Q4_K>> {
    typedef mlxn_block_q4_K block;
    static constexpr bool has = true;
    static bool ok(const void *t, size_t rb) { return ((uintptr_t)t & 15) == 0 && rb % 16 == 0; }
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int n = 8 * c, p = n >> 6, hi = (n >> 5) & 1, l0 = n & 31, j = 2 * p + hi;
        const uint4 h = __ldg(reinterpret_cast<const uint4 *>(b));
        const uint2 q = __ldg(reinterpret_cast<const uint2 *>(b->qs + 32 * p + l0));
        const int k = (j & 3) * 8; /* byte j (j < 4) or j - 4 of a scale word */
        int sc, m;
        if (j < 4) {
            sc = (int)((h.y >> k) & 63);
            m = (int)((h.z >> k) & 63);
        } else {
            sc = (int)(((h.w >> k) & 0xf) | (((h.y >> k) >> 6 & 3) << 4));
            m = (int)(((h.w >> k) >> 4 & 0xf) | (((h.z >> k) >> 6 & 3) << 4));
        }
        const float d1 = mlxn_dq_mul(mlxn_dq_f16((uint16_t)(h.x & 0xffff)), (float)sc);
        const float m1 = mlxn_dq_mul(mlxn_dq_f16((uint16_t)(h.x >> 16)), (float)m);
#pragma unroll
        for (int e = 0; e < 8; e++) {
            const uint32_t byte = ((e < 4 ? q.x : q.y) >> (8 * (e & 3))) & 0xff;
            v[e] = mlxn_dq_sub(mlxn_dq_mul(d1, (float)((byte >> (4 * hi)) & 0xf)), m1);
        }
    }
};

/* Q6_K: 210-byte blocks are only 2-byte aligned, so a chunk's 8 ql and 8 qh bytes each come from
 * two aligned 8-byte loads (the 16 bytes around them, inside the block) and funnel shifts. */
template <> struct gr_wide<mlxn_dq<MLXN_TYPE_Q6_K>> {
    typedef mlxn_block_q6_K block;
    static constexpr bool has = true;
    static bool ok(const void *t, size_t rb) { return ((uintptr_t)t & 7) == 0 && rb % 2 == 0; }
    /* bytes a[0..8) (a 2-byte aligned; the aligned 16 bytes from a rounded down to 8 readable) */
    static __device__ __forceinline__ uint2 ld8(const uint8_t *a) {
        const uintptr_t u = reinterpret_cast<uintptr_t>(a);
        const uint2 *w = reinterpret_cast<const uint2 *>(u & ~(uintptr_t)7);
        const uint2 w0 = __ldg(w), w1 = __ldg(w + 1);
        const bool up = (u & 4) != 0;
        const unsigned s = (unsigned)(u & 3) * 8;
        const uint32_t x0 = up ? w0.y : w0.x, x1 = up ? w1.x : w0.y, x2 = up ? w1.y : w1.x;
        return make_uint2(__funnelshift_r(x0, x1, s), __funnelshift_r(x1, x2, s));
    }
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int n = 8 * c, h = n >> 7, t = (n >> 5) & 3, l0 = n & 31;
        const uint2 ql = ld8(b->ql + 64 * h + 32 * (t & 1) + l0), qh = ld8(b->qh + 32 * h + l0);
        const float ds = mlxn_dq_mul(mlxn_dq_f16(b->d), (float)b->scales[8 * h + (l0 >> 4) + 2 * t]);
        const int sl = 4 * (t >> 1), sh = 2 * t;
#pragma unroll
        for (int e = 0; e < 8; e++) {
            const uint32_t lo = (e < 4 ? ql.x : ql.y) >> (8 * (e & 3)), hb = (e < 4 ? qh.x : qh.y) >> (8 * (e & 3));
            const int q = (int)(((lo >> sl) & 0xf) | (((hb >> sh) & 3) << 4)) - 32;
            v[e] = mlxn_dq_mul(ds, (float)q);
        }
    }
};

/* Block formats: each thread takes two chunks per step (both decoded before either is
 * stored, so their loads overlap). */
template <typename DQ, typename TY, bool WIDE>
static __device__ __forceinline__ void get_rows_body(const uint8_t *__restrict__ table, const int32_t *__restrict__ ids,
                                                     TY *__restrict__ y, const gr_params &p) {
    constexpr int per_block = DQ::qk / MLXN_DQ_CHUNK;
    const long long chunks = p.k / MLXN_DQ_CHUNK, step = (long long)gridDim.x * blockDim.x;
    for (long long i = blockIdx.y; i < p.n; i += gridDim.y) {
        long long id;
        const bool ok = gr_id(ids, i, p, id);
        const auto *row = reinterpret_cast<const typename DQ::block *>(table + (ok ? (size_t)id * p.row_bytes : 0));
        TY *yr = y + i * p.k;
        for (long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x; c < chunks; c += 2 * step) {
            const long long c2 = c + step;
            float v[2][MLXN_DQ_CHUNK];
#pragma unroll
            for (int q = 0; q < 2; q++) {
                const long long cc = q ? c2 : c;
                if (ok && cc < chunks) {
                    if constexpr (WIDE) gr_wide<DQ>::load8(row + cc / per_block, (int)(cc % per_block), v[q]);
                    else DQ::load8(row + cc / per_block, (int)(cc % per_block), v[q]);
                } else {
#pragma unroll
                    for (int j = 0; j < MLXN_DQ_CHUNK; j++) v[q][j] = 0.0f;
                }
            }
#pragma unroll
            for (int q = 0; q < 2; q++) {
                const long long cc = q ? c2 : c;
                if (cc >= chunks) break;
                if (p.scaled)
#pragma unroll
                    for (int j = 0; j < MLXN_DQ_CHUNK; j++) v[q][j] = __fmul_rn(v[q][j], p.scale);
                mlxn_st8(yr + MLXN_DQ_CHUNK * cc, MLXN_DQ_CHUNK, p.vec_out, v[q]);
            }
        }
    }
}

template <typename DQ, typename TY>
static __global__ void get_rows_block(const uint8_t *__restrict__ table, const int32_t *__restrict__ ids, TY *__restrict__ y,
                                      gr_params p) {
    get_rows_body<DQ, TY, false>(table, ids, y, p);
}

/* The wide decoders at 6 blocks of 256 per SM (at most 40 registers; unbounded, Q4_K's takes
 * 42: 5 blocks). */
template <typename DQ, typename TY>
static __global__ void __launch_bounds__(256, 6)
    get_rows_wide(const uint8_t *__restrict__ table, const int32_t *__restrict__ ids, TY *__restrict__ y, gr_params p) {
    get_rows_body<DQ, TY, true>(table, ids, y, p);
}

template <typename TT, typename TY>
static __global__ void get_rows_float(const TT *__restrict__ table, const int32_t *__restrict__ ids, TY *__restrict__ y,
                                      gr_params p) {
    const long long chunks = (p.k + MLXN_DQ_CHUNK - 1) / MLXN_DQ_CHUNK;
    for (long long i = blockIdx.y; i < p.n; i += gridDim.y) {
        long long id;
        const bool ok = gr_id(ids, i, p, id);
        const TT *row = table + (ok ? id * p.k : 0);
        TY *yr = y + i * p.k;
        for (long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x; c < chunks; c += (long long)gridDim.x * blockDim.x) {
            const long long e = MLXN_DQ_CHUNK * c;
            const int valid = p.k - e < MLXN_DQ_CHUNK ? (int)(p.k - e) : MLXN_DQ_CHUNK;
            float v[MLXN_DQ_CHUNK];
            if (ok) {
                mlxn_ld8(row + e, valid, p.vec_in, v);
                if (p.scaled)
#pragma unroll
                    for (int j = 0; j < MLXN_DQ_CHUNK; j++) v[j] = __fmul_rn(v[j], p.scale);
            } else {
#pragma unroll
                for (int j = 0; j < MLXN_DQ_CHUNK; j++) v[j] = 0.0f;
            }
            mlxn_st8(yr + e, valid, p.vec_out, v);
        }
    }
}

static bool aligned16(const void *q) { return ((uintptr_t)q & 15) == 0; }

extern "C" mlxn_status mlxn_cuda_get_rows(void *stream, const mlxn_get_rows_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    const size_t ysz = a->ty == MLXN_TYPE_F32 ? 4 : 2, tsz = a->tt == MLXN_TYPE_F32 ? 4 : 2;
    gr_params p = {a->n_ids, a->n_rows, a->k, a->row_bytes, a->scale, a->scaled, 0, 0};
    p.vec_out = aligned16(a->y) && (size_t)a->k * ysz % 16 == 0;
    p.vec_in = aligned16(a->table) && (size_t)a->k * tsz % 16 == 0;
    const unsigned threads = 256;
    const long long chunks = (a->k + MLXN_DQ_CHUNK - 1) / MLXN_DQ_CHUNK;
    const bool is_float = a->tt == MLXN_TYPE_F32 || a->tt == MLXN_TYPE_F16 || a->tt == MLXN_TYPE_BF16;
    long long gx = (chunks + threads * (is_float ? 1 : 2) - 1) / (threads * (is_float ? 1 : 2));
    const dim3 grid((unsigned)(gx > 64 ? 64 : gx), (unsigned)(a->n_ids > 65535 ? 65535 : a->n_ids));
    return mlxn_dispatch_float(a->ty, [&](auto ty) -> mlxn_status {
        using TY = decltype(ty);
        if (is_float)
            return mlxn_dispatch_float(a->tt, [&](auto tt) -> mlxn_status {
                using TT = decltype(tt);
                get_rows_float<TT, TY><<<grid, threads, 0, s->s>>>(static_cast<const TT *>(a->table), a->ids,
                                                                    static_cast<TY *>(a->y), p);
                MLXN_CUDA_CHECK_LAUNCH();
                return MLXN_OK;
            });
        return mlxn_dispatch_block(a->tt, [&](auto dq) -> mlxn_status {
            using DQ = decltype(dq);
            const uint8_t *table = static_cast<const uint8_t *>(a->table);
            if constexpr (gr_wide<DQ>::has)
                if (gr_wide<DQ>::ok(table, a->row_bytes)) {
                    get_rows_wide<DQ, TY><<<grid, threads, 0, s->s>>>(table, a->ids, static_cast<TY *>(a->y), p);
                    MLXN_CUDA_CHECK_LAUNCH();
                    return MLXN_OK;
                }
            get_rows_block<DQ, TY><<<grid, threads, 0, s->s>>>(table, a->ids, static_cast<TY *>(a->y), p);
            MLXN_CUDA_CHECK_LAUNCH();
            return MLXN_OK;
        });
    });
}
