#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Issue 13's scanner experiment (docs/evaluation.md, "Experiment: scanner augmentation"): a short
# fine-tune of model 0.4.0's weights with one configuration, then the figures to compare:
#   train      --init CHECKPOINT (weights only: fresh optimiser, schedule, self-paced state) on
#              train_real.sh's data (phantom train + hybrid train; best epoch on phantom val + real val)
#   evaluate   as train_real.sh does (operating point chosen on validation, ROC into the run folder)
#   at 0.4.0's point   evaluate again with 0.4.0's rule (subtask_topk_mean k 1, 0.85): phantom and real test
#   per patient        operating_points: each background's highest and 95th-percentile lesion-free scores
# Nothing is exported or installed. The data: training/data-real as train_real.sh makes it.
# Usage: training/scanner_ab.sh CONFIG RUN_DIR [CHECKPOINT [EVALUATION_OF_CHECKPOINT]]
#   defaults: training/runs/real/best.pt and its evaluation.json (model 0.4.0)
#   CONFIG "-" skips training (the 0.4.0 row): copies EVALUATION_OF_CHECKPOINT, then operating_points.
# Tables: PYTHONPATH=training python3 -m spinemet_train.scanner_table --reference 0.4.0 0.4.0=RUN ...
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
config=${1:?usage: scanner_ab.sh CONFIG RUN_DIR [CHECKPOINT [EVALUATION_OF_CHECKPOINT]]}
run=${2:?usage: scanner_ab.sh CONFIG RUN_DIR [CHECKPOINT [EVALUATION_OF_CHECKPOINT]]}
init=${3:-$root/training/runs/real/best.pt}
reference_evaluation=${4:-$(dirname "$init")/evaluation.json}
. "$root/training/real_data.sh"
data=$data_real
for needed in "$init" "$reference_evaluation" "$data/phantom/train" "$hybrid/train"; do
  [ -e "$needed" ] || { echo "scanner_ab.sh: missing $needed (training/train_real.sh makes it)" >&2; exit 2; }
done
mkdir -p "$run"
py() { PYTHONPATH=$root/training nice -n 10 /usr/bin/python3 -m "$@"; }

checkpoint=$init
if [ "$config" != "-" ]; then
  # shellcheck disable=SC2086  # the study folder lists are meant to split
  py spinemet_train.train --init "$init" --data "$data/phantom/train" "$hybrid/train" \
     --val "$data/phantom/val" $real_val --out "$run" --config "$config"
  checkpoint=$run/best.pt
  # shellcheck disable=SC2086
  py spinemet_train.evaluate --checkpoint "$checkpoint" --val "$data/phantom/val" --real-val $real_val \
     --test "$data/phantom/test" --real-test $real_test --roc "$run/roc.png" --out "$run/evaluation.json"
  # shellcheck disable=SC2086
  py spinemet_train.evaluate --checkpoint "$checkpoint" --aggregation-from "$reference_evaluation" \
     --test "$data/phantom/test" --real-test $real_test --out "$run/evaluation-at-reference-point.json"
else
  cp "$reference_evaluation" "$run/evaluation.json"   # the reference model, evaluated at its own point
fi
# shellcheck disable=SC2086
py spinemet_train.operating_points --checkpoint "$checkpoint" --real-val $real_val --real-test $real_test \
   --rule 1:0.85:0.85 --out "$run/operating-points.json"
