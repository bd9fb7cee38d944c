#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The paper's comparison on the held-out phantom test set: the multi-task method (demo config)
# against the plain four-class DenseNet baseline and the ablations, each trained on the same data
# with the same seed, its aggregation rule chosen on the validation set; writes docs/evaluation.md.
#
# Without --epochs the method is the demo run (training/train_demo.sh) and every other variant gets
# the demo configuration's full budget: about an hour each on two CPU cores. With --epochs N every
# variant, the method included, is trained for N epochs into training/runs/compare-Nep: a
# comparison at equal, shorter budget. A finished variant (RUN/evaluation.json) is skipped, an
# interrupted one resumes. DenseNet-121 variants only with --densenet121 (GPU recommended).
# Usage: training/compare.sh [--epochs N] [--densenet121]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/training/data
config=$root/training/configs/demo.json
epochs=""
densenet121=false
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) epochs=${2:?--epochs needs a number}; shift 2 ;;
    --densenet121) densenet121=true; shift ;;
    *) echo "usage: training/compare.sh [--epochs N] [--densenet121]" >&2; exit 2 ;;
  esac
done
py() { PYTHONPATH=$root/training nice -n 10 /usr/bin/python3 -m "$@"; }

if [ -n "$epochs" ]; then
  runs=$root/training/runs/compare-${epochs}ep
  budget="--epochs $epochs"
else
  runs=$root/training/runs/compare
  budget=""
fi

variant() {  # name, extra train flags...
  name=$1; shift
  run=$runs/$name
  [ -f "$run/evaluation.json" ] && return 0
  resume=""; [ -f "$run/last.pt" ] && resume=--resume
  # shellcheck disable=SC2086
  py spinemet_train.train --data "$data/train" --val "$data/val" --out "$run" --config "$config" $budget $resume "$@"
  py spinemet_train.evaluate --checkpoint "$run/best.pt" --val "$data/val" --test "$data/test" --out "$run/evaluation.json"
}

mkdir -p "$runs"
if [ -z "$epochs" ] && [ -f "$root/training/runs/demo/evaluation.json" ] && [ ! -e "$runs/method" ]; then
  ln -s ../demo "$runs/method"     # the demo run is the method variant: same configuration, seed and data
fi
variant method
variant baseline --baseline
variant no-fusion-mlp --no-fusion-mlp
variant no-aux-task --no-aux-task
variant no-self-paced --no-self-paced
if $densenet121; then
  config=$root/training/configs/densenet121.json
  variant densenet121-method
  variant densenet121-baseline --baseline-densenet121
fi
py spinemet_train.compare_table --runs "$runs" --out "$root/docs/evaluation.md"
