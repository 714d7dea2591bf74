/* mlxn — fast quantized transformer inference on NVIDIA GPUs and CPUs.
 * The public header: the C API and, above each function, its contract (model files in
 * mlxn_files.h, which this header includes).
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
    /* CUDA: 1 (default) lets mlxn_qmatmul hand some products to cuBLASLt where libcublasLt is
     * present; 0 keeps every product on the library's own kernels, so results do not depend on
     * whether, or which, cuBLASLt is installed. */
    int cuda_cublaslt;
} mlxn_config;

MLXN_API void mlxn_config_init(mlxn_config *cfg);

typedef struct mlxn_device mlxn_device;

/* Opens device `ordinal` of a backend with the default config. CPU: ordinal 0 only.
 * CUDA: MLXN_ERR_DEVICE when no driver or GPU is present (the CUDA message says which),
 * MLXN_ERR_INVALID_ARG for an ordinal past the count. AUTO: CUDA ordinal if it opens,
 * else the CPU; an info log line says which, and why CUDA was passed over. */
MLXN_API mlxn_status mlxn_device_open(mlxn_backend backend, int ordinal, mlxn_device **out);
/* The same with a config (NULL: defaults). cfg->cpu_threads < 0, or cfg->cuda_cublaslt other
 * than 0 or 1, is INVALID_ARG. */
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
 * exp(sink) to the softmax denominator only. Accumulation and softmax are f32; a query with
 * no visible key and no sink gives zeros, never NaN. The CPU computes the products in f32.
 * CUDA with D <= 256 uses the tensor cores: Q is rounded to the cache's type (f16 for a Q8_0
 * cache, whose K is dequantized to f16) and the unnormalized weights P (in [0, 1]) to V's
 * type before P·V; D = 512 stays in f32 on CUDA too.
 * A ring cache (mlxn_kv_append with ring wrap, a sliding-window layer whose capacity L_cap is
 * its window): slot j no longer holds position j once positions wrap, so pass it with M = 1,
 * kv_len = min(positions so far, L_cap) and window 0 (the order of keys does not change the
 * softmax, and every stored key is inside the window); for M > 1 the slots must still hold
 * positions 0..L-1 (a ring that has not wrapped). q, k and v start 16-byte aligned
 * (buffers are; a view needs an offset that is a multiple of 16). */
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

/* ───────────────────────────── Rows and layout ─────────────────────────────
 * Embedding lookup, and copies that move elements between layouts: strided copy, transpose,
 * permute, slice, concat. Float operands (x, y, a, b) are each F32, F16 or BF16; a value is
 * converted through f32 and rounded to y's type (round to nearest even), so a copy between
 * equal types is exact. y never overlaps an input (INVALID_ARG). All buffers on the
 * stream's device; empty shapes are allowed and do nothing. */

typedef struct mlxn_get_rows_params {
    float scale; /* every value is multiplied by scale in f32 (skipped when scale == 1) */
} mlxn_get_rows_params;

/* scale = 1: the value NULL stands for. */
MLXN_API mlxn_get_rows_params mlxn_get_rows_defaults(void);

/* Embedding lookup: y[i][k] = dequant(table[ids[i]])[k] · scale.
 *   table: [n_rows][K], F32, F16, BF16 or any block format with a dequantizer (every GGML
 *          format mlxn has: Q4_0 … Q8_K, IQ*, TQ*, MXFP4); values are exactly
 *          mlxn_dequantize_row's, on every backend
 *   ids:   I32, any shape of 1..3 dims (n ids), read when the op runs (graph replay follows it)
 *   y:     F32, F16 or BF16, shape ids' shape + [K], or [n][K]
 * An id outside [0, n_rows): the CPU backend returns INVALID_ARG naming the id when it runs
 * the op eagerly (nothing written); where ids are only known on the device (CUDA, and CPU
 * graph replay) that row of y is written as zeros. No backend reads outside the table. */
MLXN_API mlxn_status mlxn_get_rows(mlxn_stream *s, const mlxn_buffer *table, const mlxn_buffer *ids, mlxn_buffer *y,
                                   const mlxn_get_rows_params *p);

/* A strided walk: element (i0, .., i_{ndim-1}) of the shape ne is read at
 * x[x_offset + Σ i_d · x_stride[d]] and written at y[y_offset + Σ i_d · y_stride[d]], offsets
 * and strides counted in elements of each buffer (x strides of any sign; y strides >= 0).
 * Every address must lie inside its buffer, and no two elements may land on one y address
 * (checked: sorted by stride, each y stride exceeds the span of the smaller ones). */
typedef struct mlxn_copy_strided_params {
    int ndim;                        /* 1..4 */
    int64_t ne[MLXN_MAX_DIMS];       /* outermost first */
    int64_t x_offset;
    int64_t x_stride[MLXN_MAX_DIMS];
    int64_t y_offset;
    int64_t y_stride[MLXN_MAX_DIMS];
} mlxn_copy_strided_params;

/* y = x read and written through the walk p, with the cast. NULL: the contiguous walk over
 * y's shape (x must have as many elements). */
MLXN_API mlxn_status mlxn_copy_strided(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y,
                                       const mlxn_copy_strided_params *p);

/* y = x with its last two dimensions swapped: x [.., A, B] -> y [.., B, A] (x of 2..4 dims).
 * params: reserved, pass NULL. */
MLXN_API mlxn_status mlxn_transpose(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const void *params);

typedef struct mlxn_permute_params {
    int perm[3]; /* y's leading dim d is x's leading dim perm[d] (d < ndim - 1); default 0, 1, 2 */
} mlxn_permute_params;

/* Permutes the leading dimensions (all but the innermost, which stays in place) of x of 2..4
 * dims: y.ne[d] = x.ne[perm[d]], e.g. [seq][heads][D] -> [heads][seq][D] with perm {1, 0}.
 * perm must be a permutation of 0 .. ndim-2 (INVALID_ARG). */
MLXN_API mlxn_status mlxn_permute(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_permute_params *p);

typedef struct mlxn_slice_params {
    int64_t begin; /* first element of x's last dim taken; default 0 */
} mlxn_slice_params;

/* y = x[.., begin : begin + K'] along the last dim, K' = y's last dim; other dims equal. */
MLXN_API mlxn_status mlxn_slice(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_slice_params *p);

/* y = [a | b] along the last dim: y [.., Ka + Kb]; a [.., Ka] and b [.., Kb] agree in the other
 * dims. params: reserved, pass NULL. */
MLXN_API mlxn_status mlxn_concat(mlxn_stream *s, const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y,
                                 const void *params);

/* ───────────────────────────── KV cache ─────────────────────────────
 * A layer's cache is one buffer per K and V: [n_kv_heads][L][D], F16, BF16 or Q8_0 (D a
 * multiple of 32), the layout mlxn_attention reads. */

typedef struct mlxn_kv_append_params {
    bool ring; /* false: the row of position p goes to slot p (p < L); true: to slot p mod L
                * (a sliding-window layer whose cache holds the last L positions) */
} mlxn_kv_append_params;

/* Stores M new rows: cache[h][slot(pos[i])][:] = x[i][h·D : (h+1)·D] for every head h.
 *   x:     [M][n_kv_heads · D] or [M][n_kv_heads][D], F32, F16 or BF16
 *   pos:   I32 [M], positions, read when the op runs (graph replay follows it)
 *   cache: [n_kv_heads][L][D]; F16/BF16 round to nearest even; Q8_0 quantizes each block of 32
 *          as mlxn_quantize_row(Q8_0) does, bit for bit, on every backend (finite values)
 * Other slots are left untouched. When two rows of one call land in one slot, the later row
 * is stored. A position < 0 (or >= L without ring): the CPU backend returns INVALID_ARG
 * naming it when it runs eagerly (nothing written); on the device (CUDA, CPU graph replay)
 * that row is skipped. p NULL: ring false. */
MLXN_API mlxn_status mlxn_kv_append(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *pos, mlxn_buffer *cache,
                                    const mlxn_kv_append_params *p);

/* ───────────────────────────── Sampling ─────────────────────────────
 * Token selection on the device: the logits are never read back. logits: [rows][V] or [V],
 * F32, F16 or BF16. Tokens are I32 [rows] (or [1] for one row). Order is total: a larger
 * value first, and among equal values the smaller index; NaN counts as -inf. */

/* idx[r] = the index of the largest logits[r][i]. params: reserved, pass NULL. */
MLXN_API mlxn_status mlxn_argmax(mlxn_stream *s, const mlxn_buffer *logits, mlxn_buffer *idx, const void *params);

/* The k largest of each row, in order: indices I32 [rows][k] and, unless values is NULL,
 * values [rows][k] (F32, F16 or BF16) = logits at those indices. 1 <= k <= min(V, 1024)
 * (k > 1024: UNSUPPORTED). params: reserved, pass NULL. */
MLXN_API mlxn_status mlxn_top_k(mlxn_stream *s, const mlxn_buffer *logits, mlxn_buffer *values, mlxn_buffer *indices,
                                const void *params);

typedef struct mlxn_sample_params {
    float temperature;        /* > 0; <= 0 picks greedily (the argmax after penalties). Default 1 */
    int32_t top_k;            /* keep the k most likely; 0 (default) or >= V: off */
    float top_p;              /* keep the fewest most likely with mass >= top_p; 1 (default): off */
    float min_p;              /* keep p_i >= min_p · p_max; 0 (default): off */
    float repetition_penalty; /* on tokens in recent: l > 0 ? l / rp : l · rp. 1 (default): off */
    float presence_penalty;   /* subtracted once from a token in recent. 0 (default): off */
    float frequency_penalty;  /* subtracted per occurrence in recent. 0 (default): off */
    bool advance;             /* add 1 to rng's step after drawing (default true) */
} mlxn_sample_params;

/* temperature 1, the filters and penalties off, advance true. */
MLXN_API mlxn_sample_params mlxn_sample_defaults(void);

/* Draws token[r] from softmax of the row's processed logits, in this order:
 *   1. penalties, for each token that occurs c > 0 times in recent's row (l = logit):
 *      l = l > 0 ? l / rp : l · rp;  l = l - (c · frequency + presence)
 *   2. z = l · (1 / temperature) (f32; the reciprocal rounded to f32 once)
 *   3. min-p: keep z_i - z_max >= log(min_p);  4. top-k;  5. top-p over the survivors' mass
 *   6. one draw from the survivors by their mass, in index order.
 * All of it is f32 and integer arithmetic done identically on every backend: the same logits,
 * seed and step give the same token on the CPU and on CUDA. Mass is exp(z_i - z_max) (mlxn's
 * own exp) held as an integer in units of 2^-40, so a token with exp(z_i - z_max) < 2^-40 is
 * never drawn; top-p keeps the fewest tokens whose mass reaches ceil(top_p · total).
 * The random draw is Philox4x32-10 with key = seed, counter = (step, row, 0): a 64-bit u,
 * and the token is the first in index order whose cumulative mass exceeds (u · total) >> 64.
 *   recent: NULL, or I32 [W] (shared by every row) or [rows][W]: recent token ids; ids < 0 are
 *           empty slots, ids >= V are INVALID_ARG on the CPU eagerly and ignored on the device
 *   rng:    I64 [2] = {seed, step}, read when the op runs; with p->advance the op adds 1 to
 *           step after drawing, so a replayed graph draws anew without host writes
 *   token:  I32 [rows]
 * p NULL: mlxn_sample_defaults(). */
MLXN_API mlxn_status mlxn_sample(mlxn_stream *s, const mlxn_buffer *logits, const mlxn_buffer *recent, mlxn_buffer *rng,
                                 mlxn_buffer *token, const mlxn_sample_params *p);

/* ───────────────────────────── Norms ─────────────────────────────
 * Each row of y, or each head slice of a row, is normalized on its own, in float32:
 *   rms_norm:   y = x / sqrt(mean(x²) + eps) · (w + w_offset)
 *   layer_norm: y = (x − μ) / sqrt(mean((x − μ)²) + eps) · (w + w_offset) + b,   μ = mean(x)
 *   l2_norm:    y = x / max(sqrt(sum(x²)), eps)        (eps is a floor, as in ggml's l2_norm)
 * w NULL is a factor of 1 (w_offset then unused); b NULL adds nothing.
 * Shapes: y is [..., n]; its R = nelements / n rows are normalized. x has y's shape, or is a
 * wider buffer [..., S] holding R rows of S >= x_col + n elements, of which columns
 * [x_col, x_col + n) are read — a norm over part of a bigger buffer, e.g. the K columns of a
 * fused QKV projection's [T][q + k + v] output. head_dim = D > 0 normalizes each of the n / D
 * slices of D elements of a row separately (QK-norm over y [T][H·D]); n must be a multiple
 * of D. w and b hold one slice: [n], or [D] with head_dim.
 * Types: x, w, b, y (and r, h below) are F32, F16 or BF16 independently, except that h has
 * x's type. The result is rounded once, to y's type.
 * Aliasing: y may be x itself (in place: same type, x of y's shape); no other overlap of an
 * output with an input. Empty y does nothing.
 * Errors, INVALID_ARG with the op, argument and value: NULL stream, x or y; a buffer of
 * another device or not F32/F16/BF16; a read-only output; shapes as above; head_dim < 0 or
 * not dividing n; x_col < 0; eps negative or not finite, w_offset not finite. */
typedef struct mlxn_norm_params {
    float eps;        /* 1e-6 */
    float w_offset;   /* 0; 1 for Gemma, whose files store w − 1: y = norm(x) · (1 + w) */
    int64_t head_dim; /* 0: whole rows; D: each D-slice of a row (QK-norm) */
    int64_t x_col;    /* first column of x read, when x is wider than y; 0 */
} mlxn_norm_params;

/* eps 1e-6, w_offset 0, head_dim 0, x_col 0: the value NULL stands for. */
MLXN_API mlxn_norm_params mlxn_norm_defaults(void);

/* RMSNorm. w: NULL, [n] or [head_dim]. */
MLXN_API mlxn_status mlxn_rms_norm(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *w,
                                   mlxn_buffer *y, const mlxn_norm_params *p);
/* The residual add fused with the RMSNorm after it; x and r are read once:
 *   h = x + r, rounded to h's type (x's);   y = rms_norm(h as stored) · (w + w_offset)
 * x, r and h have y's shape (x_col must be 0); h may be x or r itself (same type). */
MLXN_API mlxn_status mlxn_rms_norm_residual(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *r,
                                            const mlxn_buffer *w, mlxn_buffer *h, mlxn_buffer *y,
                                            const mlxn_norm_params *p);
/* LayerNorm. w, b: NULL, [n] or [head_dim], independently. */
MLXN_API mlxn_status mlxn_layer_norm(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *w,
                                     const mlxn_buffer *b, mlxn_buffer *y, const mlxn_norm_params *p);
/* L2 norm (no weight; w_offset unused). */
MLXN_API mlxn_status mlxn_l2_norm(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y,
                                  const mlxn_norm_params *p);

/* ───────────────────────────── Rotary position embedding ─────────────────────────────
 * y is [..., H, D] (at least 2 dims): T = nelements / (H·D) token rows of H heads of D
 * (head_dim) elements. x has y's shape, or is a wider buffer [..., S] of T rows with
 * S >= x_col + H·D whose columns [x_col, x_col + H·D) are the heads (q or k inside a fused
 * QKV output). pos is I32 [T]: token t's position, read on the device when the op runs, so
 * a replayed graph follows new positions; any int32 value is valid.
 * The first n_rot dims of each head rotate as n_rot/2 pairs, i = 0 .. n_rot/2 − 1:
 *   NORMAL (GGUF's default; Llama):   pair i is (x[2i], x[2i + 1])
 *   NEOX   (Qwen, Gemma, Phi-3):      pair i is (x[i], x[i + n_rot/2])
 *   (a, b) → mscale · (a·cos θ − b·sin θ,  a·sin θ + b·cos θ),   θ = pos · f_i
 * and dims [n_rot, D) are copied. With f0_i = base^(−2i / n_rot), the frequency is
 * f_i = f0_i · g_i / ff[i], where ff is freq_factors (F32 [n_rot/2] divisors — GGUF's
 * rope_freqs tensor, e.g. Llama 3.1's — or NULL for 1) and the scaling sets g_i and mscale:
 *   NONE    g = 1; mscale = attn_factor
 *   LINEAR  g = 1 / factor; mscale = attn_factor
 *   YARN    (as ggml's rope_yarn) g_i = (1 − m_i) / factor + m_i, with
 *           m_i = ext_factor · (1 − clamp((i − lo) / max(0.001, hi − lo), 0, 1)),
 *           lo = max(0, floor(c(beta_fast))), hi = min(n_rot − 1, ceil(c(beta_slow))),
 *           c(β) = n_rot · ln(n_ctx_orig / (2π·β)) / (2·ln base);
 *           mscale = attn_factor · (1 + 0.1·ln factor) when ext_factor != 0, else attn_factor
 *   LLAMA3  (HF's "llama3" rope_type) wavelength λ_i = 2π / f0_i; g = 1 when
 *           λ < n_ctx_orig / high_freq_factor, g = 1 / factor when λ > n_ctx_orig /
 *           low_freq_factor, else g = (1 − σ) / factor + σ with σ = (n_ctx_orig / λ −
 *           low_freq_factor) / (high_freq_factor − low_freq_factor); mscale = attn_factor
 * f_i is computed in double on the host, once per call; θ = pos · f_i, cos, sin and the
 * rotation are float32 on the device (so θ carries f32's relative error: about 1e-7·|θ|).
 * Multi-section RoPE (Qwen2-VL's M-RoPE; Qwen3-VL's and Qwen3.5's interleaved form): when a
 * section is non-zero, pair i takes its position from stream k, pos is I32 [S][T] (S > the
 * last stream used; ggml's [4][T] layout works), and the sections must sum to n_rot/2:
 *   contiguous   pairs [0, s0) use stream 0, [s0, s0 + s1) stream 1, then 2, then 3;
 *   interleaved  pair i uses stream 1 if i mod 3 == 1 and i < 3·s1, stream 2 if i mod 3 == 2
 *                and i < 3·s2, else stream 0 (s3 must be 0).
 * Types: x and y F32, F16 or BF16 independently; y may be x (same type, x of y's shape).
 * Errors (INVALID_ARG, naming the argument and value): shapes as above; pos not I32 or not
 * [T] / [S][T] with S too small; n_rot odd, < 0, > D or > MLXN_ROPE_MAX_ROT; freq_factors
 * not F32 [n_rot/2]; freq_base not finite and > 1; factor or attn_factor not finite and > 0;
 * YARN with n_ctx_orig <= 0, ext_factor not finite, or beta_fast, beta_slow not > 0; LLAMA3
 * with n_ctx_orig <= 0 or not 0 < low_freq_factor < high_freq_factor; a mode or scaling
 * outside its enum; a section < 0, sections not summing to n_rot/2, interleaved with
 * s3 != 0. */
#define MLXN_ROPE_MAX_ROT 512

typedef enum mlxn_rope_mode {
    MLXN_ROPE_NORMAL = 0, /* adjacent pairs */
    MLXN_ROPE_NEOX = 1,   /* pairs split across the halves of the rotated dims */
} mlxn_rope_mode;

typedef enum mlxn_rope_scaling {
    MLXN_ROPE_SCALING_NONE = 0,
    MLXN_ROPE_SCALING_LINEAR = 1,
    MLXN_ROPE_SCALING_YARN = 2,
    MLXN_ROPE_SCALING_LLAMA3 = 3,
} mlxn_rope_scaling;

typedef struct mlxn_rope_params {
    mlxn_rope_mode mode;       /* NORMAL */
    int64_t n_rot;             /* rotated dims per head, even; 0: all of D */
    float freq_base;           /* 10000 */
    mlxn_rope_scaling scaling; /* NONE */
    float factor;              /* LINEAR, YARN, LLAMA3: context extension factor; 1 */
    float attn_factor;         /* multiplies cos and sin; 1 */
    int64_t n_ctx_orig;        /* YARN, LLAMA3: training context; 0 (must be set for them) */
    float ext_factor;          /* YARN: extrapolation mix; 1 */
    float beta_fast, beta_slow;              /* YARN: 32, 1 */
    float low_freq_factor, high_freq_factor; /* LLAMA3: 1, 4 */
    int32_t sections[4];       /* multi-section pairs per position stream; all 0: off */
    bool interleaved;          /* sections interleaved (Qwen3-VL) rather than contiguous */
    int64_t x_col;             /* first column of x read, when x is wider than y; 0 */
} mlxn_rope_params;

MLXN_API mlxn_rope_params mlxn_rope_defaults(void);

/* y = rope(x) at positions pos; freq_factors NULL or F32 [n_rot/2]. */
MLXN_API mlxn_status mlxn_rope(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *pos,
                               const mlxn_buffer *freq_factors, mlxn_buffer *y,
                               const mlxn_rope_params *p);

/* ───────────────────────────── Softmax ─────────────────────────────
 * Over each row of n elements, in float32:
 *   v = x · scale;  v = softcap · tanh(v / softcap) if softcap > 0 (Gemma 2's attention
 *   logit cap, applied before the mask);  v = v + mask;  y = exp(v − max v) / Σ exp(v − max v)
 * x and y are [..., n] of one shape (R = nelements / n rows). mask is NULL or F32/F16/BF16
 * [..., n] with M = nelements / n rows, M dividing R: x's row r adds mask row r mod M, so a
 * [Tq][Tk] mask serves scores [H][Tq][Tk] for every head, and a single row [n] serves all.
 * −inf in the mask removes an element; a row whose v is −inf everywhere gives zeros.
 * Types: x, mask and y F32, F16 or BF16 independently; y may be x (same type, in place).
 * Errors (INVALID_ARG): shapes, types, overlap as above; scale not finite; softcap < 0 or
 * not finite. */
typedef struct mlxn_softmax_params {
    float scale;   /* 1 */
    float softcap; /* 0: off */
} mlxn_softmax_params;

MLXN_API mlxn_softmax_params mlxn_softmax_defaults(void);

MLXN_API mlxn_status mlxn_softmax(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *mask,
                                  mlxn_buffer *y, const mlxn_softmax_params *p);

/* ───────────────────────────── Activations ─────────────────────────────
 * Elementwise, float32 math, the result rounded to y's type:
 *   silu(x) = x / (1 + e^−x)          sigmoid(x) = 1 / (1 + e^−x)
 *   gelu(x) = ½x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))   MLXN_GELU_TANH (GGUF's and Gemma's)
 *           = ½x·(1 + erf(x / √2))                       MLXN_GELU_ERF (the exact form)
 *   softcap(x) = cap · tanh(x / cap)   (Gemma 2's final-logit cap)
 * Gated: swiglu y = silu(a) · b, geglu y = gelu(a) · b. b NULL means a is a fused gate-up
 * output [..., 2n] — each row's first n elements are the gate a, the last n the up b
 * (llama.cpp's ffn_up_gate split) — and y is [..., n]; otherwise a, b and y have one shape.
 * sigmoid_mul: y = x · sigmoid(g), x, g, y of one shape (gated attention output).
 * Types: every operand F32, F16 or BF16 independently. Aliasing: y may be an input of its
 * own shape and type (in place); no other overlap. Empty tensors do nothing.
 * Errors (INVALID_ARG): NULL stream/operand, device, type, shape, overlap as above; a
 * read-only y; softcap's cap not finite and > 0; a gelu value outside the enum. */
typedef enum mlxn_gelu_approx {
    MLXN_GELU_TANH = 0,
    MLXN_GELU_ERF = 1,
} mlxn_gelu_approx;

typedef struct mlxn_act_params {
    mlxn_gelu_approx gelu; /* mlxn_gelu, mlxn_geglu: TANH */
    float softcap;         /* mlxn_softcap: 30 (Gemma 2's final-logit cap) */
} mlxn_act_params;

MLXN_API mlxn_act_params mlxn_act_defaults(void);

MLXN_API mlxn_status mlxn_silu(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_act_params *p);
MLXN_API mlxn_status mlxn_gelu(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_act_params *p);
MLXN_API mlxn_status mlxn_softcap(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_act_params *p);
/* b NULL: a is the fused [..., 2n] gate-up buffer. */
MLXN_API mlxn_status mlxn_swiglu(mlxn_stream *s, const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y,
                                 const mlxn_act_params *p);
MLXN_API mlxn_status mlxn_geglu(mlxn_stream *s, const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y,
                                const mlxn_act_params *p);
MLXN_API mlxn_status mlxn_sigmoid_mul(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *g, mlxn_buffer *y,
                                      const mlxn_act_params *p);

/* ───────────────────────────── Quantized matmul ─────────────────────────────
 * Y[M][N] = X[M][K] · dequant(W[N][K])ᵀ, per batch b when batched.
 *   w: [N][K] or [B][N][K], of a weight format: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
 *      Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4 (others: UNSUPPORTED).
 *      A row of W is a row of blocks, as GGUF stores it (K a multiple of the block).
 *   x: F32, F16 or BF16, in one of three layouts:
 *      - rows (default): [M][K], or [B][M][K]; with a 2-D w, x may be [B][M][K] and every
 *        batch uses the same w.
 *      - strided rows (p->x_row_stride = S >= K): row m of batch b starts S·(b·M + m)
 *        elements into x and its first K elements are used; x may have any shape holding
 *        (B·M - 1)·S + K elements (a column slice of a wider activation, say).
 *      - attention layout (p->x_heads = H > 0): x is [H][M][D] with K = H·D, the attention
 *        output per head; row m of X is x[0][m][:], x[1][m][:], ... (no separate permute).
 *        D must be a multiple of 8; no batch.
 *   y: [M][N] or [B][M][N], F32, F16 or BF16, dense; M and B are read from y.
 * The result is the exact product rounded to y's type, up to the backend's arithmetic:
 * - CPU: F32/F16/BF16 weights in f32 with f32 accumulation. Block formats take X rounded to
 *   8-bit integers per 32 elements (step amax/127, as llama.cpp does) for integer dot
 *   products: about 3e-5 normalized squared error on Gaussian data.
 * - CUDA, M <= 4 with Q8_0, Q4_K, Q5_K, Q6_K or IQ4_NL weights, M <= 2 with Q4_0 or Q4_1:
 *   X rounded to 8-bit integers per 32 elements as on the CPU (step amax/127), integer dot
 *   products with the weight's levels, scales in f32: about 3e-5 normalized squared error
 *   on Gaussian data.
 * - CUDA otherwise: tensor cores with X rounded to bf16 (exact for BF16 x), f32 accumulation.
 *   M <= 16: block formats' integer levels go in exactly and their scales apply in f32;
 *   F32/F16/BF16 weights are computed in f32. M > 16: the dequantized weights are rounded
 *   to bf16. About 1e-6 normalized squared error for each bf16 rounding on Gaussian data.
 *   Some of those products (large M on small or unaligned weights; y F32 or BF16) dequantize
 *   w into the stream's workspace (a bf16 copy of at most 64 MiB, beside cuBLASLt's 32 MiB;
 *   the workspace keeps its size) and multiply with cuBLASLt where it is present
 *   (libcublasLt opened at run time), as measured faster; the values are the same kind (w and
 *   x rounded to bf16, f32 accumulation).
 * Results are deterministic: the same call gives the same bits, eagerly or replayed.
 * Zero sizes: M, N or B of 0 do nothing; K of 0 writes zeros to y.
 * All buffers on the stream's device; y must not overlap x or w. Errors: INVALID_ARG
 * naming the argument (NULL, device, type, shape, K not a multiple of w's block, a buffer
 * too small for its stride), UNSUPPORTED for w formats outside the list above. */
typedef struct mlxn_qmatmul_params {
    int64_t x_row_stride; /* elements from one row of x to the next; 0: K (dense rows) */
    int64_t x_heads;      /* 0: x is rows; H > 0: x is the attention output [H][M][K/H] */
    /* NULL, or the BF16 copy of w made by mlxn_qmatmul_prepare: products with M > 16 on
     * CUDA read it instead of w where it measured faster: through cuBLASLt (libcublasLt of
     * the CUDA major version built against, opened at run time when present) for y F32 or
     * BF16, but for N <= 1024 with M <= 128 and K >= 4096; otherwise the library's tiled
     * kernel (on H100/sm_90a with K a multiple of 64: always; elsewhere from M·N >= 2^22).
     * Results then have w's and x's values rounded to bf16, as the tiled path does anyway.
     * The cuBLASLt path keeps 32 MiB of workspace per stream beside x's bf16 copy. */
    const mlxn_buffer *w_prepared;
} mlxn_qmatmul_params;

/* All zero: dense rows, no prepared weight. The value NULL stands for. */
MLXN_API mlxn_qmatmul_params mlxn_qmatmul_defaults(void);

MLXN_API mlxn_status mlxn_qmatmul(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *w,
                                  mlxn_buffer *y, const mlxn_qmatmul_params *p);

/* Enqueues on s the conversion of w (any weight format above, [N][K] or [B][N][K]) into
 * wp, a BF16 buffer of w's shape that the caller allocates (2·N·K bytes per batch: 3.6×
 * the bytes of a Q4_0 weight). Values are rounded to bf16 (nearest even). Pass wp as
 * p->w_prepared; keep it in step with w. */
MLXN_API mlxn_status mlxn_qmatmul_prepare(mlxn_stream *s, const mlxn_buffer *w, mlxn_buffer *wp);

#ifdef __cplusplus
}
#endif

/* Model files: GGUF and safetensors readers, the GGUF writer, MLX quantization. */
#include "mlxn_files.h"

#endif /* MLXN_H */
