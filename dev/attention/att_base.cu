/* The attention kernels of another source tree (git HEAD, exported by dev/attention/build.sh
 * to /tmp/attn-base), in a namespace of their own, as base_mlxn_cuda_attention: att_bench's
 * same-run baseline. Compiled with -I /tmp/attn-base/src and
 * -Dmlxn_cuda_attention=base_mlxn_cuda_attention. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <atomic>
#include <cooperative_groups.h>
#include <mutex>
#include <type_traits>

#include <cuda.h>

#include "cuda/cuda_common.cuh"
#include "cuda/hopper.cuh"

namespace attn_base {
#include "cuda/attention.cu"
}
