/* Sampling cases: argmax and top-k against the float64 order (ties, NaN, ±inf included) on
 * tiny, ragged and real vocabularies (49152, 151936, 262144); the draw's distribution against
 * the float64 oracle over 4096 independent rows per setting (temperature, top-k, top-p,
 * min-p, penalties over shared and per-row windows); greedy with penalties; the same token
 * on the CPU and on CUDA for real vocabularies; graph replay that advances the step and
 * follows rewritten logits; the deterministic arithmetic (Philox known answer, exp); the
 * argument checks.
 *
 * Tolerances: argmax, top-k and greedy are exact (indices equal; top-k values equal the
 * logits rounded to the values' type). A draw's frequency over N rows must be within
 * 5·sqrt(p(1-p)/N) + 2/N of the oracle's p, and tokens the oracle drops never appear:
 * the oracle is exact up to f32 rounding of z and of exp (relative 2^-22), far below that. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "ops/sample.h"
#include "ops_cases.h"
#include "ref/ref.h"

static const mlxn_type ftypes[3] = {MLXN_TYPE_F32, MLXN_TYPE_F16, MLXN_TYPE_BF16};

static mlxn_buffer *i32_buf(mlxn_device *dev, int ndim, const int64_t *ne, const int32_t *v) {
    mlxn_buffer *b = NULL;
    if (!CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_I32, ndim, ne, &b), MLXN_OK)) return NULL;
    if (v && mlxn_buffer_bytes(b)) CHECK_ST(mlxn_buffer_write(b, 0, v, mlxn_buffer_bytes(b)), MLXN_OK);
    return b;
}

static mlxn_buffer *rng_buf(mlxn_device *dev, int64_t seed, int64_t step) {
    mlxn_buffer *b = NULL;
    int64_t two = 2, v[2] = {seed, step};
    if (!CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_I64, 1, &two, &b), MLXN_OK)) return NULL;
    CHECK_ST(mlxn_buffer_write(b, 0, v, sizeof v), MLXN_OK);
    return b;
}

static int32_t *read_i32(const mlxn_buffer *b) {
    const size_t n = mlxn_buffer_bytes(b);
    int32_t *v = malloc(n + 4);
    CHECK_ST(mlxn_buffer_read(b, 0, v, n), MLXN_OK);
    return v;
}

/* ── the deterministic arithmetic ── */

static void smp_units(void) {
    /* Random123's known answer for Philox4x32-10: counter 0, key 0 */
    CHECK(mlxn_smp_philox(0, 0, 0) == 0x6627e8d5e169c58dull, "philox(0, 0, 0) = %016llx, want 6627e8d5e169c58d",
          (unsigned long long)mlxn_smp_philox(0, 0, 0));
    double worst = 0;
    for (int i = 0; i <= 280000; i++) {
        const float x = -28.0f * (float)i / 280000.0f;
        const double rel = fabs(mlxn_smp_exp(x) - exp((double)x)) / exp((double)x);
        worst = rel > worst ? rel : worst;
    }
    CHECK(worst <= 0x1p-22, "mlxn_smp_exp: relative error %.3g over [-28, 0], want <= 2^-22", worst);
    CHECK(mlxn_smp_exp(0.0f) == 1.0f && mlxn_smp_mass(1.0f) == (1ull << 40) && mlxn_smp_exp(-29.0f) == 0.0f &&
              mlxn_smp_exp(NAN) == 0.0f,
          "mlxn_smp_exp/mass: exp(0) = 1 with mass 2^40, 0 below -28 and for NaN");
    CHECK(mlxn_smp_key(-0.0f) == mlxn_smp_key(0.0f) && mlxn_smp_key(NAN) == mlxn_smp_key(-INFINITY) &&
              mlxn_smp_key(-1.0f) < mlxn_smp_key(-0.5f) && mlxn_smp_key(0.5f) < mlxn_smp_key(INFINITY) &&
              mlxn_smp_unkey(mlxn_smp_key(-3.25f)) == -3.25f,
          "mlxn_smp_key: the float order, NaN as -inf, -0 as +0");
    CHECK(mlxn_smp_top_p_need(10, 0.55f) == 6 && mlxn_smp_top_p_need(10, 1.0f) == 10 &&
              mlxn_smp_mulhi64(~0ull, 1000) == 999,
          "top_p_need / mulhi64");
}

/* ── argmax and top-k ── */

typedef struct sel_case {
    mlxn_buffer *x, *values, *idx;
    int top_k; /* 0: argmax */
} sel_case;

static mlxn_status sel_op(mlxn_stream *s, void *ctx) {
    sel_case *c = ctx;
    return c->top_k ? mlxn_top_k(s, c->x, c->values, c->idx, NULL) : mlxn_argmax(s, c->x, c->idx, NULL);
}

/* kind 0: normal values; 1: few distinct values (ties); 2: specials (NaN, ±inf) sprinkled */
static void sel_run(mlxn_device *dev, mlxn_stream *s, mlxn_type tl, mlxn_type tv, int64_t rows, int64_t v, int k,
                    int kind, uint64_t seed) {
    char name[160];
    snprintf(name, sizeof name, "%s %s [%lld][%lld]%s seed=%llu", k ? "top_k" : "argmax", mlxn_type_name(tl),
             (long long)rows, (long long)v, kind == 1 ? " ties" : kind == 2 ? " specials" : "", (unsigned long long)seed);
    if (k) snprintf(name + strlen(name), sizeof name - strlen(name), " k=%d", k);
    t_rng r = {seed};
    double *x = malloc(sizeof(double) * (size_t)(rows * v));
    for (int64_t i = 0; i < rows * v; i++) {
        x[i] = kind == 1 ? (double)(t_rng_u64(&r) % 5) : 4.0 * t_rng_normal(&r);
        if (kind == 2) {
            uint64_t u = t_rng_u64(&r) % 16;
            x[i] = u == 0 ? NAN : u == 1 ? -INFINITY : x[i];
        }
    }
    if (kind == 2 && rows > 1) x[v + v / 2] = INFINITY; /* row 1 holds +inf once */
    if (kind == 2) x[0] = NAN;
    sel_case c = {.top_k = k};
    int64_t xne[2] = {rows, v}, one = k ? k : 1, ine[2] = {rows, one};
    c.x = t_buf_from(dev, tl, 2, xne, x); /* x now holds the rounded values */
    c.idx = i32_buf(dev, k ? 2 : 1, k ? ine : &rows, NULL);
    if (k && tv != MLXN_TYPE_COUNT) CHECK_ST(mlxn_buffer_alloc(dev, tv, 2, ine, &c.values), MLXN_OK);
    if (c.values) t_poison(c.values);
    double *junk = malloc(sizeof(double) * (size_t)(rows * one) + 8);
    if (c.x && c.idx && t_run_eager_and_replay(name, s, NULL, sel_op, &c, c.idx, junk)) {
        int32_t *got = read_i32(c.idx);
        int64_t *want = malloc(sizeof(int64_t) * (size_t)one);
        double *vals = malloc(sizeof(double) * (size_t)(rows * one)), *vref = malloc(sizeof(double) * (size_t)(rows * one));
        double *zero = calloc((size_t)(rows * one), sizeof(double));
        int64_t wrong = -1;
        for (int64_t row = 0; row < rows; row++) {
            if (k) ref_top_k(x + row * v, v, k, want);
            else want[0] = ref_argmax(x + row * v, v);
            for (int j = 0; j < one; j++) {
                if (got[row * one + j] != want[j] && wrong < 0) wrong = row * one + j;
                vref[row * one + j] = ref_round(x[row * v + want[j]], tv);
            }
        }
        CHECK(wrong < 0, "%s: index [%lld] is %d, want %lld", name, (long long)(wrong < 0 ? 0 : wrong),
              wrong < 0 ? 0 : got[wrong], wrong < 0 ? 0LL : (long long)want[wrong % one]);
        if (c.values && t_buf_read(c.values, vals)) {
            for (int64_t i = 0; i < rows * one; i++) /* NaN slots: compare as the same NaN */
                if (vref[i] != vref[i] && vals[i] != vals[i]) vref[i] = vals[i] = 0;
            t_check_bound(name, vals, vref, zero, rows * one);
        }
        free(got), free(want), free(vals), free(vref), free(zero);
    }
    mlxn_buffer_free(c.x), mlxn_buffer_free(c.idx), mlxn_buffer_free(c.values);
    free(x), free(junk);
}

/* ── the draw ── */

typedef struct draw_case {
    mlxn_buffer *logits, *recent, *rng, *token;
    mlxn_sample_params p;
    int64_t seed, step; /* rng's contents restored before each run */
} draw_case;

static void draw_prep(void *ctx) {
    draw_case *c = ctx;
    int64_t v[2] = {c->seed, c->step};
    mlxn_buffer_write(c->rng, 0, v, sizeof v);
}

static mlxn_status draw_op(mlxn_stream *s, void *ctx) {
    draw_case *c = ctx;
    return mlxn_sample(s, c->logits, c->recent, c->rng, c->token, &c->p);
}

static double *rand_logits(t_rng *r, int64_t v, double sd) {
    double *x = malloc(sizeof(double) * (size_t)v);
    for (int64_t i = 0; i < v; i++) x[i] = sd * t_rng_normal(r);
    return x;
}

/* The same row of v logits in n rows, one draw each (independent: the row is in the RNG's
 * counter); frequencies against ref_sample_probs. recent: [w] shared by every row. */
static void draw_stats(mlxn_device *dev, mlxn_stream *s, mlxn_type tl, int64_t v, const int32_t *recent, int64_t w,
                       mlxn_sample_params p, uint64_t seed) {
    char name[224];
    snprintf(name, sizeof name, "sample stats %s V=%lld T=%g top_k=%d top_p=%g min_p=%g rep=%g pres=%g freq=%g w=%lld seed=%llu",
             mlxn_type_name(tl), (long long)v, p.temperature, p.top_k, p.top_p, p.min_p, p.repetition_penalty,
             p.presence_penalty, p.frequency_penalty, (long long)w, (unsigned long long)seed);
    const int64_t n = 4096;
    t_rng r = {seed};
    double *row = rand_logits(&r, v, 1.5), *x = malloc(sizeof(double) * (size_t)(n * v));
    for (int64_t i = 0; i < n; i++) memcpy(x + i * v, row, sizeof(double) * (size_t)v);
    draw_case c = {.p = p, .seed = (int64_t)seed, .step = 3};
    int64_t xne[2] = {n, v};
    c.logits = t_buf_from(dev, tl, 2, xne, x);
    memcpy(row, x, sizeof(double) * (size_t)v); /* the rounded row */
    c.recent = w ? i32_buf(dev, 1, &w, recent) : NULL;
    c.rng = rng_buf(dev, c.seed, c.step);
    c.token = i32_buf(dev, 1, &n, NULL);
    double *prob = malloc(sizeof(double) * (size_t)v), *junk = malloc(sizeof(double) * (size_t)n);
    ref_sample_probs(row, v, recent, w, p.temperature, p.top_k, p.top_p, p.min_p, p.repetition_penalty,
                     p.presence_penalty, p.frequency_penalty, prob);
    if (c.logits && c.token && c.rng && t_run_eager_and_replay(name, s, draw_prep, draw_op, &c, c.token, junk)) {
        int32_t *tok = read_i32(c.token);
        int64_t *cnt = calloc((size_t)v, sizeof(int64_t)), bad_tok = 0, worst = -1;
        for (int64_t i = 0; i < n; i++) {
            if (tok[i] < 0 || tok[i] >= v) bad_tok++;
            else cnt[tok[i]]++;
        }
        double worst_ratio = 0;
        for (int64_t i = 0; i < v; i++) {
            const double f = (double)cnt[i] / (double)n, tol = 5 * sqrt(prob[i] * (1 - prob[i]) / (double)n) + 2.0 / (double)n;
            const double ratio = prob[i] == 0 ? (cnt[i] ? INFINITY : 0) : fabs(f - prob[i]) / tol;
            if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
        }
        CHECK(bad_tok == 0 && worst_ratio <= 1.0, "%s: %lld tokens out of range; token %lld drawn %lld/%lld times, p = %.5f",
              name, (long long)bad_tok, (long long)worst, worst < 0 ? 0LL : (long long)cnt[worst], (long long)n,
              worst < 0 ? 0.0 : prob[worst]);
        /* rows draw independently: neighbours agree as often as two independent draws would */
        double q = 0;
        int64_t same = 0;
        for (int64_t i = 0; i < v; i++) q += prob[i] * prob[i];
        for (int64_t i = 0; i + 1 < n; i++) same += tok[i] == tok[i + 1];
        const double fs = (double)same / (double)(n - 1), tq = 5 * sqrt(q * (1 - q) / (double)(n - 1)) + 2.0 / (double)n;
        CHECK(fabs(fs - q) <= tq, "%s: neighbouring rows drew the same token %.4f of the time, want %.4f +- %.4f", name, fs,
              q, tq);
        int64_t st[2];
        CHECK_ST(mlxn_buffer_read(c.rng, 0, st, sizeof st), MLXN_OK);
        CHECK(st[0] == c.seed && st[1] == c.step + (p.advance ? 1 : 0), "%s: rng is {%lld, %lld} after the draw", name,
              (long long)st[0], (long long)st[1]);
        free(tok), free(cnt);
    }
    mlxn_buffer_free(c.logits), mlxn_buffer_free(c.recent), mlxn_buffer_free(c.rng), mlxn_buffer_free(c.token);
    free(row), free(x), free(prob), free(junk);
}

/* Greedy with penalties over per-row windows: row r's token is the argmax of its penalized
 * logits (computed here in float64). */
static void draw_greedy(mlxn_device *dev, mlxn_stream *s, mlxn_type tl, int64_t rows, int64_t v, int64_t w, uint64_t seed) {
    char name[128];
    snprintf(name, sizeof name, "sample greedy+penalties %s [%lld][%lld] w=%lld seed=%llu", mlxn_type_name(tl),
             (long long)rows, (long long)v, (long long)w, (unsigned long long)seed);
    t_rng r = {seed};
    double *x = rand_logits(&r, rows * v, 2.0);
    int32_t *rec = malloc(sizeof(int32_t) * (size_t)(rows * w));
    draw_case c = {.p = mlxn_sample_defaults(), .seed = 1, .step = 0};
    c.p.temperature = 0, c.p.repetition_penalty = 1.7f, c.p.presence_penalty = 0.25f, c.p.frequency_penalty = 0.125f;
    int64_t xne[2] = {rows, v}, rne[2] = {rows, w};
    c.logits = t_buf_from(dev, tl, 2, xne, x);
    for (int64_t row = 0; row < rows; row++) /* the row's top tokens, some twice, and empty slots */
        for (int64_t e = 0; e < w; e++) {
            int64_t top = ref_argmax(x + row * v, v);
            rec[row * w + e] = e % 5 == 4 ? -1 : e % 3 == 0 ? (int32_t)top : (int32_t)(t_rng_u64(&r) % (uint64_t)v);
        }
    c.recent = i32_buf(dev, 2, rne, rec);
    c.rng = rng_buf(dev, 1, 0);
    c.token = i32_buf(dev, 1, &rows, NULL);
    double *junk = malloc(sizeof(double) * (size_t)rows), *pen = malloc(sizeof(double) * (size_t)v);
    if (c.logits && c.recent && t_run_eager_and_replay(name, s, draw_prep, draw_op, &c, c.token, junk)) {
        int32_t *tok = read_i32(c.token);
        int64_t wrong = -1, want = 0;
        for (int64_t row = 0; row < rows && wrong < 0; row++) {
            for (int64_t i = 0; i < v; i++) {
                double l = x[row * v + i];
                int64_t cnt = 0;
                for (int64_t e = 0; e < w; e++) cnt += rec[row * w + e] == i;
                if (cnt) l = (l > 0 ? l / 1.7 : l * 1.7) - (cnt * 0.125 + 0.25);
                pen[i] = l;
            }
            want = ref_argmax(pen, v);
            if (tok[row] != want) wrong = row;
        }
        CHECK(wrong < 0, "%s: row %lld token %d, want %lld", name, (long long)wrong, wrong < 0 ? 0 : tok[wrong],
              (long long)want);
        free(tok);
    }
    mlxn_buffer_free(c.logits), mlxn_buffer_free(c.recent), mlxn_buffer_free(c.rng), mlxn_buffer_free(c.token);
    free(x), free(rec), free(junk), free(pen);
}

/* The penalty arithmetic, exactly: row r's token 0 (logit L, seen c times in its window) is
 * penalized to P (float64); token 1 sits just below P in even rows (token 0 must win) and
 * just above it in odd rows (token 1 must win); greedy. */
static void draw_penalty_exact(mlxn_device *dev, mlxn_stream *s) {
    static const double ls[] = {2.0, 0.5, -0.75, -3.0, 7.25};
    static const int cs[] = {1, 2, 3, 5};
    const float reps[] = {1.0f, 1.25f, 0.8f}, pres[] = {0.0f, 0.5f}, freqs[] = {0.0f, 0.375f};
    const int64_t v = 4, w = 6;
    int64_t rows = 0;
    double x[2 * 5 * 4 * 3 * 2 * 2 * 4];
    int32_t rec[2 * 5 * 4 * 3 * 2 * 2 * 6];
    float pr[2 * 5 * 4 * 3 * 2 * 2 * 3];
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 4; b++)
            for (int q = 0; q < 3; q++)
                for (int e = 0; e < 2; e++)
                    for (int f = 0; f < 2; f++)
                        for (int side = 0; side < 2; side++, rows++) {
                            const double l = ls[a];
                            double pen = l > 0 ? l / reps[q] : l * reps[q];
                            pen -= cs[b] * (double)freqs[f] + pres[e];
                            x[rows * v] = l, x[rows * v + 1] = pen + (side ? 1e-3 : -1e-3), x[rows * v + 2] = -20,
                                       x[rows * v + 3] = -30;
                            for (int k = 0; k < w; k++) rec[rows * w + k] = k < cs[b] ? 0 : k == w - 1 ? 3 : -1;
                            pr[rows * 3] = reps[q], pr[rows * 3 + 1] = pres[e], pr[rows * 3 + 2] = freqs[f];
                        }
    /* one call per penalty setting (the parameters are per call), every row of that setting */
    int64_t wrong = 0, tried = 0;
    for (int64_t r0 = 0; r0 < rows; r0 += 2) {
        draw_case c = {.p = mlxn_sample_defaults(), .seed = 1, .step = 0};
        c.p.temperature = 0, c.p.repetition_penalty = pr[r0 * 3], c.p.presence_penalty = pr[r0 * 3 + 1];
        c.p.frequency_penalty = pr[r0 * 3 + 2];
        const int64_t two = 2, xne[2] = {2, v}, rne[2] = {2, w};
        double xv[8];
        memcpy(xv, x + r0 * v, sizeof xv);
        c.logits = t_buf_from(dev, MLXN_TYPE_F32, 2, xne, xv);
        c.recent = i32_buf(dev, 2, rne, rec + r0 * w);
        c.rng = rng_buf(dev, 1, 0);
        c.token = i32_buf(dev, 1, &two, NULL);
        if (c.logits && c.recent && c.rng && c.token && CHECK_ST(draw_op(s, &c), MLXN_OK) &&
            CHECK_ST(mlxn_stream_sync(s), MLXN_OK)) {
            int32_t *tok = read_i32(c.token);
            wrong += (tok[0] != 0) + (tok[1] != 1);
            tried += 2;
            free(tok);
        }
        mlxn_buffer_free(c.logits), mlxn_buffer_free(c.recent), mlxn_buffer_free(c.rng), mlxn_buffer_free(c.token);
    }
    CHECK(wrong == 0, "sample penalties: %lld of %lld rows picked against the float64 penalized logit (margin 1e-3)",
          (long long)wrong, (long long)tried);
}

/* On CUDA: the same draw on the CPU backend must give the same tokens (real vocabularies,
 * every filter); both must lie where the oracle's probability is not 0. */
static void draw_cross(mlxn_device *dev, mlxn_stream *s, mlxn_device *cpu, mlxn_stream *cs, mlxn_type tl, int64_t rows,
                       int64_t v, mlxn_sample_params p, bool ties, uint64_t seed) {
    char name[224];
    snprintf(name, sizeof name, "sample cpu=cuda %s [%lld][%lld]%s T=%g top_k=%d top_p=%g min_p=%g rep=%g seed=%llu",
             mlxn_type_name(tl), (long long)rows, (long long)v, ties ? " ties" : "", p.temperature, p.top_k, p.top_p,
             p.min_p, p.repetition_penalty, (unsigned long long)seed);
    t_rng r = {seed};
    double *x = rand_logits(&r, rows * v, 3.0);
    if (ties)
        for (int64_t i = 0; i < rows * v; i++) x[i] = floor(x[i] * 2) / 2;
    const int64_t w = 64;
    int32_t rec[64];
    for (int e = 0; e < w; e++) rec[e] = (int32_t)(t_rng_u64(&r) % (uint64_t)v);
    int64_t xne[2] = {rows, v};
    mlxn_device *devs[2] = {dev, cpu};
    mlxn_stream *ss[2] = {s, cs};
    int32_t *tok[2] = {NULL, NULL};
    int64_t after[2][2] = {{0}};
    for (int q = 0; q < 2; q++) {
        double *xq = malloc(sizeof(double) * (size_t)(rows * v));
        memcpy(xq, x, sizeof(double) * (size_t)(rows * v));
        mlxn_buffer *lg = t_buf_from(devs[q], tl, 2, xne, xq), *rc = i32_buf(devs[q], 1, &w, rec);
        mlxn_buffer *rng = rng_buf(devs[q], (int64_t)seed, 41), *t = i32_buf(devs[q], 1, &rows, NULL);
        if (q == 0) memcpy(x, xq, sizeof(double) * (size_t)(rows * v));
        if (lg && rc && rng && t && CHECK_ST(mlxn_sample(ss[q], lg, rc, rng, t, &p), MLXN_OK) &&
            CHECK_ST(mlxn_stream_sync(ss[q]), MLXN_OK)) {
            tok[q] = read_i32(t);
            CHECK_ST(mlxn_buffer_read(rng, 0, after[q], 16), MLXN_OK);
        }
        mlxn_buffer_free(lg), mlxn_buffer_free(rc), mlxn_buffer_free(rng), mlxn_buffer_free(t);
        free(xq);
    }
    if (tok[0] && tok[1]) {
        int64_t diff = -1, outside = -1;
        double *prob = malloc(sizeof(double) * (size_t)v);
        for (int64_t row = 0; row < rows; row++) {
            if (tok[0][row] != tok[1][row] && diff < 0) diff = row;
            if (p.temperature > 0) {
                ref_sample_probs(x + row * v, v, rec, w, p.temperature, p.top_k, p.top_p, p.min_p, p.repetition_penalty,
                                 p.presence_penalty, p.frequency_penalty, prob);
                if ((tok[0][row] < 0 || tok[0][row] >= v || prob[tok[0][row]] == 0) && outside < 0) outside = row;
            }
        }
        CHECK(diff < 0, "%s: row %lld: cuda drew %d, the cpu %d", name, (long long)diff, diff < 0 ? 0 : tok[0][diff],
              diff < 0 ? 0 : tok[1][diff]);
        CHECK(outside < 0, "%s: row %lld drew token %d, which the oracle drops", name, (long long)outside,
              outside < 0 ? 0 : tok[0][outside]);
        CHECK(after[0][1] == after[1][1], "%s: steps after the draw differ", name);
        free(prob);
    }
    free(tok[0]), free(tok[1]), free(x);
}

/* A recorded draw with advance: each replay draws at the next step (the tokens match eager
 * draws at those steps), and replays follow logits rewritten between them. */
static void draw_replay(mlxn_device *dev, mlxn_stream *s, uint64_t seed) {
    const int64_t v = 1000, one = 1;
    t_rng r = {seed};
    double *x = rand_logits(&r, v, 1.0), *x2 = rand_logits(&r, v, 1.0);
    for (int64_t i = 0; i < v; i++) x2[i] = -x2[i] * 3; /* another distribution */
    mlxn_sample_params p = mlxn_sample_defaults();
    p.top_p = 0.9f;
    mlxn_buffer *lg = t_buf_from(dev, MLXN_TYPE_F32, 1, &v, x), *lg2 = t_buf_from(dev, MLXN_TYPE_F32, 1, &v, x2);
    mlxn_buffer *rng = rng_buf(dev, 1234, 10), *t = i32_buf(dev, 1, &one, NULL);
    int32_t eager[6], replayed[6];
    p.advance = false; /* eager references at steps 10..15, logits x for 0..2 and x2 for 3..5 */
    for (int i = 0; i < 6; i++) {
        int64_t st[2] = {1234, 10 + i};
        mlxn_buffer_write(rng, 0, st, 16);
        CHECK_ST(mlxn_sample(s, i < 3 ? lg : lg2, NULL, rng, t, &p), MLXN_OK);
        mlxn_stream_sync(s);
        mlxn_buffer_read(t, 0, &eager[i], 4);
    }
    int64_t st0[2] = {1234, 10};
    mlxn_buffer_write(rng, 0, st0, 16);
    p.advance = true;
    mlxn_graph *g = NULL;
    mlxn_buffer *live = NULL; /* the graph reads `live`, rewritten from lg or lg2 between replays */
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, &v, &live);
    mlxn_buffer_copy(live, 0, lg, 0, (size_t)v * 4);
    CHECK_ST(mlxn_graph_begin(s), MLXN_OK);
    CHECK_ST(mlxn_sample(s, live, NULL, rng, t, &p), MLXN_OK);
    CHECK_ST(mlxn_graph_end(s, &g), MLXN_OK);
    for (int i = 0; i < 6 && g; i++) {
        if (i == 3) mlxn_buffer_copy(live, 0, lg2, 0, (size_t)v * 4);
        CHECK_ST(mlxn_graph_replay(s, g), MLXN_OK);
        CHECK_ST(mlxn_stream_sync(s), MLXN_OK);
        mlxn_buffer_read(t, 0, &replayed[i], 4);
    }
    int64_t st[2];
    mlxn_buffer_read(rng, 0, st, 16);
    bool same = true, varied = false;
    for (int i = 0; i < 6; i++) same &= eager[i] == replayed[i], varied |= eager[i] != eager[0];
    CHECK(same && st[1] == 16 && varied,
          "sample replay: tokens %d %d %d %d %d %d, eager %d %d %d %d %d %d, step %lld (want 16), draws should vary",
          replayed[0], replayed[1], replayed[2], replayed[3], replayed[4], replayed[5], eager[0], eager[1], eager[2],
          eager[3], eager[4], eager[5], (long long)st[1]);
    mlxn_graph_destroy(g);
    mlxn_buffer_free(lg), mlxn_buffer_free(lg2), mlxn_buffer_free(rng), mlxn_buffer_free(t), mlxn_buffer_free(live);
    free(x), free(x2);
}

static void bad(mlxn_status st, mlxn_status want, const char *op, const char *arg, const char *what) {
    CHECK(st == want && strstr(mlxn_last_error(), op) && strstr(mlxn_last_error(), arg),
          "%s %s: got %s (%s), want %s naming %s", op, what, mlxn_status_str(st), mlxn_last_error(), mlxn_status_str(want),
          arg);
}

static void smp_bad_args(mlxn_device *dev, mlxn_stream *s) {
    const mlxn_status E = MLXN_ERR_INVALID_ARG;
    int64_t lne[2] = {2, 100}, l3[3] = {1, 2, 100}, two = 2, three = 3, kne[2] = {2, 5}, kbig[2] = {2, 101};
    int64_t k2000[2] = {1, 2000}, v3000 = 3000, w5 = 5;
    mlxn_buffer *lg = NULL, *lg3 = NULL, *lgi = NULL, *tok = NULL, *tok3 = NULL, *tokf = NULL, *idx = NULL, *idxb = NULL;
    mlxn_buffer *idx2k = NULL, *lg3k = NULL, *vals = NULL, *valq = NULL, *rng = NULL, *rng32 = NULL, *rec = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, lne, &lg);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 3, l3, &lg3);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 2, lne, &lgi);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 1, &two, &tok);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 1, &three, &tok3);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, &two, &tokf);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 2, kne, &idx);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 2, kbig, &idxb);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 2, k2000, &idx2k);
    mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 1, &v3000, &lg3k);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 2, kne, &vals);
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q8_0, 2, (int64_t[2]){2, 32}, &valq);
    rng = rng_buf(dev, 1, 0);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 1, &two, &rng32);
    int32_t rv[5] = {1, 2, 100, -1, 3};
    rec = i32_buf(dev, 1, &w5, rv);
    bad(mlxn_argmax(NULL, lg, tok, NULL), E, "argmax", "stream", "NULL stream");
    bad(mlxn_argmax(s, NULL, tok, NULL), E, "argmax", "logits is NULL", "NULL logits");
    bad(mlxn_argmax(s, lg3, tok, NULL), E, "argmax", "logits has shape [1, 2, 100]", "3-D logits");
    bad(mlxn_argmax(s, lgi, tok, NULL), E, "argmax", "logits is i32", "i32 logits");
    bad(mlxn_argmax(s, lg, tok3, NULL), E, "argmax", "idx has shape [3]", "idx of other rows");
    bad(mlxn_argmax(s, lg, tokf, NULL), E, "argmax", "idx is f32", "f32 idx");
    bad(mlxn_top_k(s, lg, NULL, idxb, NULL), E, "top_k", "k=101", "k > V");
    bad(mlxn_top_k(s, lg3k, NULL, idx2k, NULL), MLXN_ERR_UNSUPPORTED, "top_k", "k=2000", "k > 1024");
    bad(mlxn_top_k(s, lg, valq, idx, NULL), E, "top_k", "values is q8_0", "q8_0 values");
    bad(mlxn_top_k(s, lg, vals, NULL, NULL), E, "top_k", "indices is NULL", "NULL indices");
    mlxn_sample_params p = mlxn_sample_defaults();
    bad(mlxn_sample(s, lg, NULL, rng32, tok, &p), E, "sample", "rng is i32", "i32 rng");
    bad(mlxn_sample(s, lg, NULL, NULL, tok, &p), E, "sample", "rng is NULL", "NULL rng");
    bad(mlxn_sample(s, lg, lg, rng, tok, &p), E, "sample", "recent is f32", "f32 recent");
    p.top_p = 0;
    bad(mlxn_sample(s, lg, NULL, rng, tok, &p), E, "sample", "top_p=0", "top_p 0");
    p = mlxn_sample_defaults(), p.min_p = 1.5f;
    bad(mlxn_sample(s, lg, NULL, rng, tok, &p), E, "sample", "min_p=1.5", "min_p 1.5");
    p = mlxn_sample_defaults(), p.temperature = NAN;
    bad(mlxn_sample(s, lg, NULL, rng, tok, &p), E, "sample", "temperature is NaN", "NaN temperature");
    p = mlxn_sample_defaults(), p.repetition_penalty = 0;
    bad(mlxn_sample(s, lg, NULL, rng, tok, &p), E, "sample", "repetition_penalty=0", "zero repetition penalty");
    p = mlxn_sample_defaults(), p.top_k = -2;
    bad(mlxn_sample(s, lg, NULL, rng, tok, &p), E, "sample", "top_k=-2", "negative top_k");
    p = mlxn_sample_defaults(), p.repetition_penalty = 1.1f;
    mlxn_device_props pr;
    mlxn_device_info(dev, &pr);
    mlxn_status st = mlxn_sample(s, lg, rec, rng, tok, &p); /* recent[2] = 100 is not a token id */
    if (pr.backend == MLXN_BACKEND_CPU) bad(st, E, "sample", "recent[2] = 100", "recent id >= V");
    else CHECK_ST(st, MLXN_OK); /* ignored on the device */
    mlxn_stream_sync(s);
    mlxn_buffer *bufs[] = {lg, lg3, lgi, tok, tok3, tokf, idx, idxb, idx2k, lg3k, vals, valq, rng, rng32, rec};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mlxn_buffer_free(bufs[i]);
}

void t_ops_sample(mlxn_device *dev, mlxn_stream *s) {
    uint64_t seed = 11000;
    smp_units();
    static const int64_t vs[] = {1, 7, 33, 257, 4097, 49152, 151936, 262144};
    for (size_t k = 0; k < sizeof vs / sizeof vs[0]; k++)
        for (int t = 0; t < 3; t++) {
            const int64_t rows = vs[k] >= 49152 ? 1 : 3;
            sel_run(dev, s, ftypes[t], MLXN_TYPE_COUNT, rows, vs[k], 0, (int)(k + (size_t)t) % 3, seed++);
            static const int ks[] = {1, 5, 40, 1024};
            for (int q = 0; q < 4; q++)
                if (ks[q] <= vs[k] && (q < 2 || vs[k] >= 4097 || t == 0))
                    sel_run(dev, s, ftypes[t], ftypes[(t + q) % 3], rows, vs[k], ks[q], (int)(k + (size_t)q) % 3, seed++);
        }
    const mlxn_sample_params d = mlxn_sample_defaults();
    mlxn_sample_params p = d;
    static const int32_t rec[6] = {3, 3, 7, -1, 12, 0}, rec7[6] = {3, 3, 6, -1, 2, 0};
    draw_stats(dev, s, MLXN_TYPE_F32, 33, NULL, 0, p, seed++);
    p.temperature = 0.7f, p.top_k = 5;
    draw_stats(dev, s, MLXN_TYPE_BF16, 33, NULL, 0, p, seed++);
    p = d, p.top_p = 0.8f;
    draw_stats(dev, s, MLXN_TYPE_F16, 33, NULL, 0, p, seed++);
    p = d, p.min_p = 0.1f, p.advance = false;
    draw_stats(dev, s, MLXN_TYPE_F32, 257, NULL, 0, p, seed++);
    p = d, p.temperature = 1.3f, p.top_k = 10, p.top_p = 0.9f, p.min_p = 0.05f, p.repetition_penalty = 1.3f;
    p.presence_penalty = 0.5f, p.frequency_penalty = 0.2f;
    draw_stats(dev, s, MLXN_TYPE_F32, 33, rec, 6, p, seed++);
    p = d, p.temperature = 2.0f, p.repetition_penalty = 0.5f; /* a penalty below 1 favours the recent tokens */
    draw_stats(dev, s, MLXN_TYPE_BF16, 7, rec7, 6, p, seed++);
    for (int t = 0; t < 3; t++) {
        draw_greedy(dev, s, ftypes[t], 5, 33, 17, seed++);
        draw_greedy(dev, s, ftypes[t], 2, 151936, 64, seed++);
    }
    draw_replay(dev, s, seed++);
    draw_penalty_exact(dev, s);
    mlxn_device_props pr;
    mlxn_device_info(dev, &pr);
    mlxn_device *cpu = NULL;
    mlxn_stream *cs = NULL;
    if (pr.backend == MLXN_BACKEND_CUDA && CHECK_ST(mlxn_device_open(MLXN_BACKEND_CPU, 0, &cpu), MLXN_OK) &&
        CHECK_ST(mlxn_stream_create(cpu, &cs), MLXN_OK)) {
        static const int64_t big[] = {49152, 151936, 262144};
        for (int b = 0; b < 3; b++)
            for (int cfg = 0; cfg < 6; cfg++) {
                p = d;
                if (cfg == 1) p.top_p = 0.9f;
                if (cfg == 2) p.top_k = 50, p.top_p = 0.95f, p.temperature = 0.8f;
                if (cfg == 3) p.min_p = 0.05f, p.repetition_penalty = 1.1f;
                if (cfg == 4) p.top_k = 1000, p.top_p = 0.5f, p.presence_penalty = 1.0f;
                if (cfg == 5) p.temperature = 0.0f, p.frequency_penalty = 0.5f;
                draw_cross(dev, s, cpu, cs, ftypes[(b + cfg) % 3], cfg == 0 ? 4 : 1, big[b], p, cfg % 2 == 1, seed++);
            }
        p = d, p.top_k = 40;
        draw_cross(dev, s, cpu, cs, MLXN_TYPE_F32, 64, 4097, p, false, seed++);
        draw_cross(dev, s, cpu, cs, MLXN_TYPE_BF16, 3, 500000, d, true, seed++);
    }
    mlxn_stream_destroy(cs);
    mlxn_device_close(cpu);
    smp_bad_args(dev, s);
}
