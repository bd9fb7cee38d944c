#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Hybrid studies from the three real CTs of ../shared/testdata/real-ct, split by vertebra and by
# patient as training/hybrid_split.json says (docs/hybrid.md), then spinemet-prep over them:
#   OUT/studies/train/<ct>-s<seed>   lesions only in the CT's training vertebrae, its evaluation
#                                    vertebrae withheld (prep: unknown labels, no loss)
#   OUT/studies/eval/<ct>-s<seed>    lesions only in the evaluation vertebrae, training ones withheld
#   seed 0 of each side is lesion-free: real normal bone for that side (specificity on real bone)
#   OUT/samples/train, OUT/samples/eval   spinemet-prep output (crops.npy + samples.json per study)
# Usage: training/make_hybrid.sh OUT_DIR [STUDIES_PER_CT [BUILD_DIR [SHARED_TESTDATA_DIR]]]
#        (default 8 studies with lesions per CT and side, build, ../shared/testdata)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { sed -n '3,13p' "$0" >&2; exit 2; }
default_count=8
. "$root/training/hybrid_common.sh"

# "train" or "evaluate" levels of one CT, comma-separated
levels() {
  /usr/bin/python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["backgrounds"][sys.argv[2]][sys.argv[3]]))' \
    "$split" "$1" "$2"
}

for ct in thorax-4dct chest-lidc-0314 abdomen-crlm-1006; do
  background=$shared/real-ct/$ct
  [ -d "$background" ] || { echo "missing background $background" >&2; exit 1; }
  train=$(levels "$ct" train)
  evaluate=$(levels "$ct" evaluate)
  for side in train eval; do
    if [ "$side" = train ]; then use=$train; withhold=$evaluate; else use=$evaluate; withhold=$train; fi
    [ -n "$use" ] || continue                    # a held-out patient has no training side
    seed=0
    while [ "$seed" -le "$count" ]; do
      probability=0.6
      [ "$seed" -eq 0 ] && probability=0          # the lesion-free study of this side
      set -- --background "$background" --out "$out/studies/$side/$ct-s$seed" \
             --seed "$(hybrid_seed "$ct" "$seed")" --lesion-probability "$probability"
      [ -n "$withhold" ] && set -- "$@" --withhold "$withhold"
      nice -n 10 "$hybrid" "$@"
      seed=$((seed + 1))
    done
  done
done

for side in train eval; do
  nice -n 10 "$prep" --out "$out/samples/$side" --preprocessing "$preprocessing" "$out"/studies/"$side"/*
done
cp "$split" "$out/split.json"
echo "hybrid studies in $out/studies, training samples in $out/samples (split: $out/split.json)"
