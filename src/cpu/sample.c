/* CPU sampling: argmax, top-k and the seeded draw, one row per work item. The selections
 * are the same radix threshold searches the CUDA backend runs (8 bits of the 64-bit rank
 * key per pass), over the same f32/integer values from ops/sample.h, so both backends keep
 * the same tokens and draw the same one. */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "quant/half.h"

typedef struct smp_row {
    const mlxn_sample_args *a;
    const void *logits;                        /* this row's */
    int32_t ptok[MLXN_SAMPLE_MAX_RECENT];      /* penalized tokens, ascending */
    int32_t pcnt[MLXN_SAMPLE_MAX_RECENT];      /* their counts */
    int np;
    float *buf; /* z, then e once m is known; NULL (no memory): recomputed from the logits */
    int have_e;
    float m;    /* the largest z */
} smp_row;

static float logit(const smp_row *r, int64_t i) {
    switch (r->a->tl) {
    case MLXN_TYPE_F16: return mlxn_f16_to_f32(((const uint16_t *)r->logits)[i]);
    case MLXN_TYPE_BF16: return mlxn_bf16_to_f32(((const uint16_t *)r->logits)[i]);
    default: return ((const float *)r->logits)[i];
    }
}

/* Steps 1 and 2: penalties (when the token is in recent), then the temperature. */
static float z_compute(const smp_row *r, int64_t i) {
    const mlxn_sample_args *a = r->a;
    float l = logit(r, i);
    if (r->np) {
        int lo = 0, hi = r->np - 1;
        while (lo <= hi) {
            int mid = (lo + hi) / 2;
            if (r->ptok[mid] == i) {
                l = mlxn_smp_penalize(l, r->pcnt[mid], a->rep, a->freq, a->presence);
                break;
            }
            if (r->ptok[mid] < i) lo = mid + 1;
            else hi = mid - 1;
        }
    }
    return a->mode != MLXN_SAMPLE_DRAW || a->greedy ? l : l * a->inv_temp;
}

/* Step 3 folded into the exp value: e = exp(z - m) for min-p survivors, else -1. */
static float e_of(const smp_row *r, float z) {
    const float x = z - r->m;
    return x >= r->a->log_min_p ? mlxn_smp_exp(x) : -1.0f;
}

static float e_at(const smp_row *r, int64_t i) {
    if (r->buf) return r->have_e ? r->buf[i] : e_of(r, r->buf[i]);
    return e_of(r, z_compute(r, i));
}

static float z_at(const smp_row *r, int64_t i) { return r->buf ? r->buf[i] : z_compute(r, i); }

/* The penalty table: each distinct id of the row's recent window with its count. */
static void build_penalties(smp_row *r, int64_t row) {
    const mlxn_sample_args *a = r->a;
    r->np = 0;
    if (!a->penalize) return;
    const int32_t *rec = a->recent + (a->recent_per_row ? row * a->w : 0);
    for (int64_t e = 0; e < a->w; e++) {
        const int32_t t = rec[e];
        if (t < 0 || t >= a->v) continue;
        int j = r->np - 1; /* insertion into the sorted table */
        bool found = false;
        for (int q = 0; q < r->np; q++)
            if (r->ptok[q] == t) {
                r->pcnt[q]++;
                found = true;
                break;
            }
        if (found) continue;
        for (; j >= 0 && r->ptok[j] > t; j--) {
            r->ptok[j + 1] = r->ptok[j];
            r->pcnt[j + 1] = r->pcnt[j];
        }
        r->ptok[j + 1] = t;
        r->pcnt[j + 1] = 1;
        r->np++;
    }
}

/* The largest rank key over the row's z. */
static uint64_t max_ck(const smp_row *r) {
    uint64_t best = 0;
    for (int64_t i = 0; i < r->a->v; i++) {
        const uint64_t ck = mlxn_smp_ck(mlxn_smp_key(z_at(r, i)), i);
        if (ck > best) best = ck;
    }
    return best;
}

/* The rank key of element i for a selection: over z (by_e 0) or over e (by_e 1, -1: not a
 * candidate, e < 0 or outside an earlier selection (kmask, kprefix)). */
static bool cand(const smp_row *r, int by_e, int64_t i, uint64_t kmask, uint64_t kprefix, uint64_t *ck, float *e) {
    if (!by_e) {
        *ck = mlxn_smp_ck(mlxn_smp_key(z_at(r, i)), i);
        *e = 0.0f;
        return true;
    }
    *e = e_at(r, i);
    if (*e < 0.0f) return false;
    *ck = mlxn_smp_ck(mlxn_smp_key(*e), i);
    return (*ck & kmask) >= kprefix;
}

/* Radix threshold search, most significant 8 bits first: the kept set is {(ck & *mask) >=
 * *prefix}. By count (need = k): the k largest (all, when there are no more). By mass, over
 * candidates of mass > 0 (need from top_p once the first pass has the total): the fewest
 * largest whose mass reaches it. */
static void select_top(const smp_row *r, int by_e, int by_mass, uint64_t need, float top_p, uint64_t kmask,
                       uint64_t kprefix, uint64_t *mask, uint64_t *prefix) {
    uint64_t pm = 0, pp = 0;
    for (int shift = 56; shift >= 0; shift -= 8) {
        uint64_t cnt[256] = {0}, wt[256] = {0};
        for (int64_t i = 0; i < r->a->v; i++) {
            uint64_t ck;
            float e;
            if (!cand(r, by_e, i, kmask, kprefix, &ck, &e) || (ck & pm) != pp) continue;
            if (by_mass && mlxn_smp_mass(e) == 0) continue; /* massless: never kept by top-p, never drawn */
            const int d = (int)(ck >> shift & 255);
            cnt[d]++;
            wt[d] += by_mass ? mlxn_smp_mass(e) : 1;
        }
        if (shift == 56) { /* the first pass saw every candidate */
            uint64_t total = 0;
            for (int d = 0; d < 256; d++) total += wt[d];
            if (by_mass) need = mlxn_smp_top_p_need(total, top_p);
            else if (total <= need) break; /* no more candidates than the count: keep them all */
        }
        uint64_t above = 0;
        int d = 255;
        for (; d > 0 && above + wt[d] < need; d--) above += wt[d];
        need -= above;
        pm |= (uint64_t)255 << shift;
        pp |= (uint64_t)d << shift;
        if (by_mass ? cnt[d] == 1 : wt[d] == need) break;
    }
    *mask = pm;
    *prefix = pp;
}

static int cmp_desc(const void *x, const void *y) {
    const uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

static void top_k_row(smp_row *r, int64_t row) {
    const mlxn_sample_args *a = r->a;
    uint64_t mask, prefix, got[MLXN_SAMPLE_MAX_K];
    select_top(r, 0, 0, (uint64_t)a->k, 1.0f, 0, 0, &mask, &prefix);
    int n = 0;
    for (int64_t i = 0; i < a->v && n < a->k; i++) {
        const uint64_t ck = mlxn_smp_ck(mlxn_smp_key(z_at(r, i)), i);
        if ((ck & mask) >= prefix) got[n++] = ck;
    }
    qsort(got, (size_t)n, sizeof got[0], cmp_desc);
    int32_t *idx = a->out + row * a->k;
    for (int j = 0; j < n; j++) {
        const int64_t i = mlxn_smp_ck_index(got[j]);
        idx[j] = (int32_t)i;
        if (!a->values) continue;
        const float val = logit(r, i);
        const int64_t o = row * a->k + j;
        if (a->tv == MLXN_TYPE_F32) ((float *)a->values)[o] = val;
        else if (a->tv == MLXN_TYPE_F16) ((uint16_t *)a->values)[o] = mlxn_f32_to_f16(val);
        else ((uint16_t *)a->values)[o] = mlxn_f32_to_bf16(val);
    }
}

static int32_t draw_row(smp_row *r, int64_t row) {
    const mlxn_sample_args *a = r->a;
    const uint64_t best = max_ck(r);
    r->m = mlxn_smp_unkey((uint32_t)(best >> 32));
    if (a->mode == MLXN_SAMPLE_ARGMAX || a->greedy || !(r->m - r->m == 0.0f)) /* infinite max: argmax */
        return (int32_t)mlxn_smp_ck_index(best);
    if (r->buf) {
        for (int64_t i = 0; i < a->v; i++) r->buf[i] = e_of(r, r->buf[i]);
        r->have_e = 1;
    }
    uint64_t kmask = 0, kprefix = 0, pmask = 0, pprefix = 0;
    if (a->k > 0) select_top(r, 1, 0, (uint64_t)a->k, 1.0f, 0, 0, &kmask, &kprefix);
    if (a->top_p < 1.0f) select_top(r, 1, 1, 0, a->top_p, kmask, kprefix, &pmask, &pprefix);
    uint64_t total = 0;
    for (int64_t i = 0; i < a->v; i++) {
        uint64_t ck;
        float e;
        if (cand(r, 1, i, kmask, kprefix, &ck, &e) && (ck & pmask) >= pprefix) total += mlxn_smp_mass(e);
    }
    const uint64_t seed = (uint64_t)a->rng[0], step = (uint64_t)a->rng[1];
    const uint64_t target = mlxn_smp_mulhi64(mlxn_smp_philox(seed, step, (uint32_t)row), total);
    uint64_t cum = 0;
    for (int64_t i = 0; i < a->v; i++) {
        uint64_t ck;
        float e;
        if (!cand(r, 1, i, kmask, kprefix, &ck, &e) || (ck & pmask) < pprefix) continue;
        cum += mlxn_smp_mass(e);
        if (cum > target) return (int32_t)i;
    }
    return (int32_t)mlxn_smp_ck_index(best); /* unreachable: the largest has mass 2^40 */
}

static void sample_range(void *ctx, int64_t begin, int64_t end, int worker) {
    const mlxn_sample_args *a = ctx;
    const size_t lsz = a->tl == MLXN_TYPE_F32 ? 4 : 2;
    smp_row row_state, *r = &row_state; /* 32 KB of penalty table: the stack holds it */
    r->a = a;
    r->buf = a->mode == MLXN_SAMPLE_DRAW ? malloc((size_t)a->v * sizeof(float)) : NULL;
    for (int64_t row = begin; row < end; row++) {
        r->logits = (const char *)a->logits + (size_t)row * (size_t)a->v * lsz;
        r->have_e = 0;
        build_penalties(r, row);
        if (r->buf)
            for (int64_t i = 0; i < a->v; i++) r->buf[i] = z_compute(r, i);
        if (a->mode == MLXN_SAMPLE_TOP_K) top_k_row(r, row);
        else a->out[row] = draw_row(r, row);
    }
    free(r->buf);
}

static void sample_run(cpu_device *dev, const void *args) {
    const mlxn_sample_args *a = args;
    mlxn_parallel_for(dev->tp, a->rows, 1, sample_range, (void *)a);
    if (a->mode == MLXN_SAMPLE_DRAW && a->advance) a->rng[1]++;
}

mlxn_status mlxn_cpu_sample(void *stream, const mlxn_sample_args *a) {
    return mlxn_cpu_submit(stream, sample_run, a, sizeof *a);
}
