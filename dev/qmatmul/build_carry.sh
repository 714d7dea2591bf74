#!/bin/sh
# Packs what a device run needs into qmm-carry/ (git-ignored through .git/info/exclude):
# the library and mlxn from a build dir (default build-qmm-dev, sm_90a only, to stay under
# the 64 MiB a call may carry), the qmatmul test runner, and libjansson.
set -e
cd "$(dirname "$0")/../.."
B=${1:-build-qmm-dev}
C=qmm-carry
rm -rf $C && mkdir -p $C
cp $B/libmlxn.so.0.1.0 $C/libmlxn.so.0.1
strip --strip-unneeded $C/libmlxn.so.0.1
cp $B/mlxn $C/mlxn
cc -O2 -std=gnu11 -Itests -Isrc -Iinclude -DMLXN_SHARED_DIR='""' -DMLXN_TEST_DIR='""' dev/qmatmul/run_tests.c \
   tests/ops_qmatmul.c tests/opcheck.c tests/harness.c tests/ref/*.c -L$C -l:libmlxn.so.0.1 -lm -o $C/qmm_tests
cp -L /usr/lib/x86_64-linux-gnu/libjansson.so.4 $C/
cp dev/qmatmul/gpu_run.sh $C/
du -sh $C
