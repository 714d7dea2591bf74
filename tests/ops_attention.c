/* Attention cases: every head dim, every cache type (f16, bf16, q8_0), GQA ratios 1-8, L from 1
 * to 4097, M from 1 to 100 (also M > L: the first queries see no key), causal, sliding
 * window, softcap, additive mask, sinks, kv_len from a device buffer (cache rows past it are
 * NaN), both output layouts, and prefill shapes that take CUDA's tensor-core tiles.
 *
 * Bound, per element: |o - ref| <= eps_o·|ref| + 1e-5·max|v| + tc. The f32 path rounds the q·k
 * dot (D terms), the exponentials and the running sums (L terms): 1e-5·max|v| covers it (CPU
 * measured 3.5e-7·max|v|); a wrong key, weight or mask costs ~1e-2. tc is the operand
 * rounding of CUDA's tensor-core path (D <= 256), see tc_bound. K/V inputs are rounded (or
 * quantized) before the oracle sees them. The worst measured errors are printed at the end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "ops_cases.h"
#include "ref/ref.h"

static double worst_abs; /* max over cases of (|o - ref| - eps_o·|ref|) / max|v| */
static double worst_tc;  /* max over tensor-core cases of (|o - ref| - eps_o·|ref| - 1e-5·max|v|) / tc */

/* CUDA's tensor-core path (D <= 256) takes Q·Kᵀ with f16 or bf16 operands (bf16 when K is bf16,
 * else f16; Q is rounded to it, a Q8_0 K is dequantized to f16) and P·V likewise by V's type
 * (P, the unnormalized weights in [0, 1], rounded to it). Accumulation and softmax stay f32. To
 * first order, with u the unit roundoff and w_c = Σ_j p_j·|v_jc| (p normalized as the oracle's):
 *   Q (and Q8_0 K) rounding moves each score by at most e_s = (u_q + u_k8)·A, A = scale·Σ_e |q_e·k_je|,
 *   which moves o_c by at most 2·max_j e_s·w_c;
 *   P rounding moves o_c by at most u_p·w_c, plus 2^-25 per key where f16 p is subnormal;
 *   Q8_0 V dequantized to f16 by at most 2^-11·w_c.
 * tc = 1.25 × their sum (1.25: the second-order terms of the exp). Measured errors sit far
 * under it (printed as worst_tc), since roundings of random sign mostly cancel. */
typedef struct tc_numerics {
    double u_q, u_k8, u_p, u_v8, sub;
} tc_numerics;

static tc_numerics tc_of(mlxn_type tq, mlxn_type tk, mlxn_type tv) {
    mlxn_type op_k = tk == MLXN_TYPE_BF16 ? MLXN_TYPE_BF16 : MLXN_TYPE_F16;
    mlxn_type op_v = tv == MLXN_TYPE_BF16 ? MLXN_TYPE_BF16 : MLXN_TYPE_F16;
    tc_numerics n = {0};
    /* f16 and bf16 q convert exactly to f16 (normal range), bf16 only holds bf16 */
    n.u_q = tq == op_k || (op_k == MLXN_TYPE_F16 && tq == MLXN_TYPE_BF16) ? 0.0 : ref_eps(op_k);
    n.u_k8 = tk == MLXN_TYPE_Q8_0 ? 0x1p-11 : 0.0;
    n.u_p = ref_eps(op_v);
    n.u_v8 = tv == MLXN_TYPE_Q8_0 ? 0x1p-11 : 0.0;
    n.sub = op_v == MLXN_TYPE_F16 ? 0x1p-25 : 0.0;
    return n;
}

/* tc per element of o [hq][m][d], from the same inputs as ref_attention. */
static void tc_bound(const tc_numerics *n, const double *q, const double *k, const double *v, const double *mask,
                     const double *sinks, double *tc, int64_t hq, int64_t hkv, int64_t m, int64_t lcap, int64_t L,
                     int64_t d, double scale, double softcap, int causal, int64_t window, double vmax) {
    const int64_t g = hq / hkv;
    for (int64_t h = 0; h < hq; h++)
        for (int64_t i = 0; i < m; i++) {
            const int64_t kh = h / g, pos = L - m + i;
            const double *qi = q + (h * m + i) * d;
            double *out = tc + (h * m + i) * d;
            double mx = sinks ? sinks[h] : -INFINITY, amax = 0, den = 0, nvis = 0;
            for (int pass = 0; pass < 2; pass++) {
                if (pass) {
                    den = sinks ? exp(sinks[h] - mx) : 0.0;
                    for (int64_t c = 0; c < d; c++) out[c] = 0;
                }
                for (int64_t j = 0; j < L; j++) {
                    if ((causal && j > pos) || (window > 0 && j <= pos - window)) continue;
                    const double *kj = k + (kh * lcap + j) * d;
                    double s = 0, a = 0;
                    for (int64_t c = 0; c < d; c++) s += qi[c] * kj[c], a += fabs(qi[c] * kj[c]);
                    s *= scale;
                    if (softcap > 0) s = softcap * tanh(s / softcap);
                    if (mask) s += mask[i * lcap + j];
                    if (!pass) {
                        if (s > mx) mx = s;
                        if (scale * a > amax) amax = scale * a;
                        nvis += 1;
                    } else if (mx > -INFINITY) {
                        double p = exp(s - mx);
                        den += p;
                        for (int64_t c = 0; c < d; c++) out[c] += p * fabs(v[(kh * lcap + j) * d + c]);
                    }
                }
            }
            for (int64_t c = 0; c < d; c++) {
                double w = den > 0 ? out[c] / den : 0.0;
                out[c] = 1.25 * (2 * (n->u_q + n->u_k8) * amax * w + (n->u_p + n->u_v8) * w + n->sub * nvis * vmax);
            }
        }
}

static void track_tc(const double *got, const double *ref, const double *tc, int64_t n, mlxn_type to, double vmax) {
    for (int64_t i = 0; i < n; i++) {
        if (!(tc[i] > 0)) continue;
        double e = (fabs(got[i] - ref[i]) - ref_eps(to) * fabs(ref[i]) - 1e-5 * vmax) / tc[i];
        if (e > worst_tc) worst_tc = e;
    }
}

static void track(const double *got, const double *ref, int64_t n, mlxn_type to, double vmax) {
    for (int64_t i = 0; i < n; i++) {
        double e = (fabs(got[i] - ref[i]) - ref_eps(to) * fabs(ref[i])) / vmax;
        if (e > worst_abs) worst_abs = e;
    }
}

typedef struct at_case {
    mlxn_buffer *q, *k, *v, *o, *mask, *sinks, *kv_len;
    mlxn_attention_params p;
} at_case;

static mlxn_status run_attn(mlxn_stream *s, void *ctx) {
    at_case *c = ctx;
    return mlxn_attention(s, c->q, c->k, c->v, c->o, &c->p);
}

/* A [h][l][d] cache buffer of type t from random values; vals gets what the device holds. */
static mlxn_buffer *cache_buf(mlxn_device *dev, mlxn_type t, int64_t h, int64_t l, int64_t d, t_rng *r, double *vals) {
    const int64_t ne[3] = {h, l, d};
    int64_t n = h * l * d;
    for (int64_t i = 0; i < n; i++) vals[i] = t_rng_normal(r);
    if (t != MLXN_TYPE_Q8_0) return t_buf_from(dev, t, 3, ne, vals);
    float *f = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) f[i] = (float)vals[i];
    size_t bytes = mlxn_row_bytes(t, n);
    unsigned char *qb = malloc(bytes);
    mlxn_quantize_row(t, f, qb, n);
    mlxn_dequantize_row(t, qb, f, n);
    for (int64_t i = 0; i < n; i++) vals[i] = f[i];
    mlxn_buffer *b = NULL;
    if (mlxn_buffer_alloc(dev, t, 3, ne, &b) == MLXN_OK) mlxn_buffer_write(b, 0, qb, bytes);
    free(f);
    free(qb);
    return b;
}

typedef struct at_spec {
    int64_t hq, hkv, m, l, lcap, d;
    mlxn_type tq, tk, to;
    mlxn_type tv; /* 0: q8_0 with a q8_0 K, else bf16 */
    bool causal, mask, sinks, kv_len_buf;
    int32_t window;
    float softcap;
    mlxn_attn_layout layout;
} at_spec;

static void one(mlxn_device *dev, mlxn_stream *s, const at_spec *sp, uint64_t seed) {
    char name[200];
    snprintf(name, sizeof name, "attn hq=%lld hkv=%lld M=%lld L=%lld/%lld D=%lld q=%s k=%s%s%s o=%s%s%s%s%s w=%d cap=%g %s",
             (long long)sp->hq, (long long)sp->hkv, (long long)sp->m, (long long)sp->l, (long long)sp->lcap,
             (long long)sp->d, mlxn_type_name(sp->tq), mlxn_type_name(sp->tk), sp->tv ? " v=" : "",
             sp->tv ? mlxn_type_name(sp->tv) : "", mlxn_type_name(sp->to),
             sp->causal ? " causal" : "", sp->mask ? " mask" : "", sp->sinks ? " sinks" : "", sp->kv_len_buf ? " kv_len" : "",
             sp->window, sp->softcap, sp->layout == MLXN_ATTN_OUT_MHD ? "MHD" : "HMD");
    t_rng r = {seed};
    const int64_t hq = sp->hq, hkv = sp->hkv, m = sp->m, lcap = sp->lcap, d = sp->d, n_o = hq * m * d;
    double *qv = malloc(sizeof(double) * (size_t)(hq * m * d)), *kv = malloc(sizeof(double) * (size_t)(hkv * lcap * d));
    double *vv = malloc(sizeof(double) * (size_t)(hkv * lcap * d)), *mk = NULL, *sk = NULL;
    double *ref = malloc(sizeof(double) * (size_t)n_o), *got = malloc(sizeof(double) * (size_t)n_o);
    double *got_hmd = malloc(sizeof(double) * (size_t)n_o), *bound = malloc(sizeof(double) * (size_t)n_o);
    at_case c = {0};
    const int64_t qne[3] = {hq, m, d};
    for (int64_t i = 0; i < hq * m * d; i++) qv[i] = t_rng_normal(&r);
    c.q = t_buf_from(dev, sp->tq, 3, qne, qv);
    c.k = cache_buf(dev, sp->tk, hkv, lcap, d, &r, kv);
    const mlxn_type tv = sp->tv ? sp->tv : sp->tk == MLXN_TYPE_Q8_0 ? MLXN_TYPE_Q8_0 : MLXN_TYPE_BF16;
    c.v = cache_buf(dev, tv, hkv, lcap, d, &r, vv);
    double vmax = 0;
    for (int64_t i = 0; i < hkv * lcap * d; i++) vmax = fabs(vv[i]) > vmax ? fabs(vv[i]) : vmax;
    if (sp->l < lcap) { /* cache rows past L are NaN (bytes 0xff; a Q8_0 scale too): never read, or masked to 0 */
        const size_t krb = mlxn_row_bytes(sp->tk, d), vrb = mlxn_row_bytes(tv, d);
        unsigned char *nan_row = malloc(krb > vrb ? krb : vrb);
        memset(nan_row, 0xff, krb > vrb ? krb : vrb);
        for (int64_t h = 0; h < hkv; h++)
            for (int64_t j = sp->l; j < lcap; j++) {
                mlxn_buffer_write(c.k, (size_t)(h * lcap + j) * krb, nan_row, krb);
                mlxn_buffer_write(c.v, (size_t)(h * lcap + j) * vrb, nan_row, vrb);
            }
        free(nan_row);
    }
    c.p = mlxn_attention_defaults();
    c.p.causal = sp->causal;
    c.p.window = sp->window;
    c.p.softcap = sp->softcap;
    c.p.out_layout = sp->layout;
    if (sp->mask) {
        const int64_t mne[2] = {m, lcap};
        mk = malloc(sizeof(double) * (size_t)(m * lcap));
        for (int64_t i = 0; i < m * lcap; i++) mk[i] = t_rng_uniform(&r, 0, 1) < 0.2f ? -INFINITY : t_rng_uniform(&r, -2, 1);
        c.mask = t_buf_from(dev, MLXN_TYPE_F16, 2, mne, mk);
        c.p.mask = c.mask;
    }
    if (sp->sinks) {
        const int64_t sne[1] = {hq};
        sk = malloc(sizeof(double) * (size_t)hq);
        for (int64_t i = 0; i < hq; i++) sk[i] = t_rng_uniform(&r, -1, 3);
        c.sinks = t_buf_from(dev, MLXN_TYPE_F32, 1, sne, sk);
        c.p.sinks = c.sinks;
    }
    if (sp->kv_len_buf) {
        const int64_t one1[1] = {1};
        int32_t L = (int32_t)sp->l;
        mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 1, one1, &c.kv_len);
        mlxn_buffer_write(c.kv_len, 0, &L, 4);
        c.p.kv_len = c.kv_len;
    }
    const int64_t mhd[2] = {m, hq * d}, hmd[3] = {hq, m, d};
    double *z = calloc((size_t)n_o, sizeof(double));
    c.o = sp->layout == MLXN_ATTN_OUT_MHD ? t_buf_from(dev, sp->to, 2, mhd, z) : t_buf_from(dev, sp->to, 3, hmd, z);
    free(z);
    mlxn_device_props props;
    mlxn_device_info(dev, &props);
    const bool tc_path = props.backend == MLXN_BACKEND_CUDA && d <= 256;
    const tc_numerics tn = tc_of(sp->tq, sp->tk, tv);
    double *tc = calloc((size_t)n_o, sizeof(double));
    const int64_t L1 = sp->kv_len_buf ? sp->l : lcap;
    ref_attention(qv, kv, vv, mk, sk, ref, hq, hkv, m, lcap, L1, d, 1.0 / sqrt((double)d), sp->softcap, sp->causal,
                  sp->window);
    if (tc_path)
        tc_bound(&tn, qv, kv, vv, mk, sk, tc, hq, hkv, m, lcap, L1, d, 1.0 / sqrt((double)d), sp->softcap, sp->causal,
                 sp->window, vmax);
    for (int64_t i = 0; i < n_o; i++) bound[i] = ref_eps(sp->to) * fabs(ref[i]) + 1e-5 * vmax + tc[i];
    if (t_run_eager_and_replay(name, s, NULL, run_attn, &c, c.o, got)) {
        if (sp->layout == MLXN_ATTN_OUT_MHD) /* [m][hq][d] -> [hq][m][d] */
            for (int64_t h = 0; h < hq; h++)
                for (int64_t i = 0; i < m; i++) memcpy(got_hmd + (h * m + i) * d, got + (i * hq + h) * d, sizeof(double) * (size_t)d);
        else memcpy(got_hmd, got, sizeof(double) * (size_t)n_o);
        t_check_bound(name, got_hmd, ref, bound, n_o);
        if (tc_path) track_tc(got_hmd, ref, tc, n_o, sp->to, vmax);
        else track(got_hmd, ref, n_o, sp->to, vmax);
    }
    if (sp->kv_len_buf && sp->l > 1) {
        /* a graph recorded once follows kv_len: replay with a shorter L */
        mlxn_graph *g = NULL;
        int32_t L2 = (int32_t)(sp->l / 2);
        if (mlxn_graph_begin(s) == MLXN_OK) {
            mlxn_status rs = run_attn(s, &c), es = mlxn_graph_end(s, &g);
            mlxn_buffer_write(c.kv_len, 0, &L2, 4);
            if (CHECK(!rs && !es && mlxn_graph_replay(s, g) == MLXN_OK && mlxn_stream_sync(s) == MLXN_OK, "%s: replay: %s",
                      name, mlxn_last_error())) {
                t_buf_read(c.o, got);
                ref_attention(qv, kv, vv, mk, sk, ref, hq, hkv, m, lcap, L2, d, 1.0 / sqrt((double)d), sp->softcap,
                              sp->causal, sp->window);
                if (sp->layout == MLXN_ATTN_OUT_MHD)
                    for (int64_t h = 0; h < hq; h++)
                        for (int64_t i = 0; i < m; i++)
                            memcpy(got_hmd + (h * m + i) * d, got + (i * hq + h) * d, sizeof(double) * (size_t)d);
                else memcpy(got_hmd, got, sizeof(double) * (size_t)n_o);
                if (tc_path)
                    tc_bound(&tn, qv, kv, vv, mk, sk, tc, hq, hkv, m, lcap, L2, d, 1.0 / sqrt((double)d), sp->softcap,
                             sp->causal, sp->window, vmax);
                for (int64_t i = 0; i < n_o; i++) bound[i] = ref_eps(sp->to) * fabs(ref[i]) + 1e-5 * vmax + tc[i];
                char n2[240];
                snprintf(n2, sizeof n2, "%s replayed with kv_len=%d", name, L2);
                t_check_bound(n2, got_hmd, ref, bound, n_o);
            }
            mlxn_graph_destroy(g);
        }
    }
    mlxn_buffer *bufs[] = {c.q, c.k, c.v, c.o, c.mask, c.sinks, c.kv_len};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mlxn_buffer_free(bufs[i]);
    free(qv), free(kv), free(vv), free(mk), free(sk), free(ref), free(got), free(got_hmd), free(bound), free(tc);
}

static void bad_args(mlxn_device *dev, mlxn_stream *s) {
    const int64_t qne[3] = {4, 2, 128}, kne[3] = {2, 16, 128}, k3[3] = {3, 16, 128}, one_ne[2] = {2, 512};
    const int64_t q100[3] = {4, 2, 100}, k100[3] = {2, 16, 100}, o100[2] = {2, 400};
    mlxn_buffer *q = NULL, *k = NULL, *v = NULL, *o = NULL, *k3b = NULL, *kf32 = NULL, *qd = NULL, *kd = NULL, *od = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 3, qne, &q);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 3, kne, &k);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 3, kne, &v);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, one_ne, &o);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 3, k3, &k3b);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 3, kne, &kf32);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 3, q100, &qd);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 3, k100, &kd);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, o100, &od);
    CHECK_ST(mlxn_attention(s, q, k, v, o, NULL), MLXN_OK);
    CHECK_ST(mlxn_attention(s, qd, kd, kd, od, NULL), MLXN_ERR_UNSUPPORTED);
    CHECK(strstr(mlxn_last_error(), "D=100") != NULL, "message names D: %s", mlxn_last_error());
    CHECK_ST(mlxn_attention(s, q, k3b, k3b, o, NULL), MLXN_ERR_INVALID_ARG); /* 4 q heads over 3 kv heads */
    CHECK_ST(mlxn_attention(s, q, kf32, v, o, NULL), MLXN_ERR_INVALID_ARG);   /* f32 cache */
    CHECK_ST(mlxn_attention(s, q, k, v, q, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_attention(NULL, q, k, v, o, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_attention(s, q, NULL, v, o, NULL), MLXN_ERR_INVALID_ARG);
    mlxn_attention_params p = mlxn_attention_defaults();
    p.out_layout = MLXN_ATTN_OUT_HMD;
    CHECK_ST(mlxn_attention(s, q, k, v, o, &p), MLXN_ERR_INVALID_ARG); /* o is [M][H*D] */
    p = mlxn_attention_defaults();
    p.window = -1;
    CHECK_ST(mlxn_attention(s, q, k, v, o, &p), MLXN_ERR_INVALID_ARG);
    p = mlxn_attention_defaults();
    p.kv_len = q;
    CHECK_ST(mlxn_attention(s, q, k, v, o, &p), MLXN_ERR_INVALID_ARG);
    p = mlxn_attention_defaults();
    p.sinks = o;
    CHECK_ST(mlxn_attention(s, q, k, v, o, &p), MLXN_ERR_INVALID_ARG);
    mlxn_stream_sync(s);
    mlxn_buffer *bufs[] = {q, k, v, o, k3b, kf32, qd, kd, od};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mlxn_buffer_free(bufs[i]);
}

/* A wrapped ring cache (position p in slot p mod W) read as the header says: M = 1, kv_len = W,
 * window 0, against the same keys stored in position order. The two differ only in the order
 * the keys are visited: f32 sums, and on the tensor-core path P rounded to f16 against other
 * running maxima (each weight within 2^-11 relative), so the bound is 2e-3·max|v|; a slot or
 * mask error moves o by O(max|v|). Both against the float64 oracle too (Q and P rounded to f16
 * on the tensor cores: the same 2e-3·max|v|). */
static void ring_decode(mlxn_device *dev, mlxn_stream *s) {
    const int64_t hq = 8, hkv = 2, W = 100, d = 128, P = 257; /* positions 0..P-1 appended, W kept */
    const int64_t nkv = hkv * W * d, kne[3] = {hkv, W, d}, qne[3] = {hq, 1, d}, one1[1] = {1}, one_ne[2] = {1, hq * d};
    t_rng r = {777};
    double *lk = malloc(sizeof(double) * (size_t)nkv), *lv = malloc(sizeof(double) * (size_t)nkv);
    double *rk = malloc(sizeof(double) * (size_t)nkv), *rv = malloc(sizeof(double) * (size_t)nkv);
    double *qv = malloc(sizeof(double) * (size_t)(hq * d)), *ol = malloc(sizeof(double) * (size_t)(hq * d)),
           *orr = malloc(sizeof(double) * (size_t)(hq * d));
    for (int64_t i = 0; i < nkv; i++) lk[i] = t_rng_normal(&r), lv[i] = t_rng_normal(&r);
    for (int64_t i = 0; i < hq * d; i++) qv[i] = t_rng_normal(&r);
    mlxn_buffer *kl = t_buf_from(dev, MLXN_TYPE_F16, 3, kne, lk), *vl = t_buf_from(dev, MLXN_TYPE_F16, 3, kne, lv);
    for (int64_t h = 0; h < hkv; h++) /* linear row i holds position P - W + i */
        for (int64_t i = 0; i < W; i++)
            for (int64_t e = 0; e < d; e++) {
                const int64_t slot = (P - W + i) % W;
                rk[(h * W + slot) * d + e] = lk[(h * W + i) * d + e];
                rv[(h * W + slot) * d + e] = lv[(h * W + i) * d + e];
            }
    mlxn_buffer *kr = t_buf_from(dev, MLXN_TYPE_F16, 3, kne, rk), *vr = t_buf_from(dev, MLXN_TYPE_F16, 3, kne, rv);
    mlxn_buffer *q = t_buf_from(dev, MLXN_TYPE_F32, 3, qne, qv), *o1 = NULL, *o2 = NULL, *kvl = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, one_ne, &o1);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, one_ne, &o2);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 1, one1, &kvl);
    const int32_t wl = (int32_t)W;
    if (kvl) mlxn_buffer_write(kvl, 0, &wl, 4);
    mlxn_attention_params p = mlxn_attention_defaults();
    p.kv_len = kvl;
    CHECK_ST(mlxn_attention(s, q, kl, vl, o1, &p), MLXN_OK);
    CHECK_ST(mlxn_attention(s, q, kr, vr, o2, &p), MLXN_OK);
    CHECK_ST(mlxn_stream_sync(s), MLXN_OK);
    double worst = 0, vmax = 0;
    if (t_buf_read(o1, ol) && t_buf_read(o2, orr)) {
        for (int64_t i = 0; i < nkv; i++) vmax = fmax(vmax, fabs(lv[i]));
        double worst_ref = 0;
        for (int64_t h = 0; h < hq; h++) { /* the float64 oracle over the ordered keys */
            const int64_t g = h / (hq / hkv);
            double *sc = malloc(sizeof(double) * (size_t)W), m = -INFINITY, l = 0;
            for (int64_t j = 0; j < W; j++) {
                double dot = 0;
                for (int64_t e = 0; e < d; e++) dot += qv[h * d + e] * lk[(g * W + j) * d + e];
                sc[j] = dot / sqrt((double)d), m = fmax(m, sc[j]);
            }
            for (int64_t j = 0; j < W; j++) sc[j] = exp(sc[j] - m), l += sc[j];
            for (int64_t e = 0; e < d; e++) {
                double acc = 0;
                for (int64_t j = 0; j < W; j++) acc += sc[j] * lv[(g * W + j) * d + e];
                worst_ref = fmax(worst_ref, fmax(fabs(ol[h * d + e] - acc / l), fabs(orr[h * d + e] - acc / l)));
            }
            free(sc);
        }
        for (int64_t i = 0; i < hq * d; i++) worst = fmax(worst, fabs(ol[i] - orr[i]));
        CHECK(worst <= 2e-3 * vmax, "attention over a wrapped ring cache: |ring - ordered| %.3g > 2e-3 * max|v| %.3g", worst,
              vmax);
        CHECK(worst_ref <= 2e-3 * vmax, "attention ring cache: |o - oracle| %.3g > 2e-3 * max|v| %.3g", worst_ref, vmax);
        printf("attention: ring cache: ring vs ordered %.2e, vs oracle %.2e * max|v| (bound 2e-3)\n", worst / vmax,
               worst_ref / vmax);
    } else {
        CHECK(false, "attention ring cache: reading the outputs failed: %s", mlxn_last_error());
    }
    mlxn_buffer *bufs[] = {kl, vl, kr, vr, q, o1, o2, kvl};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mlxn_buffer_free(bufs[i]);
    free(lk), free(lv), free(rk), free(rv), free(qv), free(ol), free(orr);
}

void t_ops_attention(mlxn_device *dev, mlxn_stream *s) {
    bad_args(dev, s);
    ring_decode(dev, s);
    static const int64_t dims[] = {64, 80, 96, 128, 192, 256, 512};
    static const int64_t lm[][2] = {{1, 1}, {2, 1}, {7, 3}, {33, 16}, {100, 100}, {100, 3}, {1000, 16}, {4097, 1},
                                    {4097, 3}, {7, 16}};
    static const mlxn_type caches[] = {MLXN_TYPE_F16, MLXN_TYPE_BF16, MLXN_TYPE_Q8_0};
    static const mlxn_type ftypes[] = {MLXN_TYPE_F32, MLXN_TYPE_F16, MLXN_TYPE_BF16};
    static const int gqa[] = {1, 2, 4, 8};
    uint64_t seed = 5000;
    int k = 0;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        for (size_t li = 0; li < sizeof lm / sizeof lm[0]; li++, k++) {
            at_spec sp = {0};
            sp.d = dims[di];
            sp.l = lm[li][0];
            sp.m = lm[li][1];
            sp.hkv = 1 + (k % 2);
            sp.hq = sp.hkv * gqa[k % 4];
            sp.lcap = sp.l + (k % 3 == 0 ? 5 : 0); /* capacity beyond L: kv_len says where the keys end */
            sp.kv_len_buf = sp.lcap != sp.l;
            sp.tk = caches[k % 3];
            if (sp.tk == MLXN_TYPE_Q8_0 && sp.d % 32) sp.tk = MLXN_TYPE_F16; /* q8_0 rows need D % 32 == 0 */
            sp.tq = ftypes[(k / 3) % 3];
            sp.to = ftypes[(k / 2) % 3];
            sp.causal = k % 5 != 4;
            sp.window = k % 7 == 3 ? (int32_t)(sp.l / 3 + 1) : 0;
            sp.softcap = k % 4 == 1 ? 30.0f : k % 9 == 2 ? 1.5f : 0.0f;
            sp.mask = k % 6 == 5;
            sp.sinks = k % 8 == 6;
            sp.layout = k % 3 == 2 ? MLXN_ATTN_OUT_HMD : MLXN_ATTN_OUT_MHD;
            if (sp.d == 512 && sp.l * sp.m > 20000) continue; /* the double oracle's time */
            one(dev, s, &sp, seed++);
        }
    }
    /* real shapes: Llama-3-8B decode (32/8 heads, D 128) and a Gemma-3-style window + softcap */
    at_spec llama = {.hq = 32, .hkv = 8, .m = 1, .l = 2048, .lcap = 4096, .d = 128, .tq = MLXN_TYPE_F32,
                     .tk = MLXN_TYPE_F16, .to = MLXN_TYPE_F32, .causal = true, .kv_len_buf = true};
    one(dev, s, &llama, seed++);
    at_spec gemma = {.hq = 8, .hkv = 4, .m = 16, .l = 1500, .lcap = 1500, .d = 256, .tq = MLXN_TYPE_BF16,
                     .tk = MLXN_TYPE_BF16, .to = MLXN_TYPE_BF16, .causal = true, .window = 512, .softcap = 50.0f};
    one(dev, s, &gemma, seed++);
    at_spec sinks = {.hq = 8, .hkv = 1, .m = 3, .l = 2, .lcap = 2, .d = 64, .tq = MLXN_TYPE_F32, .tk = MLXN_TYPE_Q8_0,
                     .to = MLXN_TYPE_F32, .causal = true, .sinks = true, .mask = true};
    one(dev, s, &sinks, seed++);
    /* prefill: many row tiles and key tiles, causal diagonals inside tiles, K and V of one type */
    const at_spec pre[] = {
        {.hq = 8, .hkv = 2, .m = 300, .l = 300, .lcap = 300, .d = 128, .tq = MLXN_TYPE_BF16, .tk = MLXN_TYPE_F16,
         .tv = MLXN_TYPE_F16, .to = MLXN_TYPE_BF16, .causal = true},
        {.hq = 4, .hkv = 4, .m = 257, .l = 321, .lcap = 330, .d = 64, .tq = MLXN_TYPE_F32, .tk = MLXN_TYPE_BF16,
         .tv = MLXN_TYPE_BF16, .to = MLXN_TYPE_F32, .causal = true, .window = 100, .kv_len_buf = true},
        {.hq = 2, .hkv = 1, .m = 200, .l = 200, .lcap = 200, .d = 256, .tq = MLXN_TYPE_BF16, .tk = MLXN_TYPE_BF16,
         .tv = MLXN_TYPE_BF16, .to = MLXN_TYPE_BF16, .causal = true, .layout = MLXN_ATTN_OUT_HMD},
        {.hq = 4, .hkv = 2, .m = 130, .l = 500, .lcap = 500, .d = 96, .tq = MLXN_TYPE_F16, .tk = MLXN_TYPE_Q8_0,
         .tv = MLXN_TYPE_Q8_0, .to = MLXN_TYPE_F16, .causal = true, .mask = true},
        {.hq = 6, .hkv = 2, .m = 150, .l = 150, .lcap = 150, .d = 80, .tq = MLXN_TYPE_F16, .tk = MLXN_TYPE_F16,
         .tv = MLXN_TYPE_F16, .to = MLXN_TYPE_F32, .causal = false, .softcap = 20.0f, .sinks = true},
        {.hq = 4, .hkv = 1, .m = 64, .l = 1000, .lcap = 1024, .d = 192, .tq = MLXN_TYPE_BF16, .tk = MLXN_TYPE_F16,
         .tv = MLXN_TYPE_Q8_0, .to = MLXN_TYPE_BF16, .causal = true, .kv_len_buf = true},
    };
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) one(dev, s, &pre[i], seed++);
    /* decode over a Q8_0 cache beside an f16 or bf16 one (the CUDA instances for mixed caches) */
    const at_spec mixed[] = {
        {.hq = 8, .hkv = 2, .m = 1, .l = 1000, .lcap = 1000, .d = 128, .tq = MLXN_TYPE_BF16, .tk = MLXN_TYPE_Q8_0,
         .tv = MLXN_TYPE_F16, .to = MLXN_TYPE_BF16, .causal = true},
        {.hq = 4, .hkv = 1, .m = 3, .l = 4097, .lcap = 4100, .d = 64, .tq = MLXN_TYPE_F32, .tk = MLXN_TYPE_BF16,
         .tv = MLXN_TYPE_Q8_0, .to = MLXN_TYPE_F32, .causal = true, .kv_len_buf = true},
    };
    for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++) one(dev, s, &mixed[i], seed++);
    /* decode over long Q8_0 caches; L_cap · n_kv_heads >= 2^18 takes CUDA's three-blocks-an-SM
     * instances (D 64, 96, 128), the first case below the line */
    const at_spec q8long[] = {
        {.hq = 32, .hkv = 8, .m = 1, .l = 20000, .lcap = 20000, .d = 128, .tq = MLXN_TYPE_BF16, .tk = MLXN_TYPE_Q8_0,
         .tv = MLXN_TYPE_Q8_0, .to = MLXN_TYPE_F32, .causal = true},
        {.hq = 32, .hkv = 16, .m = 1, .l = 16000, .lcap = 16384, .d = 128, .tq = MLXN_TYPE_BF16, .tk = MLXN_TYPE_Q8_0,
         .tv = MLXN_TYPE_Q8_0, .to = MLXN_TYPE_BF16, .causal = true, .kv_len_buf = true},
        {.hq = 64, .hkv = 32, .m = 3, .l = 8001, .lcap = 8192, .d = 64, .tq = MLXN_TYPE_F32, .tk = MLXN_TYPE_Q8_0,
         .tv = MLXN_TYPE_Q8_0, .to = MLXN_TYPE_BF16, .causal = true, .window = 3000, .softcap = 30.0f,
         .kv_len_buf = true},
        {.hq = 128, .hkv = 32, .m = 1, .l = 8192, .lcap = 8192, .d = 96, .tq = MLXN_TYPE_F16, .tk = MLXN_TYPE_Q8_0,
         .tv = MLXN_TYPE_Q8_0, .to = MLXN_TYPE_F16, .causal = true, .sinks = true, .mask = true,
         .layout = MLXN_ATTN_OUT_HMD},
    };
    for (size_t i = 0; i < sizeof q8long / sizeof q8long[0]; i++) one(dev, s, &q8long[i], seed++);
    printf("attention: worst error beyond output rounding %.2e * max|v| on the f32 path (bound 1e-5)\n", worst_abs);
    if (worst_tc > 0)
        printf("attention: worst error beyond output rounding and 1e-5*max|v| on the tensor-core path: %.3f of tc\n",
               worst_tc);
}
