/* CPU quantized matmul: the row kernels behind src/cpu/qmatmul.c, scalar (qmatmul_scalar.c),
 * AVX2 + FMA (qmatmul_avx2.c) and AVX-512 VNNI (qmatmul_vnni.c), chosen at run time.
 * A block-format row is decoded to signed 8-bit levels and a scale (and min) per 16
 * elements: w[k] = s16[k/16] · q[k] + m16[k/16]. X is rounded to 8-bit levels per 32:
 * x[k] ≈ xd[k/32] · xq[k], with xs[k/16] = xd · Σ xq over each 16 (for the mins). */
#ifndef MLXN_CPU_QMATMUL_KERNELS_H
#define MLXN_CPU_QMATMUL_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mlxn.h"

/* Decodes one row of k elements (k a multiple of the block). m16 is written only for
 * formats with mins. */
typedef void (*qmm_decode_fn)(const void *w, int64_t k, int8_t *q, float *s16, float *m16);

typedef struct qmm_format {
    qmm_decode_fn decode;
    bool has_min;
} qmm_format;

/* The scalar decoders; NULL decode for formats that are not block formats. */
const qmm_format *qmm_scalar_format(mlxn_type t);
/* The AVX2 decoders where one exists, else NULL (the scalar one serves). */
qmm_decode_fn qmm_avx2_decode(mlxn_type t);
/* Σ_k w[k]·x[k] of an encoded row and a quantized X row without writing the row out
 * decoded: for small M, where a row is used once or twice. NULL where there is none. */
typedef float (*qmm_fused_fn)(const void *w, const int8_t *xq, const float *xd, const float *xs, int64_t k);
qmm_fused_fn qmm_avx2_fused(mlxn_type t);

/* AVX-512 VNNI fused row dots: X (quantized as below) is laid out once per op for the
 * format's kernel by prep_x into x_bytes(k) bytes (64-byte aligned), then dot takes an
 * encoded row against it. Same numerics as the fused dots above. dot_rows takes the row
 * against rows (1..max_rows, max_rows <= QMM_VNNI_ROWS) X rows at xp + r·xp_stride at once,
 * decoding W once for them, into out[r]: bit for bit dot's result for each row. NULL where
 * there is none. */
#define QMM_VNNI_ROWS 8
typedef struct qmm_vnni_fused {
    size_t (*x_bytes)(int64_t k);
    void (*prep_x)(const int8_t *xq, const float *xd, const float *xs, int64_t k, void *out);
    float (*dot)(const void *w, const void *xp, int64_t k);
    void (*dot_rows)(const void *w, const void *xp, size_t xp_stride, int rows, int64_t k, float *out);
    int max_rows;
} qmm_vnni_fused;
/* NULL where there is no VNNI kernel for t (whether this CPU runs them: qmm_have_vnni). */
const qmm_vnni_fused *qmm_vnni_fused_for(mlxn_type t);

/* x[0..k) (k a multiple of 32) to levels, steps and 16-sums as above: step amax/127,
 * levels round(x / step) (nearest, ties to even); a block with a NaN gets a NaN step and
 * zero levels, non-finite x count as 0. The AVX-512 version gives the same bits
 * (tests/test_qmatmul_kernels.c checks), so every path sees the same X. */
void qmm_quantize_x(const float *x, int64_t k, int8_t *xq, float *xd, float *xs);
void qmm_quantize_x_vnni(const float *x, int64_t k, int8_t *xq, float *xd, float *xs);

/* Σ_k w[k]·x[k] of a decoded row and a quantized X row. */
float qmm_dot_q8_scalar(const int8_t *wq, const float *s16, const float *m16, const int8_t *xq, const float *xd,
                        const float *xs, int64_t k);
float qmm_dot_q8_avx2(const int8_t *wq, const float *s16, const float *m16, const int8_t *xq, const float *xd,
                      const float *xs, int64_t k);

/* f32 dot products for float weights: the row as f32, X as f32. */
float qmm_dot_f32_scalar(const float *w, const float *x, int64_t k);
float qmm_dot_f32_avx2(const float *w, const float *x, int64_t k);
/* A float-type row (F32, F16, BF16) to f32. */
void qmm_row_to_f32_scalar(mlxn_type t, const void *w, int64_t k, float *out);
void qmm_row_to_f32_avx2(mlxn_type t, const void *w, int64_t k, float *out);

/* True when this CPU runs the AVX2 + FMA (+ F16C) kernels. */
bool qmm_have_avx2(void);
/* True when this CPU runs the AVX-512 (F, BW, VL, VNNI, VBMI) kernels. */
bool qmm_have_vnni(void);

#endif
