#!/bin/sh
# usage: run_regs.sh 'X(mma_cfg<...>) X(mma_cfg<...>)'  -> ptxas registers/spills per instance, sm_90a
cd "$(dirname "$0")/../.." && echo "$1" > /tmp/regs_cfgs.h &&
/usr/local/cuda/bin/nvcc -I include -I src -I /tmp -O3 $EXTRA --generate-code=arch=compute_90a,code=[sm_90a] \
  --expt-relaxed-constexpr -Xptxas -v -x cu -c dev/attention/regs.cu -o /tmp/regs.o 2>&1 |
  grep -E "error|Compiling|registers|spill" | paste - - - |
  sed 's/ptxas info *://g;s/Compiling entry function//;s/for .sm_90a.//;s/bytes stack frame/stk/;s/bytes spill stores/sst/;s/bytes spill loads/sld/;s/_Z15attn_mma_kernelI7mma_cfg//;s/E6__halfS2_Ev10att_paramsPf//' | cut -c1-200
