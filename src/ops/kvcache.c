/* KV cache front end: kv_append. Validates the contract in mlxn.h and hands one
 * mlxn_kv_append_args to the backend. */
#include "core/core.h"
#include "ops/check.h"

mlxn_status mlxn_kv_append(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *pos, mlxn_buffer *cache,
                           const mlxn_kv_append_params *p) {
    char s1[96], s2[96];
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: stream is NULL");
    if ((st = mlxn_check_on("kv_append", "x", s, x)) || (st = mlxn_check_on("kv_append", "pos", s, pos)) ||
        (st = mlxn_check_on("kv_append", "cache", s, cache)))
        return st;
    if (!mlxn_is_float(x->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: x is %s, want f32, f16 or bf16", mlxn_type_name(x->type));
    if (pos->type != MLXN_TYPE_I32)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: pos is %s, want i32", mlxn_type_name(pos->type));
    if (cache->type != MLXN_TYPE_F16 && cache->type != MLXN_TYPE_BF16 && cache->type != MLXN_TYPE_Q8_0)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: cache is %s, want f16, bf16 or q8_0", mlxn_type_name(cache->type));
    if (cache->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: cache is read-only");
    if (cache->ndim != 3)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: cache has shape %s, want [n_kv_heads][L][D]",
                        mlxn_shape_str(cache, s1, sizeof s1));
    const int64_t h = cache->ne[0], l = cache->ne[1], d = cache->ne[2];
    const int64_t m = x->ne[0];
    bool x_ok = (x->ndim == 2 && x->ne[1] == h * d) || (x->ndim == 3 && x->ne[1] == h && x->ne[2] == d);
    if (!x_ok)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: x has shape %s, want [M][%lld] or [M][%lld][%lld] for cache %s",
                        mlxn_shape_str(x, s1, sizeof s1), (long long)(h * d), (long long)h, (long long)d,
                        mlxn_shape_str(cache, s2, sizeof s2));
    if (pos->ndim != 1 || pos->ne[0] != m)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: pos has shape %s, want [%lld] (one per row of x)",
                        mlxn_shape_str(pos, s1, sizeof s1), (long long)m);
    if (mlxn_buffer_overlap(cache, x) || mlxn_buffer_overlap(cache, pos))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: cache overlaps %s", mlxn_buffer_overlap(cache, x) ? "x" : "pos");
    const bool ring = p && p->ring;
    if (m == 0 || h == 0 || d == 0) return MLXN_OK;
    if (l == 0) return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: cache has no slots (L = 0)");
    if (!s->dev->vt->kv_append)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "kv_append: not implemented on the %s backend", s->dev->vt->name);
    const int32_t *ps = mlxn_buf_ptr(pos);
    /* Positions are host memory only on the CPU, and settled only when the op runs now. */
    if (s->dev->backend == MLXN_BACKEND_CPU && !s->recording) {
        for (int64_t i = 0; i < m; i++)
            if (ps[i] < 0 || (!ring && ps[i] >= l))
                return mlxn_err(MLXN_ERR_INVALID_ARG, "kv_append: pos[%lld] = %d is outside the cache's %lld slots%s",
                                (long long)i, ps[i], (long long)l, ring ? " (negative)" : "");
    }
    mlxn_kv_append_args a = {
        .tx = x->type,
        .tc = cache->type,
        .x = mlxn_buf_ptr(x),
        .pos = ps,
        .cache = mlxn_buf_ptr(cache),
        .m = m,
        .h = h,
        .l = l,
        .d = d,
        .ring = ring,
    };
    if ((st = s->dev->vt->kv_append(s->impl, &a))) return st;
    mlxn_stream_count_op(s);
    return MLXN_OK;
}
