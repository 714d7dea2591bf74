/* CPU attention: one work item per (kv head, query); the item's G = Hq/Hkv query heads share
 * each dequantized key and value row. Online softmax in f32 per query head. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "quant/half.h"
#include "quant/traits.h"

static float load_mask(const mlxn_attention_args *a, int64_t i, int64_t j) {
    size_t idx = (size_t)(i * a->L_cap + j);
    return a->tmask == MLXN_TYPE_F16 ? mlxn_f16_to_f32(((const uint16_t *)a->mask)[idx]) : ((const float *)a->mask)[idx];
}

static void store(mlxn_type t, void *base, size_t idx, float v) {
    if (t == MLXN_TYPE_F16) ((uint16_t *)base)[idx] = mlxn_f32_to_f16(v);
    else if (t == MLXN_TYPE_BF16) ((uint16_t *)base)[idx] = mlxn_f32_to_bf16(v);
    else ((float *)base)[idx] = v;
}

static void attn_range(void *ctx, int64_t begin, int64_t end, int worker) {
    const mlxn_attention_args *a = ctx;
    const int64_t D = a->D, G = a->n_q_heads / a->n_kv_heads, M = a->M;
    const mlxn_type_traits *tq = mlxn_traits(a->tq), *tk = mlxn_traits(a->tk), *tv = mlxn_traits(a->tv);
    const size_t q_row = mlxn_row_bytes(a->tq, D);
    int64_t L = a->L_cap;
    if (a->kv_len) L = *a->kv_len < 0 ? 0 : *a->kv_len > a->L_cap ? a->L_cap : *a->kv_len;
    /* scratch: q rows, acc rows, k row, v row, per-head m and l and scores */
    float *buf = malloc(sizeof(float) * (size_t)(2 * G * D + 2 * D + 3 * G));
    if (!buf) return; /* cannot happen for the sizes validated; leaves o as it was */
    float *qf = buf, *acc = qf + G * D, *kf = acc + G * D, *vf = kf + D, *mx = vf + D, *den = mx + G, *sc = den + G;
    for (int64_t item = begin; item < end; item++) {
        const int64_t h = item / M, i = item % M, pos = L - M + i;
        int64_t j_lo = 0, j_hi = L - 1;
        if (a->causal && pos < j_hi) j_hi = pos;
        if (a->window > 0 && pos - a->window + 1 > j_lo) j_lo = pos - a->window + 1;
        for (int64_t g = 0; g < G; g++) {
            const int64_t hq = h * G + g;
            tq->to_float((const char *)a->q + (size_t)(hq * M + i) * q_row, qf + g * D, D);
            mx[g] = -INFINITY;
            den[g] = 0.0f;
            for (int64_t d = 0; d < D; d++) acc[g * D + d] = 0.0f;
        }
        for (int64_t j = j_lo; j <= j_hi; j++) {
            const size_t row = (size_t)(h * a->L_cap + j);
            tk->to_float((const char *)a->k + row * a->k_row_bytes, kf, D);
            tv->to_float((const char *)a->v + row * a->v_row_bytes, vf, D);
            for (int64_t g = 0; g < G; g++) {
                float s = 0.0f;
                for (int64_t d = 0; d < D; d++) s += qf[g * D + d] * kf[d];
                s *= a->scale;
                if (a->softcap > 0.0f) s = a->softcap * tanhf(s / a->softcap);
                if (a->mask) s += load_mask(a, i, j);
                sc[g] = s;
            }
            for (int64_t g = 0; g < G; g++) {
                if (sc[g] == -INFINITY) continue; /* fully masked key */
                float m_new = sc[g] > mx[g] ? sc[g] : mx[g];
                float alpha = expf(mx[g] - m_new), p = expf(sc[g] - m_new);
                float *ag = acc + g * D;
                for (int64_t d = 0; d < D; d++) ag[d] = ag[d] * alpha + p * vf[d];
                den[g] = den[g] * alpha + p;
                mx[g] = m_new;
            }
        }
        for (int64_t g = 0; g < G; g++) {
            const int64_t hq = h * G + g;
            float l = den[g], scale_acc = 1.0f;
            if (a->sinks) {
                float sink = a->sinks[hq], m_new = sink > mx[g] ? sink : mx[g];
                scale_acc = mx[g] == -INFINITY ? 0.0f : expf(mx[g] - m_new);
                l = l * scale_acc + expf(sink - m_new);
            }
            float inv = l > 0.0f ? scale_acc / l : 0.0f;
            for (int64_t d = 0; d < D; d++) {
                size_t idx = a->out_layout == MLXN_ATTN_OUT_MHD ? (size_t)(i * a->n_q_heads * D + hq * D + d)
                                                                : (size_t)((hq * M + i) * D + d);
                store(a->to, a->o, idx, acc[g * D + d] * inv);
            }
        }
    }
    free(buf);
}

static void attn_run(cpu_device *dev, const void *args) {
    const mlxn_attention_args *a = args;
    mlxn_parallel_for(dev->tp, a->n_kv_heads * a->M, 1, attn_range, (void *)a);
}

mlxn_status mlxn_cpu_attention(void *stream, const mlxn_attention_args *a) {
    return mlxn_cpu_submit(stream, attn_run, a, sizeof *a);
}
