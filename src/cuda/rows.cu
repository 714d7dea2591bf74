/* CUDA get_rows: y[i] = dequant(table[ids[i]]) · scale. Blocks of the grid's y dimension walk
 * the ids, threads of its x dimension the row's 8-element chunks: block formats through
 * mlxn_dq<T>::load8 (bit-exact with the reference), float tables through 16-byte loads; y
 * written with 16-byte stores where aligned. An id outside the table gives a row of zeros. */
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

/* Block formats: each thread takes two chunks per step (both decoded before either is
 * stored, so their loads overlap). */
template <typename DQ, typename TY>
static __global__ void get_rows_block(const uint8_t *__restrict__ table, const int32_t *__restrict__ ids, TY *__restrict__ y,
                                      gr_params p) {
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
                    DQ::load8(row + cc / per_block, (int)(cc % per_block), v[q]);
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
            get_rows_block<DQ, TY><<<grid, threads, 0, s->s>>>(static_cast<const uint8_t *>(a->table), a->ids,
                                                                static_cast<TY *>(a->y), p);
            MLXN_CUDA_CHECK_LAUNCH();
            return MLXN_OK;
        });
    });
}
