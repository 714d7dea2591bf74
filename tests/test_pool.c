/* Pools on every backend: size classes, reuse after reset, memory that stays bounded over
 * steps, views that outlive the pool, bad input. */
#include <string.h>

#include "backends.h"

static void per_backend(mlxn_device *dev) {
    mlxn_pool *p = NULL;
    if (!CHECK_ST(mlxn_pool_create(dev, &p), MLXN_OK)) return;
    CHECK(mlxn_pool_bytes(p) == 0, "a new pool holds nothing");
    const int64_t a_ne[1] = {100}, b_ne[2] = {3, 1000}, c_ne[1] = {0};
    mlxn_buffer *a = NULL, *b = NULL, *c = NULL, *a2 = NULL;
    size_t after_first = 0;
    for (int step = 0; step < 5; step++) {
        CHECK_ST(mlxn_pool_alloc(p, MLXN_TYPE_F32, 1, a_ne, &a), MLXN_OK);
        CHECK_ST(mlxn_pool_alloc(p, MLXN_TYPE_F16, 2, b_ne, &b), MLXN_OK);
        CHECK_ST(mlxn_pool_alloc(p, MLXN_TYPE_F32, 1, c_ne, &c), MLXN_OK);
        CHECK_ST(mlxn_pool_alloc(p, MLXN_TYPE_F32, 1, a_ne, &a2), MLXN_OK);
        if (!a || !b || !c || !a2) break;
        CHECK(mlxn_buffer_bytes(a) == 400 && mlxn_buffer_bytes(b) == 6000 && mlxn_buffer_bytes(c) == 0, "pool sizes");
        /* two live buffers of one class never share memory */
        float va[100], vb[100];
        for (int i = 0; i < 100; i++) va[i] = (float)i, vb[i] = -(float)i;
        mlxn_buffer_write(a, 0, va, sizeof va);
        mlxn_buffer_write(a2, 0, vb, sizeof vb);
        float back[100];
        mlxn_buffer_read(a, 0, back, sizeof back);
        CHECK(!memcmp(back, va, sizeof va), "step %d: live pool buffers are disjoint", step);
        mlxn_buffer_free(a); /* a no-op for pool buffers */
        if (step == 0) after_first = mlxn_pool_bytes(p);
        else CHECK(mlxn_pool_bytes(p) == after_first, "step %d: no new memory after the first step (%zu vs %zu)", step,
                   mlxn_pool_bytes(p), after_first);
        mlxn_pool_reset(p);
    }
    /* 100 f32 = 400 B -> 512 class (x2), 6000 B -> 8192, 0 B -> 256 */
    CHECK(after_first == 512 * 2 + 8192 + 256, "power-of-two classes: %zu bytes", after_first);
    /* a view of a pool buffer keeps its memory after the pool is gone */
    mlxn_buffer *v = NULL;
    CHECK_ST(mlxn_pool_alloc(p, MLXN_TYPE_F32, 1, a_ne, &a), MLXN_OK);
    float va[100];
    for (int i = 0; i < 100; i++) va[i] = (float)(i * 3);
    mlxn_buffer_write(a, 0, va, sizeof va);
    CHECK_ST(mlxn_buffer_view(a, 0, MLXN_TYPE_F32, 1, a_ne, &v), MLXN_OK);
    /* bad input */
    const int64_t bad_ne[1] = {-5};
    mlxn_buffer *x = NULL;
    CHECK_ST(mlxn_pool_alloc(p, MLXN_TYPE_F32, 1, bad_ne, &x), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_pool_alloc(NULL, MLXN_TYPE_F32, 1, a_ne, &x), MLXN_ERR_INVALID_ARG);
    const int64_t impossible[1] = {(int64_t)1 << 60};
    CHECK_ST(mlxn_pool_alloc(p, MLXN_TYPE_F32, 1, impossible, &x), MLXN_ERR_OUT_OF_MEMORY);
    CHECK_ST(mlxn_pool_alloc(p, MLXN_TYPE_F32, 1, a_ne, &x), MLXN_OK);
    mlxn_pool_destroy(p);
    if (v) {
        float back[100];
        CHECK_ST(mlxn_buffer_read(v, 0, back, sizeof back), MLXN_OK);
        CHECK(!memcmp(back, va, sizeof va), "a view outlives its pool");
        mlxn_buffer_free(v);
    }
    mlxn_pool_destroy(NULL);
    mlxn_pool_reset(NULL);
    CHECK(mlxn_pool_bytes(NULL) == 0, "pool_bytes(NULL)");
    CHECK_ST(mlxn_pool_create(NULL, &p), MLXN_ERR_INVALID_ARG);
}

int main(void) {
    t_each_backend(per_backend);
    return t_finish("pool");
}
