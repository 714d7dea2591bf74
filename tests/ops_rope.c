/* RoPE cases: NORMAL and NEOX, full and partial rotary dims (Phi-2's 32 of 80, GPT-J's 64 of
 * 256), head dims 64/128/256 with Llama, Qwen3 and Gemma head counts and ragged ones,
 * positions from 0 to 131071 (and negative), the scalings LINEAR, YARN (with and without
 * ext_factor) and LLAMA3, frequency factors, multi-section (Qwen2-VL contiguous, Qwen3-VL and
 * Qwen3.5 interleaved) with [3][T] and [4][T] positions, heads inside a fused QKV row, in
 * place, every type pairing, unaligned views; and a replayed graph that follows new
 * positions written to the device buffer.
 *
 * Bound for a rotated pair (a, b) → y, u = 2^-24: θ = pos·f_i/ff_i carries 3u·|θ| (f_i
 * rounded to f32, the multiply, the divide); cos and sin are within 2 ulp and scaled by
 * mscale (one rounding); the two products and the difference round once each:
 *   |y − ref| <= mscale·(|a| + |b|)·u·(3|θ| + 4) + (u + eps_y)·|ref| + y's subnormal spacing.
 * Large positions therefore get a large but honest allowance (f32 θ). Dims past n_rot are
 * copied: exactly ref_round(x, y's type). The worst error/bound ratio over f32 outputs is printed at the end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_cases.h"
#include "ops_rowcheck.h"
#include "ref/ref.h"

static rc_worst worst;

typedef struct rope_spec {
    int64_t T, H, D;
    int64_t S, x_col;  /* x [T][S] with the heads at x_col (S 0: x has y's shape) */
    mlxn_rope_params p;
    int streams;       /* rows of pos: 1, or 3/4 for multi-section */
    bool ff;
    int32_t max_pos;
    mlxn_type tx, ty;
    bool inplace;
    int off;
} rope_spec;

typedef struct rope_case {
    mlxn_buffer *x, *pos, *ff, *y;
    double *x0;
    bool inplace;
    const mlxn_rope_params *p;
} rope_case;

static mlxn_status rope_op(mlxn_stream *s, void *ctx) {
    rope_case *c = ctx;
    return mlxn_rope(s, c->x, c->pos, c->ff, c->y, c->p);
}

static void rope_restore(void *ctx) {
    rope_case *c = ctx;
    if (c->inplace) rc_write(c->x, c->x0);
}

static mlxn_buffer *pos_buf(mlxn_device *dev, int streams, int64_t T, const int32_t *pos) {
    mlxn_buffer *b = NULL;
    const int64_t ne[2] = {streams, T};
    if (mlxn_buffer_alloc(dev, MLXN_TYPE_I32, streams > 1 ? 2 : 1, streams > 1 ? ne : ne + 1, &b) != MLXN_OK ||
        mlxn_buffer_write(b, 0, pos, sizeof(int32_t) * (size_t)(streams * T)) != MLXN_OK) {
        CHECK(0, "pos buffer: %s", mlxn_last_error());
        mlxn_buffer_free(b);
        return NULL;
    }
    return b;
}

/* Bound and the copied dims' exact values, from the oracle's y and θ. */
static void rope_bounds(const rope_spec *sp, const double *xv, const double *theta, double *ref, double *bound) {
    const int64_t T = sp->T, H = sp->H, D = sp->D, S = sp->S ? sp->S : H * D;
    const int64_t n_rot = sp->p.n_rot ? sp->p.n_rot : D, half = n_rot / 2;
    const bool neox = sp->p.mode == MLXN_ROPE_NEOX;
    double ms = sp->p.attn_factor;
    if (sp->p.scaling == MLXN_ROPE_SCALING_YARN && sp->p.ext_factor != 0) ms *= 1 + 0.1 * log(sp->p.factor);
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            const double *xh = xv + t * S + sp->x_col + h * D;
            const int64_t o = (t * H + h) * D;
            for (int64_t i = n_rot; i < D; i++) {
                ref[o + i] = ref_round(xh[i], sp->ty);
                bound[o + i] = 0;
            }
            for (int64_t i = 0; i < half; i++) {
                const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
                const double ab = fabs(xh[i0]) + fabs(xh[i1]), th = fabs(theta[t * half + i]);
                for (int q = 0; q < 2; q++) {
                    const int64_t e = o + (q ? i1 : i0);
                    double b0 = fabs(ms) * ab * RC_U * (3 * th + 4) + RC_U * fabs(ref[e]);
                    bound[e] = b0 + ref_eps(sp->ty) * (fabs(ref[e]) + b0) + rc_tiny(sp->ty);
                }
            }
        }
}

static void rope_run(mlxn_device *dev, mlxn_stream *s, const rope_spec *sp, uint64_t seed) {
    static const char *sc[] = {"none", "linear", "yarn", "llama3"};
    const int64_t T = sp->T, H = sp->H, D = sp->D, S = sp->S ? sp->S : H * D, N = T * H * D;
    const int64_t n_rot = sp->p.n_rot ? sp->p.n_rot : D, half = n_rot / 2;
    char name[240];
    snprintf(name, sizeof name,
             "rope %lldx%lldx%lld n_rot=%lld %s %s%s sections=%d,%d,%d,%d%s%s %s->%s%s off=%d max_pos=%d seed=%llu",
             (long long)T, (long long)H, (long long)D, (long long)n_rot, sp->p.mode == MLXN_ROPE_NEOX ? "neox" : "normal",
             sc[sp->p.scaling], sp->ff ? " ff" : "", sp->p.sections[0], sp->p.sections[1], sp->p.sections[2],
             sp->p.sections[3], sp->p.interleaved ? " interleaved" : "", sp->S ? " [wide]" : "", mlxn_type_name(sp->tx),
             mlxn_type_name(sp->ty), sp->inplace ? " in-place" : "", sp->off, (int)sp->max_pos, (unsigned long long)seed);
    t_rng rg = {seed};
    double *xv = rc_alloc(T * S), *ffv = rc_alloc(half), *ref = rc_alloc(N), *theta = rc_alloc(T * half);
    double *got = rc_alloc(N), *bound = rc_alloc(N);
    int32_t *pos = calloc((size_t)(sp->streams * T + 1), sizeof(int32_t));
    rc_normal(&rg, xv, T * S, 0.0, 1.0);
    for (int64_t i = 0; i < half; i++) ffv[i] = t_rng_uniform(&rg, 1.0f, 40.0f);
    for (int64_t i = 0; i < sp->streams * T; i++) {
        pos[i] = (int32_t)(t_rng_u64(&rg) % (uint64_t)sp->max_pos);
        if (i % 17 == 5) pos[i] = -pos[i]; /* any int32 is a position */
    }
    mlxn_rope_params prm = sp->p;
    prm.x_col = sp->x_col;
    rope_case c = {.x0 = xv, .inplace = sp->inplace, .p = &prm};
    const int64_t yne[3] = {T, H, D}, xne[2] = {T, S}, fne[1] = {half};
    mlxn_buffer *ox, *of = NULL, *oy = NULL;
    c.x = sp->S ? rc_buf(dev, sp->tx, 2, xne, xv, sp->off, &ox) : rc_buf(dev, sp->tx, 3, yne, xv, sp->off, &ox);
    c.ff = sp->ff ? rc_buf(dev, MLXN_TYPE_F32, 1, fne, ffv, 0, &of) : NULL;
    c.pos = pos_buf(dev, sp->streams, T, pos);
    double *zero = rc_alloc(N);
    c.y = sp->inplace ? c.x : rc_buf(dev, sp->ty, 3, yne, zero, sp->off, &oy);
    free(zero);
    if (c.x && c.y && c.pos && (!sp->ff || c.ff) && t_run_eager_and_replay(name, s, rope_restore, rope_op, &c, c.y, got)) {
        ref_rope(xv, T, H, D, S, sp->x_col, pos, sp->ff ? ffv : NULL, &sp->p, ref, theta);
        rope_bounds(sp, xv, theta, ref, bound);
        rc_track(&worst, name, sp->ty, got, ref, bound, N);
        t_check_bound(name, got, ref, bound, N);
    }
    if (c.y != c.x) rc_free(c.y, oy);
    rc_free(c.x, ox);
    rc_free(c.ff, of);
    mlxn_buffer_free(c.pos);
    free(xv), free(ffv), free(ref), free(theta), free(got), free(bound), free(pos);
}

/* A graph recorded once follows positions written to the device buffer between replays. */
static void replay_follows_positions(mlxn_device *dev, mlxn_stream *s) {
    const int64_t T = 1, H = 4, D = 64, N = T * H * D, ne[3] = {T, H, D};
    double *xv = rc_alloc(N), *ref = rc_alloc(N), *got = rc_alloc(N), *bound = rc_alloc(N), *theta = rc_alloc(D / 2);
    t_rng rg = {77};
    rc_normal(&rg, xv, N, 0, 1);
    rope_spec sp = {.T = T, .H = H, .D = D, .streams = 1, .tx = MLXN_TYPE_F32, .ty = MLXN_TYPE_F32};
    sp.p = mlxn_rope_defaults();
    int32_t p0 = 3;
    mlxn_buffer *x = t_buf_from(dev, MLXN_TYPE_F32, 3, ne, xv), *y = NULL, *pos = pos_buf(dev, 1, T, &p0);
    mlxn_graph *g = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 3, ne, &y);
    if (x && y && pos && CHECK_ST(mlxn_graph_begin(s), MLXN_OK)) {
        CHECK_ST(mlxn_rope(s, x, pos, NULL, y, &sp.p), MLXN_OK);
        CHECK_ST(mlxn_graph_end(s, &g), MLXN_OK);
        for (int32_t step = 0; g && step < 3; step++) {
            int32_t pv = 1000 * step + 17;
            mlxn_buffer_write(pos, 0, &pv, sizeof pv);
            t_poison(y);
            CHECK_ST(mlxn_graph_replay(s, g), MLXN_OK);
            CHECK_ST(mlxn_stream_sync(s), MLXN_OK);
            t_buf_read(y, got);
            ref_rope(xv, T, H, D, H * D, 0, &pv, NULL, &sp.p, ref, theta);
            rope_bounds(&sp, xv, theta, ref, bound);
            t_check_bound("rope replay follows pos", got, ref, bound, N);
        }
    }
    mlxn_graph_destroy(g);
    mlxn_buffer_free(x), mlxn_buffer_free(y), mlxn_buffer_free(pos);
    free(xv), free(ref), free(got), free(bound), free(theta);
}

static void bad_args(mlxn_device *dev, mlxn_stream *s) {
    double z[512] = {0};
    const int64_t ne[3] = {2, 4, 8}, ne2[2] = {2, 40}, ne1[1] = {8}, nef[1] = {4}, nef3[1] = {3};
    mlxn_buffer *x = t_buf_from(dev, MLXN_TYPE_F32, 3, ne, z), *y = t_buf_from(dev, MLXN_TYPE_BF16, 3, ne, z);
    mlxn_buffer *wide = t_buf_from(dev, MLXN_TYPE_F16, 2, ne2, z), *y1 = t_buf_from(dev, MLXN_TYPE_F32, 1, ne1, z);
    mlxn_buffer *ff = t_buf_from(dev, MLXN_TYPE_F32, 1, nef, z), *ff3 = t_buf_from(dev, MLXN_TYPE_F32, 1, nef3, z);
    mlxn_buffer *ff16 = t_buf_from(dev, MLXN_TYPE_F16, 1, nef, z);
    int32_t pv[8] = {0};
    mlxn_buffer *pos = pos_buf(dev, 1, 2, pv), *pos3 = pos_buf(dev, 1, 3, pv), *pos32 = pos_buf(dev, 3, 2, pv);
    mlxn_buffer *posf = t_buf_from(dev, MLXN_TYPE_F32, 1, (int64_t[]){2}, z), *ypos = NULL;
    mlxn_buffer_view(y, 0, MLXN_TYPE_I32, 1, (int64_t[]){2}, &ypos);
    mlxn_rope_params p = mlxn_rope_defaults();
    RC_BAD(mlxn_rope(NULL, x, pos, NULL, y, NULL), "rope", "stream");
    RC_BAD(mlxn_rope(s, NULL, pos, NULL, y, NULL), "rope", "x is NULL");
    RC_BAD(mlxn_rope(s, x, NULL, NULL, y, NULL), "pos is NULL");
    RC_BAD(mlxn_rope(s, x, pos, NULL, NULL, NULL), "y is NULL");
    RC_BAD(mlxn_rope(s, x, posf, NULL, y, NULL), "pos is f32", "want i32");
    RC_BAD(mlxn_rope(s, x, pos3, NULL, y, NULL), "pos has shape [3]", "[S][2]");
    RC_BAD(mlxn_rope(s, y1, pos, NULL, y1, NULL), "y has shape [8]", "heads, head_dim");
    p.n_rot = 3;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "n_rot is 3");
    p.n_rot = 10;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "n_rot is 10", "head_dim 8");
    p.n_rot = -2;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "n_rot is -2");
    p = mlxn_rope_defaults();
    RC_BAD(mlxn_rope(s, x, pos, ff3, y, &p), "freq_factors is f32 [3]", "f32 [4]");
    RC_BAD(mlxn_rope(s, x, pos, ff16, y, &p), "freq_factors is f16");
    CHECK_ST(mlxn_rope(s, x, pos, ff, y, &p), MLXN_OK);
    p.freq_base = 1.0f;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "freq_base is 1");
    p = mlxn_rope_defaults();
    p.factor = 0;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "factor is 0");
    p = mlxn_rope_defaults();
    p.attn_factor = NAN;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "attn_factor is nan");
    p = mlxn_rope_defaults();
    p.mode = (mlxn_rope_mode)5;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "mode is 5");
    p = mlxn_rope_defaults();
    p.scaling = (mlxn_rope_scaling)9;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "scaling is 9");
    p.scaling = MLXN_ROPE_SCALING_YARN;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "n_ctx_orig is 0", "YARN");
    p.n_ctx_orig = 4096, p.beta_fast = 0;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "beta_fast 0");
    p.beta_fast = 32, p.ext_factor = INFINITY;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "ext_factor is inf");
    p = mlxn_rope_defaults();
    p.scaling = MLXN_ROPE_SCALING_LLAMA3;
    p.n_ctx_orig = 8192, p.low_freq_factor = 4;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "low_freq_factor 4", "high_freq_factor 4");
    p = mlxn_rope_defaults();
    p.sections[1] = -1;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "sections[1] is -1");
    p.sections[0] = 1, p.sections[1] = 2;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "sections sum to 3", "n_rot/2 = 4");
    p.sections[0] = 2, p.sections[1] = 1, p.sections[2] = 1;
    RC_BAD(mlxn_rope(s, x, pos, NULL, y, &p), "pos has shape [2]", "S >= 3");
    CHECK_ST(mlxn_rope(s, x, pos32, NULL, y, &p), MLXN_OK);
    p.interleaved = true, p.sections[2] = 0, p.sections[3] = 1;
    RC_BAD(mlxn_rope(s, x, pos32, NULL, y, &p), "sections[3] is 1");
    p = mlxn_rope_defaults();
    p.x_col = 9;
    RC_BAD(mlxn_rope(s, wide, pos, NULL, y, &p), "x has shape [2, 40]", "9 + 32");
    p.x_col = 8;
    CHECK_ST(mlxn_rope(s, wide, pos, NULL, y, &p), MLXN_OK);
    p.x_col = -1;
    RC_BAD(mlxn_rope(s, wide, pos, NULL, y, &p), "x_col is -1");
    RC_BAD(mlxn_rope(s, x, ypos, NULL, y, NULL), "y overlaps pos");
    CHECK_ST(mlxn_rope(s, x, pos, NULL, x, NULL), MLXN_OK); /* in place */
    mlxn_buffer *xv16 = NULL;
    mlxn_buffer_view(x, 0, MLXN_TYPE_F16, 3, (int64_t[]){2, 4, 8}, &xv16);
    RC_BAD(mlxn_rope(s, x, pos, NULL, xv16, NULL), "y overlaps x");
    mlxn_buffer_free(xv16), mlxn_buffer_free(ypos), mlxn_buffer_free(posf);
    mlxn_buffer_free(pos), mlxn_buffer_free(pos3), mlxn_buffer_free(pos32);
    mlxn_buffer_free(x), mlxn_buffer_free(y), mlxn_buffer_free(wide), mlxn_buffer_free(y1);
    mlxn_buffer_free(ff), mlxn_buffer_free(ff3), mlxn_buffer_free(ff16);
}

void t_ops_rope(mlxn_device *dev, mlxn_stream *s) {
    bad_args(dev, s);
    replay_follows_positions(dev, s);
    const mlxn_type *ft = rc_ftypes;
    uint64_t seed = 12000;
    /* T, H, D, n_rot (0: D) */
    static const int64_t shapes[][4] = {{1, 1, 2, 0},   {3, 2, 6, 4},    {7, 3, 10, 0},  {5, 32, 128, 0}, {4, 8, 128, 0},
                                        {3, 16, 256, 0}, {2, 32, 64, 0}, {33, 4, 96, 0}, {2, 32, 80, 32}, {3, 16, 256, 64},
                                        {1, 2, 512, 0}, {2, 3, 40, 24}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (int mode = 0; mode < 2; mode++)
            for (int tx = 0; tx < 3; tx++)
                for (int ty = 0; ty < 3; ty++) {
                    const bool big = shapes[k][1] * shapes[k][2] >= 2048;
                    if (big && tx != ty && (tx + ty + mode) % 3) continue;
                    rope_spec sp = {.T = shapes[k][0], .H = shapes[k][1], .D = shapes[k][2], .streams = 1,
                                    .tx = ft[tx], .ty = ft[ty], .max_pos = (tx + ty) % 3 == 2 ? 131072 : 4096};
                    sp.p = mlxn_rope_defaults();
                    sp.p.mode = mode ? MLXN_ROPE_NEOX : MLXN_ROPE_NORMAL;
                    sp.p.n_rot = shapes[k][3];
                    sp.p.freq_base = k % 2 ? 1000000.0f : 10000.0f;
                    rope_run(dev, s, &sp, seed++);
                }
    /* scalings, frequency factors, in place, views, windows: on Llama- and Qwen-like heads */
    for (int t = 0; t < 3; t++)
        for (int mode = 0; mode < 2; mode++) {
            rope_spec b = {.T = 6, .H = 8, .D = 128, .streams = 1, .tx = ft[t], .ty = ft[(t + mode) % 3], .max_pos = 32768};
            b.p = mlxn_rope_defaults();
            b.p.mode = mode ? MLXN_ROPE_NEOX : MLXN_ROPE_NORMAL;
            b.p.freq_base = 500000.0f;
            rope_spec sp = b;
            sp.p.scaling = MLXN_ROPE_SCALING_LINEAR, sp.p.factor = 4.0f;
            rope_run(dev, s, &sp, seed++);
            sp = b; /* YaRN, Qwen2.5-style: factor 4 over a 32k context; then without ext_factor */
            sp.p.scaling = MLXN_ROPE_SCALING_YARN, sp.p.factor = 4.0f, sp.p.n_ctx_orig = 32768, sp.p.attn_factor = 0.9f;
            sp.p.freq_base = 1000000.0f, sp.max_pos = 131072;
            rope_run(dev, s, &sp, seed++);
            sp.p.ext_factor = 0.0f, sp.p.beta_fast = 16, sp.p.beta_slow = 2;
            rope_run(dev, s, &sp, seed++);
            sp = b; /* Llama 3.1 */
            sp.p.scaling = MLXN_ROPE_SCALING_LLAMA3, sp.p.factor = 8.0f, sp.p.n_ctx_orig = 8192;
            rope_run(dev, s, &sp, seed++);
            sp = b; /* its GGUF form: precomputed rope_freqs */
            sp.ff = true;
            rope_run(dev, s, &sp, seed++);
            sp.inplace = true, sp.ty = sp.tx;
            rope_run(dev, s, &sp, seed++);
            sp = b;
            sp.off = 1 + t, sp.p.n_rot = 96;
            rope_run(dev, s, &sp, seed++);
            /* q and k inside a fused QKV row [T][(32 + 8 + 8)·128]: k's heads at 32·128 */
            sp = b;
            sp.S = 48 * 128, sp.x_col = 32 * 128;
            rope_run(dev, s, &sp, seed++);
            sp.H = 32, sp.x_col = 0, sp.off = 2;
            rope_run(dev, s, &sp, seed++);
            sp.H = 3, sp.D = 10, sp.S = 57, sp.x_col = 13, sp.off = 0; /* ragged */
            rope_run(dev, s, &sp, seed++);
        }
    /* multi-section: Qwen2-VL [16, 24, 24], Qwen3-VL [24, 20, 20] interleaved, Qwen3.5's
     * [11, 11, 10] interleaved over 64 of 256 dims; [3][T] and ggml's [4][T] positions */
    for (int t = 0; t < 3; t++) {
        rope_spec sp = {.T = 9, .H = 4, .D = 128, .streams = 3 + (t == 1), .tx = ft[t], .ty = ft[(t + 1) % 3],
                        .max_pos = 8192};
        sp.p = mlxn_rope_defaults();
        sp.p.mode = MLXN_ROPE_NEOX, sp.p.freq_base = 1000000.0f;
        sp.p.sections[0] = 16, sp.p.sections[1] = 24, sp.p.sections[2] = 24;
        rope_run(dev, s, &sp, seed++);
        sp.p.interleaved = true, sp.p.sections[0] = 24, sp.p.sections[1] = 20, sp.p.sections[2] = 20;
        rope_run(dev, s, &sp, seed++);
        sp.D = 256, sp.p.n_rot = 64, sp.p.sections[0] = 11, sp.p.sections[1] = 11, sp.p.sections[2] = 10, sp.H = 2;
        rope_run(dev, s, &sp, seed++);
        sp.p.interleaved = false, sp.p.mode = MLXN_ROPE_NORMAL, sp.streams = 4;
        sp.p.sections[0] = 8, sp.p.sections[1] = 8, sp.p.sections[2] = 8, sp.p.sections[3] = 8;
        rope_run(dev, s, &sp, seed++);
    }
    rc_report("rope", &worst);
}
