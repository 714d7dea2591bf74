#include "ops_cases.h"

const t_op_family t_op_families[] = {
    {"eltwise", t_ops_eltwise},
    {"norm", t_ops_norm},
    {"rope", t_ops_rope},
    {"softmax", t_ops_softmax},
    {"act", t_ops_act},
    {"qmatmul", t_ops_qmatmul},
    {"convert", t_ops_convert},
    {"attention", t_ops_attention},
    {"rows", t_ops_rows},
    {"layout", t_ops_layout},
    {"kvcache", t_ops_kvcache},
    {"sample", t_ops_sample},
};
const size_t t_op_families_count = sizeof t_op_families / sizeof t_op_families[0];

/* parts: run only when named */
const t_op_family t_op_parts[] = {
    {"qmatmul_grids", t_ops_qmatmul_grids}, /* qmatmul's stream-K and wide-tile grids */
    {"qmatmul_rows", t_ops_qmatmul_rows},   /* qmatmul on W rows that are not 16-byte multiples */
};
const size_t t_op_parts_count = sizeof t_op_parts / sizeof t_op_parts[0];
