/* Buffers on every backend: alloc (zeroed), shapes and sizes, views, wraps, transfers,
 * fill, copies within and across devices, empty buffers, and an impossible allocation. */
#include <stdlib.h>
#include <string.h>

#include "backends.h"

static bool all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static void basics(mlxn_device *dev) {
    mlxn_buffer *b = NULL;
    const int64_t ne[3] = {2, 3, 64};
    if (!CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 3, ne, &b), MLXN_OK)) return;
    CHECK(mlxn_buffer_type(b) == MLXN_TYPE_F16, "type");
    CHECK(mlxn_buffer_ndim(b) == 3 && mlxn_buffer_ne(b, 0) == 2 && mlxn_buffer_ne(b, 2) == 64 && mlxn_buffer_ne(b, 3) == 0 &&
              mlxn_buffer_ne(b, -1) == 0, "shape getters");
    CHECK(mlxn_buffer_nelements(b) == 384 && mlxn_buffer_bytes(b) == 768, "nelements %lld bytes %zu",
          (long long)mlxn_buffer_nelements(b), mlxn_buffer_bytes(b));
    CHECK(mlxn_buffer_device(b) == dev, "device getter");
    unsigned char host[768], back[768];
    CHECK_ST(mlxn_buffer_read(b, 0, back, sizeof back), MLXN_OK);
    CHECK(all_zero(back, sizeof back), "a new buffer is zeroed");
    for (size_t i = 0; i < sizeof host; i++) host[i] = (unsigned char)(i * 7 + 1);
    CHECK_ST(mlxn_buffer_write(b, 0, host, sizeof host), MLXN_OK);
    CHECK_ST(mlxn_buffer_read(b, 0, back, sizeof back), MLXN_OK);
    CHECK(!memcmp(host, back, sizeof host), "write then read round-trips");
    /* partial ranges */
    CHECK_ST(mlxn_buffer_read(b, 100, back, 50), MLXN_OK);
    CHECK(!memcmp(host + 100, back, 50), "partial read");
    CHECK_ST(mlxn_buffer_read(b, 700, back, 69), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_write(b, SIZE_MAX, host, 2), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_read(b, 0, NULL, 4), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_read(b, 0, NULL, 0), MLXN_OK);
    /* fill with each pattern size */
    const unsigned char pat[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    for (size_t pb = 1; pb <= 16; pb *= 2) {
        CHECK_ST(mlxn_buffer_fill(b, pat, pb), MLXN_OK);
        CHECK_ST(mlxn_buffer_read(b, 0, back, sizeof back), MLXN_OK);
        bool ok = true;
        for (size_t i = 0; i < sizeof back; i++) ok &= back[i] == pat[i % pb];
        CHECK(ok, "fill with a %zu-byte pattern", pb);
    }
    CHECK_ST(mlxn_buffer_fill(b, pat, 3), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_fill(b, pat, 32), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_fill(b, NULL, 4), MLXN_ERR_INVALID_ARG);

    /* views share memory and outlive their parent */
    mlxn_buffer *v = NULL;
    const int64_t vne[2] = {4, 8};
    CHECK_ST(mlxn_buffer_write(b, 0, host, sizeof host), MLXN_OK);
    CHECK_ST(mlxn_buffer_view(b, 128, MLXN_TYPE_F32, 2, vne, &v), MLXN_OK);
    CHECK(mlxn_buffer_bytes(v) == 128 && mlxn_buffer_type(v) == MLXN_TYPE_F32, "view size and type");
    const int64_t toobig[1] = {161};
    mlxn_buffer *bad = (mlxn_buffer *)1;
    CHECK_ST(mlxn_buffer_view(b, 128, MLXN_TYPE_F32, 1, toobig, &bad), MLXN_ERR_INVALID_ARG);
    CHECK(bad == NULL, "failed view sets *out to NULL");
    CHECK_ST(mlxn_buffer_view(b, SIZE_MAX - 8, MLXN_TYPE_F32, 2, vne, &bad), MLXN_ERR_INVALID_ARG);
    mlxn_buffer_free(b);
    if (v) {
        CHECK_ST(mlxn_buffer_read(v, 0, back, 128), MLXN_OK);
        CHECK(!memcmp(back, host + 128, 128), "a view reads its parent's bytes after the parent is freed");
        unsigned char z[128] = {0};
        CHECK_ST(mlxn_buffer_write(v, 0, z, sizeof z), MLXN_OK);
        mlxn_buffer_free(v);
    }
}

static void copies(mlxn_device *dev) {
    const int64_t ne[1] = {1000};
    mlxn_buffer *a = NULL, *b = NULL;
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_U8, 1, ne, &a), MLXN_OK);
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_U8, 1, ne, &b), MLXN_OK);
    if (!a || !b) return;
    unsigned char host[1000], back[1000];
    for (int i = 0; i < 1000; i++) host[i] = (unsigned char)(i ^ 0x5a);
    mlxn_buffer_write(a, 0, host, 1000);
    CHECK_ST(mlxn_buffer_copy(b, 10, a, 20, 900), MLXN_OK);
    mlxn_buffer_read(b, 0, back, 1000);
    CHECK(all_zero(back, 10) && !memcmp(back + 10, host + 20, 900) && all_zero(back + 910, 90), "buffer_copy ranges");
    CHECK_ST(mlxn_buffer_copy(b, 200, a, 0, 900), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_copy(a, 0, a, 10, 20), MLXN_ERR_INVALID_ARG); /* overlap */
    CHECK_ST(mlxn_buffer_copy(a, 0, a, 500, 500), MLXN_OK);           /* same allocation, disjoint */
    /* across devices: CPU <-> this device */
    mlxn_device *cpu = NULL;
    if (CHECK_ST(mlxn_device_open(MLXN_BACKEND_CPU, 0, &cpu), MLXN_OK)) {
        mlxn_buffer *h = NULL;
        CHECK_ST(mlxn_buffer_alloc(cpu, MLXN_TYPE_U8, 1, ne, &h), MLXN_OK);
        CHECK_ST(mlxn_buffer_copy(h, 0, b, 0, 1000), MLXN_OK);
        unsigned char back2[1000];
        mlxn_buffer_read(h, 0, back2, 1000);
        mlxn_buffer_read(b, 0, back, 1000);
        CHECK(!memcmp(back, back2, 1000), "copy across devices");
        mlxn_buffer_free(h);
        mlxn_device_close(cpu);
    }
    mlxn_buffer_free(a);
    mlxn_buffer_free(b);
}

static void shapes_and_limits(mlxn_device *dev) {
    mlxn_buffer *b = NULL;
    /* empty buffers are valid */
    const int64_t empty[2] = {0, 4096};
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, empty, &b), MLXN_OK);
    CHECK(b && mlxn_buffer_bytes(b) == 0 && mlxn_buffer_nelements(b) == 0, "an empty buffer has 0 bytes");
    CHECK_ST(mlxn_buffer_read(b, 0, NULL, 0), MLXN_OK);
    CHECK_ST(mlxn_buffer_fill(b, &(int){0}, 4), MLXN_OK);
    mlxn_buffer_free(b);
    /* block formats: row length must be a multiple of the block */
    const int64_t q_ok[2] = {3, 256}, q_bad[2] = {3, 100};
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_Q4_K, 2, q_ok, &b), MLXN_OK);
    CHECK(b && mlxn_buffer_bytes(b) == 3 * 144, "q4_K bytes");
    mlxn_buffer_free(b);
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_Q4_K, 2, q_bad, &b), MLXN_ERR_INVALID_ARG);
    CHECK(strstr(mlxn_last_error(), "q4_K") && strstr(mlxn_last_error(), "100"), "message names type and size: %s",
          mlxn_last_error());
    const int64_t neg[1] = {-1}, huge[4] = {INT64_MAX, INT64_MAX, 2, 2};
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, neg, &b), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 4, huge, &b), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 0, neg, &b), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 5, huge, &b), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_alloc(dev, (mlxn_type)4, 1, q_ok, &b), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_COUNT, 1, q_ok, &b), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, NULL, &b), MLXN_ERR_INVALID_ARG);
    /* 2^62 bytes cannot be had: OUT_OF_MEMORY, and the device keeps working */
    const int64_t impossible[1] = {(int64_t)1 << 60};
    b = (mlxn_buffer *)1;
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, impossible, &b), MLXN_ERR_OUT_OF_MEMORY);
    CHECK(b == NULL, "failed alloc sets *out to NULL");
    const int64_t small[1] = {16};
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, small, &b), MLXN_OK);
    float ones[16], back[16];
    for (int i = 0; i < 16; i++) ones[i] = 1.0f + (float)i;
    CHECK_ST(mlxn_buffer_write(b, 0, ones, sizeof ones), MLXN_OK);
    CHECK_ST(mlxn_buffer_read(b, 0, back, sizeof back), MLXN_OK);
    CHECK(!memcmp(ones, back, sizeof ones), "the device works after an impossible allocation");
    mlxn_buffer_free(b);
}

static void wrap(mlxn_device *dev) {
    static const float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int64_t ne[2] = {2, 4};
    mlxn_buffer *w = NULL;
    mlxn_device_props p;
    mlxn_device_info(dev, &p);
    if (p.backend != MLXN_BACKEND_CPU) {
        CHECK_ST(mlxn_buffer_wrap(dev, MLXN_TYPE_F32, 2, ne, data, sizeof data, &w), MLXN_ERR_UNSUPPORTED);
        return;
    }
    CHECK_ST(mlxn_buffer_wrap(dev, MLXN_TYPE_F32, 2, ne, data, sizeof data - 1, &w), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_wrap(dev, MLXN_TYPE_F32, 2, ne, NULL, sizeof data, &w), MLXN_ERR_INVALID_ARG);
    if (!CHECK_ST(mlxn_buffer_wrap(dev, MLXN_TYPE_F32, 2, ne, data, sizeof data, &w), MLXN_OK)) return;
    float back[8];
    CHECK_ST(mlxn_buffer_read(w, 0, back, sizeof back), MLXN_OK);
    CHECK(!memcmp(back, data, sizeof back), "a wrapped buffer reads the caller's memory");
    CHECK_ST(mlxn_buffer_write(w, 0, back, 4), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_fill(w, back, 4), MLXN_ERR_INVALID_ARG);
    mlxn_buffer *v = NULL;
    const int64_t vne[1] = {4};
    CHECK_ST(mlxn_buffer_view(w, 16, MLXN_TYPE_F32, 1, vne, &v), MLXN_OK);
    CHECK_ST(mlxn_buffer_write(v, 0, back, 4), MLXN_ERR_INVALID_ARG);
    mlxn_stream *s = NULL;
    mlxn_stream_create(dev, &s);
    CHECK_ST(mlxn_scale(s, w, v, NULL), MLXN_ERR_INVALID_ARG); /* a read-only output */
    mlxn_stream_destroy(s);
    mlxn_buffer_free(v);
    mlxn_buffer_free(w);
}

static void nulls(void) {
    mlxn_buffer *b = NULL;
    const int64_t ne[1] = {4};
    char x[4];
    CHECK_ST(mlxn_buffer_alloc(NULL, MLXN_TYPE_F32, 1, ne, &b), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_write(NULL, 0, x, 4), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_read(NULL, 0, x, 4), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_fill(NULL, x, 4), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_copy(NULL, 0, NULL, 0, 4), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_view(NULL, 0, MLXN_TYPE_F32, 1, ne, &b), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_wrap(NULL, MLXN_TYPE_F32, 1, ne, x, 4, &b), MLXN_ERR_INVALID_ARG);
    mlxn_buffer_free(NULL);
    CHECK(mlxn_buffer_type(NULL) == MLXN_TYPE_COUNT && mlxn_buffer_ndim(NULL) == 0 && mlxn_buffer_bytes(NULL) == 0 &&
              mlxn_buffer_nelements(NULL) == 0 && mlxn_buffer_device(NULL) == NULL && mlxn_buffer_ne(NULL, 0) == 0,
          "getters on NULL");
}

static void per_backend(mlxn_device *dev) {
    basics(dev);
    copies(dev);
    shapes_and_limits(dev);
    wrap(dev);
}

int main(void) {
    nulls();
    t_each_backend(per_backend);
    return t_finish("buffer");
}
