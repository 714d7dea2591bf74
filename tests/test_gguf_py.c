/* GGUF files written by another implementation: tests/data/gguf_py_write.py writes one
 * with the `gguf` PyPI package (from the project's .venv) holding every metadata type,
 * arrays of each, and tensors of many types; mlxn reads it back and checks every value
 * and every dequantized element against gguf-py's own dequantizer. Skipped without .venv. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io_corpus.h"

#define VENV_PY MLXN_TEST_DIR "/../.venv/bin/python"

static void check_metadata(const mlxn_gguf *g) {
    uint64_t u, n;
    int64_t i;
    double f;
    bool b;
    const char *s;
    size_t len;
    mlxn_gguf_vtype et;
    const void *d;
    CHECK(!mlxn_gguf_get_str(g, "general.architecture", &s, &len) && !strcmp(s, "testarch"), "architecture");
    CHECK(!mlxn_gguf_get_u64(g, "v.u8", &u) && u == 250 && mlxn_gguf_kv_type(g, mlxn_gguf_find_key(g, "v.u8")) == MLXN_GGUF_UINT8, "v.u8");
    CHECK(!mlxn_gguf_get_i64(g, "v.i8", &i) && i == -7, "v.i8");
    CHECK(!mlxn_gguf_get_u64(g, "v.u16", &u) && u == 65000, "v.u16");
    CHECK(!mlxn_gguf_get_i64(g, "v.i16", &i) && i == -32000, "v.i16");
    CHECK(!mlxn_gguf_get_u64(g, "v.u32", &u) && u == 4294967295u, "v.u32");
    CHECK(!mlxn_gguf_get_i64(g, "v.i32", &i) && i == -123456789, "v.i32");
    CHECK(!mlxn_gguf_get_f64(g, "v.f32", &f) && f == 0.15625, "v.f32");
    CHECK(!mlxn_gguf_get_u64(g, "v.u64", &u) && u == UINT64_MAX, "v.u64");
    CHECK(!mlxn_gguf_get_i64(g, "v.i64", &i) && i == -INT64_MAX, "v.i64");
    CHECK(!mlxn_gguf_get_f64(g, "v.f64", &f) && f == 3.141592653589793, "v.f64");
    CHECK(!mlxn_gguf_get_bool(g, "v.bool", &b) && !b, "v.bool");
    CHECK(!mlxn_gguf_get_str(g, "v.str", &s, &len) && !strcmp(s, "gguf-py \xe2\x9c\x93"), "v.str");
#define ARR(key, T, vt, ...)                                                                           \
    do {                                                                                               \
        static const T want[] = {__VA_ARGS__};                                                         \
        CHECK(!mlxn_gguf_get_arr(g, key, &et, &n, &d) && et == vt && n == sizeof want / sizeof want[0] && \
                  !memcmp(d, want, sizeof want),                                                       \
              "%s: %s", key, mlxn_last_error());                                                       \
    } while (0)
    ARR("a.u8", uint8_t, MLXN_GGUF_UINT8, 0, 255);
    ARR("a.i8", int8_t, MLXN_GGUF_INT8, -128, 127);
    ARR("a.u16", uint16_t, MLXN_GGUF_UINT16, 1, 65535);
    ARR("a.i16", int16_t, MLXN_GGUF_INT16, -2, 2);
    ARR("a.u32", uint32_t, MLXN_GGUF_UINT32, 7, 4294967295u);
    ARR("a.i32", int32_t, MLXN_GGUF_INT32, -1, 5);
    ARR("a.f32", float, MLXN_GGUF_FLOAT32, 0.5f, -2.25f);
    ARR("a.u64", uint64_t, MLXN_GGUF_UINT64, 3, 9223372036854775808ull);
    ARR("a.i64", int64_t, MLXN_GGUF_INT64, -4611686018427387904ll, 9);
    ARR("a.f64", double, MLXN_GGUF_FLOAT64, 1e-300, -0.5);
    ARR("a.bool", uint8_t, MLXN_GGUF_BOOL, 1, 0, 1);
    static const char *strs[3] = {"x", "", "tokens \xc3\xa9"};
    for (uint64_t k = 0; k < 3; k++)
        CHECK(!mlxn_gguf_get_arr_str(g, "a.str", k, &s, &len) && !strcmp(s, strs[k]), "a.str[%llu]", (unsigned long long)k);
}

/* Element k of a tensor of an integer or f64 type, as float. */
static float raw_elem(mlxn_type t, const void *p, int64_t k) {
    switch (t) {
    case MLXN_TYPE_I8: return (float)((const int8_t *)p)[k];
    case MLXN_TYPE_I16: return (float)((const int16_t *)p)[k];
    case MLXN_TYPE_I32: return (float)((const int32_t *)p)[k];
    case MLXN_TYPE_I64: return (float)((const int64_t *)p)[k];
    case MLXN_TYPE_F64: return (float)((const double *)p)[k];
    default: return NAN;
    }
}

static void check_tensors(const mlxn_gguf *g, const unsigned char *e, size_t elen) {
    size_t pos = 0;
    int n = 0;
    while (pos + 4 <= elen) {
        uint32_t nl, qt;
        uint64_t count;
        char name[64] = {0};
        memcpy(&nl, e + pos, 4);
        if (nl >= sizeof name || pos + 4 + nl + 12 > elen) break;
        memcpy(name, e + pos + 4, nl);
        memcpy(&qt, e + pos + 4 + nl, 4);
        memcpy(&count, e + pos + 8 + nl, 8);
        const unsigned char *want = e + pos + 16 + nl; /* unaligned: copied below */
        pos += 16 + nl + count * 4;
        if (pos > elen) break;
        n++;
        int64_t idx = mlxn_gguf_find_tensor(g, name);
        mlxn_tensor_info ti;
        if (!CHECK(idx >= 0 && !mlxn_gguf_tensor_info(g, (uint64_t)idx, &ti), "tensor %s", name)) continue;
        uint32_t id = 0;
        mlxn_type_to_ggml(ti.type, &id);
        int64_t ne = 1;
        for (int d = 0; d < ti.ndim; d++) ne *= ti.ne[d];
        CHECK(id == qt && ne == (int64_t)count, "%s: type %s (GGUF %u, want %u), %lld elements", name,
              mlxn_type_name(ti.type), id, qt, (long long)ne);
        float *got = malloc((size_t)count * sizeof(float)), *w = malloc((size_t)count * sizeof(float));
        memcpy(w, want, (size_t)count * 4);
        const void *data = mlxn_gguf_tensor_data(g, (uint64_t)idx);
        mlxn_status st = MLXN_OK;
        if (mlxn_type_is_quantized(ti.type) || ti.type == MLXN_TYPE_F32 || ti.type == MLXN_TYPE_F16 || ti.type == MLXN_TYPE_BF16)
            st = mlxn_dequantize_row(ti.type, data, got, ne);
        else
            for (int64_t k = 0; k < ne; k++) got[k] = raw_elem(ti.type, data, k);
        if (st == MLXN_ERR_UNSUPPORTED) {
            t_skip("%s: no dequantizer for %s yet", name, mlxn_type_name(ti.type));
        } else if (CHECK_ST(st, MLXN_OK)) {
            /* gguf-py dequantizes with numpy in float32, in the same order of operations as
             * ggml for these formats; allow one rounding of difference. */
            int bad = 0;
            double worst = 0;
            for (uint64_t k = 0; k < count; k++) {
                double diff = fabs((double)got[k] - (double)w[k]);
                if (diff > 1e-6 * fmax(1.0, fabs((double)w[k])) || isnan(got[k]) != isnan(w[k])) bad++;
                worst = fmax(worst, diff);
            }
            CHECK(bad == 0, "%s (%s): %d of %llu values differ from gguf-py, worst %g", name,
                  mlxn_type_name(ti.type), bad, (unsigned long long)count, worst);
        }
        free(got);
        free(w);
    }
    CHECK(pos == elen && n >= 10, "read %d tensors from the .expect file", n);
}

int main(void) {
    if (access(VENV_PY, X_OK) != 0) {
        t_skip("no %s: run scripts/setup.sh to install the gguf package", VENV_PY);
        return t_finish("test_gguf_py");
    }
    char out[128], cmd[1024];
    snprintf(out, sizeof out, "test_gguf_py_%d.gguf", (int)getpid());
    snprintf(cmd, sizeof cmd, "'%s' '%s/data/gguf_py_write.py' '%s' 2>&1", VENV_PY, MLXN_TEST_DIR, out);
    FILE *p = popen(cmd, "r");
    char line[512];
    while (p && fgets(line, sizeof line, p)) printf("gguf_py_write.py: %s", line);
    int rc = p ? pclose(p) : -1;
    if (rc != 0) {
        /* the package is absent from this .venv: skipped, not passed */
        t_skip("gguf_py_write.py failed (exit %d): is the gguf package installed in .venv?", rc);
        return t_finish("test_gguf_py");
    }
    mlxn_gguf *g = NULL;
    if (CHECK_ST(mlxn_gguf_open(out, &g), MLXN_OK)) {
        CHECK(mlxn_gguf_version(g) == 3, "version");
        check_metadata(g);
        char ep[160];
        snprintf(ep, sizeof ep, "%s.expect", out);
        size_t elen = 0;
        unsigned char *e = io_slurp(ep, &elen);
        if (CHECK(e != NULL, "read %s", ep)) check_tensors(g, e, elen);
        free(e);
        remove(ep);
        mlxn_gguf_close(g);
    }
    remove(out);
    return t_finish("test_gguf_py");
}
