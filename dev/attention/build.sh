#!/bin/sh
# Builds the attention dev programs after the library (build-attn), then gathers what a device
# call needs into build-attn-run (under the 64 MiB a call carries): the shared library, jansson,
# mlxn, test_ops, and dev/: att_test (the attention op cases alone), att_bench (kernel
# variants, sm_90a, no libmlxn).
set -e
cd "$(dirname "$0")/../.."
B=build-attn
R=build-attn-run
mkdir -p $B/dev $R/dev $R/tests
cc -O2 -std=c11 -I include -I src -I tests -o $B/dev/att_test dev/attention/att_test.c tests/ops_attention.c \
  $B/tests/libmlxn_testlib.a -L$B -l:libmlxn.so.0.1 -lm
# the same-run baseline: git HEAD's attention sources, built into att_bench under other names
rm -rf /tmp/attn-base && mkdir -p /tmp/attn-base && git archive HEAD src include | tar -x -C /tmp/attn-base
NV="/usr/local/cuda/bin/nvcc -O3 -std=c++17 --generate-code=arch=compute_90a,code=[sm_90a] --expt-relaxed-constexpr -lineinfo"
$NV -I /tmp/attn-base/include -I /tmp/attn-base/src -DMLXN_BUILD_CUDA_ARCHS="\"90a-real\"" \
  -Dmlxn_cuda_attention=base_mlxn_cuda_attention -c -o $B/dev/att_base.o dev/attention/att_base.cu
$NV -I include -I src -DMLXN_BUILD_CUDA_ARCHS="\"90a-real\"" -o $B/dev/att_bench dev/attention/att_bench.cu $B/dev/att_base.o -lcuda
cp $B/libmlxn.so.0.1.0 $R/libmlxn.so.0.1
cp /usr/lib/x86_64-linux-gnu/libjansson.so.4 $R/
cp $B/mlxn $R/
cp $B/tests/test_ops $R/tests/
cp $B/dev/att_test $B/dev/att_bench $R/dev/
du -sh $R
