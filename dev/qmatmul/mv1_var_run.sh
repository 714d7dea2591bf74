#!/bin/bash
# One device call comparing mat-vec libraries made by mv1_variant.sh: build-mv1/<name>/libmlxn.so.0.1
# for each name in LIBS (default: every folder there; carry build-mv1 with mlxn and libjansson in it),
# two rounds alternating, `mlxn bench qmatmul` at M = MS over FORMATS and SHAPES. Logs to $OUT.
set -u
C=$PWD/build-mv1
R=${OUT:-/tmp/mv1-out}
mkdir -p "$R"
LIBS=${LIBS:-$(cd "$C" && ls -d */ | tr -d /)}
for round in 1 2; do
    for lib in $LIBS; do
        ln -sf libmlxn.so.0.1 "$C/$lib/libmlxn.so"
        LD_LIBRARY_PATH=$C/$lib:$C:/usr/local/cuda/lib64 timeout 120 "$C/mlxn" bench qmatmul --backend cuda \
            --format ${FORMATS:-q4_0,q4_1,q8_0,q4_k,q5_k,q6_k,iq4_nl} \
            --shape ${SHAPES:-4096x4096,14336x4096,4096x14336,1024x4096,768x2048,49152x576} \
            --m ${MS:-1,2} >"$R/${lib}_$round.txt" 2>&1
    done
done
python3 - "$R" $LIBS <<'PY'
import sys, glob, collections
R, libs = sys.argv[1], sys.argv[2:]
t = collections.defaultdict(dict)
for lib in libs:
    for f in sorted(glob.glob(f"{R}/{lib}_*.txt")):
        for line in open(f):
            w = line.split()
            if len(w) >= 9 and w[4].replace('.', '', 1).isdigit() and 'x' in w[2]:
                t[(w[0], w[2], w[3])].setdefault(lib, []).append(float(w[4]))
print("format  shape        M  " + "  ".join(f"{l:>13}" for l in libs))
for k, v in t.items():
    print(f"{k[0]:7} {k[1]:12} {k[2]:>2}  " + "  ".join(f"{'/'.join(f'{x:.2f}' for x in v.get(l, [])):>13}" for l in libs))
PY
