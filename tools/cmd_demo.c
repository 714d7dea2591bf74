/* mlxn demo: the elementwise family on every present backend — add with a broadcast row,
 * mul, scale, and casts f32 -> bf16 -> f16 -> f32 — eager and replayed from a graph. */
#include <stdio.h>
#include <string.h>

#include "mlxn.h"
#include "cli.h"

#define ROWS 2
#define COLS 4

static int demo_on(mlxn_backend b) {
    mlxn_device *dev = NULL;
    mlxn_stream *s = NULL;
    mlxn_graph *g = NULL;
    mlxn_buffer *x = NULL, *row = NULL, *y = NULL, *h = NULL, *bf = NULL, *back = NULL;
    const int64_t shape[2] = {ROWS, COLS}, rshape[1] = {COLS};
    const float xv[ROWS * COLS] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float rv[COLS] = {0.5f, -1.0f, 0.25f, 100.0f};
    float out[ROWS * COLS];
    mlxn_eltwise_params half = {.scale = 0.5f, .bias = 1.0f};
    int rc = 1;
    mlxn_status st;
#define TRY(what, call) \
    if ((st = (call)) != MLXN_OK) { rc = mlxn_cli_fail("demo", what, st); goto done; }
    TRY("device_open", mlxn_device_open(b, 0, &dev));
    mlxn_device_props p;
    TRY("device_info", mlxn_device_info(dev, &p));
    printf("== %s: %s\n", mlxn_backend_name(b), p.name);
    TRY("stream_create", mlxn_stream_create(dev, &s));
    TRY("alloc x", mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, shape, &x));
    TRY("alloc row", mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, rshape, &row));
    TRY("alloc y", mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, shape, &y));
    TRY("alloc bf", mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 2, shape, &bf));
    TRY("alloc h", mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 2, shape, &h));
    TRY("alloc back", mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, shape, &back));
    TRY("write x", mlxn_buffer_write(x, 0, xv, sizeof xv));
    TRY("write row", mlxn_buffer_write(row, 0, rv, sizeof rv));

    struct {
        const char *what;
        mlxn_buffer *buf;
    } shown[4] = {{"add x + row     ", y}, {"mul y * row     ", y}, {"scale y*0.5 + 1 ", y}, {"f32>bf16>f16>f32", back}};
    for (int step = 0; step < 4; step++) {
        switch (step) {
        case 0: TRY("add", mlxn_add(s, x, row, y, NULL)); break;
        case 1: TRY("mul", mlxn_mul(s, y, row, y, NULL)); break;
        case 2: TRY("scale", mlxn_scale(s, y, y, &half)); break;
        case 3:
            TRY("copy", mlxn_copy(s, y, bf, NULL));
            TRY("copy", mlxn_copy(s, bf, h, NULL));
            TRY("copy", mlxn_copy(s, h, back, NULL));
            break;
        }
        TRY("sync", mlxn_stream_sync(s));
        TRY("read", mlxn_buffer_read(shown[step].buf, 0, out, sizeof out));
        printf("  %s", shown[step].what);
        for (int i = 0; i < ROWS * COLS; i++) printf(" %9g", out[i]);
        printf("\n");
    }
    /* The same chain recorded once and replayed gives the same bits. */
    float eager[ROWS * COLS], replayed[ROWS * COLS];
    memcpy(eager, out, sizeof out);
    TRY("graph_begin", mlxn_graph_begin(s));
    TRY("add", mlxn_add(s, x, row, y, NULL));
    TRY("mul", mlxn_mul(s, y, row, y, NULL));
    TRY("scale", mlxn_scale(s, y, y, &half));
    TRY("copy", mlxn_copy(s, y, bf, NULL));
    TRY("copy", mlxn_copy(s, bf, h, NULL));
    TRY("copy", mlxn_copy(s, h, back, NULL));
    TRY("graph_end", mlxn_graph_end(s, &g));
    TRY("fill", mlxn_buffer_fill(back, &(float){-1.0f}, sizeof(float)));
    TRY("graph_replay", mlxn_graph_replay(s, g));
    TRY("sync", mlxn_stream_sync(s));
    TRY("read", mlxn_buffer_read(back, 0, replayed, sizeof replayed));
    bool same = memcmp(eager, replayed, sizeof eager) == 0;
    printf("  graph of %zu ops replayed: %s\n", mlxn_graph_ops(g), same ? "bit-identical to eager" : "DIFFERS from eager");
    rc = same ? 0 : 1;
#undef TRY
done:
    mlxn_graph_destroy(g);
    mlxn_buffer_free(x);
    mlxn_buffer_free(row);
    mlxn_buffer_free(y);
    mlxn_buffer_free(bf);
    mlxn_buffer_free(h);
    mlxn_buffer_free(back);
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    return rc;
}

int mlxn_cmd_demo(int argc, char **argv) {
    int rc = demo_on(MLXN_BACKEND_CPU);
    int n = 0;
    mlxn_device_count(MLXN_BACKEND_CUDA, &n);
    if (n > 0) rc |= demo_on(MLXN_BACKEND_CUDA);
    else printf("== cuda: not present (%s)\n", mlxn_last_error());
    return rc;
}
