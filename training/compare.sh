#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The paper's comparison on the held-out phantom test set: the multi-task method (demo config)
# against the plain four-class DenseNet baseline and the ablations, each trained on the same data
# with the same seed, its aggregation rule chosen on the validation set; writes docs/evaluation.md.
# About an hour per variant on two CPU cores; a finished variant (RUN/evaluation.json) is skipped,
# an interrupted one resumes. DenseNet-121 variants only with --densenet121 (GPU recommended).
# Usage: training/compare.sh [--densenet121]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/training/data
runs=$root/training/runs/compare
config=$root/training/configs/demo.json
py() { PYTHONPATH=$root/training nice -n 10 /usr/bin/python3 -m "$@"; }

variant() {  # name, extra train flags...
  name=$1; shift
  run=$runs/$name
  [ -f "$run/evaluation.json" ] && return 0
  resume=""; [ -f "$run/last.pt" ] && resume=--resume
  py spinemet_train.train --data "$data/train" --val "$data/val" --out "$run" --config "$config" $resume "$@"
  py spinemet_train.evaluate --checkpoint "$run/best.pt" --val "$data/val" --test "$data/test" --out "$run/evaluation.json"
}

# The demo run (train_demo.sh) is the method variant: same configuration, seed and data.
mkdir -p "$runs"
if [ -f "$root/training/runs/demo/evaluation.json" ] && [ ! -e "$runs/method" ]; then
  ln -s ../demo "$runs/method"
fi
variant method
variant baseline --baseline
variant no-fusion-mlp --no-fusion-mlp
variant no-aux-task --no-aux-task
variant no-self-paced --no-self-paced
if [ "${1:-}" = "--densenet121" ]; then
  config=$root/training/configs/densenet121.json
  variant densenet121-method
  variant densenet121-baseline --baseline-densenet121
fi
py spinemet_train.compare_table --runs "$runs" --out "$root/docs/evaluation.md"
