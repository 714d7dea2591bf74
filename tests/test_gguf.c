/* GGUF reader and writer: every value of a small file written byte by byte in Python
 * (tests/data/valid), the malformed corpus with its expected statuses, truncation and
 * byte-corruption sweeps, limits, views and uploads, and a writer round trip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io_corpus.h"

/* The metadata of tests/data/valid/tiny*.gguf (scripts/gen_malformed.py valid_gguf). */
static void check_tiny_values(const mlxn_gguf *g) {
    const char *s;
    size_t len;
    uint32_t u32;
    uint64_t u64, n;
    int64_t i64;
    double f;
    bool b;
    mlxn_gguf_vtype et;
    const void *data;
    CHECK(mlxn_gguf_kv_count(g) == 17, "kv count %llu", (unsigned long long)mlxn_gguf_kv_count(g));
    CHECK(!strcmp(mlxn_gguf_kv_key(g, 0), "general.architecture"), "key 0");
    CHECK(mlxn_gguf_kv_type(g, 0) == MLXN_GGUF_STRING, "key 0 type");
    CHECK(mlxn_gguf_kv_key(g, 17) == NULL && mlxn_gguf_kv_type(g, 17) == MLXN_GGUF_VTYPE_COUNT, "past end");
    if (CHECK_ST(mlxn_gguf_get_str(g, "general.name", &s, &len), MLXN_OK))
        CHECK(!strcmp(s, "tiny") && len == 4, "general.name = %s", s);
    CHECK_ST(mlxn_gguf_get_u32(g, "t.u8", &u32), MLXN_OK);
    CHECK(u32 == 254, "t.u8 = %u", u32);
    CHECK_ST(mlxn_gguf_get_i64(g, "t.i8", &i64), MLXN_OK);
    CHECK(i64 == -128, "t.i8 = %lld", (long long)i64);
    CHECK_ST(mlxn_gguf_get_u32(g, "t.i8", &u32), MLXN_ERR_FORMAT);
    CHECK_ST(mlxn_gguf_get_u64(g, "t.u16", &u64), MLXN_OK);
    CHECK(u64 == 65535, "t.u16 = %llu", (unsigned long long)u64);
    CHECK_ST(mlxn_gguf_get_i64(g, "t.i16", &i64), MLXN_OK);
    CHECK(i64 == -32768, "t.i16");
    CHECK_ST(mlxn_gguf_get_u32(g, "t.u32", &u32), MLXN_OK);
    CHECK(u32 == 4000000000u, "t.u32 = %u", u32);
    CHECK_ST(mlxn_gguf_get_i64(g, "t.i32", &i64), MLXN_OK);
    CHECK(i64 == INT32_MIN, "t.i32");
    CHECK_ST(mlxn_gguf_get_f64(g, "t.f32", &f), MLXN_OK);
    CHECK(f == 1.5, "t.f32 = %g", f);
    CHECK_ST(mlxn_gguf_get_bool(g, "t.bool", &b), MLXN_OK);
    CHECK(b, "t.bool");
    CHECK_ST(mlxn_gguf_get_u64(g, "t.u64", &u64), MLXN_OK);
    CHECK(u64 == UINT64_MAX, "t.u64");
    CHECK_ST(mlxn_gguf_get_i64(g, "t.u64", &i64), MLXN_ERR_FORMAT);
    CHECK_ST(mlxn_gguf_get_u32(g, "t.u64", &u32), MLXN_ERR_FORMAT);
    CHECK_ST(mlxn_gguf_get_i64(g, "t.i64", &i64), MLXN_OK);
    CHECK(i64 == INT64_MIN, "t.i64");
    CHECK_ST(mlxn_gguf_get_u64(g, "t.i64", &u64), MLXN_ERR_FORMAT);
    CHECK_ST(mlxn_gguf_get_f64(g, "t.f64", &f), MLXN_OK);
    CHECK(f == -0.25, "t.f64 = %g", f);
    CHECK_ST(mlxn_gguf_get_f64(g, "t.u8", &f), MLXN_ERR_FORMAT);
    CHECK_ST(mlxn_gguf_get_str(g, "t.u8", &s, &len), MLXN_ERR_FORMAT);
    CHECK(strstr(mlxn_last_error(), "t.u8") != NULL, "message names the key: %s", mlxn_last_error());
    CHECK_ST(mlxn_gguf_get_bool(g, "no.such.key", &b), MLXN_ERR_FORMAT);
    CHECK(mlxn_gguf_find_key(g, "no.such.key") == -1, "find_key absent");
    CHECK(mlxn_gguf_find_key(g, "t.f64") == 12, "find_key t.f64");
    CHECK_ST(mlxn_gguf_get_u32(g, NULL, &u32), MLXN_ERR_INVALID_ARG);
    if (CHECK_ST(mlxn_gguf_get_arr(g, "t.arr_i32", &et, &n, &data), MLXN_OK)) {
        const int32_t *a = data;
        CHECK(et == MLXN_GGUF_INT32 && n == 3 && a[0] == 1 && a[1] == -2 && a[2] == 3, "t.arr_i32");
    }
    if (CHECK_ST(mlxn_gguf_get_arr(g, "t.arr_str", &et, &n, &data), MLXN_OK))
        CHECK(et == MLXN_GGUF_STRING && n == 3 && data == NULL, "t.arr_str");
    CHECK_ST(mlxn_gguf_get_arr_str(g, "t.arr_str", 1, &s, &len), MLXN_OK);
    CHECK(len == 0 && s[0] == 0, "t.arr_str[1] empty");
    CHECK_ST(mlxn_gguf_get_arr_str(g, "t.arr_str", 2, &s, &len), MLXN_OK);
    CHECK(len == 5 && !strcmp(s, "\xc3\xa9t\xc3\xa9"), "t.arr_str[2] utf-8");
    CHECK_ST(mlxn_gguf_get_arr_str(g, "t.arr_str", 3, &s, &len), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_gguf_get_arr_str(g, "t.arr_i32", 0, &s, &len), MLXN_ERR_FORMAT);
    if (CHECK_ST(mlxn_gguf_get_arr(g, "t.arr_empty", &et, &n, &data), MLXN_OK))
        CHECK(et == MLXN_GGUF_FLOAT32 && n == 0 && data == NULL, "t.arr_empty");
    CHECK(mlxn_gguf_alignment(g) == 32, "alignment");
}

static void progress(uint64_t done, uint64_t total, void *user) {
    uint64_t *last = user;
    last[0] = done;
    last[1] = total;
}

static void check_tiny_tensors(const mlxn_gguf *g, mlxn_device *cpu) {
    mlxn_tensor_info ti;
    CHECK(mlxn_gguf_tensor_count(g) == 3, "tensor count");
    if (!CHECK_ST(mlxn_gguf_tensor_info(g, 1, &ti), MLXN_OK)) return;
    CHECK(!strcmp(ti.name, "b") && ti.type == MLXN_TYPE_Q8_0 && ti.ndim == 2 && ti.ne[0] == 2 &&
              ti.ne[1] == 32 && ti.bytes == 68,
          "b: %s %s %d [%lld, %lld] %zu", ti.name, mlxn_type_name(ti.type), ti.ndim,
          (long long)ti.ne[0], (long long)ti.ne[1], ti.bytes);
    CHECK(ti.offset == mlxn_gguf_data_offset(g) + 32, "b offset %llu", (unsigned long long)ti.offset);
    CHECK(mlxn_gguf_find_tensor(g, "c") == 2 && mlxn_gguf_find_tensor(g, "d") == -1, "find_tensor");
    CHECK_ST(mlxn_gguf_tensor_info(g, 3, &ti), MLXN_ERR_INVALID_ARG);
    /* a: F32 [8], values i/2 - 1 */
    const float *a = mlxn_gguf_tensor_data(g, 0);
    CHECK(a && a[0] == -1.0f && a[7] == 2.5f, "a data");
    /* b: Q8_0, d = 0.5, q = (i*7 + block) % 31 - 15 */
    float row[64];
    mlxn_status st = mlxn_dequantize_row(MLXN_TYPE_Q8_0, mlxn_gguf_tensor_data(g, 1), row, 64);
    if (st == MLXN_ERR_UNSUPPORTED) {
        t_skip("Q8_0 dequantization not available yet");
    } else if (CHECK_ST(st, MLXN_OK)) {
        int bad = 0;
        for (int i = 0; i < 64; i++) bad += row[i] != 0.5f * (float)((i % 32 * 7 + i / 32) % 31 - 15);
        CHECK(bad == 0, "b dequantized: %d wrong", bad);
    }
    if (!cpu) return;
    mlxn_buffer *v = NULL, *u = NULL;
    if (CHECK_ST(mlxn_gguf_tensor_view(g, 2, cpu, &v), MLXN_OK)) {
        CHECK(mlxn_buffer_type(v) == MLXN_TYPE_Q4_K && mlxn_buffer_ne(v, 0) == 256 && mlxn_buffer_bytes(v) == 144, "view c");
        unsigned char tmp[144];
        CHECK_ST(mlxn_buffer_read(v, 0, tmp, 144), MLXN_OK);
        CHECK(!memcmp(tmp, mlxn_gguf_tensor_data(g, 2), 144), "view bytes");
        CHECK_ST(mlxn_buffer_write(v, 0, tmp, 4), MLXN_ERR_INVALID_ARG);
    }
    mlxn_buffer_free(v);
    uint64_t last[2] = {0, 0};
    if (CHECK_ST(mlxn_gguf_tensor_upload(g, 1, cpu, NULL, NULL, &u), MLXN_OK)) mlxn_buffer_free(u);
    u = NULL;
    if (CHECK_ST(mlxn_gguf_tensor_upload(g, 1, cpu, progress, last, &u), MLXN_OK)) {
        unsigned char tmp[68];
        CHECK(last[0] == 68 && last[1] == 68, "progress %llu/%llu", (unsigned long long)last[0], (unsigned long long)last[1]);
        CHECK_ST(mlxn_buffer_read(u, 0, tmp, 68), MLXN_OK);
        CHECK(!memcmp(tmp, mlxn_gguf_tensor_data(g, 1), 68), "upload bytes");
        CHECK(mlxn_buffer_ndim(u) == 2 && mlxn_buffer_ne(u, 0) == 2 && mlxn_buffer_ne(u, 1) == 32, "upload shape");
    }
    mlxn_buffer_free(u);
}

static void test_valid(mlxn_device *cpu) {
    const char *files[] = {MLXN_TEST_DIR "/data/valid/tiny.gguf", MLXN_TEST_DIR "/data/valid/tiny_v2.gguf"};
    for (int i = 0; i < 2; i++) {
        mlxn_gguf *g = NULL;
        if (!CHECK_ST(mlxn_gguf_open(files[i], &g), MLXN_OK)) continue;
        CHECK(mlxn_gguf_version(g) == (i ? 2u : 3u), "version %u", mlxn_gguf_version(g));
        check_tiny_values(g);
        check_tiny_tensors(g, cpu);
        mlxn_gguf_close(g);
    }
    mlxn_gguf_close(NULL);
}

/* Every cut point and every single-byte corruption of a valid file: an error or a valid
 * handle, never a crash (the sanitizer build watches the reads). */
static void test_sweeps(void) {
    size_t n;
    unsigned char *v = io_slurp(MLXN_TEST_DIR "/data/valid/tiny.gguf", &n);
    if (!CHECK(v != NULL, "read tiny.gguf")) return;
    int accepted = 0, flips_ok = 0;
    for (size_t cut = 0; cut < n; cut++) {
        mlxn_gguf *g = NULL;
        unsigned char *p = malloc(cut ? cut : 1); /* exactly cut bytes: ASan sees overreads */
        memcpy(p, v, cut);
        mlxn_status st = mlxn_gguf_open_memory(p, cut, NULL, &g);
        accepted += st == MLXN_OK;
        if (st != MLXN_OK && st != MLXN_ERR_FORMAT) CHECK(0, "cut %zu: %s", cut, mlxn_status_str(st));
        mlxn_gguf_close(g);
        free(p);
    }
    CHECK(accepted == 0, "%d truncated files accepted", accepted);
    unsigned char *p = malloc(n);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) {
            static const unsigned char vals[3] = {0x00, 0xff, 0x80};
            memcpy(p, v, n);
            p[i] = vals[k] == p[i] ? (unsigned char)(p[i] ^ 1) : vals[k];
            mlxn_gguf *g = NULL;
            mlxn_status st = mlxn_gguf_open_memory(p, n, NULL, &g);
            if (st != MLXN_OK && st != MLXN_ERR_FORMAT) CHECK(0, "flip %zu: %s", i, mlxn_status_str(st));
            flips_ok += st == MLXN_OK;
            mlxn_gguf_close(g);
        }
    }
    CHECK(flips_ok < (int)(3 * n), "corruptions: %d of %zu accepted", flips_ok, 3 * n);
    free(p);
    free(v);
}

static mlxn_status gguf_file(const char *path) {
    mlxn_gguf *g = (mlxn_gguf *)1;
    mlxn_status st = mlxn_gguf_open(path, &g);
    if (st != MLXN_OK && g != NULL) return (mlxn_status)99; /* out must be NULL on failure */
    mlxn_gguf_close(g);
    return st;
}

static mlxn_status gguf_mem(const void *p, size_t n) {
    mlxn_gguf *g = NULL;
    mlxn_status st = mlxn_gguf_open_memory(p, n, NULL, &g);
    mlxn_gguf_close(g);
    return st;
}

static void test_errors(void) {
    mlxn_gguf *g = NULL;
    CHECK_ST(mlxn_gguf_open("/nonexistent/x.gguf", &g), MLXN_ERR_IO);
    CHECK(strstr(mlxn_last_error(), "/nonexistent/x.gguf") != NULL, "IO message names the path");
    CHECK_ST(mlxn_gguf_open(MLXN_TEST_DIR "/data", &g), MLXN_ERR_IO);
    CHECK_ST(mlxn_gguf_open(NULL, &g), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_gguf_open(MLXN_TEST_DIR "/data/valid/tiny.gguf", NULL), MLXN_ERR_INVALID_ARG);
    mlxn_gguf_limits lim;
    mlxn_gguf_limits_init(&lim);
    lim.max_kv = 16;
    CHECK_ST(mlxn_gguf_open_ex(MLXN_TEST_DIR "/data/valid/tiny.gguf", &lim, &g), MLXN_ERR_FORMAT);
    mlxn_gguf_limits_init(&lim);
    lim.max_tensors = 2;
    CHECK_ST(mlxn_gguf_open_ex(MLXN_TEST_DIR "/data/valid/tiny.gguf", &lim, &g), MLXN_ERR_FORMAT);
    mlxn_gguf_limits_init(&lim);
    lim.max_string = 4; /* "llama" is 5 */
    CHECK_ST(mlxn_gguf_open_ex(MLXN_TEST_DIR "/data/valid/tiny.gguf", &lim, &g), MLXN_ERR_FORMAT);
    mlxn_gguf_limits_init(&lim);
    lim.max_array = 2;
    CHECK_ST(mlxn_gguf_open_ex(MLXN_TEST_DIR "/data/valid/tiny.gguf", &lim, &g), MLXN_ERR_FORMAT);
    mlxn_gguf_limits_init(&lim);
    lim.max_name = 8;
    CHECK_ST(mlxn_gguf_open_ex(MLXN_TEST_DIR "/data/valid/tiny.gguf", &lim, &g), MLXN_ERR_FORMAT);
    mlxn_gguf_limits_init(&lim);
    lim.max_dims = 1;
    CHECK_ST(mlxn_gguf_open_ex(MLXN_TEST_DIR "/data/valid/tiny.gguf", &lim, &g), MLXN_ERR_FORMAT);
    lim.max_dims = 5;
    CHECK_ST(mlxn_gguf_open_ex(MLXN_TEST_DIR "/data/valid/tiny.gguf", &lim, &g), MLXN_ERR_INVALID_ARG);
    mlxn_gguf_limits_init(&lim);
    lim.max_alignment = 48;
    CHECK_ST(mlxn_gguf_open_ex(MLXN_TEST_DIR "/data/valid/tiny.gguf", &lim, &g), MLXN_ERR_INVALID_ARG);
    CHECK(g == NULL, "out NULL after failures");
}

/* Writer: every value type, arrays, several tensor types, a custom alignment; read back. */
static void test_writer(void) {
    mlxn_gguf_writer *w = NULL;
    if (!CHECK_ST(mlxn_gguf_writer_create(&w), MLXN_OK)) return;
    uint8_t u8 = 200;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    uint32_t u32 = 3000000000u, align = 64;
    int32_t i32 = -2000000000;
    float f32 = 0.1f;
    bool bl = true;
    uint64_t u64 = 0xfedcba9876543210ull;
    int64_t i64 = -0x123456789abcdefll;
    double f64 = 1e300;
    const void *vals[] = {&u8, &i8, &u16, &i16, &u32, &i32, &f32, &bl, NULL, NULL, &u64, &i64, &f64};
    char key[32];
    for (int t = 0; t < MLXN_GGUF_VTYPE_COUNT; t++) {
        if (!vals[t]) continue;
        snprintf(key, sizeof key, "v.%s", mlxn_gguf_vtype_name((mlxn_gguf_vtype)t));
        CHECK_ST(mlxn_gguf_writer_set(w, key, (mlxn_gguf_vtype)t, vals[t]), MLXN_OK);
    }
    CHECK_ST(mlxn_gguf_writer_set(w, "v.u8", MLXN_GGUF_UINT8, &u8), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_gguf_writer_set(w, "v.s", MLXN_GGUF_STRING, "x"), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_gguf_writer_set(w, "general.alignment", MLXN_GGUF_UINT32, &(uint32_t){48}), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_gguf_writer_set(w, "general.alignment", MLXN_GGUF_UINT32, &align), MLXN_OK);
    CHECK_ST(mlxn_gguf_writer_set_str(w, "v.str", "hello, \xe4\xb8\x96\xe7\x95\x8c"), MLXN_OK);
    const int16_t arr_i16[4] = {-1, 2, -3, 4};
    const double arr_f64[2] = {0.5, -1e-300};
    const uint8_t arr_bool[3] = {1, 0, 1};
    const char *strs[3] = {"<s>", "", "token"};
    CHECK_ST(mlxn_gguf_writer_set_arr(w, "v.arr_i16", MLXN_GGUF_INT16, arr_i16, 4), MLXN_OK);
    CHECK_ST(mlxn_gguf_writer_set_arr(w, "v.arr_f64", MLXN_GGUF_FLOAT64, arr_f64, 2), MLXN_OK);
    CHECK_ST(mlxn_gguf_writer_set_arr(w, "v.arr_bool", MLXN_GGUF_BOOL, arr_bool, 3), MLXN_OK);
    CHECK_ST(mlxn_gguf_writer_set_arr_str(w, "v.arr_str", strs, 3), MLXN_OK);
    float f[64];
    for (int i = 0; i < 64; i++) f[i] = (float)i * 0.25f - 3.0f;
    unsigned char q8[2 * 34], f16[64 * 2];
    for (int i = 0; i < (int)sizeof q8; i++) q8[i] = (unsigned char)(i * 13 + 1);
    for (int i = 0; i < (int)sizeof f16; i++) f16[i] = (unsigned char)(i * 7);
    int64_t ne_f[2] = {4, 16}, ne_q[1] = {64}, ne_h[3] = {2, 2, 16};
    CHECK_ST(mlxn_gguf_writer_add_tensor(w, "w.f32", MLXN_TYPE_F32, 2, ne_f, f, sizeof f), MLXN_OK);
    CHECK_ST(mlxn_gguf_writer_add_tensor(w, "w.q8", MLXN_TYPE_Q8_0, 1, ne_q, q8, sizeof q8), MLXN_OK);
    CHECK_ST(mlxn_gguf_writer_add_tensor(w, "w.f16", MLXN_TYPE_F16, 3, ne_h, f16, sizeof f16), MLXN_OK);
    CHECK_ST(mlxn_gguf_writer_add_tensor(w, "w.f32", MLXN_TYPE_F32, 2, ne_f, f, sizeof f), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_gguf_writer_add_tensor(w, "w.bad", MLXN_TYPE_F32, 2, ne_f, f, 4), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_gguf_writer_add_tensor(w, "w.u8", MLXN_TYPE_U8, 1, ne_q, q8, 64), MLXN_ERR_INVALID_ARG);
    char path[64];
    snprintf(path, sizeof path, "test_gguf_%d.gguf", (int)getpid());
    CHECK_ST(mlxn_gguf_writer_write(w, "/nonexistent/dir/x.gguf"), MLXN_ERR_IO);
    if (!CHECK_ST(mlxn_gguf_writer_write(w, path), MLXN_OK)) {
        mlxn_gguf_writer_free(w);
        return;
    }
    mlxn_gguf_writer_free(w);
    mlxn_gguf_writer_free(NULL);

    mlxn_gguf *g = NULL;
    if (CHECK_ST(mlxn_gguf_open(path, &g), MLXN_OK)) {
        uint64_t u;
        int64_t i;
        double d;
        bool b;
        const char *s;
        size_t len;
        mlxn_gguf_vtype et;
        uint64_t n;
        const void *data;
        CHECK(mlxn_gguf_version(g) == 3 && mlxn_gguf_alignment(g) == 64, "version/alignment");
        CHECK(mlxn_gguf_data_offset(g) % 64 == 0, "data offset aligned");
        CHECK(mlxn_gguf_kv_type(g, 0) == MLXN_GGUF_UINT8 && mlxn_gguf_kv_type(g, 10) == MLXN_GGUF_FLOAT64, "types in order");
        CHECK(!mlxn_gguf_get_u64(g, "v.u8", &u) && u == 200, "v.u8");
        CHECK(!mlxn_gguf_get_i64(g, "v.i8", &i) && i == -100, "v.i8");
        CHECK(!mlxn_gguf_get_u64(g, "v.u16", &u) && u == 60000, "v.u16");
        CHECK(!mlxn_gguf_get_i64(g, "v.i16", &i) && i == -30000, "v.i16");
        CHECK(!mlxn_gguf_get_u64(g, "v.u32", &u) && u == 3000000000u, "v.u32");
        CHECK(!mlxn_gguf_get_i64(g, "v.i32", &i) && i == -2000000000, "v.i32");
        CHECK(!mlxn_gguf_get_f64(g, "v.f32", &d) && d == (double)0.1f, "v.f32");
        CHECK(!mlxn_gguf_get_bool(g, "v.bool", &b) && b, "v.bool");
        CHECK(!mlxn_gguf_get_u64(g, "v.u64", &u) && u == u64, "v.u64");
        CHECK(!mlxn_gguf_get_i64(g, "v.i64", &i) && i == i64, "v.i64");
        CHECK(!mlxn_gguf_get_f64(g, "v.f64", &d) && d == 1e300, "v.f64");
        CHECK(!mlxn_gguf_get_str(g, "v.str", &s, &len) && len == 13 && !strcmp(s, "hello, \xe4\xb8\x96\xe7\x95\x8c"), "v.str");
        CHECK(!mlxn_gguf_get_arr(g, "v.arr_i16", &et, &n, &data) && et == MLXN_GGUF_INT16 && n == 4 &&
                  !memcmp(data, arr_i16, sizeof arr_i16), "v.arr_i16");
        CHECK(!mlxn_gguf_get_arr(g, "v.arr_f64", &et, &n, &data) && et == MLXN_GGUF_FLOAT64 && n == 2 &&
                  !memcmp(data, arr_f64, sizeof arr_f64), "v.arr_f64");
        CHECK(!mlxn_gguf_get_arr(g, "v.arr_bool", &et, &n, &data) && et == MLXN_GGUF_BOOL && n == 3 &&
                  !memcmp(data, arr_bool, 3), "v.arr_bool");
        for (uint64_t k = 0; k < 3; k++)
            CHECK(!mlxn_gguf_get_arr_str(g, "v.arr_str", k, &s, &len) && !strcmp(s, strs[k]), "v.arr_str[%llu]", (unsigned long long)k);
        mlxn_tensor_info ti;
        CHECK(!mlxn_gguf_tensor_info(g, 2, &ti) && ti.type == MLXN_TYPE_F16 && ti.ndim == 3 && ti.ne[0] == 2 &&
                  ti.ne[1] == 2 && ti.ne[2] == 16 && ti.offset % 64 == 0, "w.f16 info");
        CHECK(!memcmp(mlxn_gguf_tensor_data(g, 0), f, sizeof f), "w.f32 data");
        CHECK(!memcmp(mlxn_gguf_tensor_data(g, 1), q8, sizeof q8), "w.q8 data");
        CHECK(!memcmp(mlxn_gguf_tensor_data(g, 2), f16, sizeof f16), "w.f16 data");
        mlxn_gguf_close(g);
    }
    remove(path);
}

int main(void) {
    mlxn_device *cpu = NULL;
    if (mlxn_device_open(MLXN_BACKEND_CPU, 0, &cpu) != MLXN_OK) {
        printf("note: no CPU device (%s); views and uploads not tested\n", mlxn_last_error());
        cpu = NULL;
    }
    test_valid(cpu);
    test_sweeps();
    test_errors();
    test_writer();
    int n = io_corpus("gguf", gguf_file, gguf_mem);
    CHECK(n >= 60, "malformed GGUF corpus has %d files, want at least 60", n);
    mlxn_device_close(cpu);
    return t_finish("test_gguf");
}
