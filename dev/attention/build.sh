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
/usr/local/cuda/bin/nvcc -O3 -std=c++17 -I include -I src --generate-code=arch=compute_90a,code=[sm_90a] \
  --expt-relaxed-constexpr -lineinfo -DMLXN_BUILD_CUDA_ARCHS="\"90a-real\"" -o $B/dev/att_bench dev/attention/att_bench.cu
cp $B/libmlxn.so.0.1.0 $R/libmlxn.so.0.1
cp /usr/lib/x86_64-linux-gnu/libjansson.so.4 $R/
cp $B/mlxn $R/
cp $B/tests/test_ops $R/tests/
cp $B/dev/att_test $B/dev/att_bench $R/dev/
du -sh $R
