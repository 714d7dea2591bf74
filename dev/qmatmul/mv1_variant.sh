#!/bin/bash
# A variant library for mv1_var_run.sh: build-lead's objects with src/cuda/$SRC.cu (default
# qmatmul_mv1) recompiled under extra nvcc arguments (e.g. -DMV1_ST=3 where the source reads such
# a macro), linked into build-mv1/<name>/libmlxn.so.0.1 (stripped); the compiler's register report
# beside it in build-mv1-obj/<name>/. Usage: [SRC=attention] dev/qmatmul/mv1_variant.sh name [nvcc args...]
set -e
cd "$(dirname "$0")/../.."
N=$1; shift
F=${SRC:-qmatmul_mv1}
D=build-mv1/$N; O=build-mv1-obj/$N
mkdir -p "$D" "$O"
cd build-lead
CMD=$(ninja -t commands libmlxn.so.0.1.0 | grep -E "src/cuda/$F.cu " |
    sed -e "s# -MD -MT [^ ]* -MF [^ ]*##" -e "s#-o CMakeFiles/mlxn_objects.dir/src/cuda/$F.cu.o#-o ../$O/$F.o $* -Xptxas -v#")
eval "$CMD" 2>"../$O/ptxas.txt"
LINK=$(ninja -t commands libmlxn.so.0.1.0 | tail -1 |
    sed -e "s#CMakeFiles/mlxn_objects.dir/src/cuda/$F.cu.o#../$O/$F.o#" -e "s#-o libmlxn.so.0.1.0#-o ../$D/libmlxn.so.0.1#" \
        -e "s#^: && ##" -e "s# && :\$##")
eval "$LINK"
strip --strip-unneeded "../$D/libmlxn.so.0.1"
