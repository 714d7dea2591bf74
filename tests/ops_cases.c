#include "ops_cases.h"

const t_op_family t_op_families[] = {
    {"eltwise", t_ops_eltwise, false},
    {"norm", t_ops_norm, false},
    {"rope", t_ops_rope, false},
    {"softmax", t_ops_softmax, false},
    {"act", t_ops_act, false},
    {"qmatmul", t_ops_qmatmul, false},
    {"qmatmul_grids", t_ops_qmatmul_grids, true}, /* qmatmul's stream-K and wide-tile grids */
    {"convert", t_ops_convert, false},
    {"attention", t_ops_attention, false},
    {"rows", t_ops_rows, false},
    {"layout", t_ops_layout, false},
    {"kvcache", t_ops_kvcache, false},
    {"sample", t_ops_sample, false},
};
const size_t t_op_families_count = sizeof t_op_families / sizeof t_op_families[0];
