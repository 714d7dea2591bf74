/* The API's edges: status strings, the error message, logging, type traits, devices and
 * config, and the elementwise ops' argument checks (every failure names what is wrong). */
#include <stdlib.h>
#include <string.h>

#include "backends.h"

static int log_lines;
static void on_log(mlxn_log_level level, const char *msg, void *user) {
    (void)level, (void)msg;
    *(int *)user += 1;
}

static void status_and_log(void) {
    for (int s = 0; s <= 6; s++) CHECK(strlen(mlxn_status_str((mlxn_status)s)) > 0, "status_str(%d)", s);
    CHECK(!strcmp(mlxn_status_str((mlxn_status)99), "unknown status"), "status_str out of range");
    CHECK(!strcmp(mlxn_status_str(MLXN_ERR_OUT_OF_MEMORY), "out of memory"), "status_str text");
    mlxn_clear_error();
    CHECK(!strcmp(mlxn_last_error(), ""), "cleared error is empty");
    mlxn_device *dev = NULL;
    CHECK_ST(mlxn_device_open(MLXN_BACKEND_CPU, 3, &dev), MLXN_ERR_INVALID_ARG);
    CHECK(strstr(mlxn_last_error(), "ordinal 3") != NULL, "message names the value: %s", mlxn_last_error());
    mlxn_log_set(on_log, &log_lines);
    CHECK_ST(mlxn_device_open(MLXN_BACKEND_AUTO, 0, &dev), MLXN_OK); /* logs its choice at info */
    mlxn_log_set(NULL, NULL);
    CHECK(log_lines >= 1, "the log callback receives lines (%d)", log_lines);
    mlxn_device_close(dev);
    CHECK(strlen(mlxn_version()) >= 5 && strlen(mlxn_build_info()) > 5, "version and build info");
}

static void types(void) {
    CHECK(mlxn_type_valid(MLXN_TYPE_Q4_K) && !mlxn_type_valid((mlxn_type)4) && !mlxn_type_valid(MLXN_TYPE_COUNT) &&
              !mlxn_type_valid((mlxn_type)-1), "type_valid");
    CHECK(!strcmp(mlxn_type_name(MLXN_TYPE_Q4_K), "q4_K") && !strcmp(mlxn_type_name((mlxn_type)5), "invalid"), "names");
    CHECK(mlxn_type_block_elems(MLXN_TYPE_Q8_0) == 32 && mlxn_type_block_bytes(MLXN_TYPE_Q8_0) == 34, "q8_0 block");
    CHECK(mlxn_type_block_elems(MLXN_TYPE_BF16) == 1 && mlxn_type_block_bytes(MLXN_TYPE_BF16) == 2, "bf16 block");
    CHECK(mlxn_type_is_quantized(MLXN_TYPE_MXFP4) && !mlxn_type_is_quantized(MLXN_TYPE_F16), "is_quantized");
    mlxn_type t;
    CHECK_ST(mlxn_type_from_ggml(12, &t), MLXN_OK);
    CHECK(t == MLXN_TYPE_Q4_K, "ggml 12 is q4_K");
    CHECK_ST(mlxn_type_from_ggml(4, &t), MLXN_ERR_UNSUPPORTED); /* removed Q4_2 */
    CHECK_ST(mlxn_type_from_ggml(1000, &t), MLXN_ERR_UNSUPPORTED);
    CHECK_ST(mlxn_type_from_ggml(0, NULL), MLXN_ERR_INVALID_ARG);
    uint32_t id;
    CHECK_ST(mlxn_type_to_ggml(MLXN_TYPE_BF16, &id), MLXN_OK);
    CHECK(id == 30, "bf16 is ggml 30");
    CHECK_ST(mlxn_type_to_ggml(MLXN_TYPE_U8, &id), MLXN_ERR_UNSUPPORTED);
    /* every valid type round-trips through its ggml id */
    for (int k = 0; k < MLXN_TYPE_COUNT; k++) {
        if (!mlxn_type_valid((mlxn_type)k) || mlxn_type_to_ggml((mlxn_type)k, &id) != MLXN_OK) continue;
        CHECK(mlxn_type_from_ggml(id, &t) == MLXN_OK && t == (mlxn_type)k, "%s round-trips", mlxn_type_name((mlxn_type)k));
    }
    CHECK(mlxn_row_bytes(MLXN_TYPE_Q4_0, 64) == 36 && mlxn_row_bytes(MLXN_TYPE_Q4_0, 65) == 0 &&
              mlxn_row_bytes(MLXN_TYPE_F32, -1) == 0 && mlxn_row_bytes(MLXN_TYPE_F32, INT64_MAX) == 0 &&
              mlxn_row_bytes((mlxn_type)4, 4) == 0, "row_bytes");
}

static void devices(void) {
    mlxn_device *dev = (mlxn_device *)1;
    CHECK_ST(mlxn_device_open(MLXN_BACKEND_CPU, -1, &dev), MLXN_ERR_INVALID_ARG);
    CHECK(dev == NULL, "failed open sets *out to NULL");
    CHECK_ST(mlxn_device_open((mlxn_backend)7, 0, &dev), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_device_open(MLXN_BACKEND_CPU, 0, NULL), MLXN_ERR_INVALID_ARG);
    mlxn_config cfg;
    mlxn_config_init(&cfg);
    CHECK(cfg.cpu_threads == 0, "default threads: one per core");
    CHECK(cfg.cuda_cublaslt == 1, "default: cuBLASLt where present");
    cfg.cuda_cublaslt = 2;
    CHECK_ST(mlxn_device_open_ex(MLXN_BACKEND_CPU, 0, &cfg, &dev), MLXN_ERR_INVALID_ARG);
    CHECK(strstr(mlxn_last_error(), "cuda_cublaslt") != NULL, "names cuda_cublaslt: %s", mlxn_last_error());
    cfg.cuda_cublaslt = 1;
    cfg.cpu_threads = -2;
    CHECK_ST(mlxn_device_open_ex(MLXN_BACKEND_CPU, 0, &cfg, &dev), MLXN_ERR_INVALID_ARG);
    cfg.cpu_threads = 3;
    if (CHECK_ST(mlxn_device_open_ex(MLXN_BACKEND_CPU, 0, &cfg, &dev), MLXN_OK)) {
        mlxn_device_props p;
        CHECK_ST(mlxn_device_info(dev, &p), MLXN_OK);
        CHECK(p.threads == 3 && p.backend == MLXN_BACKEND_CPU && p.name[0] && p.total_memory > 0, "cpu props");
        CHECK_ST(mlxn_device_info(dev, NULL), MLXN_ERR_INVALID_ARG);
        mlxn_device_close(dev);
    }
    CHECK_ST(mlxn_device_info(NULL, NULL), MLXN_ERR_INVALID_ARG);
    mlxn_device_close(NULL);
    int n = -1;
    CHECK_ST(mlxn_device_count(MLXN_BACKEND_CPU, &n), MLXN_OK);
    CHECK(n == 1, "one CPU device");
    CHECK_ST(mlxn_device_count(MLXN_BACKEND_CUDA, &n), MLXN_OK);
    if (n == 0) {
        /* UNSUPPORTED in a build without CUDA, DEVICE where the driver or GPU is missing */
        mlxn_status st = mlxn_device_open(MLXN_BACKEND_CUDA, 0, &dev);
        CHECK(st == MLXN_ERR_UNSUPPORTED || st == MLXN_ERR_DEVICE, "cuda open without a GPU: %s", mlxn_status_str(st));
    } else {
        CHECK_ST(mlxn_device_open(MLXN_BACKEND_CUDA, n, &dev), MLXN_ERR_INVALID_ARG);
    }
    CHECK_ST(mlxn_device_count(MLXN_BACKEND_AUTO, &n), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_device_count(MLXN_BACKEND_CPU, NULL), MLXN_ERR_INVALID_ARG);
    CHECK(!strcmp(mlxn_backend_name(MLXN_BACKEND_CUDA), "cuda") && !strcmp(mlxn_backend_name((mlxn_backend)9), "invalid"),
          "backend names");
}

/* Elementwise argument checks. */
static void eltwise_args(mlxn_device *dev) {
    mlxn_stream *s = NULL;
    if (!CHECK_ST(mlxn_stream_create(dev, &s), MLXN_OK)) return;
    const int64_t ne[2] = {3, 4}, ne_t[2] = {4, 3}, row[1] = {4}, row5[1] = {5}, qne[2] = {3, 32};
    mlxn_buffer *a = NULL, *b = NULL, *y = NULL, *yt = NULL, *r = NULL, *r5 = NULL, *q = NULL, *i32 = NULL, *e = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, ne, &a);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 2, ne, &b);
    mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 2, ne, &y);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, ne_t, &yt);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, row, &r);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, row5, &r5);
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q8_0, 2, qne, &q);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 2, ne, &i32);
    const int64_t ene[2] = {0, 4};
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, ene, &e);
    CHECK_ST(mlxn_add(s, a, b, y, NULL), MLXN_OK);
    CHECK_ST(mlxn_add(s, a, r, y, NULL), MLXN_OK);
    CHECK_ST(mlxn_add(NULL, a, b, y, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_add(s, NULL, b, y, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_add(s, a, NULL, y, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_add(s, a, b, NULL, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_add(s, a, b, yt, NULL), MLXN_ERR_INVALID_ARG);
    CHECK(strstr(mlxn_last_error(), "[4, 3]") && strstr(mlxn_last_error(), "[3, 4]"), "message: %s", mlxn_last_error());
    CHECK_ST(mlxn_add(s, a, r5, y, NULL), MLXN_ERR_INVALID_ARG);
    CHECK(strstr(mlxn_last_error(), "row of 4"), "message: %s", mlxn_last_error());
    CHECK_ST(mlxn_mul(s, a, q, y, NULL), MLXN_ERR_INVALID_ARG);
    CHECK(strstr(mlxn_last_error(), "q8_0"), "message names the type: %s", mlxn_last_error());
    CHECK_ST(mlxn_copy(s, i32, a, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_add(s, a, a, a, NULL), MLXN_OK);          /* in place, b == a too */
    CHECK_ST(mlxn_add(s, a, b, b, NULL), MLXN_OK); /* y is b: in place on b */
    mlxn_buffer *b_as_bf16 = NULL;
    mlxn_buffer_view(b, 0, MLXN_TYPE_BF16, 2, ne, &b_as_bf16);
    CHECK_ST(mlxn_add(s, a, b, b_as_bf16, NULL), MLXN_ERR_INVALID_ARG); /* y aliases b as another type */
    mlxn_buffer_free(b_as_bf16);
    mlxn_buffer *half_view = NULL;
    const int64_t vne[2] = {3, 4};
    mlxn_buffer *big = NULL;
    const int64_t bigne[1] = {16};
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, bigne, &big);
    mlxn_buffer *v0 = NULL;
    mlxn_buffer_view(big, 0, MLXN_TYPE_F32, 2, vne, &v0);
    mlxn_buffer_view(big, 8, MLXN_TYPE_F32, 2, vne, &half_view);
    CHECK_ST(mlxn_scale(s, v0, half_view, NULL), MLXN_ERR_INVALID_ARG); /* partial overlap */
    CHECK_ST(mlxn_scale(s, e, e, NULL), MLXN_OK);                       /* empty: nothing to do */
    CHECK_ST(mlxn_stream_sync(s), MLXN_OK);
    mlxn_buffer *list[] = {a, b, y, yt, r, r5, q, i32, e, big, v0, half_view};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) mlxn_buffer_free(list[i]);
    mlxn_stream_destroy(s);
}

int main(void) {
    status_and_log();
    types();
    devices();
    t_each_backend(eltwise_args);
    return t_finish("api");
}
