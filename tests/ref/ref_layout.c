/* Oracles of the layout family: plain loops over the definitions in mlxn.h. */
#include "ref/ref.h"

/* The 4-D walk ne: y[yoff + Σ i·ys] = x[xoff + Σ i·xs]. */
void ref_copy_strided(const double *x, int64_t xoff, const int64_t *xs, double *y, int64_t yoff, const int64_t *ys,
                      const int64_t *ne) {
    for (int64_t a = 0; a < ne[0]; a++)
        for (int64_t b = 0; b < ne[1]; b++)
            for (int64_t c = 0; c < ne[2]; c++)
                for (int64_t d = 0; d < ne[3]; d++)
                    y[yoff + a * ys[0] + b * ys[1] + c * ys[2] + d * ys[3]] =
                        x[xoff + a * xs[0] + b * xs[1] + c * xs[2] + d * xs[3]];
}

/* x [batch][r][c] -> y [batch][c][r] */
void ref_transpose(const double *x, int64_t batch, int64_t r, int64_t c, double *y) {
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < c; j++) y[(b * c + j) * r + i] = x[(b * r + i) * c + j];
}

/* x [ne0][ne1][ne2][k] (leading dims padded with 1 to three), y.ne[d] = x.ne[perm[d]]. */
void ref_permute(const double *x, const int64_t *ne, int64_t k, const int *perm, double *y) {
    int64_t yne[3] = {ne[perm[0]], ne[perm[1]], ne[perm[2]]};
    int64_t i[3];
    for (int64_t a = 0; a < yne[0]; a++)
        for (int64_t b = 0; b < yne[1]; b++)
            for (int64_t c = 0; c < yne[2]; c++) {
                i[perm[0]] = a, i[perm[1]] = b, i[perm[2]] = c; /* y index (a, b, c) is x index i */
                for (int64_t e = 0; e < k; e++)
                    y[((a * yne[1] + b) * yne[2] + c) * k + e] = x[((i[0] * ne[1] + i[1]) * ne[2] + i[2]) * k + e];
            }
}

/* x [rows][kx] -> y [rows][ky] = x[:, begin : begin + ky] */
void ref_slice(const double *x, int64_t rows, int64_t kx, int64_t begin, int64_t ky, double *y) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < ky; j++) y[r * ky + j] = x[r * kx + begin + j];
}

/* a [rows][ka], b [rows][kb] -> y [rows][ka + kb] */
void ref_concat(const double *a, int64_t ka, const double *b, int64_t kb, int64_t rows, double *y) {
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t j = 0; j < ka; j++) y[r * (ka + kb) + j] = a[r * ka + j];
        for (int64_t j = 0; j < kb; j++) y[r * (ka + kb) + ka + j] = b[r * kb + j];
    }
}
