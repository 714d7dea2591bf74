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
 * no visible key and no sink gives zeros, never NaN. q, k and v start 16-byte aligned
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

/* ───────────────────────────── Files: GGUF, safetensors ───────────────────────────── */
/* (io section) */
/* Both readers map the file read-only (MAP_PRIVATE) and check every count, length, offset
 * and size against the file before open returns, so after a successful open every getter
 * is cheap and cannot fail for format reasons. Nothing is allocated in proportion to a size
 * the file claims before that size is checked against the file. A malformed file gives
 * MLXN_ERR_FORMAT with a message naming the key or tensor and the offending value;
 * open/stat/map failures give MLXN_ERR_IO. Tensor shapes are reported outermost first,
 * like every mlxn shape: GGUF stores ne[0] innermost, so the GGUF order is reversed
 * (a GGUF [4096, 32000] token embedding is mlxn [32000, 4096], W[N][K] with K = 4096).
 * The file must not be truncated or rewritten while it is open (the mapping would fault). */

/* One tensor of an open file. Strings belong to the file handle. */
typedef struct mlxn_tensor_info {
    const char *name;           /* NUL-terminated */
    mlxn_type type;
    int ndim;                   /* 1..4 (safetensors: 0 for a scalar) */
    int64_t ne[MLXN_MAX_DIMS];  /* outermost first; unused entries are 0 */
    uint64_t offset;            /* of the first byte, from the start of the file */
    size_t bytes;
} mlxn_tensor_info;

/* Upload progress: bytes copied so far of total; called at least once, last with
 * done == total. */
typedef void (*mlxn_progress_fn)(uint64_t done, uint64_t total, void *user);

/* ── GGUF ── */

typedef struct mlxn_gguf mlxn_gguf;

/* GGUF metadata value types; the values are GGUF's own ids. */
typedef enum mlxn_gguf_vtype {
    MLXN_GGUF_UINT8 = 0,
    MLXN_GGUF_INT8 = 1,
    MLXN_GGUF_UINT16 = 2,
    MLXN_GGUF_INT16 = 3,
    MLXN_GGUF_UINT32 = 4,
    MLXN_GGUF_INT32 = 5,
    MLXN_GGUF_FLOAT32 = 6,
    MLXN_GGUF_BOOL = 7,
    MLXN_GGUF_STRING = 8,
    MLXN_GGUF_ARRAY = 9,
    MLXN_GGUF_UINT64 = 10,
    MLXN_GGUF_INT64 = 11,
    MLXN_GGUF_FLOAT64 = 12,
    MLXN_GGUF_VTYPE_COUNT = 13, /* not a type; also what getters return for a bad index */
} mlxn_gguf_vtype;

/* "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64",
 * "f64"; "invalid" otherwise. */
MLXN_API const char *mlxn_gguf_vtype_name(mlxn_gguf_vtype t);

/* Bounds a file must stay within; each is also bounded by the file's size. */
typedef struct mlxn_gguf_limits {
    uint64_t max_string;    /* bytes of one string value or array string (default 16 MiB) */
    uint64_t max_array;     /* elements of one array (default 16 Mi) */
    uint64_t max_kv;        /* metadata entries (default 65536) */
    uint64_t max_tensors;   /* tensors (default 1 Mi) */
    uint64_t max_name;      /* bytes of a key or tensor name (default 256) */
    uint32_t max_alignment; /* largest general.alignment (default 65536) */
    int max_dims;           /* 1..MLXN_MAX_DIMS (default 4) */
} mlxn_gguf_limits;

MLXN_API void mlxn_gguf_limits_init(mlxn_gguf_limits *lim);

/* Opens a GGUF v2 or v3 file with the default limits: maps it and validates all of it —
 * magic, version, counts and lengths against the limits and the file, known value types
 * only, unique keys, general.alignment (a u32 power of two, default 32), unique non-empty
 * tensor names, 1..4 dims, element counts and byte sizes without overflow, rows a whole
 * number of blocks, offsets aligned, every tensor inside the data section and no two
 * overlapping. *out is NULL on failure. Errors: INVALID_ARG (NULL path/out), IO,
 * FORMAT, UNSUPPORTED (a tensor type ggml knows and mlxn does not: NVFP4, Q1_0),
 * OUT_OF_MEMORY. */
MLXN_API mlxn_status mlxn_gguf_open(const char *path, mlxn_gguf **out);
/* The same with limits (NULL: defaults); a limit of 0 or out of range is INVALID_ARG. */
MLXN_API mlxn_status mlxn_gguf_open_ex(const char *path, const mlxn_gguf_limits *lim,
                                       mlxn_gguf **out);
/* Parses a GGUF image in caller memory without copying it; data must stay valid and
 * unchanged until mlxn_gguf_close. Tensor data is as aligned as data + offset is. */
MLXN_API mlxn_status mlxn_gguf_open_memory(const void *data, size_t size,
                                           const mlxn_gguf_limits *lim, mlxn_gguf **out);
/* Unmaps the file and frees every string and array the handle gave out. Buffers made by
 * mlxn_gguf_tensor_view must be freed first; uploaded buffers need not be. */
MLXN_API void mlxn_gguf_close(mlxn_gguf *g);

/* 2 or 3. */
MLXN_API uint32_t mlxn_gguf_version(const mlxn_gguf *g);
/* general.alignment, or 32 when absent. */
MLXN_API uint32_t mlxn_gguf_alignment(const mlxn_gguf *g);
/* Offset of the data section from the start of the file. */
MLXN_API uint64_t mlxn_gguf_data_offset(const mlxn_gguf *g);

/* Metadata, in file order: key i (NULL when i is out of range), its type
 * (MLXN_GGUF_VTYPE_COUNT when out of range). */
MLXN_API uint64_t mlxn_gguf_kv_count(const mlxn_gguf *g);
MLXN_API const char *mlxn_gguf_kv_key(const mlxn_gguf *g, uint64_t i);
MLXN_API mlxn_gguf_vtype mlxn_gguf_kv_type(const mlxn_gguf *g, uint64_t i);
/* The index of key, or -1 (no error set): the way to probe optional keys. */
MLXN_API int64_t mlxn_gguf_find_key(const mlxn_gguf *g, const char *key);

/* Typed getters by key. Each returns FORMAT when the key is absent or its value does not
 * convert, naming the key and the type it has; *out is untouched on failure.
 * - u32/u64/i64: any integer type (u8..i64) whose value fits the result.
 * - f64: FLOAT32 or FLOAT64.  bool: BOOL.
 * - str: STRING; *s is NUL-terminated and owned by g; *len (may be NULL) is its length in
 *   bytes (a value may contain NUL bytes).
 * - arr: ARRAY of anything but strings; *data holds *n elements of *elem_type in host
 *   layout (bool as one byte), 8-byte aligned, owned by g; NULL when *n == 0. For an
 *   array of strings *elem_type is STRING, *data is NULL: read them with arr_str. */
MLXN_API mlxn_status mlxn_gguf_get_u32(const mlxn_gguf *g, const char *key, uint32_t *out);
MLXN_API mlxn_status mlxn_gguf_get_u64(const mlxn_gguf *g, const char *key, uint64_t *out);
MLXN_API mlxn_status mlxn_gguf_get_i64(const mlxn_gguf *g, const char *key, int64_t *out);
MLXN_API mlxn_status mlxn_gguf_get_f64(const mlxn_gguf *g, const char *key, double *out);
MLXN_API mlxn_status mlxn_gguf_get_bool(const mlxn_gguf *g, const char *key, bool *out);
MLXN_API mlxn_status mlxn_gguf_get_str(const mlxn_gguf *g, const char *key, const char **s,
                                       size_t *len);
MLXN_API mlxn_status mlxn_gguf_get_arr(const mlxn_gguf *g, const char *key,
                                       mlxn_gguf_vtype *elem_type, uint64_t *n,
                                       const void **data);
/* String i of a string array; FORMAT when key is absent or not a string array,
 * INVALID_ARG when i is past its end. */
MLXN_API mlxn_status mlxn_gguf_get_arr_str(const mlxn_gguf *g, const char *key, uint64_t i,
                                           const char **s, size_t *len);

/* Tensors, in file order. */
MLXN_API uint64_t mlxn_gguf_tensor_count(const mlxn_gguf *g);
/* INVALID_ARG when i is out of range. */
MLXN_API mlxn_status mlxn_gguf_tensor_info(const mlxn_gguf *g, uint64_t i, mlxn_tensor_info *out);
/* The index of the tensor called name, or -1 (no error set). */
MLXN_API int64_t mlxn_gguf_find_tensor(const mlxn_gguf *g, const char *name);
/* The tensor's bytes inside the mapping (valid until close); NULL when i is out of range
 * or the tensor is empty. */
MLXN_API const void *mlxn_gguf_tensor_data(const mlxn_gguf *g, uint64_t i);
/* A zero-copy, read-only buffer over the tensor's bytes on a CPU device (see
 * mlxn_buffer_wrap); it must be freed before mlxn_gguf_close. UNSUPPORTED on CUDA. */
MLXN_API mlxn_status mlxn_gguf_tensor_view(const mlxn_gguf *g, uint64_t i, mlxn_device *dev,
                                           mlxn_buffer **out);
/* A new buffer on dev (any backend) holding a copy of the tensor, written in chunks with
 * progress (NULL: none) called after each. The buffer is the caller's to free and may
 * outlive g. Errors: INVALID_ARG, OUT_OF_MEMORY, DEVICE. */
MLXN_API mlxn_status mlxn_gguf_tensor_upload(const mlxn_gguf *g, uint64_t i, mlxn_device *dev,
                                             mlxn_progress_fn progress, void *user,
                                             mlxn_buffer **out);

/* ── GGUF writer (for tools and tests) ──
 * Collects metadata and tensors, then writes a GGUF v3 file: metadata in the order set,
 * tensors in the order added, each at an offset aligned to general.alignment (a u32 key
 * the caller may set; default 32). Keys and names are copied; tensor data is not, and
 * must stay valid until mlxn_gguf_writer_write returns. Setting a key twice or adding a
 * tensor name twice is INVALID_ARG. */
typedef struct mlxn_gguf_writer mlxn_gguf_writer;

MLXN_API mlxn_status mlxn_gguf_writer_create(mlxn_gguf_writer **out);
MLXN_API void mlxn_gguf_writer_free(mlxn_gguf_writer *w);
/* A scalar of type t (any but STRING and ARRAY) read from *value: a uint8_t for UINT8,
 * ..., a bool for BOOL, a float for FLOAT32, a double for FLOAT64. */
MLXN_API mlxn_status mlxn_gguf_writer_set(mlxn_gguf_writer *w, const char *key,
                                          mlxn_gguf_vtype t, const void *value);
MLXN_API mlxn_status mlxn_gguf_writer_set_str(mlxn_gguf_writer *w, const char *key,
                                              const char *s);
/* An array of n scalars of elem_type (not STRING or ARRAY), copied from data. */
MLXN_API mlxn_status mlxn_gguf_writer_set_arr(mlxn_gguf_writer *w, const char *key,
                                              mlxn_gguf_vtype elem_type, const void *data,
                                              uint64_t n);
MLXN_API mlxn_status mlxn_gguf_writer_set_arr_str(mlxn_gguf_writer *w, const char *key,
                                                  const char *const *s, uint64_t n);
/* A tensor of type t and shape ne (outermost first; written to the file innermost
 * first); bytes must equal the shape's size. */
MLXN_API mlxn_status mlxn_gguf_writer_add_tensor(mlxn_gguf_writer *w, const char *name,
                                                 mlxn_type t, int ndim, const int64_t *ne,
                                                 const void *data, size_t bytes);
/* Writes the file (IO on failure; a partial file is removed). */
MLXN_API mlxn_status mlxn_gguf_writer_write(const mlxn_gguf_writer *w, const char *path);

/* ── safetensors ── */

typedef struct mlxn_safetensors mlxn_safetensors;

/* Opens a safetensors file: maps it, parses the JSON header (at most 100 MB) with jansson
 * and checks every entry — dtype known, shape of 0..4 non-negative dims, data_offsets two
 * integers with begin <= end, end - begin equal to the shape's byte size, every range
 * inside the data section and no two overlapping, names unique. Dtypes: F32 F16 BF16 F64
 * I8 U8 I16 U16 I32 U32 I64; BOOL, U64 and the F8 types are UNSUPPORTED, as are shapes
 * of more than 4 dims. Errors: INVALID_ARG, IO, FORMAT, UNSUPPORTED, OUT_OF_MEMORY. */
MLXN_API mlxn_status mlxn_safetensors_open(const char *path, mlxn_safetensors **out);
/* The same over caller memory, which must stay valid until close. */
MLXN_API mlxn_status mlxn_safetensors_open_memory(const void *data, size_t size,
                                                  mlxn_safetensors **out);
/* Buffers made by mlxn_safetensors_tensor_view must be freed first. */
MLXN_API void mlxn_safetensors_close(mlxn_safetensors *st);

/* Tensors in the order of their data (by offset); otherwise as for GGUF. A scalar has
 * ndim 0; its view and upload have shape [1]. */
MLXN_API uint64_t mlxn_safetensors_tensor_count(const mlxn_safetensors *st);
MLXN_API mlxn_status mlxn_safetensors_tensor_info(const mlxn_safetensors *st, uint64_t i,
                                                  mlxn_tensor_info *out);
MLXN_API int64_t mlxn_safetensors_find_tensor(const mlxn_safetensors *st, const char *name);
MLXN_API const void *mlxn_safetensors_tensor_data(const mlxn_safetensors *st, uint64_t i);
MLXN_API mlxn_status mlxn_safetensors_tensor_view(const mlxn_safetensors *st, uint64_t i,
                                                  mlxn_device *dev, mlxn_buffer **out);
MLXN_API mlxn_status mlxn_safetensors_tensor_upload(const mlxn_safetensors *st, uint64_t i,
                                                    mlxn_device *dev, mlxn_progress_fn progress,
                                                    void *user, mlxn_buffer **out);
/* The "__metadata__" string map: entry i's key and value (NULL when out of range), and
 * the value of key (NULL when absent). */
MLXN_API uint64_t mlxn_safetensors_meta_count(const mlxn_safetensors *st);
MLXN_API const char *mlxn_safetensors_meta_key(const mlxn_safetensors *st, uint64_t i);
MLXN_API const char *mlxn_safetensors_meta_value(const mlxn_safetensors *st, uint64_t i);
MLXN_API const char *mlxn_safetensors_meta_get(const mlxn_safetensors *st, const char *key);

/* ── MLX affine quantization ──
 * An MLX-quantized linear layer `p` is three tensors: p.weight (U32, [N, K·bits/32]: each
 * uint32 packs 32/bits values, lowest bits first; for 3, 5 and 6 bits values straddle
 * words), p.scales and p.biases (BF16, F16 or F32, [N, K/group_size]); element (n, k) is
 * scales[n][k/g] · q + biases[n][k/g]. Leading dims (experts) may precede N. bits and
 * group_size come from the model's config.json: "quantization" (or
 * "quantization_config") holds the defaults and per-module overrides
 * ({"bits": b, "group_size": g}, or false for a module kept in float). */
typedef struct mlxn_mlx_config mlxn_mlx_config;

/* Reads config.json (IO when it cannot be read, FORMAT when it is not JSON or the
 * quantization entry is malformed: bits not in 2,3,4,5,6,8, group_size not in 32,64,128,
 * a "mode" other than "affine"). A config without quantization is valid: nothing is
 * quantized. */
MLXN_API mlxn_status mlxn_mlx_config_open(const char *path, mlxn_mlx_config **out);
MLXN_API mlxn_status mlxn_mlx_config_parse(const char *json, size_t len, mlxn_mlx_config **out);
MLXN_API void mlxn_mlx_config_free(mlxn_mlx_config *c);
/* bits and group size for module (e.g. "model.layers.0.self_attn.q_proj"): the override
 * for it when there is one, else the defaults; 0 and 0 when it is not quantized. */
MLXN_API void mlxn_mlx_config_quant(const mlxn_mlx_config *c, const char *module, int *bits,
                                    int *group_size);

/* One weight of a module, quantized or not. */
typedef struct mlxn_mlx_weight {
    int64_t weight, scales, biases; /* tensor indexes in the file; scales/biases -1 if float */
    int bits, group_size;           /* 0, 0: a float weight */
    int ndim;                       /* of the logical (dequantized) shape */
    int64_t ne[MLXN_MAX_DIMS];      /* logical shape, outermost first: [..., N, K] */
} mlxn_mlx_weight;

/* Finds module.weight in st. As in mlx-lm, the module is quantized when module.scales
 * exists: then module.biases must exist too, bits and group_size come from the config,
 * and the three tensors' types and shapes must agree with them. Without scales the
 * weight must be F32/F16/BF16 (norms, or modules the quantizer skipped). FORMAT naming
 * the tensor when one is missing or does not agree, also when scales exist for a module
 * the config leaves in float. */
MLXN_API mlxn_status mlxn_mlx_weight_find(const mlxn_safetensors *st, const mlxn_mlx_config *c,
                                          const char *module, mlxn_mlx_weight *out);
/* Dequantizes row r (over the logical shape's rows, leading dims flattened) of a weight
 * into dst[K] as float32. INVALID_ARG when r is out of range. */
MLXN_API mlxn_status mlxn_mlx_dequantize_row(const mlxn_safetensors *st, const mlxn_mlx_weight *w,
                                             int64_t r, float *dst);

#ifdef __cplusplus
}
#endif

#endif /* MLXN_H */
