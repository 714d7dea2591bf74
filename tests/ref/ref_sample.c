/* Oracles of the sampling family, in float64: the order (a larger value, then the smaller
 * index; NaN as -inf), and the distribution the draw follows. */
#include <math.h>
#include <stdlib.h>

#include "ref/ref.h"

static double val(double x) { return x != x ? -INFINITY : x; }

/* Whether element i ranks before element j. */
static int before(const double *x, int64_t i, int64_t j) {
    return val(x[i]) > val(x[j]) || (val(x[i]) == val(x[j]) && i < j);
}

int64_t ref_argmax(const double *x, int64_t v) {
    int64_t best = 0;
    for (int64_t i = 1; i < v; i++)
        if (before(x, i, best)) best = i;
    return best;
}

typedef struct ranked {
    double z;
    int64_t i;
} ranked;

static int rank_cmp(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->z != b->z) return a->z > b->z ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* idx[0..k): the k first elements in rank order. */
void ref_top_k(const double *x, int64_t v, int64_t k, int64_t *idx) {
    ranked *order = malloc(sizeof(ranked) * (size_t)v);
    for (int64_t i = 0; i < v; i++) order[i] = (ranked){val(x[i]), i};
    qsort(order, (size_t)v, sizeof order[0], rank_cmp);
    for (int64_t j = 0; j < k; j++) idx[j] = order[j].i;
    free(order);
}

/* The draw's distribution over v tokens: penalties for ids in recent [w] (ids < 0 or >= v
 * ignored), z = l / temperature, min-p, top-k, top-p (the fewest most likely reaching top_p
 * of the mass), softmax over what is kept; prob[i] = 0 outside it. top_k 0: off. */
void ref_sample_probs(const double *logits, int64_t v, const int32_t *recent, int64_t w, double temperature,
                      int64_t top_k, double top_p, double min_p, double rep, double presence, double freq,
                      double *prob) {
    double *z = malloc(sizeof(double) * (size_t)v);
    ranked *order = malloc(sizeof(ranked) * (size_t)v);
    for (int64_t i = 0; i < v; i++) {
        double l = logits[i];
        int64_t c = 0;
        for (int64_t e = 0; e < w; e++) c += recent[e] == i;
        if (c > 0) {
            l = l > 0 ? l / rep : l * rep;
            l -= c * freq + presence;
        }
        z[i] = val(l) / temperature;
    }
    /* rank order: z descending, then the index */
    for (int64_t i = 0; i < v; i++) order[i] = (ranked){z[i], i};
    qsort(order, (size_t)v, sizeof order[0], rank_cmp);
    const double m = order[0].z;
    int64_t keep = 0; /* a prefix of the rank order */
    while (keep < v && order[keep].z - m >= log(min_p)) keep++;
    if (top_k > 0 && top_k < keep) keep = top_k;
    double total = 0;
    for (int64_t j = 0; j < keep; j++) total += exp(order[j].z - m);
    double cum = 0;
    int64_t kept = 0;
    while (kept < keep && cum < top_p * total) cum += exp(order[kept++].z - m);
    for (int64_t i = 0; i < v; i++) prob[i] = 0;
    for (int64_t j = 0; j < kept; j++) prob[order[j].i] = exp(order[j].z - m) / cum;
    free(z);
    free(order);
}
