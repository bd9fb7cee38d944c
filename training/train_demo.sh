#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Trains, evaluates, checks and exports the demo model (Resources/model/spinemet-demo.pt) from the
# data set of make_dataset.sh. About an hour on two CPU cores. Extra arguments go to the trainer
# (e.g. --resume).
# Usage: training/train_demo.sh BUILD_DIR [train options]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: train_demo.sh BUILD_DIR [train options]}
shift
data=$root/training/data
run=$root/training/runs/demo
py() { PYTHONPATH=$root/training nice -n 10 /usr/bin/python3 -m "$@"; }
py spinemet_train.train --data "$data/train" --val "$data/val" --out "$run" \
   --config "$root/training/configs/demo.json" "$@"
py spinemet_train.evaluate --checkpoint "$run/best.pt" --val "$data/val" --test "$data/test" \
   --out "$run/evaluation.json"
py spinemet_train.export --checkpoint "$run/best.pt" --evaluation "$run/evaluation.json" --out "$run/model.pt"
py spinemet_train.fixed_check --model "$run/model.pt" --phantom "$build/tools/phantom/spinemet-phantom" \
   --prep "$build/tools/prep/spinemet-prep" --out "$run/check.json"
py spinemet_train.export --checkpoint "$run/best.pt" --evaluation "$run/evaluation.json" \
   --fixed-check "$run/check.json" --out "$root/Resources/model/spinemet-demo.pt"
# The out-of-distribution gate and the validated domain (docs/training.md, "The out-of-distribution gate").
py spinemet_train.out_of_distribution fit --model "$root/Resources/model/spinemet-demo.pt" \
   --train "$data/train" --val "$data/val" --test "$data/test" --phantom-domain \
   --out "$root/Resources/model/spinemet-demo.pt" --report "$run/gate.json"
py spinemet_train.model_card --model "$root/Resources/model/spinemet-demo.pt" --out "$root/Resources/model/MODEL_CARD.md"
