/* The op families the driver runs: one entry per family, its cases in tests/ops_<family>.c. */
#ifndef MLXN_TEST_OPS_CASES_H
#define MLXN_TEST_OPS_CASES_H

#include <stddef.h>
#include "mlxn.h"

typedef struct t_op_family {
    const char *name;
    void (*run)(mlxn_device *dev, mlxn_stream *s);
} t_op_family;

void t_ops_eltwise(mlxn_device *dev, mlxn_stream *s);
void t_ops_norm(mlxn_device *dev, mlxn_stream *s);
void t_ops_rope(mlxn_device *dev, mlxn_stream *s);
void t_ops_softmax(mlxn_device *dev, mlxn_stream *s);
void t_ops_act(mlxn_device *dev, mlxn_stream *s);
void t_ops_qmatmul(mlxn_device *dev, mlxn_stream *s);
void t_ops_qmatmul_grids(mlxn_device *dev, mlxn_stream *s);
void t_ops_qmatmul_rows(mlxn_device *dev, mlxn_stream *s);
void t_ops_convert(mlxn_device *dev, mlxn_stream *s);
void t_ops_attention(mlxn_device *dev, mlxn_stream *s);
void t_ops_rows(mlxn_device *dev, mlxn_stream *s);
void t_ops_layout(mlxn_device *dev, mlxn_stream *s);
void t_ops_kvcache(mlxn_device *dev, mlxn_stream *s);
void t_ops_sample(mlxn_device *dev, mlxn_stream *s);

extern const t_op_family t_op_families[];
extern const size_t t_op_families_count;
/* Parts: subsets of a family's cases, run only when named, for tools too slow for the whole
 * family (compute-sanitizer). */
extern const t_op_family t_op_parts[];
extern const size_t t_op_parts_count;

#endif
