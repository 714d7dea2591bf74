/* Reference quantization of every GGML block format against ggml's golden vectors
 * (shared/testdata/ggml-quant): dequantization bit-exact for every file, quantization
 * byte-exact where ggml's quantizer needs no importance matrix; argument errors; and the
 * round-trip error of each quantizer on random gaussian rows. Public API only. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "mlxn.h"

#define GOLDEN_DIR MLXN_SHARED_DIR "/testdata/ggml-quant/"
#define GUARD 64              /* bytes checked untouched past every output */
#define POISON_BYTE 0xa5      /* quantized outputs start as this */
#define POISON_F32 0x7fa5a5a5u /* dequantized outputs start as this NaN, absent from any file */

enum quant_check {
    Q_NONE,  /* ggml's quantizer needs an importance matrix: mlxn has none (UNSUPPORTED) */
    Q_EXACT, /* mlxn's quantizer must give ggml's bytes */
};

static const struct {
    const char *name;
    enum quant_check quant;
} formats[] = {
    {"f16", Q_EXACT},     {"bf16", Q_EXACT},    {"q4_0", Q_EXACT},   {"q4_1", Q_EXACT},
    {"q5_0", Q_EXACT},    {"q5_1", Q_EXACT},    {"q8_0", Q_EXACT},   {"q2_K", Q_EXACT},
    {"q3_K", Q_EXACT},    {"q4_K", Q_EXACT},    {"q5_K", Q_EXACT},   {"q6_K", Q_EXACT},
    {"iq4_nl", Q_EXACT},  {"iq4_xs", Q_EXACT},  {"mxfp4", Q_EXACT},  {"tq1_0", Q_EXACT},
    {"tq2_0", Q_EXACT},   {"iq2_xxs", Q_NONE},  {"iq2_xs", Q_NONE},  {"iq2_s", Q_NONE},
    {"iq3_xxs", Q_NONE},  {"iq3_s", Q_NONE},    {"iq1_s", Q_NONE},   {"iq1_m", Q_NONE},
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    long len;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)len + 1);
        if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        }
        *size = (size_t)len;
    }
    fclose(f);
    return buf;
}

static bool guard_intact(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != POISON_BYTE) return false;
    return true;
}

/* One golden file: header, dequantization, quantization. */
static void check_golden(const char *name, enum quant_check qc) {
    char path[512];
    snprintf(path, sizeof path, "%s%s.bin", GOLDEN_DIR, name);
    size_t size = 0;
    unsigned char *file = read_file(path, &size);
    CHECK(file, "%s: cannot read %s", name, path);
    if (!file) return;

    mlxn_type t = MLXN_TYPE_COUNT;
    const uint32_t gid = size >= 24 ? rd_u32(file + 8) : 0;
    uint32_t n_rows = size >= 24 ? rd_u32(file + 12) : 0;
    const uint32_t n_per_row = size >= 24 ? rd_u32(file + 16) : 0;
    const uint32_t row_bytes = size >= 24 ? rd_u32(file + 20) : 0;
    const size_t src_off = 24, q_off = src_off + (size_t)n_rows * n_per_row * 4;
    const size_t deq_off = q_off + (size_t)n_rows * row_bytes;
    bool ok = size >= 24 && memcmp(file, "MLXNGQ01", 8) == 0 &&
              deq_off + (size_t)n_rows * n_per_row * 4 == size && n_rows > 0;
    CHECK(ok, "%s: bad header or size (%zu bytes, %u rows of %u, row_bytes %u)", name, size, n_rows,
          n_per_row, row_bytes);
    if (ok) ok = CHECK_ST(mlxn_type_from_ggml(gid, &t), MLXN_OK);
    if (ok) {
        ok = strcmp(mlxn_type_name(t), name) == 0;
        CHECK(ok, "%s: ggml id %u is mlxn's %s", name, gid, mlxn_type_name(t));
    }
    /* the traits table's block size against ggml's row size */
    if (ok) {
        const int64_t be = mlxn_type_block_elems(t);
        const size_t want = be > 0 ? (size_t)(n_per_row / be) * mlxn_type_block_bytes(t) : 0;
        ok = be > 0 && n_per_row % be == 0 && want == row_bytes &&
             mlxn_row_bytes(t, n_per_row) == row_bytes;
        CHECK(ok, "%s: %u elements are %u bytes in ggml, %zu by the traits", name, n_per_row,
              row_bytes, mlxn_row_bytes(t, n_per_row));
    }
    if (!ok) {
        free(file);
        return;
    }

    /* Each row goes through fresh buffers (malloc-aligned, poisoned, with a guard). */
    float *src = malloc((size_t)n_per_row * 4);
    float *out = malloc((size_t)n_per_row * 4 + GUARD);
    unsigned char *q = malloc(row_bytes + GUARD);
    if (!src || !out || !q) {
        CHECK(0, "%s: out of memory", name);
        n_rows = 0;
    }
    long deq_bad = 0, q_bad_rows = 0;
    bool deq_st = true, q_st = true, deq_guard = true, q_guard = true;
    for (uint32_t r = 0; r < n_rows; r++) {
        const unsigned char *gq = file + q_off + (size_t)r * row_bytes;
        const unsigned char *gdeq = file + deq_off + (size_t)r * n_per_row * 4;
        memcpy(src, file + src_off + (size_t)r * n_per_row * 4, (size_t)n_per_row * 4);

        /* dequantize ggml's bytes */
        memcpy(q, gq, row_bytes);
        for (uint32_t i = 0; i < n_per_row; i++) memcpy(&out[i], &(uint32_t){POISON_F32}, 4);
        memset((unsigned char *)out + (size_t)n_per_row * 4, POISON_BYTE, GUARD);
        if (mlxn_dequantize_row(t, q, out, n_per_row) != MLXN_OK) {
            deq_st = false;
            continue;
        }
        deq_guard &= guard_intact((unsigned char *)out + (size_t)n_per_row * 4, GUARD);
        for (uint32_t i = 0; i < n_per_row; i++) {
            float want;
            memcpy(&want, gdeq + 4 * (size_t)i, 4);
            if (f32_bits(out[i]) != f32_bits(want) && deq_bad++ < 3)
                printf("  %s dequant row %u [%u]: got %08x (%g), want %08x (%g)\n", name, r, i,
                       f32_bits(out[i]), (double)out[i], f32_bits(want), (double)want);
        }

        /* quantize ggml's input */
        memset(q, POISON_BYTE, row_bytes + GUARD);
        mlxn_status st = mlxn_quantize_row(t, src, q, n_per_row);
        if (qc == Q_NONE) {
            q_st &= st == MLXN_ERR_UNSUPPORTED;
            continue;
        }
        if (st != MLXN_OK) {
            q_st = false;
            continue;
        }
        q_guard &= guard_intact(q + row_bytes, GUARD);
        if (memcmp(q, gq, row_bytes) != 0) {
            uint32_t b = 0;
            while (q[b] == gq[b]) b++;
            if (q_bad_rows++ < 3)
                printf("  %s quant row %u: first differing byte %u of %u: got %02x, want %02x\n",
                       name, r, b, row_bytes, q[b], gq[b]);
        }
    }
    CHECK(deq_st, "%s: dequantize_row failed (%s)", name, mlxn_last_error());
    CHECK(deq_bad == 0 && deq_guard, "%s: %ld of %u dequantized floats differ from ggml%s", name,
          deq_bad, n_rows * n_per_row, deq_guard ? "" : ", and it wrote past the row");
    if (qc == Q_NONE) {
        CHECK(q_st, "%s: quantize_row should be UNSUPPORTED (no importance matrix)", name);
    } else {
        CHECK(q_st, "%s: quantize_row failed (%s)", name, mlxn_last_error());
        CHECK(q_bad_rows == 0 && q_guard, "%s: %ld of %u quantized rows differ from ggml%s", name,
              q_bad_rows, n_rows, q_guard ? "" : ", and it wrote past the row");
    }
    free(src);
    free(out);
    free(q);
    free(file);
}

static void test_golden(void) {
    struct stat sb;
    if (stat(GOLDEN_DIR, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        for (size_t i = 0; i < N_FORMATS; i++)
            t_skip("%s golden vectors: no %s", formats[i].name, GOLDEN_DIR);
        return;
    }
    for (size_t i = 0; i < N_FORMATS; i++) check_golden(formats[i].name, formats[i].quant);
}

static void test_args(void) {
    float x[512] = {0};
    unsigned char q[4096];
    mlxn_clear_error();
    CHECK_ST(mlxn_quantize_row(MLXN_TYPE_Q4_0, x, q, 33), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_quantize_row(MLXN_TYPE_Q4_K, x, q, 128), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_dequantize_row(MLXN_TYPE_Q6_K, q, x, 300), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_dequantize_row(MLXN_TYPE_Q8_0, q, x, -32), MLXN_ERR_INVALID_ARG);
    CHECK(strstr(mlxn_last_error(), "q8_0") != NULL, "the error names the type: \"%s\"",
          mlxn_last_error());
    CHECK_ST(mlxn_quantize_row(MLXN_TYPE_Q8_0, NULL, q, 32), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_quantize_row(MLXN_TYPE_Q8_0, x, NULL, 32), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_dequantize_row(MLXN_TYPE_Q3_K, NULL, x, 256), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_dequantize_row(MLXN_TYPE_Q3_K, q, NULL, 256), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_quantize_row(MLXN_TYPE_Q8_0, NULL, NULL, 0), MLXN_OK);
    CHECK_ST(mlxn_dequantize_row(MLXN_TYPE_IQ1_M, NULL, NULL, 0), MLXN_OK);
    CHECK_ST(mlxn_quantize_row((mlxn_type)5, x, q, 32), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_dequantize_row(MLXN_TYPE_COUNT, q, x, 32), MLXN_ERR_INVALID_ARG);
    /* grid formats dequantize only; integer types convert neither way */
    CHECK_ST(mlxn_quantize_row(MLXN_TYPE_IQ2_XXS, x, q, 256), MLXN_ERR_UNSUPPORTED);
    CHECK_ST(mlxn_quantize_row(MLXN_TYPE_IQ1_S, x, q, 256), MLXN_ERR_UNSUPPORTED);
    CHECK_ST(mlxn_dequantize_row(MLXN_TYPE_I32, q, x, 4), MLXN_ERR_UNSUPPORTED);

    /* Non-finite input is the caller's to give: every quantizer returns OK and stays in
     * bounds (the bytes are unspecified, as in ggml; sanitizer builds check for UB). */
    bool all_ok = true;
    for (int kind = 0; kind < 3; kind++) {
        for (int i = 0; i < 512; i++) x[i] = (float)(i % 7) - 3.0f;
        x[37] = kind == 0 ? NAN : kind == 1 ? INFINITY : -1e38f;
        for (int t = 0; t < MLXN_TYPE_COUNT; t++) {
            if (!mlxn_type_valid((mlxn_type)t) || mlxn_row_bytes((mlxn_type)t, 512) > sizeof q)
                continue;
            mlxn_status st = mlxn_quantize_row((mlxn_type)t, x, q, 512);
            all_ok &= st == MLXN_OK || st == MLXN_ERR_UNSUPPORTED;
        }
    }
    CHECK(all_ok, "quantizing NaN / inf / huge values fails: %s", mlxn_last_error());
}

/* Round trip on gaussian rows: NMSE = Σ(x - deq(q(x)))² / Σx² over 16 rows of 1280 (seed 42).
 * Each bound is the value measured on x86-64 gcc (in the comment) plus 25%: deterministic
 * code, the margin is for another libm's gaussians. It catches a quantizer that runs but is
 * wrong on inputs the ten golden rows lack. */
static void test_round_trip(void) {
    static const struct {
        mlxn_type t;
        double bound;
    } cases[] = {
        /* bound       measured */
        {MLXN_TYPE_F32, 0.0},       /* 0 */
        {MLXN_TYPE_F64, 0.0},       /* 0 */
        {MLXN_TYPE_F16, 6.0e-8},    /* 4.3e-08 */
        {MLXN_TYPE_BF16, 3.5e-6},   /* 2.8e-06 */
        {MLXN_TYPE_Q8_0, 3.5e-5},   /* 2.8e-05 */
        {MLXN_TYPE_Q8_1, 3.5e-5},   /* 2.8e-05 */
        {MLXN_TYPE_Q8_K, 6.0e-5},   /* 4.8e-05 */
        {MLXN_TYPE_Q6_K, 4.0e-4},   /* 3.1e-04 */
        {MLXN_TYPE_Q5_0, 2.2e-3},   /* 1.8e-03 */
        {MLXN_TYPE_Q5_1, 1.8e-3},   /* 1.4e-03 */
        {MLXN_TYPE_Q5_K, 1.6e-3},   /* 1.3e-03 */
        {MLXN_TYPE_Q4_0, 9.0e-3},   /* 7.2e-03 */
        {MLXN_TYPE_Q4_1, 7.5e-3},   /* 6.0e-03 */
        {MLXN_TYPE_Q4_K, 6.2e-3},   /* 5.0e-03 */
        {MLXN_TYPE_IQ4_NL, 7.2e-3}, /* 5.7e-03 */
        {MLXN_TYPE_IQ4_XS, 7.3e-3}, /* 5.8e-03 */
        {MLXN_TYPE_MXFP4, 1.7e-2},  /* 1.3e-02 */
        {MLXN_TYPE_Q3_K, 2.8e-2},   /* 2.3e-02 */
        {MLXN_TYPE_Q2_K, 0.11},     /* 8.6e-02 */
        /* ternary levels are for ternary weights; on gaussians the error is large */
        {MLXN_TYPE_TQ2_0, 0.68},    /* 6.5e-01 */
        {MLXN_TYPE_TQ1_0, 0.68},    /* 6.5e-01 */
    };
    enum { ROWS = 16, N = 1280 };
    float *x = malloc(sizeof(float) * ROWS * N), *y = malloc(sizeof(float) * N);
    unsigned char *q = malloc(N * 8);
    t_rng rng = {42};
    for (int i = 0; i < ROWS * N; i++) x[i] = t_rng_normal(&rng);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mlxn_type t = cases[c].t;
        double err = 0, ref = 0;
        bool st = true;
        for (int r = 0; r < ROWS && st; r++) {
            const float *xr = x + (size_t)r * N;
            st = mlxn_quantize_row(t, xr, q, N) == MLXN_OK &&
                 mlxn_dequantize_row(t, q, y, N) == MLXN_OK;
            for (int i = 0; i < N; i++) {
                err += ((double)xr[i] - y[i]) * ((double)xr[i] - y[i]);
                ref += (double)xr[i] * xr[i];
            }
        }
        const double nmse = err / ref;
        CHECK(st && nmse <= cases[c].bound, "%s round trip: nmse %.3g, bound %.3g%s",
              mlxn_type_name(t), nmse, cases[c].bound, st ? "" : " (a call failed)");
        printf("  round trip %-7s nmse %.2e\n", mlxn_type_name(t), nmse);
    }
    free(x);
    free(y);
    free(q);
}

int main(void) {
    test_golden();
    test_args();
    test_round_trip();
    return t_finish("test_quant");
}
