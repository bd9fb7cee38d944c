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
# With --real the comparison runs on model 0.4.0's data (training/train_real.sh makes it: phantoms
# with realistic bone plus hybrid real-CT studies, configs/real.json) into training/runs/compare-real-*,
# adds the real-anatomy figures and writes docs/evaluation-real-anatomy.md; --samples-per-epoch N
# shrinks every variant's budget alike (on CPU, to make the DenseNet-121 variants affordable).
# Usage: training/compare.sh [--epochs N] [--samples-per-epoch N] [--densenet121] [--real]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/training/data
config=$root/training/configs/demo.json
epochs=""
samples=""
densenet121=false
real=false
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) epochs=${2:?--epochs needs a number}; shift 2 ;;
    --samples-per-epoch) samples=${2:?--samples-per-epoch needs a number}; shift 2 ;;
    --densenet121) densenet121=true; shift ;;
    --real) real=true; shift ;;
    *) echo "usage: training/compare.sh [--epochs N] [--samples-per-epoch N] [--densenet121] [--real]" >&2; exit 2 ;;
  esac
done
py() { PYTHONPATH=$root/training nice -n 10 /usr/bin/python3 -m "$@"; }

budget="${epochs:+--epochs $epochs} ${samples:+--samples-per-epoch $samples}"
suffix="${epochs:+-${epochs}ep}${samples:+-${samples}s}"
runs=$root/training/runs/compare$suffix
train_data="$data/train"; val_data="$data/val"; test_data="$data/test"; real_eval=""; table=$root/docs/evaluation.md
if $real; then
  . "$root/training/real_data.sh"
  [ -n "$real_val" ] && [ -n "$real_test" ] || {
    echo "compare.sh --real: no real-anatomy data in $data_real (run training/train_real.sh first)" >&2; exit 2; }
  runs=$root/training/runs/compare-real$suffix
  config=$root/training/configs/real.json
  train_data="$data_real/phantom/train $hybrid/train"
  val_data="$data_real/phantom/val $real_val"
  test_data="$data_real/phantom/test"
  real_eval="--val $data_real/phantom/val --real-val $real_val --real-test $real_test"
  table=$root/docs/evaluation-real-anatomy.md
fi

variant() {  # name, extra train flags...
  name=$1; shift
  run=$runs/$name
  [ -f "$run/evaluation.json" ] && return 0
  resume=""; [ -f "$run/last.pt" ] && resume=--resume
  # shellcheck disable=SC2086  # the folder lists and options are meant to split
  py spinemet_train.train --data $train_data --val $val_data --out "$run" --config "$config" $budget $resume "$@"
  if $real; then
    # shellcheck disable=SC2086
    py spinemet_train.evaluate --checkpoint "$run/best.pt" $real_eval --test $test_data --out "$run/evaluation.json"
  else
    py spinemet_train.evaluate --checkpoint "$run/best.pt" --val "$data/val" --test "$data/test" --out "$run/evaluation.json"
  fi
}

mkdir -p "$runs"
if ! $real && [ -z "$epochs" ] && [ -f "$root/training/runs/demo/evaluation.json" ] && [ ! -e "$runs/method" ]; then
  ln -s ../demo "$runs/method"     # the demo run is the method variant: same configuration, seed and data
fi
# the method and the baselines first: an interrupted (CPU) run still holds the comparison that matters
variant method
variant baseline --baseline
if $densenet121; then
  if $real; then
    variant densenet121-baseline --baseline-densenet121
    variant densenet121-method --densenet121
  else
    small_config=$config
    config=$root/training/configs/densenet121.json
    variant densenet121-baseline --baseline-densenet121
    variant densenet121-method
    config=$small_config
  fi
fi
variant no-fusion-mlp --no-fusion-mlp
variant no-aux-task --no-aux-task
variant no-self-paced --no-self-paced
py spinemet_train.compare_table --runs "$runs" --out "$table"
