/* CPU backend internals shared by its op files: the device, and how an op is run now or
 * recorded into a graph. */
#ifndef MLXN_CPU_H
#define MLXN_CPU_H

#include "core/backend.h"
#include "cpu/threadpool.h"

typedef struct cpu_device {
    mlxn_threadpool *tp;
} cpu_device;

/* An op's body: runs with its argument block (a copy, when replayed from a graph). */
typedef void (*cpu_op_fn)(cpu_device *dev, const void *args);

/* Runs fn(args) now, or records it with a copy of the args_bytes argument block when the
 * stream is recording. */
mlxn_status mlxn_cpu_submit(void *stream, cpu_op_fn fn, const void *args, size_t args_bytes);

/* Per-family entries of the vtable. */
mlxn_status mlxn_cpu_eltwise(void *stream, const mlxn_eltwise_args *a);
mlxn_status mlxn_cpu_norm(void *stream, const mlxn_norm_args *a);
mlxn_status mlxn_cpu_rope(void *stream, const mlxn_rope_args *a);
mlxn_status mlxn_cpu_softmax(void *stream, const mlxn_softmax_args *a);
mlxn_status mlxn_cpu_act(void *stream, const mlxn_act_args *a);
mlxn_status mlxn_cpu_qmatmul(void *stream, const mlxn_qmatmul_args *a);
mlxn_status mlxn_cpu_convert(void *stream, const mlxn_convert_args *a);
mlxn_status mlxn_cpu_attention(void *stream, const mlxn_attention_args *a);
mlxn_status mlxn_cpu_get_rows(void *stream, const mlxn_get_rows_args *a);
mlxn_status mlxn_cpu_layout(void *stream, const mlxn_layout_args *a);
mlxn_status mlxn_cpu_kv_append(void *stream, const mlxn_kv_append_args *a);
mlxn_status mlxn_cpu_sample(void *stream, const mlxn_sample_args *a);

#endif
