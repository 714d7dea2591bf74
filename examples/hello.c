/* The smallest mlxn program: open the best device, add two vectors, print the sum. */
#include <stdio.h>

#include <mlxn.h>

int main(void) {
    mlxn_device *dev = NULL;
    mlxn_stream *s = NULL;
    mlxn_buffer *a = NULL, *b = NULL;
    const int64_t ne[1] = {4};
    const float x[4] = {1, 2, 3, 4}, y[4] = {10, 20, 30, 40};
    float sum[4];
    mlxn_status st;
    if ((st = mlxn_device_open(MLXN_BACKEND_AUTO, 0, &dev)) || (st = mlxn_stream_create(dev, &s)) ||
        (st = mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, ne, &a)) || (st = mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, ne, &b)) ||
        (st = mlxn_buffer_write(a, 0, x, sizeof x)) || (st = mlxn_buffer_write(b, 0, y, sizeof y)) ||
        (st = mlxn_add(s, a, b, a, NULL)) || (st = mlxn_stream_sync(s)) || (st = mlxn_buffer_read(a, 0, sum, sizeof sum))) {
        fprintf(stderr, "hello: %s: %s\n", mlxn_status_str(st), mlxn_last_error());
    } else {
        printf("%g %g %g %g\n", sum[0], sum[1], sum[2], sum[3]);
    }
    mlxn_buffer_free(a);
    mlxn_buffer_free(b);
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    return st == MLXN_OK ? 0 : 1;
}
