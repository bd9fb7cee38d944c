#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Trains, evaluates, gates and exports the demo model on phantoms with realistic normal bone plus
# hybrid studies (real lesion-free CT backgrounds with inserted lesions, docs/hybrid.md), issue 13.
# Data into training/data-real (git-ignored; made when missing), the run into training/runs/real.
#   phantoms   make_dataset.sh with configs/dataset-realistic-bone.json (half realistic bone)
#   hybrid     make_hybrid.sh: real backgrounds split by vertebra and patient (hybrid_split.json)
#   training   phantom train + hybrid train; validation (best epoch) phantom val + real validation
#   real validation and test: training/real_data.sh
# Needs ../shared/testdata/real-ct. About an hour on two CPU cores (configs/real.json's epochs).
# Usage: training/train_real.sh BUILD_DIR [train options]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: train_real.sh BUILD_DIR [train options]}
shift
. "$root/training/real_data.sh"
data=$data_real
run=$root/training/runs/real
model=$root/Resources/model/spinemet-demo.pt
py() { PYTHONPATH=$root/training nice -n 10 /usr/bin/python3 -m "$@"; }

[ -f "$data/phantom/.complete" ] || {
  "$root/training/make_dataset.sh" "$build" --config "$root/training/configs/dataset-realistic-bone.json" \
      --out "$data/phantom"
  touch "$data/phantom/.complete"; }
[ -f "$data/hybrid/.complete" ] || {
  "$root/training/make_hybrid.sh" "$data/hybrid" 6 "$build"
  touch "$data/hybrid/.complete"; }
. "$root/training/real_data.sh"   # again: the folders exist now

# shellcheck disable=SC2086  # the study folder lists are meant to split
py spinemet_train.train --data "$data/phantom/train" "$hybrid/train" --val "$data/phantom/val" $real_val \
   --out "$run" --config "$root/training/configs/real.json" "$@"
# shellcheck disable=SC2086
py spinemet_train.evaluate --checkpoint "$run/best.pt" --val "$data/phantom/val" --real-val $real_val \
   --test "$data/phantom/test" --real-test $real_test --roc "$root/docs/images/roc-spinemet-demo-0.4.0.png" \
   --out "$run/evaluation.json"
. "$root/training/package_real.sh"
package_real_model "$run/best.pt" "$run/evaluation.json" "$run" "$model" "$root/Resources/model/real-ct-check.json" \
   "$root/Resources/model/MODEL_CARD.md" "$root/training/model-0.4.0-note.md"
