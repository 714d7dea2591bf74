/* mlxn — fast quantized transformer inference on NVIDIA GPUs and CPUs.
 * The only public header: the C API and, above each function, its contract.
 * Conventions: every fallible call returns mlxn_status and leaves a thread-local
 * message in mlxn_last_error(); shapes are int64_t, outermost dimension first;
 * byte sizes are size_t; every *_free / *_close / *_destroy accepts NULL. */
#ifndef MLXN_H
#define MLXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MLXN_API
#else
#define MLXN_API __attribute__((visibility("default")))
#endif

/* The version, in one place: CMake reads these three lines. */
#define MLXN_VERSION_MAJOR 0
#define MLXN_VERSION_MINOR 1
#define MLXN_VERSION_PATCH 0

/* "0.1.0" */
MLXN_API const char *mlxn_version(void);
/* One line naming the build: CUDA on/off and its architectures, the compiler. */
MLXN_API const char *mlxn_build_info(void);

/* ───────────────────────────── Status, errors, logging ───────────────────────────── */

typedef enum mlxn_status {
    MLXN_OK = 0,
    MLXN_ERR_INVALID_ARG = 1,   /* a NULL handle, a bad shape or type, an undersized buffer */
    MLXN_ERR_UNSUPPORTED = 2,   /* valid, but not implemented for this type/backend/size */
    MLXN_ERR_OUT_OF_MEMORY = 3, /* host or device allocation failed */
    MLXN_ERR_IO = 4,            /* a file could not be opened, mapped or read */
    MLXN_ERR_FORMAT = 5,        /* a file's contents are malformed */
    MLXN_ERR_DEVICE = 6,        /* the device or its driver failed (CUDA message attached) */
} mlxn_status;

/* "ok", "invalid argument", ...; never NULL, also for values outside the enum. */
MLXN_API const char *mlxn_status_str(mlxn_status s);

/* The detail of the last failure on this thread, e.g.
 * "add: b has shape [3, 5], want [3, 4] or a row of 4". Empty when none. Valid until
 * the next mlxn call on this thread. A successful call does not clear it. */
MLXN_API const char *mlxn_last_error(void);
MLXN_API void mlxn_clear_error(void);

typedef enum mlxn_log_level {
    MLXN_LOG_ERROR = 0,
    MLXN_LOG_WARN = 1,
    MLXN_LOG_INFO = 2,
    MLXN_LOG_DEBUG = 3,
} mlxn_log_level;

typedef void (*mlxn_log_fn)(mlxn_log_level level, const char *msg, void *user);

/* Routes the library's log lines to fn (process-wide). fn == NULL restores the default:
 * lines at or above the level in the environment variable MLXN_LOG (error, warn, info,
 * debug; default warn) go to stderr. fn may be called from any thread. */
MLXN_API void mlxn_log_set(mlxn_log_fn fn, void *user);

/* ───────────────────────────── Types and formats ───────────────────────────── */

/* Element types and GGML block formats. A block format's value is its GGUF type id;
 * element types GGUF lacks are numbered from 64. Facts about a type come from the
 * traits getters below. */
typedef enum mlxn_type {
    MLXN_TYPE_F32 = 0,
    MLXN_TYPE_F16 = 1,
    MLXN_TYPE_Q4_0 = 2,
    MLXN_TYPE_Q4_1 = 3,
    MLXN_TYPE_Q5_0 = 6,
    MLXN_TYPE_Q5_1 = 7,
    MLXN_TYPE_Q8_0 = 8,
    MLXN_TYPE_Q8_1 = 9,
    MLXN_TYPE_Q2_K = 10,
    MLXN_TYPE_Q3_K = 11,
    MLXN_TYPE_Q4_K = 12,
    MLXN_TYPE_Q5_K = 13,
    MLXN_TYPE_Q6_K = 14,
    MLXN_TYPE_Q8_K = 15,
    MLXN_TYPE_IQ2_XXS = 16,
    MLXN_TYPE_IQ2_XS = 17,
    MLXN_TYPE_IQ3_XXS = 18,
    MLXN_TYPE_IQ1_S = 19,
    MLXN_TYPE_IQ4_NL = 20,
    MLXN_TYPE_IQ3_S = 21,
    MLXN_TYPE_IQ2_S = 22,
    MLXN_TYPE_IQ4_XS = 23,
    MLXN_TYPE_I8 = 24,
    MLXN_TYPE_I16 = 25,
    MLXN_TYPE_I32 = 26,
    MLXN_TYPE_I64 = 27,
    MLXN_TYPE_F64 = 28,
    MLXN_TYPE_IQ1_M = 29,
    MLXN_TYPE_BF16 = 30,
    MLXN_TYPE_TQ1_0 = 34,
    MLXN_TYPE_TQ2_0 = 35,
    MLXN_TYPE_MXFP4 = 39,
    MLXN_TYPE_U8 = 64,
    MLXN_TYPE_U16 = 65,
    MLXN_TYPE_U32 = 66,
    MLXN_TYPE_COUNT = 67, /* one past the largest value; not a type */
} mlxn_type;

/* True for every named value above (except COUNT), false for anything else. */
MLXN_API bool mlxn_type_valid(mlxn_type t);
/* ggml's spelling: "f32", "bf16", "q4_0", "q4_K", "iq4_xs", "u8"; "invalid" if not valid. */
MLXN_API const char *mlxn_type_name(mlxn_type t);
/* Elements per block (1 for element types, 32 for Q4_0, 256 for K-quants); 0 if invalid. */
MLXN_API int64_t mlxn_type_block_elems(mlxn_type t);
/* Bytes per block (4 for F32, 18 for Q4_0, 144 for Q4_K); 0 if invalid. */
MLXN_API size_t mlxn_type_block_bytes(mlxn_type t);
/* True for block formats with more than one element per block. */
MLXN_API bool mlxn_type_is_quantized(mlxn_type t);
/* The mlxn type of a GGUF/GGML type id; MLXN_ERR_UNSUPPORTED for ids mlxn lacks. */
MLXN_API mlxn_status mlxn_type_from_ggml(uint32_t ggml_type_id, mlxn_type *out);
/* The GGUF id of a type; MLXN_ERR_UNSUPPORTED for types GGUF lacks (U8, U16, U32). */
MLXN_API mlxn_status mlxn_type_to_ggml(mlxn_type t, uint32_t *out);
/* Bytes of a row of n elements: n / block_elems * block_bytes. 0 when n is 0, and also
 * when t is invalid, n < 0, n is not a multiple of the block, or the size overflows. */
MLXN_API size_t mlxn_row_bytes(mlxn_type t, int64_t n);

/* Reference conversion of one row of n elements, bit-exact with ggml's reference
 * functions (the formats' block layouts are GGUF's). Block data must be aligned as its
 * fields are: 2 bytes, 4 for Q8_K (any tensor of a GGUF file or an mlxn buffer is).
 * MLXN_ERR_INVALID_ARG if n is not a multiple of the block size or a pointer is NULL with
 * n > 0; MLXN_ERR_UNSUPPORTED for a type without that direction (the IQ1/IQ2/IQ3 formats
 * dequantize only; integer types have neither). */
MLXN_API mlxn_status mlxn_quantize_row(mlxn_type type, const float *src, void *dst, int64_t n);
MLXN_API mlxn_status mlxn_dequantize_row(mlxn_type type, const void *src, float *dst, int64_t n);

/* ───────────────────────────── Devices ───────────────────────────── */

typedef enum mlxn_backend {
    MLXN_BACKEND_AUTO = 0, /* a working CUDA GPU if there is one, else the CPU */
    MLXN_BACKEND_CPU = 1,
    MLXN_BACKEND_CUDA = 2,
} mlxn_backend;

/* "auto", "cpu", "cuda"; "invalid" otherwise. */
MLXN_API const char *mlxn_backend_name(mlxn_backend b);

/* Runtime choices, with defaults from mlxn_config_init. */
typedef struct mlxn_config {
    int cpu_threads; /* CPU backend worker threads, the caller's included; 0: one per online core */
} mlxn_config;

MLXN_API void mlxn_config_init(mlxn_config *cfg);

typedef struct mlxn_device mlxn_device;

/* Opens device `ordinal` of a backend with the default config. CPU: ordinal 0 only.
 * CUDA: MLXN_ERR_DEVICE when no driver or GPU is present (the CUDA message says which),
 * MLXN_ERR_INVALID_ARG for an ordinal past the count. AUTO: CUDA ordinal if it opens,
 * else the CPU; an info log line says which, and why CUDA was passed over. */
MLXN_API mlxn_status mlxn_device_open(mlxn_backend backend, int ordinal, mlxn_device **out);
/* The same with a config (NULL: defaults). cfg->cpu_threads < 0 is INVALID_ARG. */
MLXN_API mlxn_status mlxn_device_open_ex(mlxn_backend backend, int ordinal,
                                         const mlxn_config *cfg, mlxn_device **out);
/* Closes the device. Every buffer, pool, stream and graph of it must be freed first. */
MLXN_API void mlxn_device_close(mlxn_device *dev);

/* How many devices a backend has: CPU 1; CUDA the number of GPUs, 0 (and MLXN_OK) when
 * there is no driver or no GPU, with the reason in mlxn_last_error(). AUTO: INVALID_ARG. */
MLXN_API mlxn_status mlxn_device_count(mlxn_backend backend, int *count);

typedef struct mlxn_device_props {
    mlxn_backend backend;  /* CPU or CUDA, never AUTO */
    int ordinal;
    char name[256];        /* GPU name, or the CPU model */
    uint64_t total_memory; /* bytes; for the CPU, physical memory */
    uint64_t free_memory;  /* bytes, when read */
    int cc_major, cc_minor;/* CUDA compute capability; 0 for the CPU */
    int sm_count;          /* CUDA multiprocessors; 0 for the CPU */
    uint64_t l2_bytes;     /* GPU L2, or the CPU's last-level cache when known */
    int threads;           /* CPU backend threads; 0 for CUDA */
    char simd[32];         /* CPU: "avx512", "avx2+fma", "neon", "scalar"; CUDA: "sm_90" */
} mlxn_device_props;

MLXN_API mlxn_status mlxn_device_info(mlxn_device *dev, mlxn_device_props *out);

/* ───────────────────────────── Buffers ───────────────────────────── */

typedef struct mlxn_buffer mlxn_buffer;

#define MLXN_MAX_DIMS 4

/* A new zeroed buffer of `type` and shape ne[0..ndim-1] (outermost first, 1 <= ndim <= 4,
 * each ne >= 0). For block formats the innermost dimension must be a multiple of the
 * block. A zero dimension gives an empty buffer (0 bytes, valid handle). Errors:
 * INVALID_ARG (bad type/shape, size overflow), OUT_OF_MEMORY (the allocation failed;
 * the library and device stay usable). */
MLXN_API mlxn_status mlxn_buffer_alloc(mlxn_device *dev, mlxn_type type, int ndim,
                                       const int64_t *ne, mlxn_buffer **out);

/* A view of `parent` starting `offset` bytes in, with its own type and shape; it shares
 * the parent's memory and keeps it alive (freeing the parent first is allowed). The view's
 * bytes must lie inside the parent. A view of a read-only buffer is read-only. */
MLXN_API mlxn_status mlxn_buffer_view(mlxn_buffer *parent, size_t offset, mlxn_type type,
                                      int ndim, const int64_t *ne, mlxn_buffer **out);

/* A read-only CPU buffer over caller memory (e.g. a mapped file), no copy. `data` must
 * hold the shape's bytes and outlive the buffer. CPU devices only (UNSUPPORTED on CUDA).
 * Writing to it (write, fill, copy into, an op's output) is INVALID_ARG. */
MLXN_API mlxn_status mlxn_buffer_wrap(mlxn_device *dev, mlxn_type type, int ndim,
                                      const int64_t *ne, const void *data, size_t bytes,
                                      mlxn_buffer **out);

/* Frees a buffer handle; the memory goes when its last view is freed. Buffers from a pool
 * belong to the pool: freeing one is a no-op. */
MLXN_API void mlxn_buffer_free(mlxn_buffer *b);

/* Copies between host memory and the buffer's bytes [offset, offset + bytes). Synchronous:
 * the host memory may be reused on return. Not ordered with work queued on streams —
 * sync the stream that produces or consumes the buffer first. */
MLXN_API mlxn_status mlxn_buffer_write(mlxn_buffer *b, size_t offset, const void *src, size_t bytes);
MLXN_API mlxn_status mlxn_buffer_read(const mlxn_buffer *b, size_t offset, void *dst, size_t bytes);
/* Fills every byte of b with a repeated pattern of 1, 2, 4, 8 or 16 bytes; the buffer's
 * size must be a multiple of the pattern. Synchronous. */
MLXN_API mlxn_status mlxn_buffer_fill(mlxn_buffer *b, const void *pattern, size_t pattern_bytes);
/* Copies bytes between two buffers, of the same device or of different devices.
 * Synchronous. Overlapping ranges of one allocation are INVALID_ARG. */
MLXN_API mlxn_status mlxn_buffer_copy(mlxn_buffer *dst, size_t dst_offset, const mlxn_buffer *src,
                                      size_t src_offset, size_t bytes);

/* Getters; on NULL they return MLXN_TYPE_COUNT / 0 / NULL. mlxn_buffer_ne(b, d) gives
 * dimension d (outermost 0), 0 for d outside [0, ndim). */
MLXN_API mlxn_type mlxn_buffer_type(const mlxn_buffer *b);
MLXN_API int mlxn_buffer_ndim(const mlxn_buffer *b);
MLXN_API int64_t mlxn_buffer_ne(const mlxn_buffer *b, int dim);
MLXN_API int64_t mlxn_buffer_nelements(const mlxn_buffer *b);
MLXN_API size_t mlxn_buffer_bytes(const mlxn_buffer *b);
MLXN_API mlxn_device *mlxn_buffer_device(const mlxn_buffer *b);

/* ───────────────────────────── Pools ───────────────────────────── */

/* A scratch arena for per-step temporaries: requests are rounded up to a power of two
 * (at least 256 bytes) and served from blocks of that size class, allocated on first need
 * and kept. mlxn_pool_reset returns every block for reuse, so a steady decode loop
 * allocates device memory only in its first step. Contents of a pool buffer are
 * unspecified (whatever the last user left). */
typedef struct mlxn_pool mlxn_pool;

MLXN_API mlxn_status mlxn_pool_create(mlxn_device *dev, mlxn_pool **out);
/* Frees the pool's handles and its memory (memory still viewed by a mlxn_buffer_view
 * goes when that view is freed). */
MLXN_API void mlxn_pool_destroy(mlxn_pool *pool);
/* A buffer from the pool. It belongs to the pool and stays valid until the next
 * mlxn_pool_reset or mlxn_pool_destroy; do not free it. */
MLXN_API mlxn_status mlxn_pool_alloc(mlxn_pool *pool, mlxn_type type, int ndim, const int64_t *ne,
                                     mlxn_buffer **out);
/* Ends a step: every buffer the pool handed out becomes invalid and its block reusable.
 * Work still queued that uses them must be synced first. A graph that was recorded over
 * pool buffers replays correctly only while the pool is not reset. */
MLXN_API void mlxn_pool_reset(mlxn_pool *pool);
/* Device bytes the pool holds, in use or not. */
MLXN_API size_t mlxn_pool_bytes(const mlxn_pool *pool);

/* ───────────────────────────── Streams and graphs ───────────────────────────── */

/* An in-order queue of ops on one device (CUDA: a cudaStream_t; CPU: ops run on the
 * thread pool, in order, before the call returns). One thread at a time per stream. */
typedef struct mlxn_stream mlxn_stream;
typedef struct mlxn_graph mlxn_graph;

MLXN_API mlxn_status mlxn_stream_create(mlxn_device *dev, mlxn_stream **out);
/* Waits for all queued work; returns the first asynchronous error (DEVICE). */
MLXN_API mlxn_status mlxn_stream_sync(mlxn_stream *s);
/* Waits for the stream's work, then frees it. A stream still recording drops the recording. */
MLXN_API void mlxn_stream_destroy(mlxn_stream *s);
MLXN_API mlxn_device *mlxn_stream_device(const mlxn_stream *s);

/* Starts recording: ops enqueued on s until mlxn_graph_end are validated and recorded, not
 * run. Buffers they use are captured by address and must outlive the graph; values that
 * change per step belong in device buffers. Synchronous buffer calls (write/read/fill/
 * copy) on a CUDA device fail while any of its streams records. */
MLXN_API mlxn_status mlxn_graph_begin(mlxn_stream *s);
/* Ends recording on s and returns the graph (an empty recording gives a valid graph). */
MLXN_API mlxn_status mlxn_graph_end(mlxn_stream *s, mlxn_graph **out);
/* Enqueues the recorded ops on s (any stream of the graph's device, not recording).
 * Results are bit-identical to running the same ops eagerly. */
MLXN_API mlxn_status mlxn_graph_replay(mlxn_stream *s, const mlxn_graph *g);
/* Number of ops recorded. */
MLXN_API size_t mlxn_graph_ops(const mlxn_graph *g);
MLXN_API void mlxn_graph_destroy(mlxn_graph *g);

/* ───────────────────────────── Elementwise ops ─────────────────────────────
 * Types: each of a, b, x, y is F32, F16 or BF16, independently. Arithmetic is float32;
 * the result is rounded to y's type (round to nearest even). Shapes: y has a's shape (x's
 * for unary ops); b has a's shape, or is a row of a's innermost length (shape [K] or
 * [1, K], ...), broadcast over every row of a. y may be a itself, or b itself when b has
 * a's shape (in place, same type); any other overlap of y with an input is INVALID_ARG.
 * All buffers on the stream's device. Empty tensors are allowed and do nothing. */
typedef struct mlxn_eltwise_params {
    float scale; /* the result is multiplied by scale, */
    float bias;  /* then bias is added (skipped exactly when scale == 1 and bias == 0) */
} mlxn_eltwise_params;

/* scale = 1, bias = 0: the value NULL stands for. */
MLXN_API mlxn_eltwise_params mlxn_eltwise_defaults(void);

/* y = (a + b) · scale + bias */
MLXN_API mlxn_status mlxn_add(mlxn_stream *s, const mlxn_buffer *a, const mlxn_buffer *b,
                              mlxn_buffer *y, const mlxn_eltwise_params *p);
/* y = (a · b) · scale + bias */
MLXN_API mlxn_status mlxn_mul(mlxn_stream *s, const mlxn_buffer *a, const mlxn_buffer *b,
                              mlxn_buffer *y, const mlxn_eltwise_params *p);
/* y = x · scale + bias */
MLXN_API mlxn_status mlxn_scale(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y,
                                const mlxn_eltwise_params *p);
/* y = x, converted to y's type (copy and cast; p as for mlxn_scale). */
MLXN_API mlxn_status mlxn_copy(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y,
                               const mlxn_eltwise_params *p);

/* ───────────────────────────── Conversion ─────────────────────────────
 * y = x converted to y's type through f32 with the reference row functions: any x type with
 * a dequantizer, any y type with a quantizer (mlxn_quantize_row / mlxn_dequantize_row), so
 * quantizing is bit-exact with ggml's reference. x and y have the same shape (the innermost
 * dimension a multiple of both blocks, which the buffers' shapes already guarantee) and do not
 * overlap. CPU backend only for now (CUDA: MLXN_ERR_UNSUPPORTED); rows run on the thread pool.
 * params: reserved, pass NULL. */
MLXN_API mlxn_status mlxn_convert(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const void *params);

/* ───────────────────────────── Attention ─────────────────────────────
 * O = softmax(scale · Q·Kᵀ + mask) · V for every query head, with grouped-query attention.
 *   q: [n_q_heads][M][D]      F32, F16 or BF16
 *   k: [n_kv_heads][L_cap][D] F16, BF16 or Q8_0 (the KV cache; rows 0..L-1 hold positions
 *   v: [n_kv_heads][L_cap][D]   0..L-1), n_q_heads a multiple of n_kv_heads
 *   o: [M][n_q_heads · D] (MLXN_ATTN_OUT_MHD, ready for the output projection) or
 *      [n_q_heads][M][D] (MLXN_ATTN_OUT_HMD, the matmul's attention-layout input); F32/F16/BF16
 * D is one of 64, 80, 96, 128, 192, 256, 512 (else MLXN_ERR_UNSUPPORTED).
 * L, the number of valid keys, is p->kv_len's value read on the device when the op runs (an
 * I32 [1] buffer, so a replayed graph follows it), clamped to [0, L_cap]; without kv_len,
 * L = L_cap. The queries are the last M positions: query i sits at position L - M + i.
 * Key j is visible to query i when j < L, and j <= pos(i) if causal, and
 * j > pos(i) - window if window > 0. The score is scale · q·k (scale 0 means 1/sqrt(D)),
 * then cap · tanh(score / cap) if softcap > 0, then + mask[i][j] if a mask is given
 * (F32 or F16 [M][L_cap], shared by all heads). A sink (sinks: F32 [n_q_heads]) adds
 * exp(sink) to the softmax denominator only. Arithmetic and softmax are f32; a query with
 * no visible key and no sink gives zeros, never NaN. */
typedef enum mlxn_attn_layout {
    MLXN_ATTN_OUT_MHD = 0, /* o [M][n_q_heads · D] */
    MLXN_ATTN_OUT_HMD = 1, /* o [n_q_heads][M][D] */
} mlxn_attn_layout;

typedef struct mlxn_attention_params {
    float scale;               /* 0: 1/sqrt(D) */
    float softcap;             /* 0: off */
    bool causal;
    int32_t window;            /* 0: no sliding window */
    const mlxn_buffer *mask;   /* NULL or F32/F16 [M][L_cap] additive */
    const mlxn_buffer *sinks;  /* NULL or F32 [n_q_heads] */
    const mlxn_buffer *kv_len; /* NULL or I32 [1] */
    mlxn_attn_layout out_layout;
} mlxn_attention_params;

/* scale 0, softcap 0, causal true, window 0, no mask/sinks/kv_len, out [M][H·D]. */
MLXN_API mlxn_attention_params mlxn_attention_defaults(void);

MLXN_API mlxn_status mlxn_attention(mlxn_stream *s, const mlxn_buffer *q, const mlxn_buffer *k,
                                    const mlxn_buffer *v, mlxn_buffer *o, const mlxn_attention_params *p);

/* ───────────────────────────── Files: GGUF, safetensors ───────────────────────────── */
/* (io section) */

#ifdef __cplusplus
}
#endif

#endif /* MLXN_H */
