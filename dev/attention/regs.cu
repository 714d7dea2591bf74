/* Register/smem report for chosen mma instances (run_regs.sh writes regs_cfgs.h). */
#include "cuda/attention_mma.cuh"
#define X(...) template __global__ void attn_mma_kernel<__VA_ARGS__, __half, __half>(att_params, float *);
#include "regs_cfgs.h"
