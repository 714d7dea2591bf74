/* The float64 oracle: every op computed in double with scalar loops, from the same
 * (device-precision) inputs the backends get. Tests only. */
#ifndef MLXN_TEST_REF_H
#define MLXN_TEST_REF_H

#include <stdint.h>
#include "mlxn.h"

/* x rounded to nearest even in a float type (F32, F16, BF16): overflow to ±inf, subnormals
 * kept. Computed with frexp/ldexp/nearbyint, independent of the library's conversions. */
double ref_round(double x, mlxn_type t);
/* Unit roundoff of a float type: 2^-24 (f32), 2^-11 (f16), 2^-8 (bf16). */
double ref_eps(mlxn_type t);

/* Elementwise: y[i] = f(a[i], b[i mod nb]) · scale + bias, with f = copy (b NULL), add or mul
 * (op as in mlxn_eltwise_op: 0 copy, 1 add, 2 mul). v[i] = f(a, b) before the affine step. */
void ref_eltwise(int op, const double *a, const double *b, int64_t n, int64_t nb, double scale, double bias,
                 double *v, double *y);

/* Attention: q [hq][m][d], k/v [hkv][lcap][d] (rows 0..L-1 valid), mask [m][lcap] or NULL,
 * sinks [hq] or NULL; o [hq][m][d]. Query i sits at position L - m + i. */
void ref_attention(const double *q, const double *k, const double *v, const double *mask, const double *sinks,
                   double *o, int64_t hq, int64_t hkv, int64_t m, int64_t lcap, int64_t L, int64_t d, double scale,
                   double softcap, int causal, int64_t window);

/* Quantized matmul: y[b][m][n] = Σ_k x[b][m][k] · w[b or 0][n][k]; x [B][M][K], w [B or 1][N][K]
 * (already dequantized), y [B][M][N]. */
void ref_qmatmul(const double *x, const double *w, int64_t B, int64_t M, int64_t N, int64_t K, int w_batched,
                 double *y);
/* ref_qmatmul at the outputs with (m + n) % every == 0 only (for shapes too large to compute
 * whole); the other elements of y are left as they are. */
void ref_qmatmul_every(const double *x, const double *w, int64_t B, int64_t M, int64_t N, int64_t K, int w_batched,
                       int64_t every, double *y);

/* Norms (kind 0 RMS, 1 LayerNorm, 2 L2): x rows of x_stride, values at [x_col, x_col + n);
 * y [rows][n]; each seg-long slice alone; w, b NULL or [seg]. mean, scale: NULL or per slice
 * [rows·n/seg], the slice's μ (0 unless LayerNorm) and the factor 1/σ applied. */
void ref_norm(int kind, const double *x, int64_t rows, int64_t n, int64_t x_stride, int64_t x_col, int64_t seg,
              const double *w, const double *b, double w_offset, double eps, double *y, double *mean, double *scale);

/* RoPE: x T rows of x_stride, heads [H][D] from column x_col; y [T][H][D]; pos [S][T]; ff NULL
 * or [n_rot/2]; p as given to mlxn_rope. theta: NULL or [T][n_rot/2], each pair's angle. */
void ref_rope(const double *x, int64_t T, int64_t H, int64_t D, int64_t x_stride, int64_t x_col, const int32_t *pos,
              const double *ff, const mlxn_rope_params *p, double *y, double *theta);

/* Softmax over rows of n: x, y [rows][n]; mask NULL or [mask_rows][n] (row r uses r % mask_rows).
 * v: NULL or [rows][n], the values softmax is taken of. */
void ref_softmax(const double *x, const double *mask, int64_t rows, int64_t n, int64_t mask_rows, double scale,
                 double softcap, double *y, double *v);

/* Activations, y[i] = f(a[i], b[i]); op as mlxn_act_op's values (b unused by 0..3). */
void ref_act(int op, const double *a, const double *b, int64_t n, double cap, double *y);

/* get_rows: table [n_rows][k] (dequantized), ids [n] -> y [n][k] = table[ids[i]] · scale;
 * an id outside the table gives a row of zeros. */
void ref_get_rows(const double *table, int64_t n_rows, int64_t k, const int32_t *ids, int64_t n, double scale,
                  double *y);
/* Layout: the 4-D walk ne, y[yoff + Σ i·ys] = x[xoff + Σ i·xs]; transpose x [batch][r][c] ->
 * [batch][c][r]; permute x [ne0][ne1][ne2][k] with y.ne[d] = ne[perm[d]]; slice x [rows][kx]
 * -> [rows][ky] from column begin; concat [rows][ka] and [rows][kb] -> [rows][ka + kb]. */
void ref_copy_strided(const double *x, int64_t xoff, const int64_t *xs, double *y, int64_t yoff, const int64_t *ys,
                      const int64_t *ne);
void ref_transpose(const double *x, int64_t batch, int64_t r, int64_t c, double *y);
void ref_permute(const double *x, const int64_t *ne, int64_t k, const int *perm, double *y);
void ref_slice(const double *x, int64_t rows, int64_t kx, int64_t begin, int64_t ky, double *y);
void ref_concat(const double *a, int64_t ka, const double *b, int64_t kb, int64_t rows, double *y);

/* KV append: cache [h][l][d] updated in place from x [m][h·d] in row order; slot pos mod l
 * (ring) or pos; bad positions skipped; written [h][l] (or NULL) marks stored slots. */
void ref_kv_append(const double *x, const int32_t *pos, int64_t m, int64_t h, int64_t l, int64_t d, int ring,
                   double *cache, unsigned char *written);

/* Sampling: argmax and top-k by (value desc, index asc; NaN as -inf); the draw's distribution
 * over v tokens after penalties, temperature, min-p, top-k and top-p (prob 0 when dropped). */
int64_t ref_argmax(const double *x, int64_t v);
void ref_top_k(const double *x, int64_t v, int64_t k, int64_t *idx);
void ref_sample_probs(const double *logits, int64_t v, const int32_t *recent, int64_t w, double temperature,
                      int64_t top_k, double top_p, double min_p, double rep, double presence, double freq,
                      double *prob);

#endif
