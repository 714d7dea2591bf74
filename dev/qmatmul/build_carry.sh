#!/bin/sh
# Packs what a device run of gpu_run.sh needs into build-qmv-run/ (git-ignored as build*/):
# the library, mlxn and test_ops from a build dir (default build-qmv, sm_90a only, to stay
# under the 64 MiB a call may carry), the dp4a launch sweep (mvq_bench.cu), libjansson.
set -e
cd "$(dirname "$0")/../.."
B=${1:-build-qmv}
C=build-qmv-run
mkdir -p $C
cp -L $B/libmlxn.so.0.1 $C/libmlxn.so.0.1
strip --strip-unneeded $C/libmlxn.so.0.1
cp $B/mlxn $C/mlxn
cp $B/tests/test_ops $C/test_ops
[ -f build-qmv-chk/mvq_bench ] && cp build-qmv-chk/mvq_bench $C/
cp -L /usr/lib/x86_64-linux-gnu/libjansson.so.4 $C/
du -sh $C
