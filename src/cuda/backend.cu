/* The CUDA backend: device memory, streams (cudaStream_t), graphs (CUDA Graphs by stream
 * capture). The runtime is linked statically; with no driver or GPU, count() says why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_common.cuh"

/* Fills n bytes with a pattern of pb bytes (pb divides 16 and n). */
static __global__ void fill_kernel(unsigned char *dst, size_t n, uint4 pattern, unsigned pb) {
    const unsigned char *pat = reinterpret_cast<const unsigned char *>(&pattern);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = pat[i & (pb - 1)];
}

static int cuda_count(char *why, size_t why_len) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(why, why_len, "%s: %s", cudaGetErrorName(e), cudaGetErrorString(e));
        return 0;
    }
    if (n == 0) snprintf(why, why_len, "the CUDA driver reports no GPU");
    return n;
}

static mlxn_status cuda_open(int ordinal, const mlxn_config *cfg, void **out) {
    cuda_device *d = static_cast<cuda_device *>(calloc(1, sizeof(cuda_device)));
    if (!d) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "device_open: out of host memory");
    d->ordinal = ordinal;
    d->cublaslt = !cfg || cfg->cuda_cublaslt;
    mlxn_status st = mlxn_cuda_status(cudaSetDevice(ordinal), "cudaSetDevice", __FILE__, __LINE__);
    if (!st) st = mlxn_cuda_status(cudaGetDeviceProperties(&d->prop, ordinal), "cudaGetDeviceProperties", __FILE__, __LINE__);
    if (!st) st = mlxn_cuda_status(cudaFree(0), "cudaFree(0) (context creation)", __FILE__, __LINE__);
    if (st) {
        free(d);
        return st;
    }
    *out = d;
    return MLXN_OK;
}

static void cuda_close(void *dev) {
    cuda_device *d = static_cast<cuda_device *>(dev);
    cudaSetDevice(d->ordinal);
    cudaDeviceSynchronize();
    free(d);
}

static mlxn_status cuda_props(void *dev, mlxn_device_props *p) {
    cuda_device *d = static_cast<cuda_device *>(dev);
    MLXN_CUDA_TRY(cudaSetDevice(d->ordinal));
    snprintf(p->name, sizeof p->name, "%s", d->prop.name);
    size_t free_b = 0, total_b = 0;
    MLXN_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
    p->total_memory = total_b;
    p->free_memory = free_b;
    p->cc_major = d->prop.major;
    p->cc_minor = d->prop.minor;
    p->sm_count = d->prop.multiProcessorCount;
    p->l2_bytes = (uint64_t)d->prop.l2CacheSize;
    snprintf(p->simd, sizeof p->simd, "sm_%d%d", d->prop.major, d->prop.minor);
    return MLXN_OK;
}

static mlxn_status cuda_alloc(void *dev, size_t bytes, void **ptr) {
    cuda_device *d = static_cast<cuda_device *>(dev);
    MLXN_CUDA_TRY(cudaSetDevice(d->ordinal));
    void *p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return mlxn_err(e == cudaErrorMemoryAllocation ? MLXN_ERR_OUT_OF_MEMORY : MLXN_ERR_DEVICE,
                        "buffer_alloc: %zu bytes on CUDA device %d: %s", bytes, d->ordinal, cudaGetErrorString(e));
    }
    e = cudaMemset(p, 0, bytes);
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        cudaFree(p);
        return mlxn_cuda_status(e, "cudaMemset", __FILE__, __LINE__);
    }
    *ptr = p;
    return MLXN_OK;
}

static void cuda_free(void *dev, void *ptr) {
    cuda_device *d = static_cast<cuda_device *>(dev);
    cudaSetDevice(d->ordinal);
    cudaFree(ptr);
}

/* Synchronous copies on the legacy default stream, which waits for the (blocking) streams. */
static mlxn_status cuda_copy_kind(void *dev, void *dst, const void *src, size_t n, cudaMemcpyKind kind) {
    cuda_device *d = static_cast<cuda_device *>(dev);
    MLXN_CUDA_TRY(cudaSetDevice(d->ordinal));
    MLXN_CUDA_TRY(cudaMemcpy(dst, src, n, kind));
    if (kind == cudaMemcpyDeviceToDevice) MLXN_CUDA_TRY(cudaStreamSynchronize(0));
    return MLXN_OK;
}

static mlxn_status cuda_write(void *dev, void *dst, const void *src, size_t n) {
    return cuda_copy_kind(dev, dst, src, n, cudaMemcpyHostToDevice);
}
static mlxn_status cuda_read(void *dev, void *dst, const void *src, size_t n) {
    return cuda_copy_kind(dev, dst, src, n, cudaMemcpyDeviceToHost);
}
static mlxn_status cuda_copy(void *dev, void *dst, const void *src, size_t n) {
    return cuda_copy_kind(dev, dst, src, n, cudaMemcpyDeviceToDevice);
}

static mlxn_status cuda_fill(void *dev, void *dst, size_t n, const void *pattern, size_t pb) {
    cuda_device *d = static_cast<cuda_device *>(dev);
    MLXN_CUDA_TRY(cudaSetDevice(d->ordinal));
    if (pb == 1) {
        MLXN_CUDA_TRY(cudaMemset(dst, *static_cast<const unsigned char *>(pattern), n));
    } else {
        uint4 pat;
        memcpy(&pat, pattern, pb);
        fill_kernel<<<mlxn_grid_for(d, (long long)n, 256), 256>>>(static_cast<unsigned char *>(dst), n, pat, (unsigned)pb);
        MLXN_CUDA_CHECK_LAUNCH();
    }
    MLXN_CUDA_TRY(cudaStreamSynchronize(0));
    return MLXN_OK;
}

static mlxn_status cuda_stream_create(void *dev, void **out) {
    cuda_device *d = static_cast<cuda_device *>(dev);
    MLXN_CUDA_TRY(cudaSetDevice(d->ordinal));
    cuda_stream *s = static_cast<cuda_stream *>(calloc(1, sizeof(cuda_stream)));
    if (!s) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "stream_create: out of host memory");
    s->dev = d;
    cudaError_t e = cudaStreamCreate(&s->s);
    if (e != cudaSuccess) {
        free(s);
        return mlxn_cuda_status(e, "cudaStreamCreate", __FILE__, __LINE__);
    }
    /* zeroed on the new stream itself: a synchronous memset (legacy stream) would fail while
     * another stream of the device records a graph */
    const size_t fb = sizeof(unsigned) * (size_t)d->prop.multiProcessorCount;
    e = cudaMalloc(&s->flags, fb);
    if (e == cudaSuccess) e = cudaMemsetAsync(s->flags, 0, fb, s->s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s->s);
    if (e != cudaSuccess) {
        cudaFree(s->flags);
        cudaStreamDestroy(s->s);
        free(s);
        return mlxn_cuda_status(e, "stream flags (cudaMalloc, cudaMemsetAsync)", __FILE__, __LINE__);
    }
    *out = s;
    return MLXN_OK;
}

static mlxn_status cuda_stream_sync(void *stream) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    MLXN_CUDA_TRY(cudaStreamSynchronize(s->s));
    return MLXN_OK;
}

static void cuda_stream_destroy(void *stream) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    cudaSetDevice(s->dev->ordinal);
    cudaStreamSynchronize(s->s);
    cudaStreamDestroy(s->s);
    for (int i = 0; i < s->n_retired; i++) cudaFree(s->retired[i]);
    free(s->retired);
    cudaFree(s->ws);
    cudaFree(s->flags);
    free(s);
}

mlxn_status mlxn_cuda_workspace(cuda_stream *s, size_t bytes, void **out) {
    if (bytes <= s->ws_bytes) {
        *out = s->ws;
        return MLXN_OK;
    }
    size_t want = s->ws_bytes ? s->ws_bytes : ((size_t)1 << 20);
    while (want < bytes) want *= 2;
    void **r = static_cast<void **>(realloc(s->retired, sizeof(void *) * (size_t)(s->n_retired + 1)));
    if (!r) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "cuda: out of host memory for the stream workspace");
    s->retired = r;
    void *p = nullptr;
    MLXN_CUDA_TRY(cudaMalloc(&p, want));
    if (s->ws) s->retired[s->n_retired++] = s->ws;
    s->ws = p;
    s->ws_bytes = want;
    *out = p;
    return MLXN_OK;
}

struct cuda_graph {
    cudaGraph_t graph;
    cudaGraphExec_t exec;
};

static mlxn_status cuda_graph_begin(void *stream) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    /* Relaxed: an op may grow the stream workspace (cudaMalloc) while recording. */
    MLXN_CUDA_TRY(cudaStreamBeginCapture(s->s, cudaStreamCaptureModeRelaxed));
    return MLXN_OK;
}

static mlxn_status cuda_graph_end(void *stream, void **out) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    cuda_graph *g = static_cast<cuda_graph *>(calloc(1, sizeof(cuda_graph)));
    cudaGraph_t graph = nullptr;
    cudaError_t e = cudaStreamEndCapture(s->s, &graph);
    if (!g || e != cudaSuccess) {
        if (graph) cudaGraphDestroy(graph);
        free(g);
        if (!g) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "graph_end: out of host memory");
        return mlxn_cuda_status(e, "cudaStreamEndCapture", __FILE__, __LINE__);
    }
    g->graph = graph;
    e = cudaGraphInstantiate(&g->exec, graph, 0);
    if (e != cudaSuccess) {
        cudaGraphDestroy(graph);
        free(g);
        return mlxn_cuda_status(e, "cudaGraphInstantiate", __FILE__, __LINE__);
    }
    *out = g;
    return MLXN_OK;
}

static mlxn_status cuda_graph_replay(void *stream, void *graph) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    cuda_graph *g = static_cast<cuda_graph *>(graph);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    MLXN_CUDA_TRY(cudaGraphLaunch(g->exec, s->s));
    return MLXN_OK;
}

static void cuda_graph_destroy(void *graph) {
    cuda_graph *g = static_cast<cuda_graph *>(graph);
    if (!g) return;
    cudaGraphExecDestroy(g->exec);
    cudaGraphDestroy(g->graph);
    free(g);
}

static const mlxn_backend_vt cuda_vt = {
    .name = "cuda",
    .count = cuda_count,
    .open = cuda_open,
    .close = cuda_close,
    .props = cuda_props,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .write = cuda_write,
    .read = cuda_read,
    .copy = cuda_copy,
    .fill = cuda_fill,
    .stream_create = cuda_stream_create,
    .stream_sync = cuda_stream_sync,
    .stream_destroy = cuda_stream_destroy,
    .graph_begin = cuda_graph_begin,
    .graph_end = cuda_graph_end,
    .graph_replay = cuda_graph_replay,
    .graph_destroy = cuda_graph_destroy,
    .eltwise = mlxn_cuda_eltwise,
    .norm = mlxn_cuda_norm,
    .rope = mlxn_cuda_rope,
    .softmax = mlxn_cuda_softmax,
    .act = mlxn_cuda_act,
    .qmatmul = mlxn_cuda_qmatmul,
    .attention = mlxn_cuda_attention,
    .get_rows = mlxn_cuda_get_rows,
    .layout = mlxn_cuda_layout,
    .kv_append = mlxn_cuda_kv_append,
    .sample = mlxn_cuda_sample,
};

extern "C" const mlxn_backend_vt *mlxn_cuda_backend(void) { return &cuda_vt; }
