/* mlxn: model files — GGUF v2/v3 and safetensors readers that validate before they expose
 * anything, the GGUF writer, and MLX affine-quantized weights. Included by mlxn.h; include
 * that, not this. Conventions as in mlxn.h. */
#ifndef MLXN_FILES_H
#define MLXN_FILES_H

#include "mlxn.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#endif /* MLXN_FILES_H */
