/* RoPE front end: validates the contract in mlxn.h and turns base, scaling and sections into
 * a per-pair frequency (computed in double) and position-stream table for the backend. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "ops/check.h"

mlxn_rope_params mlxn_rope_defaults(void) {
    mlxn_rope_params p;
    memset(&p, 0, sizeof p);
    p.mode = MLXN_ROPE_NORMAL;
    p.freq_base = 10000.0f;
    p.scaling = MLXN_ROPE_SCALING_NONE;
    p.factor = 1.0f;
    p.attn_factor = 1.0f;
    p.ext_factor = 1.0f;
    p.beta_fast = 32.0f; /* YaRN's defaults (ggml, HF) */
    p.beta_slow = 1.0f;
    p.low_freq_factor = 1.0f; /* Llama 3.1's rope_scaling */
    p.high_freq_factor = 4.0f;
    return p;
}

static const char *const OP = "rope";

static mlxn_status check_dev(const char *arg, const mlxn_stream *s, const mlxn_buffer *b) {
    if (!b) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is NULL", OP, arg);
    if (b->st->dev != s->dev) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is on another device than the stream", OP, arg);
    return MLXN_OK;
}

static mlxn_status check_float(const char *arg, const mlxn_stream *s, const mlxn_buffer *b) {
    mlxn_status st = check_dev(arg, s, b);
    if (st) return st;
    if (!mlxn_is_float(b->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is %s, want f32, f16 or bf16", OP, arg, mlxn_type_name(b->type));
    return MLXN_OK;
}

static bool positive(float v) { return isfinite(v) && v > 0; }

static mlxn_status check_params(const mlxn_rope_params *p) {
    if (p->mode != MLXN_ROPE_NORMAL && p->mode != MLXN_ROPE_NEOX)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: mode is %d, want NORMAL or NEOX", OP, (int)p->mode);
    if ((unsigned)p->scaling > MLXN_ROPE_SCALING_LLAMA3)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: scaling is %d, want NONE, LINEAR, YARN or LLAMA3", OP, (int)p->scaling);
    if (!(isfinite(p->freq_base) && p->freq_base > 1))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: freq_base is %g, want a finite value > 1", OP, (double)p->freq_base);
    if (!positive(p->factor))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: factor is %g, want a finite value > 0", OP, (double)p->factor);
    if (!positive(p->attn_factor))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: attn_factor is %g, want a finite value > 0", OP, (double)p->attn_factor);
    if (p->x_col < 0) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: x_col is %lld, want >= 0", OP, (long long)p->x_col);
    bool yarn = p->scaling == MLXN_ROPE_SCALING_YARN, llama3 = p->scaling == MLXN_ROPE_SCALING_LLAMA3;
    if ((yarn || llama3) && p->n_ctx_orig <= 0)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: n_ctx_orig is %lld, want > 0 for %s scaling", OP,
                        (long long)p->n_ctx_orig, yarn ? "YARN" : "LLAMA3");
    if (yarn && !isfinite(p->ext_factor))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: ext_factor is %g, want a finite value", OP, (double)p->ext_factor);
    if (yarn && !(positive(p->beta_fast) && positive(p->beta_slow)))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: beta_fast %g, beta_slow %g, want finite values > 0", OP,
                        (double)p->beta_fast, (double)p->beta_slow);
    if (llama3 && !(positive(p->low_freq_factor) && isfinite(p->high_freq_factor) &&
                    p->low_freq_factor < p->high_freq_factor))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: low_freq_factor %g, high_freq_factor %g, want 0 < low < high", OP,
                        (double)p->low_freq_factor, (double)p->high_freq_factor);
    for (int k = 0; k < 4; k++)
        if (p->sections[k] < 0)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: sections[%d] is %d, want >= 0", OP, k, (int)p->sections[k]);
    if (p->interleaved && p->sections[3] != 0)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: sections[3] is %d, want 0 with interleaved sections", OP,
                        (int)p->sections[3]);
    return MLXN_OK;
}

/* g_i of the scaling (mlxn.h) for pair i of npairs with base frequency f0. */
static double scaling_gain(const mlxn_rope_params *p, int64_t n_rot, int64_t i, double f0) {
    const double factor = p->factor;
    switch (p->scaling) {
    case MLXN_ROPE_SCALING_LINEAR: return 1.0 / factor;
    case MLXN_ROPE_SCALING_YARN: {
        /* the pair index where the rotation count over n_ctx_orig positions is beta */
        const double lb = 2.0 * log(p->freq_base), ctx = (double)p->n_ctx_orig;
        double lo = floor((double)n_rot * log(ctx / (2.0 * M_PI * p->beta_fast)) / lb);
        double hi = ceil((double)n_rot * log(ctx / (2.0 * M_PI * p->beta_slow)) / lb);
        lo = lo > 0 ? lo : 0;
        hi = hi < (double)(n_rot - 1) ? hi : (double)(n_rot - 1);
        double t = ((double)i - lo) / (hi - lo > 0.001 ? hi - lo : 0.001);
        double ramp = 1.0 - (t < 0 ? 0 : t > 1 ? 1 : t);
        double m = p->ext_factor * ramp;
        return (1.0 - m) / factor + m;
    }
    case MLXN_ROPE_SCALING_LLAMA3: {
        const double ctx = (double)p->n_ctx_orig, lf = p->low_freq_factor, hf = p->high_freq_factor;
        double wavelen = 2.0 * M_PI / f0;
        if (wavelen < ctx / hf) return 1.0;
        if (wavelen > ctx / lf) return 1.0 / factor;
        double smooth = (ctx / wavelen - lf) / (hf - lf);
        return (1.0 - smooth) / factor + smooth;
    }
    default: return 1.0;
    }
}

/* Position stream of pair i under the sections (all zero: stream 0). */
static int pair_stream(const mlxn_rope_params *p, int64_t i) {
    const int32_t *sec = p->sections;
    if (p->interleaved) {
        if (i % 3 == 1 && i < 3 * (int64_t)sec[1]) return 1;
        if (i % 3 == 2 && i < 3 * (int64_t)sec[2]) return 2;
        return 0;
    }
    int64_t end = 0;
    for (int k = 0; k < 4; k++) {
        end += sec[k];
        if (i < end) return k;
    }
    return 0;
}

mlxn_status mlxn_rope(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *pos, const mlxn_buffer *freq_factors,
                      mlxn_buffer *y, const mlxn_rope_params *p) {
    char sa[96], sb[96];
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: stream is NULL", OP);
    if ((st = check_float("x", s, x)) || (st = check_float("y", s, y)) || (st = check_dev("pos", s, pos))) return st;
    if (y->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y is read-only", OP);
    if (pos->type != MLXN_TYPE_I32)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: pos is %s, want i32", OP, mlxn_type_name(pos->type));
    mlxn_rope_params prm = p ? *p : mlxn_rope_defaults();
    if ((st = check_params(&prm))) return st;
    if (y->ndim < 2)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y has shape %s, want [..., heads, head_dim]", OP,
                        mlxn_shape_str(y, sb, sizeof sb));

    const int64_t H = y->ne[y->ndim - 2], D = y->ne[y->ndim - 1], ny = mlxn_buffer_nelements(y);
    const int64_t HD = H * D, T = HD ? ny / HD : 0;
    const int64_t n_rot = prm.n_rot ? prm.n_rot : D;
    if (n_rot < 0 || n_rot % 2 || n_rot > D || n_rot > MLXN_ROPE_MAX_ROT)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: n_rot is %lld, want even, <= head_dim %lld and <= %d", OP,
                        (long long)n_rot, (long long)D, MLXN_ROPE_MAX_ROT);
    const int64_t npairs = n_rot / 2;
    int streams = 1;
    int64_t sec_sum = 0;
    for (int k = 0; k < 4; k++) {
        sec_sum += prm.sections[k];
        if (prm.sections[k] > 0) streams = k + 1;
    }
    if (sec_sum != 0 && sec_sum != npairs)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: sections sum to %lld, want n_rot/2 = %lld", OP, (long long)sec_sum,
                        (long long)npairs);
    /* pos: [S][T], S >= the streams used */
    const int64_t npos = mlxn_buffer_nelements(pos), pos_inner = pos->ne[pos->ndim - 1];
    if (pos_inner != T || (T && npos / T < streams))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: pos has shape %s, want [S][%lld] with S >= %d streams", OP,
                        mlxn_shape_str(pos, sa, sizeof sa), (long long)T, streams);
    if (freq_factors) {
        if ((st = check_dev("freq_factors", s, freq_factors))) return st;
        if (freq_factors->type != MLXN_TYPE_F32 || mlxn_buffer_nelements(freq_factors) != npairs ||
            freq_factors->ne[freq_factors->ndim - 1] != npairs)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: freq_factors is %s %s, want f32 [%lld]", OP,
                            mlxn_type_name(freq_factors->type), mlxn_shape_str(freq_factors, sa, sizeof sa),
                            (long long)npairs);
    }
    /* x: y's shape, or token rows of a wider buffer read from column x_col */
    int64_t stride = HD;
    if (!(mlxn_same_shape(x, y) && prm.x_col == 0)) {
        int64_t total;
        stride = x->ne[x->ndim - 1];
        if (stride < HD || prm.x_col > stride - HD || __builtin_mul_overflow(T, stride, &total) ||
            mlxn_buffer_nelements(x) != total)
            return mlxn_err(MLXN_ERR_INVALID_ARG,
                            "%s: x has shape %s, want y's shape %s or %lld rows of at least x_col + heads·head_dim = "
                            "%lld + %lld",
                            OP, mlxn_shape_str(x, sa, sizeof sa), mlxn_shape_str(y, sb, sizeof sb), (long long)T,
                            (long long)prm.x_col, (long long)HD);
    }
    int ov = mlxn_buffer_overlap(y, x);
    if (ov == 2 || (ov == 1 && (y->type != x->type || stride != HD)))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps x other than as the same buffer of its type", OP);
    if (mlxn_buffer_overlap(y, pos) || (freq_factors && mlxn_buffer_overlap(y, freq_factors)))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps pos or freq_factors", OP);
    if (ny == 0) return MLXN_OK;
    if (!s->dev->vt->rope)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the %s backend", OP, s->dev->vt->name);

    mlxn_rope_args a;
    memset(&a, 0, sizeof a);
    a.tx = x->type;
    a.ty = y->type;
    a.x = (const char *)mlxn_buf_ptr(x) + (x->type == MLXN_TYPE_F32 ? 4 : 2) * (size_t)prm.x_col;
    a.y = mlxn_buf_ptr(y);
    a.pos = mlxn_buf_ptr(pos);
    a.ff = freq_factors ? mlxn_buf_ptr(freq_factors) : NULL;
    a.T = T;
    a.H = H;
    a.D = D;
    a.n_rot = n_rot;
    a.x_stride = stride;
    a.neox = prm.mode == MLXN_ROPE_NEOX;
    bool yarn_ext = prm.scaling == MLXN_ROPE_SCALING_YARN && prm.ext_factor != 0.0f;
    a.mscale = (float)(prm.attn_factor * (yarn_ext ? 1.0 + 0.1 * log((double)prm.factor) : 1.0));
    for (int64_t i = 0; i < npairs; i++) {
        double f0 = pow((double)prm.freq_base, -2.0 * (double)i / (double)n_rot);
        a.freq[i] = (float)(f0 * scaling_gain(&prm, n_rot, i, f0));
        a.stream[i] = (uint8_t)(sec_sum ? pair_stream(&prm, i) : 0);
    }
    if ((st = s->dev->vt->rope(s->impl, &a))) return st;
    mlxn_stream_count_op(s);
    return MLXN_OK;
}
