#include <math.h>

#include "ref/ref.h"

/* x: rows of x_stride elements, the row's values at columns [x_col, x_col + n); y [rows][n].
 * Each seg-long slice of a row is normalized alone; w, b: NULL or [seg]. mean, scale
 * (NULL or [rows·n/seg]): the slice's μ (0 unless LayerNorm) and the factor applied. */
void ref_norm(int kind, const double *x, int64_t rows, int64_t n, int64_t x_stride, int64_t x_col, int64_t seg,
              const double *w, const double *b, double w_offset, double eps, double *y, double *mean, double *scale) {
    const int64_t per_row = n / seg;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < per_row; k++) {
            const double *xs = x + r * x_stride + x_col + k * seg;
            double *ys = y + r * n + k * seg;
            double mu = 0, ss = 0, sc;
            if (kind == 1) {
                for (int64_t i = 0; i < seg; i++) mu += xs[i];
                mu /= (double)seg;
            }
            for (int64_t i = 0; i < seg; i++) ss += (xs[i] - mu) * (xs[i] - mu);
            if (kind == 2) sc = 1.0 / fmax(sqrt(ss), eps);      /* L2 */
            else sc = 1.0 / sqrt(ss / (double)seg + eps);       /* RMS, LayerNorm */
            for (int64_t i = 0; i < seg; i++) {
                double v = (xs[i] - mu) * sc;
                if (w) v *= w[i] + w_offset;
                if (b) v += b[i];
                ys[i] = v;
            }
            if (mean) mean[r * per_row + k] = mu;
            if (scale) scale[r * per_row + k] = sc;
        }
}
