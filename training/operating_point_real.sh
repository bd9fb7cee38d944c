#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Model 0.4.1: model 0.4.0's weights (train_real.sh's best.pt, not retrained) with a new operating
# point, a threshold per subtask chosen on a larger real validation set (issue 13; docs/training.md,
# "Model 0.4.1"). The steps after training of train_real.sh, with these differences:
#   validation  real_val (0.4.0's thorax-4dct studies) plus real_val_balanced
#               (make_hybrid_validation.sh: 45 more lesions on the same five validation vertebrae)
#   rule        evaluate --operating-point per-subtask (real_anatomy.choose_subtask_operating_point)
#   gate        fitted with 0.4.0's inputs (real_val, not real_val_balanced), so that it stays comparable
#   output      the candidate model and its reports in training/runs/real-041; nothing is installed.
#               Resources/model gets it by hand only where real test bone's specificity is no worse
#               than 0.4.0's and the served real CTs get no lesion call (docs/training.md says which).
# The model card's status paragraph comes from training/model-0.4.1-note.md.
# Usage: training/operating_point_real.sh BUILD_DIR [CHECKPOINT]   (default training/runs/real/best.pt)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: operating_point_real.sh BUILD_DIR [CHECKPOINT]}
checkpoint=${2:-$root/training/runs/real/best.pt}
[ -f "$checkpoint" ] || { echo "missing checkpoint $checkpoint (training/train_real.sh writes it)" >&2; exit 2; }
. "$root/training/real_data.sh"
data=$data_real
[ -f "$data/hybrid/.complete" ] || [ -f "$data/hybrid/prep.done" ] || {
  echo "missing $data/hybrid: training/train_real.sh makes it" >&2; exit 2; }
[ -f "$data/hybrid-val/.complete" ] || {
  "$root/training/make_hybrid_validation.sh" "$data/hybrid-val" 9 "$build"
  touch "$data/hybrid-val/.complete"; }
. "$root/training/real_data.sh"   # again: the folder exists now
run=$root/training/runs/real-041
model=$run/spinemet-demo.pt
mkdir -p "$run"
py() { PYTHONPATH=$root/training nice -n 10 /usr/bin/python3 -m "$@"; }

# shellcheck disable=SC2086  # the study folder lists are meant to split
py spinemet_train.evaluate --checkpoint "$checkpoint" --val "$data/phantom/val" --real-val $real_val $real_val_balanced \
   --operating-point per-subtask --test "$data/phantom/test" --real-test $real_test \
   --roc "$run/roc-spinemet-demo-0.4.1.png" --out "$run/evaluation.json"
# The gate is fitted with real_val only (0.4.0's inputs), as package_real_model does.
. "$root/training/package_real.sh"
package_real_model "$checkpoint" "$run/evaluation.json" "$run" "$model" "$run/real-ct-check.json" \
   "$run/MODEL_CARD.md" "$root/training/model-0.4.1-note.md" --version 0.4.1
echo "candidate model 0.4.1 in $run: compare $run/evaluation.json's real_anatomy and $run/real-ct-check.json with 0.4.0's"
