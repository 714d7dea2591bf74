#include "ops_cases.h"

const t_op_family t_op_families[] = {
    {"eltwise", t_ops_eltwise},
    {"convert", t_ops_convert},
    {"attention", t_ops_attention},
};
const size_t t_op_families_count = sizeof t_op_families / sizeof t_op_families[0];
