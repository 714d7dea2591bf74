/* What every CUDA file of the backend shares: its handles, error mapping, type dispatch. */
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <string.h>

#include <atomic>

#include "core/backend.h"

struct cuda_device {
    int ordinal;
    cudaDeviceProp prop;
    bool cublaslt; /* mlxn_config::cuda_cublaslt */
};

struct cuda_stream {
    cuda_device *dev;
    cudaStream_t s;
    /* Scratch for ops that combine partial results (split-K, flash-decoding). It only grows;
     * a replaced block is kept until the stream is destroyed, since a recorded graph may
     * still point at it. */
    void *ws;
    size_t ws_bytes;
    void **retired;
    int n_retired;
    /* One u32 an SM, zeroed when the stream is created, for ops whose blocks signal each other
     * within a launch (the mat-mat's stream-K): each launch leaves them zero. Kept for the
     * stream's life, so recorded graphs may point at them. */
    unsigned *flags;
};

/* At least `bytes` of the stream's scratch (allowed while the stream records a graph). */
mlxn_status mlxn_cuda_workspace(cuda_stream *s, size_t bytes, void **out);

/* A CUDA error as an mlxn_status with the CUDA message; clears the runtime's last error. */
static inline mlxn_status mlxn_cuda_status(cudaError_t e, const char *expr, const char *file, int line) {
    if (e == cudaSuccess) return MLXN_OK;
    (void)cudaGetLastError();
    return mlxn_err(e == cudaErrorMemoryAllocation ? MLXN_ERR_OUT_OF_MEMORY : MLXN_ERR_DEVICE, "cuda: %s: %s (%s at %s:%d)",
                    cudaGetErrorName(e), cudaGetErrorString(e), expr, file, line);
}

#define MLXN_CUDA_TRY(expr)                                                        \
    do {                                                                           \
        mlxn_status mlxn_st_ = mlxn_cuda_status((expr), #expr, __FILE__, __LINE__); \
        if (mlxn_st_ != MLXN_OK) return mlxn_st_;                                  \
    } while (0)

/* After a kernel launch: the launch's own error (bad configuration, no kernel image). */
#define MLXN_CUDA_CHECK_LAUNCH() MLXN_CUDA_TRY(cudaPeekAtLastError())

/* smem bytes of dynamic shared memory raised past half an SM's, so that a block of this launch
 * holds its SM alone: no block of the next call (a dependent launch) lands beside it. */
static inline size_t mlxn_cuda_smem_alone(const cuda_device *d, size_t smem) {
    const size_t half = d->prop.sharedMemPerMultiprocessor / 2 + 1;
    return smem > half ? smem : half;
}

/* Sets kernel f's dynamic shared-memory limit to `bytes` on device d (the current one). A size
 * that does not fit the device's per-block opt-in limit beside the kernel's static shared
 * memory is MLXN_ERR_UNSUPPORTED naming op (a caller with another kernel or layout may take
 * it), not a CUDA error. */
template <typename K>
static inline mlxn_status mlxn_cuda_set_smem(K *f, size_t bytes, const cuda_device *d, const char *op) {
    const cudaError_t e = bytes > d->prop.sharedMemPerBlockOptin
                              ? cudaErrorInvalidValue
                              : cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
    if (e == cudaErrorInvalidValue) {
        (void)cudaGetLastError();
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "%s: a kernel needs %zu bytes of dynamic shared memory a block, more than %s allows "
                        "beside its static (%zu in all)", op, bytes, d->prop.name, (size_t)d->prop.sharedMemPerBlockOptin);
    }
    MLXN_CUDA_TRY(e);
    return MLXN_OK;
}

/* mlxn_cuda_set_smem once per device: the attribute is per device. `raised` is the caller's
 * static, a bit per ordinal (ordinals from 64 on set it every call). Pass the largest size the
 * kernel is launched with. */
template <typename K>
static inline mlxn_status mlxn_cuda_raise_smem(K *f, size_t bytes, const cuda_device *d, const char *op,
                                               std::atomic<unsigned long long> &raised) {
    const unsigned long long bit = d->ordinal >= 0 && d->ordinal < 64 ? 1ull << d->ordinal : 0;
    if (bit && (raised.load(std::memory_order_relaxed) & bit)) return MLXN_OK;
    if (mlxn_status st = mlxn_cuda_set_smem(f, bytes, d, op); st != MLXN_OK) return st;
    raised.fetch_or(bit, std::memory_order_relaxed);
    return MLXN_OK;
}

/* Calls f(T{}) with T the C++ type of a float mlxn_type (F32, F16, BF16). */
template <typename F>
static inline mlxn_status mlxn_dispatch_float(mlxn_type t, F &&f) {
    switch (t) {
    case MLXN_TYPE_F32: return f(float{});
    case MLXN_TYPE_F16: return f(__half{});
    case MLXN_TYPE_BF16: return f(__nv_bfloat16{});
    default: return mlxn_err(MLXN_ERR_UNSUPPORTED, "cuda: type %s is not a float type", mlxn_type_name(t));
    }
}

static __device__ __forceinline__ float mlxn_to_f32(float v) { return v; }
static __device__ __forceinline__ float mlxn_to_f32(__half v) { return __half2float(v); }
static __device__ __forceinline__ float mlxn_to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> static __device__ __forceinline__ T mlxn_from_f32(float v);
template <> __device__ __forceinline__ float mlxn_from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half mlxn_from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 mlxn_from_f32<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

/* ── programmatic dependent launch (PDL, sm_90) ──
 * A kernel launched with pdl may start while the grid before it in the stream still runs: it
 * calls mlxn_pdl_wait() before it reads what that grid (or an earlier one) wrote, and
 * mlxn_pdl_trigger() to let the next such grid start launching. Both are no-ops in a launch
 * without PDL. A kernel that triggers before its last store must not write block-format
 * (quantized) buffers: the mat-vec kernels read their weights before they wait. */
static __device__ __forceinline__ void mlxn_pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
static __device__ __forceinline__ void mlxn_pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

/* A compute 9.0 device running the library's sm_90 code (clusters, PDL waits in the kernels). */
static inline bool mlxn_cuda_sm90(const cuda_device *d) {
#ifdef MLXN_BUILD_CUDA_ARCHS
    return d->prop.major == 9 && strstr(MLXN_BUILD_CUDA_ARCHS, "90") != nullptr;
#else
    (void)d;
    return false;
#endif
}

/* Clusters of the given shape that run at once of f with block threads and dynamic smem (0
 * where none fit or the query fails; the runtime's last error is cleared). */
template <typename... Params>
static int mlxn_cuda_clusters_fit(void (*f)(Params...), dim3 cluster, unsigned block, size_t smem, cudaStream_t s) {
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = cluster.x, at[0].val.clusterDim.y = cluster.y, at[0].val.clusterDim.z = cluster.z;
    cfg.gridDim = cluster, cfg.blockDim = dim3(block), cfg.dynamicSmemBytes = smem, cfg.stream = s;
    cfg.attrs = at, cfg.numAttrs = 1;
    int n = 0;
    if (cudaOccupancyMaxActiveClusters(&n, f, &cfg) != cudaSuccess) n = 0;
    (void)cudaGetLastError();
    return n;
}

/* Launches f on grid × block with dynamic smem, as clusters of cl_z blocks along z (1: none)
 * and with programmatic dependent launch when pdl. */
template <typename... Params, typename... Args>
static mlxn_status mlxn_cuda_launch(cudaStream_t s, void (*f)(Params...), dim3 grid, dim3 block, size_t smem, unsigned cl_z,
                                    bool pdl, Args... args) {
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[2];
    unsigned n = 0;
    if (cl_z > 1) {
        at[n].id = cudaLaunchAttributeClusterDimension;
        at[n].val.clusterDim.x = 1, at[n].val.clusterDim.y = 1, at[n].val.clusterDim.z = cl_z;
        n++;
    }
    if (pdl) {
        at[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        at[n].val.programmaticStreamSerializationAllowed = 1;
        n++;
    }
    cfg.gridDim = grid, cfg.blockDim = block, cfg.dynamicSmemBytes = smem, cfg.stream = s;
    cfg.attrs = at, cfg.numAttrs = n;
    MLXN_CUDA_TRY(cudaLaunchKernelEx(&cfg, f, args...));
    return MLXN_OK;
}

/* The grid for a grid-stride loop over `work` items of `threads` each: enough blocks to fill
 * the GPU several times over, no more. */
static inline unsigned mlxn_grid_for(const cuda_device *d, long long work, int threads) {
    long long blocks = (work + threads - 1) / threads;
    long long cap = (long long)d->prop.multiProcessorCount * 32;
    if (blocks > cap) blocks = cap;
    return blocks < 1 ? 1u : (unsigned)blocks;
}

extern "C" mlxn_status mlxn_cuda_eltwise(void *stream, const mlxn_eltwise_args *a);
extern "C" mlxn_status mlxn_cuda_norm(void *stream, const mlxn_norm_args *a);
extern "C" mlxn_status mlxn_cuda_rope(void *stream, const mlxn_rope_args *a);
extern "C" mlxn_status mlxn_cuda_softmax(void *stream, const mlxn_softmax_args *a);
extern "C" mlxn_status mlxn_cuda_act(void *stream, const mlxn_act_args *a);
extern "C" mlxn_status mlxn_cuda_qmatmul(void *stream, const mlxn_qmatmul_args *a);
extern "C" mlxn_status mlxn_cuda_attention(void *stream, const mlxn_attention_args *a);
extern "C" mlxn_status mlxn_cuda_get_rows(void *stream, const mlxn_get_rows_args *a);
extern "C" mlxn_status mlxn_cuda_layout(void *stream, const mlxn_layout_args *a);
extern "C" mlxn_status mlxn_cuda_kv_append(void *stream, const mlxn_kv_append_args *a);
extern "C" mlxn_status mlxn_cuda_sample(void *stream, const mlxn_sample_args *a);
