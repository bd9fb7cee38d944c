#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# More hybrid validation studies on the SAME real validation vertebrae as make_hybrid.sh's
# (thorax-4dct's "evaluate" levels in training/hybrid_split.json, T7-T11), with the lesion kinds
# balanced, so that the operating point is chosen on enough inserted lesions (issue 13, model
# 0.4.1; docs/training.md). make_hybrid.sh draws each vertebra's label (probability 0.6, kinds at
# equal odds), which gave 0.4.0's validation 3 lytic lesions; here every validation vertebra of
# every study gets a lesion, forced with --labels in a rotation:
#   study i (0-based), i-th evaluation level j:  kind  (i + j) mod 3 of blastic, lytic, mixed
#                                                 extension  (i div 3 + 2 j) mod 3 of none,
#                                                 unilateral (side drawn by the tool), bilateral
# Nine studies give 45 lesions: 15 per kind, 5 per (kind, extension), each vertebra each kind 3
# times. The training levels are withheld in every study, as in make_hybrid.sh; no training or
# test vertebra is touched. The lesion-free real validation vertebrae stay make_hybrid.sh's five
# (thorax-4dct-s0): that is all the real normal validation bone there is.
#   OUT/studies/eval/thorax-4dct-s<100+i+1>   spinemet-hybrid output (seed 100+i+1 plus
#                                            make_hybrid.sh's per-CT offset: deterministic)
#   OUT/samples/eval/thorax-4dct-s<100+i+1>   spinemet-prep output
# Usage: training/make_hybrid_validation.sh OUT_DIR [STUDIES [BUILD_DIR [SHARED_TESTDATA_DIR]]]
#        (default 9 studies, build, ../shared/testdata)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { sed -n '3,20p' "$0" >&2; exit 2; }
default_count=9
. "$root/training/hybrid_common.sh"
ct=thorax-4dct
background=$shared/real-ct/$ct
[ -d "$background" ] || { echo "missing background $background" >&2; exit 1; }

# "train" levels (comma-separated), or the --labels value of study $2 over the "evaluate" levels
split_value() {
  /usr/bin/python3 - "$split" "$ct" "$1" "${2:-0}" <<'EOF'
import json, sys
split, ct, what, study = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
levels = json.load(open(split))["backgrounds"][ct]
if what == "train":
    print(",".join(levels["train"]))
else:
    kinds, extensions = ("blastic", "lytic", "mixed"), ("none", "unilateral", "bilateral")
    print(",".join(f"{level}={kinds[(study + j) % 3]}:{extensions[(study // 3 + 2 * j) % 3]}"
                   for j, level in enumerate(levels["evaluate"])))
EOF
}

withhold=$(split_value train)
study=0
while [ "$study" -lt "$count" ]; do
  seed=$((101 + study))
  nice -n 10 "$hybrid" --background "$background" --out "$out/studies/eval/$ct-s$seed" \
    --seed "$(hybrid_seed "$ct" "$seed")" \
    --labels "$(split_value labels "$study")" --withhold "$withhold"
  study=$((study + 1))
done
nice -n 10 "$prep" --out "$out/samples/eval" --preprocessing "$preprocessing" "$out"/studies/eval/*
cp "$split" "$out/split.json"
echo "balanced validation studies in $out/studies/eval, samples in $out/samples/eval"
