/* Attention front end: validates the contract in mlxn.h and resolves defaults. */
#include <math.h>

#include "core/core.h"
#include "ops/check.h"

mlxn_attention_params mlxn_attention_defaults(void) {
    mlxn_attention_params p = {.scale = 0.0f, .softcap = 0.0f, .causal = true, .window = 0,
                               .out_layout = MLXN_ATTN_OUT_MHD};
    return p;
}

static bool is_cache(mlxn_type t) { return t == MLXN_TYPE_F16 || t == MLXN_TYPE_BF16 || t == MLXN_TYPE_Q8_0; }

static mlxn_status on_dev(const mlxn_stream *s, const mlxn_buffer *b, const char *arg) {
    if (b && b->st->dev != s->dev)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: %s is on another device than the stream", arg);
    return MLXN_OK;
}

mlxn_status mlxn_attention(mlxn_stream *s, const mlxn_buffer *q, const mlxn_buffer *k, const mlxn_buffer *v,
                           mlxn_buffer *o, const mlxn_attention_params *pp) {
    char s1[96], s2[96];
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: stream is NULL");
    if (!q || !k || !v || !o)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: %s is NULL", !q ? "q" : !k ? "k" : !v ? "v" : "o");
    mlxn_attention_params p = pp ? *pp : mlxn_attention_defaults();
    if ((st = on_dev(s, q, "q")) || (st = on_dev(s, k, "k")) || (st = on_dev(s, v, "v")) || (st = on_dev(s, o, "o")) ||
        (st = on_dev(s, p.mask, "mask")) || (st = on_dev(s, p.sinks, "sinks")) || (st = on_dev(s, p.kv_len, "kv_len")))
        return st;
    if (!mlxn_is_float(q->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: q is %s, want f32, f16 or bf16", mlxn_type_name(q->type));
    if (!mlxn_is_float(o->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: o is %s, want f32, f16 or bf16", mlxn_type_name(o->type));
    if (!is_cache(k->type) || !is_cache(v->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: %s is %s, want f16, bf16 or q8_0", is_cache(k->type) ? "v" : "k",
                        mlxn_type_name(is_cache(k->type) ? v->type : k->type));
    if (q->ndim != 3 || k->ndim != 3 || v->ndim != 3)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: q, k, v must be 3-D ([heads][rows][D]); ndim %d, %d, %d",
                        q->ndim, k->ndim, v->ndim);
    int64_t hq = q->ne[0], m = q->ne[1], d = q->ne[2], hkv = k->ne[0], lcap = k->ne[1];
    if (k->ne[2] != d || v->ne[0] != hkv || v->ne[1] != lcap || v->ne[2] != d)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: k %s and v %s must both be [n_kv_heads][L_cap][%lld]",
                        mlxn_shape_str(k, s1, sizeof s1), mlxn_shape_str(v, s2, sizeof s2), (long long)d);
    if (d != 64 && d != 80 && d != 96 && d != 128 && d != 192 && d != 256 && d != 512)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "attention: head dim D=%lld, want 64, 80, 96, 128, 192, 256 or 512",
                        (long long)d);
    if (hkv == 0 || hq % hkv)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: n_q_heads=%lld is not a multiple of n_kv_heads=%lld",
                        (long long)hq, (long long)hkv);
    bool o_ok = p.out_layout == MLXN_ATTN_OUT_MHD
                    ? o->ndim == 2 && o->ne[0] == m && o->ne[1] == hq * d
                    : p.out_layout == MLXN_ATTN_OUT_HMD && o->ndim == 3 && o->ne[0] == hq && o->ne[1] == m && o->ne[2] == d;
    if (p.out_layout != MLXN_ATTN_OUT_MHD && p.out_layout != MLXN_ATTN_OUT_HMD)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: out_layout=%d is not MHD or HMD", (int)p.out_layout);
    if (!o_ok)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: o has shape %s, want %s", mlxn_shape_str(o, s1, sizeof s1),
                        p.out_layout == MLXN_ATTN_OUT_MHD ? "[M][n_q_heads*D]" : "[n_q_heads][M][D]");
    if (o->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: o is read-only");
    if (mlxn_buffer_overlap(o, q) || mlxn_buffer_overlap(o, k) || mlxn_buffer_overlap(o, v))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: o overlaps an input");
    if (p.mask && (!(p.mask->type == MLXN_TYPE_F32 || p.mask->type == MLXN_TYPE_F16) ||
                   mlxn_buffer_nelements(p.mask) != m * lcap || p.mask->ne[p.mask->ndim - 1] != lcap))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: mask is %s %s, want f32 or f16 [%lld][%lld]",
                        mlxn_type_name(p.mask->type), mlxn_shape_str(p.mask, s1, sizeof s1), (long long)m, (long long)lcap);
    if (p.sinks && (p.sinks->type != MLXN_TYPE_F32 || mlxn_buffer_nelements(p.sinks) != hq))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: sinks is %s %s, want f32 [%lld]", mlxn_type_name(p.sinks->type),
                        mlxn_shape_str(p.sinks, s1, sizeof s1), (long long)hq);
    if (p.kv_len && (p.kv_len->type != MLXN_TYPE_I32 || mlxn_buffer_nelements(p.kv_len) != 1))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: kv_len is %s %s, want i32 [1]", mlxn_type_name(p.kv_len->type),
                        mlxn_shape_str(p.kv_len, s1, sizeof s1));
    if (p.window < 0) return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: window=%d is negative", p.window);
    if (!(p.softcap >= 0.0f) || !isfinite(p.scale))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: softcap=%g must be >= 0 and scale=%g finite", p.softcap, p.scale);
    /* the CUDA kernels read rows with 16-byte loads */
    if (((uintptr_t)mlxn_buf_ptr(k) | (uintptr_t)mlxn_buf_ptr(v) | (uintptr_t)mlxn_buf_ptr(q)) & 15)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: q, k and v must start 16-byte aligned (a view's offset "
                        "a multiple of 16)");
    if (!s->dev->vt->attention)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "attention: not implemented on the %s backend", s->dev->vt->name);
    mlxn_attention_args a = {
        .tq = q->type, .tk = k->type, .tv = v->type, .to = o->type,
        .tmask = p.mask ? p.mask->type : MLXN_TYPE_F32,
        .q = mlxn_buf_ptr(q), .k = mlxn_buf_ptr(k), .v = mlxn_buf_ptr(v), .o = mlxn_buf_ptr(o),
        .mask = p.mask ? mlxn_buf_ptr(p.mask) : NULL,
        .sinks = p.sinks ? (const float *)mlxn_buf_ptr(p.sinks) : NULL,
        .kv_len = p.kv_len ? (const int32_t *)mlxn_buf_ptr(p.kv_len) : NULL,
        .n_q_heads = hq, .n_kv_heads = hkv, .M = m, .L_cap = lcap, .D = d,
        .k_row_bytes = mlxn_row_bytes(k->type, d), .v_row_bytes = mlxn_row_bytes(v->type, d),
        .scale = p.scale != 0.0f ? p.scale : (float)(1.0 / sqrt((double)d)),
        .softcap = p.softcap, .causal = p.causal, .window = p.window, .out_layout = p.out_layout,
    };
    if (hq == 0 || m == 0) return MLXN_OK;
    if ((st = s->dev->vt->attention(s->impl, &a))) return st;
    mlxn_stream_count_op(s);
    return MLXN_OK;
}
