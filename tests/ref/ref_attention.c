#include <math.h>

#include "ref/ref.h"

/* q [Hq][M][D], k/v [Hkv][Lcap][D], mask [M][Lcap] or NULL, sinks [Hq] or NULL,
 * o [Hq][M][D]. Two passes per query: max, then sum and weighted values. */
void ref_attention(const double *q, const double *k, const double *v, const double *mask, const double *sinks,
                   double *o, int64_t hq, int64_t hkv, int64_t m, int64_t lcap, int64_t L, int64_t d, double scale,
                   double softcap, int causal, int64_t window) {
    const int64_t g = hq / hkv;
    for (int64_t h = 0; h < hq; h++) {
        const int64_t kh = h / g;
        for (int64_t i = 0; i < m; i++) {
            const int64_t pos = L - m + i;
            double *out = o + (h * m + i) * d;
            double mx = sinks ? sinks[h] : -INFINITY;
            for (int64_t j = 0; j < L; j++) {
                if ((causal && j > pos) || (window > 0 && j <= pos - window)) continue;
                double s = 0;
                for (int64_t c = 0; c < d; c++) s += q[(h * m + i) * d + c] * k[(kh * lcap + j) * d + c];
                s *= scale;
                if (softcap > 0) s = softcap * tanh(s / softcap);
                if (mask) s += mask[i * lcap + j];
                if (s > mx) mx = s;
            }
            double den = sinks ? exp(sinks[h] - mx) : 0.0;
            for (int64_t c = 0; c < d; c++) out[c] = 0;
            for (int64_t j = 0; j < L && mx > -INFINITY; j++) {
                if ((causal && j > pos) || (window > 0 && j <= pos - window)) continue;
                double s = 0;
                for (int64_t c = 0; c < d; c++) s += q[(h * m + i) * d + c] * k[(kh * lcap + j) * d + c];
                s *= scale;
                if (softcap > 0) s = softcap * tanh(s / softcap);
                if (mask) s += mask[i * lcap + j];
                double p = exp(s - mx);
                den += p;
                for (int64_t c = 0; c < d; c++) out[c] += p * v[(kh * lcap + j) * d + c];
            }
            for (int64_t c = 0; c < d; c++) out[c] = den > 0 ? out[c] / den : 0.0;
        }
    }
}
