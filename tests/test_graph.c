/* Streams and graphs on every backend: in-order execution, recording that does not run,
 * repeated replays that read buffers as they are at replay time, errors in the protocol. */
#include <string.h>

#include "backends.h"

static void per_backend(mlxn_device *dev) {
    mlxn_stream *s = NULL, *s2 = NULL;
    if (!CHECK_ST(mlxn_stream_create(dev, &s), MLXN_OK)) return;
    CHECK_ST(mlxn_stream_create(dev, &s2), MLXN_OK);
    CHECK(mlxn_stream_device(s) == dev, "stream_device");
    const int64_t ne[1] = {1000};
    mlxn_buffer *x = NULL, *y = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, ne, &x);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, ne, &y);
    float v[1000], back[1000];
    for (int i = 0; i < 1000; i++) v[i] = (float)i;
    mlxn_buffer_write(x, 0, v, sizeof v);

    /* an empty recording is a valid graph */
    mlxn_graph *g = NULL;
    CHECK_ST(mlxn_graph_begin(s), MLXN_OK);
    CHECK_ST(mlxn_graph_end(s, &g), MLXN_OK);
    CHECK(g && mlxn_graph_ops(g) == 0, "empty graph");
    CHECK_ST(mlxn_graph_replay(s, g), MLXN_OK);
    mlxn_graph_destroy(g);

    /* recording does not run; each replay reads x as it is then: y = 2x + 1, then x = y */
    mlxn_eltwise_params p = {.scale = 2.0f, .bias = 1.0f};
    CHECK_ST(mlxn_graph_begin(s), MLXN_OK);
    CHECK_ST(mlxn_graph_begin(s), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_stream_sync(s), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_scale(s, x, y, &p), MLXN_OK);
    CHECK_ST(mlxn_copy(s, y, x, NULL), MLXN_OK);
    CHECK_ST(mlxn_scale(s, x, NULL, &p), MLXN_ERR_INVALID_ARG); /* rejected, not recorded */
    CHECK_ST(mlxn_graph_end(s, &g), MLXN_OK);
    CHECK(mlxn_graph_ops(g) == 2, "2 ops recorded, got %zu", mlxn_graph_ops(g));
    mlxn_buffer_read(y, 0, back, sizeof back);
    bool untouched = true;
    for (int i = 0; i < 1000; i++) untouched &= back[i] == 0.0f;
    CHECK(untouched, "recording runs nothing");
    for (int r = 0; r < 3; r++) { /* streams are not ordered with each other: sync between */
        CHECK_ST(mlxn_graph_replay(r == 1 ? s2 : s, g), MLXN_OK);
        CHECK_ST(mlxn_stream_sync(r == 1 ? s2 : s), MLXN_OK);
    }
    mlxn_buffer_read(x, 0, back, sizeof back);
    bool ok = true;
    for (int i = 0; i < 1000; i++) ok &= back[i] == ((v[i] * 2 + 1) * 2 + 1) * 2 + 1;
    CHECK(ok, "three replays (on two streams) apply the graph three times in order");
    mlxn_graph *none = NULL;
    CHECK_ST(mlxn_graph_end(s, &none), MLXN_ERR_INVALID_ARG);

    /* replay on another device's stream is refused */
    mlxn_device *other = NULL;
    mlxn_stream *so = NULL;
    if (mlxn_device_open(MLXN_BACKEND_CPU, 0, &other) == MLXN_OK && mlxn_stream_create(other, &so) == MLXN_OK) {
        CHECK_ST(mlxn_graph_replay(so, g), MLXN_ERR_INVALID_ARG);
        CHECK_ST(mlxn_add(so, x, x, y, NULL), MLXN_ERR_INVALID_ARG); /* buffers of another device */
    }
    mlxn_stream_destroy(so);
    mlxn_device_close(other);

    /* CUDA: synchronous transfers are refused while a stream records */
    mlxn_device_props props;
    mlxn_device_info(dev, &props);
    CHECK_ST(mlxn_graph_begin(s), MLXN_OK);
    CHECK_ST(mlxn_buffer_write(x, 0, v, 4), props.backend == MLXN_BACKEND_CUDA ? MLXN_ERR_INVALID_ARG : MLXN_OK);
    CHECK_ST(mlxn_graph_replay(s, g), MLXN_ERR_INVALID_ARG);
    mlxn_graph *g2 = NULL;
    CHECK_ST(mlxn_graph_end(s, NULL), MLXN_ERR_INVALID_ARG); /* drops the recording */
    CHECK_ST(mlxn_graph_end(s, &g2), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_buffer_write(x, 0, v, 4), MLXN_OK);

    /* destroying a stream that records drops the recording */
    CHECK_ST(mlxn_graph_begin(s2), MLXN_OK);
    CHECK_ST(mlxn_scale(s2, x, y, &p), MLXN_OK);
    mlxn_stream_destroy(s2);
    CHECK_ST(mlxn_buffer_write(x, 0, v, 4), MLXN_OK);

    mlxn_graph_destroy(g);
    mlxn_graph_destroy(NULL);
    mlxn_buffer_free(x);
    mlxn_buffer_free(y);
    mlxn_stream_destroy(s);
    mlxn_stream_destroy(NULL);
    CHECK_ST(mlxn_stream_sync(NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_graph_begin(NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_graph_replay(NULL, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_stream_create(NULL, &s), MLXN_ERR_INVALID_ARG);
    CHECK(mlxn_stream_device(NULL) == NULL && mlxn_graph_ops(NULL) == 0, "NULL getters");
}

int main(void) {
    t_each_backend(per_backend);
    return t_finish("graph");
}
