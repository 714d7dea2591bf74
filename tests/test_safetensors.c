/* safetensors reader and MLX quantization: a small valid file (tests/data/valid), the
 * malformed corpus with its expected statuses, truncation and corruption sweeps, and an
 * MLX-quantized model at every bit width, dequantized against the formula it was built by. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io_corpus.h"

#define VALID MLXN_TEST_DIR "/data/valid/"

static void test_valid(mlxn_device *cpu) {
    mlxn_safetensors *st = NULL;
    if (!CHECK_ST(mlxn_safetensors_open(VALID "tiny.safetensors", &st), MLXN_OK)) return;
    CHECK(mlxn_safetensors_tensor_count(st) == 4, "count %llu", (unsigned long long)mlxn_safetensors_tensor_count(st));
    static const char *names[4] = {"x", "y", "z", "w"}; /* data order */
    static const mlxn_type types[4] = {MLXN_TYPE_F32, MLXN_TYPE_BF16, MLXN_TYPE_I64, MLXN_TYPE_U8};
    static const int ndims[4] = {2, 1, 0, 2};
    static const size_t bytes[4] = {24, 8, 8, 0};
    for (uint64_t i = 0; i < 4; i++) {
        mlxn_tensor_info ti;
        if (!CHECK_ST(mlxn_safetensors_tensor_info(st, i, &ti), MLXN_OK)) continue;
        CHECK(!strcmp(ti.name, names[i]) && ti.type == types[i] && ti.ndim == ndims[i] && ti.bytes == bytes[i],
              "tensor %llu: %s %s %d %zu", (unsigned long long)i, ti.name, mlxn_type_name(ti.type), ti.ndim, ti.bytes);
        CHECK(mlxn_safetensors_find_tensor(st, names[i]) == (int64_t)i, "find %s", names[i]);
    }
    mlxn_tensor_info ti;
    mlxn_safetensors_tensor_info(st, 0, &ti);
    CHECK(ti.ne[0] == 2 && ti.ne[1] == 3, "x shape [%lld, %lld]", (long long)ti.ne[0], (long long)ti.ne[1]);
    mlxn_safetensors_tensor_info(st, 3, &ti);
    CHECK(ti.ne[0] == 0 && ti.ne[1] == 5, "w shape");
    CHECK(mlxn_safetensors_find_tensor(st, "nope") == -1, "find absent");
    CHECK_ST(mlxn_safetensors_tensor_info(st, 4, &ti), MLXN_ERR_INVALID_ARG);
    float x[6];
    memcpy(x, mlxn_safetensors_tensor_data(st, 0), sizeof x);
    CHECK(x[0] == 1 && x[5] == 6, "x data");
    CHECK(mlxn_safetensors_tensor_data(st, 3) == NULL, "empty tensor has no data");
    int64_t z;
    memcpy(&z, mlxn_safetensors_tensor_data(st, 2), 8);
    CHECK(z == 7, "z = %lld", (long long)z);
    CHECK(mlxn_safetensors_meta_count(st) == 2, "meta count");
    const char *fmtv = mlxn_safetensors_meta_get(st, "format");
    CHECK(fmtv && !strcmp(fmtv, "pt"), "meta format");
    CHECK(mlxn_safetensors_meta_get(st, "nope") == NULL && mlxn_safetensors_meta_key(st, 2) == NULL, "meta absent");
    if (cpu) {
        mlxn_buffer *b = NULL;
        if (CHECK_ST(mlxn_safetensors_tensor_view(st, 1, cpu, &b), MLXN_OK)) {
            CHECK(mlxn_buffer_type(b) == MLXN_TYPE_BF16 && mlxn_buffer_ne(b, 0) == 4, "view y");
            mlxn_buffer_free(b);
        }
        b = NULL;
        if (CHECK_ST(mlxn_safetensors_tensor_upload(st, 2, cpu, NULL, NULL, &b), MLXN_OK)) {
            int64_t v = 0;
            CHECK(mlxn_buffer_ndim(b) == 1 && mlxn_buffer_ne(b, 0) == 1, "scalar upload has shape [1]");
            CHECK_ST(mlxn_buffer_read(b, 0, &v, 8), MLXN_OK);
            CHECK(v == 7, "uploaded z = %lld", (long long)v);
            mlxn_buffer_free(b);
        }
        b = NULL;
        if (CHECK_ST(mlxn_safetensors_tensor_upload(st, 0, cpu, NULL, NULL, &b), MLXN_OK)) {
            float y[6];
            CHECK_ST(mlxn_buffer_read(b, 0, y, sizeof y), MLXN_OK);
            CHECK(!memcmp(x, y, sizeof y), "uploaded x");
            mlxn_buffer_free(b);
        }
    }
    mlxn_safetensors_close(st);
    mlxn_safetensors_close(NULL);
}

static void test_sweeps(void) {
    size_t n;
    unsigned char *v = io_slurp(VALID "tiny.safetensors", &n);
    if (!CHECK(v != NULL, "read tiny.safetensors")) return;
    int accepted = 0;
    for (size_t cut = 0; cut < n; cut++) {
        unsigned char *p = malloc(cut ? cut : 1);
        memcpy(p, v, cut);
        mlxn_safetensors *st = NULL;
        mlxn_status s = mlxn_safetensors_open_memory(p, cut, &st);
        accepted += s == MLXN_OK;
        mlxn_safetensors_close(st);
        free(p);
    }
    CHECK(accepted == 0, "%d truncated files accepted", accepted);
    unsigned char *p = malloc(n);
    for (size_t i = 0; i < n; i++) {
        memcpy(p, v, n);
        p[i] ^= 0xff;
        mlxn_safetensors *st = NULL;
        mlxn_status s = mlxn_safetensors_open_memory(p, n, &st);
        if (s != MLXN_OK && s != MLXN_ERR_FORMAT && s != MLXN_ERR_UNSUPPORTED)
            CHECK(0, "corrupt byte %zu: %s", i, mlxn_status_str(s));
        mlxn_safetensors_close(st);
    }
    free(p);
    free(v);
}

static mlxn_status st_file(const char *path) {
    mlxn_safetensors *st = (mlxn_safetensors *)1;
    mlxn_status s = mlxn_safetensors_open(path, &st);
    if (s != MLXN_OK && st != NULL) return (mlxn_status)99;
    mlxn_safetensors_close(st);
    return s;
}

static mlxn_status st_mem(const void *p, size_t n) {
    mlxn_safetensors *st = NULL;
    mlxn_status s = mlxn_safetensors_open_memory(p, n, &st);
    mlxn_safetensors_close(st);
    return s;
}

static float bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u >>= 16; /* the generator truncates; its values are exact in bf16 */
    u <<= 16;
    memcpy(&f, &u, 4);
    return f;
}

/* tests/data/valid/mlx: q(n, k) = (5n + 3k) mod 2^bits, scale 0.5 + n, bias -1 - group. */
static void test_mlx(void) {
    mlxn_mlx_config *c = NULL;
    mlxn_safetensors *st = NULL;
    if (!CHECK_ST(mlxn_mlx_config_open(VALID "mlx/config.json", &c), MLXN_OK)) return;
    if (!CHECK_ST(mlxn_safetensors_open(VALID "mlx/model.safetensors", &st), MLXN_OK)) {
        mlxn_mlx_config_free(c);
        return;
    }
    static const int bits[6] = {2, 3, 4, 5, 6, 8}, groups[6] = {32, 32, 64, 32, 64, 32};
    for (int b = 0; b < 6; b++) {
        char module[32];
        snprintf(module, sizeof module, "model.m%d", bits[b]);
        int qb, qg;
        mlxn_mlx_config_quant(c, module, &qb, &qg);
        CHECK(qb == bits[b] && qg == groups[b], "%s config: %d bits, group %d", module, qb, qg);
        mlxn_mlx_weight w;
        if (!CHECK_ST(mlxn_mlx_weight_find(st, c, module, &w), MLXN_OK)) continue;
        CHECK(w.ndim == 2 && w.ne[0] == 3 && w.ne[1] == 64 && w.bits == bits[b] && w.group_size == groups[b],
              "%s: %d dims [%lld, %lld]", module, w.ndim, (long long)w.ne[0], (long long)w.ne[1]);
        int wrong = 0;
        for (int64_t n = 0; n < 3; n++) {
            float row[64];
            if (!CHECK_ST(mlxn_mlx_dequantize_row(st, &w, n, row), MLXN_OK)) break;
            for (int k = 0; k < 64; k++) {
                float q = (float)((n * 5 + k * 3) % (1 << bits[b]));
                float want = bf16_round(0.5f + (float)n) * q + bf16_round(-1.0f - (float)(k / groups[b]));
                wrong += row[k] != want;
            }
        }
        CHECK(wrong == 0, "%s: %d values wrong", module, wrong);
        float row[64];
        CHECK_ST(mlxn_mlx_dequantize_row(st, &w, 3, row), MLXN_ERR_INVALID_ARG);
    }
    int qb, qg;
    mlxn_mlx_config_quant(c, "model.other", &qb, &qg);
    CHECK(qb == 4 && qg == 32, "defaults for an unlisted module");
    mlxn_mlx_weight w;
    if (CHECK_ST(mlxn_mlx_weight_find(st, c, "model.norm", &w), MLXN_OK)) {
        float row[64];
        CHECK(w.bits == 0 && w.scales == -1 && w.ndim == 1 && w.ne[0] == 64, "norm is float");
        CHECK_ST(mlxn_mlx_dequantize_row(st, &w, 0, row), MLXN_OK);
        CHECK(row[8] == 1.0f && row[63] == 63.0f / 8, "norm values");
    }
    CHECK_ST(mlxn_mlx_weight_find(st, c, "model.absent", &w), MLXN_ERR_FORMAT);
    /* scales present but the config keeps the module in float, or has no quantization */
    mlxn_mlx_config *c2 = NULL;
    static const char off[] = "{\"quantization\": {\"bits\": 4, \"group_size\": 32, \"model.m4\": false}}";
    if (CHECK_ST(mlxn_mlx_config_parse(off, sizeof off - 1, &c2), MLXN_OK)) {
        CHECK_ST(mlxn_mlx_weight_find(st, c2, "model.m4", &w), MLXN_ERR_FORMAT);
        /* default 4 bits / group 32 does not fit m8's packing: 16 words per row at 4 bits = 128 */
        CHECK_ST(mlxn_mlx_weight_find(st, c2, "model.m8", &w), MLXN_ERR_FORMAT);
        mlxn_mlx_config_free(c2);
    }
    static const char none[] = "{\"model_type\": \"x\"}";
    if (CHECK_ST(mlxn_mlx_config_parse(none, sizeof none - 1, &c2), MLXN_OK)) {
        mlxn_mlx_config_quant(c2, "model.m4", &qb, &qg);
        CHECK(qb == 0 && qg == 0, "no quantization");
        CHECK_ST(mlxn_mlx_weight_find(st, c2, "model.m4", &w), MLXN_ERR_FORMAT);
        CHECK_ST(mlxn_mlx_weight_find(st, c2, "model.norm", &w), MLXN_OK);
        mlxn_mlx_config_free(c2);
    }
    static const char *bad[] = {
        "{", "[]", "{\"quantization\": 4}", "{\"quantization\": {\"bits\": 7, \"group_size\": 64}}",
        "{\"quantization\": {\"bits\": 4, \"group_size\": 48}}", "{\"quantization\": {\"bits\": 4}}",
        "{\"quantization\": {\"bits\": 4, \"group_size\": 64, \"mode\": \"mxfp4\"}}",
        "{\"quantization\": {\"bits\": 4, \"group_size\": 64, \"a\": {\"bits\": 1}}}",
        "{\"quantization_config\": {\"bits\": \"4\", \"group_size\": 64}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c2 = (mlxn_mlx_config *)1;
        CHECK(mlxn_mlx_config_parse(bad[i], strlen(bad[i]), &c2) == MLXN_ERR_FORMAT && c2 == NULL,
              "bad config %zu: %s", i, mlxn_last_error());
    }
    CHECK_ST(mlxn_mlx_config_open("/nonexistent/config.json", &c2), MLXN_ERR_IO);
    mlxn_safetensors_close(st);
    mlxn_mlx_config_free(c);
    mlxn_mlx_config_free(NULL);
}

int main(void) {
    mlxn_device *cpu = NULL;
    if (mlxn_device_open(MLXN_BACKEND_CPU, 0, &cpu) != MLXN_OK) {
        printf("note: no CPU device (%s); views and uploads not tested\n", mlxn_last_error());
        cpu = NULL;
    }
    mlxn_safetensors *st = NULL;
    CHECK_ST(mlxn_safetensors_open("/nonexistent.safetensors", &st), MLXN_ERR_IO);
    CHECK_ST(mlxn_safetensors_open(NULL, &st), MLXN_ERR_INVALID_ARG);
    test_valid(cpu);
    test_sweeps();
    test_mlx();
    int n = io_corpus("safetensors", st_file, st_mem);
    CHECK(n >= 30, "malformed safetensors corpus has %d files, want at least 30", n);
    mlxn_device_close(cpu);
    return t_finish("test_safetensors");
}
