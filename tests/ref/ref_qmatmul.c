#include "ref/ref.h"

/* y[b][m][n] = Σ_k x[b][m][k] · w[b or 0][n][k] in float64.
 *   x: [B][M][K] (the logical rows, whatever x's layout on the device)
 *   w: [B or 1][N][K], the reference dequantization of the weight
 *   y: [B][M][N] */
void ref_qmatmul(const double *x, const double *w, int64_t B, int64_t M, int64_t N, int64_t K, int w_batched,
                 double *y) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                const double *xr = x + (b * M + m) * K, *wr = w + ((w_batched ? b : 0) * N + n) * K;
                double acc = 0.0;
                for (int64_t k = 0; k < K; k++) acc += xr[k] * wr[k];
                y[(b * M + m) * N + n] = acc;
            }
}

void ref_qmatmul_every(const double *x, const double *w, int64_t B, int64_t M, int64_t N, int64_t K, int w_batched,
                       int64_t every, double *y) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = (every - m % every) % every; n < N; n += every) {
                const double *xr = x + (b * M + m) * K, *wr = w + ((w_batched ? b : 0) * N + n) * K;
                double acc = 0.0;
                for (int64_t k = 0; k < K; k++) acc += xr[k] * wr[k];
                y[(b * M + m) * N + n] = acc;
            }
}
