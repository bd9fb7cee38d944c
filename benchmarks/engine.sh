#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The SpineMet pipeline end to end from files on a 512 x 512 x ~300 phantom series (spinemet's
# analyseSeries: loadSeries, findSpine, makeCrops, LibTorch, aggregation), next to a
# straightforward Python pipeline in the same run (pydicom + numpy + the same TorchScript model in
# PyTorch, the same threads and batch; benchmarks/engine.py), then the CPU levers of the model stage,
# then the out-of-distribution gate's cost (the same weights with and without the gate).
# Usage: benchmarks/engine.sh [BUILD_DIR]   (THREADS=1 BATCH=16 ROUNDS=3 LEVERS=1 GATE=1 by default;
#        PIPELINE=0 skips the pipeline comparison)
set -e
build="${1:-build}"
threads="${THREADS:-1}"
batch="${BATCH:-16}"
here=$(cd "$(dirname "$0")" && pwd)
root="$here/.."
cmake --build "$build" --target spinemet-phantom spinemet-engine-bench -j2 >/dev/null
phantom="$build/tools/phantom/spinemet-phantom"
bench="$build/tests/engine/spinemet-engine-bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

model="$root/Resources/model/spinemet-demo.pt"
if [ -f "$model" ]; then
  echo "model: $model (the demo model)"
else
  model="$work/demo-architecture.pt"
  PYTHONPATH="$root/training" /usr/bin/python3 "$here/engine_model.py" "$model" | sed 's/^/model: /'
  echo "       (Resources/model/spinemet-demo.pt does not exist yet: same architecture and input, random weights)"
fi

study="--seed 21 --matrix 512 --levels T2-L5 --slice-thickness 1.5 --slice-spacing 1.42 --lesion-probability 0.7"
nice "$phantom" --out "$work/series" $study >/dev/null
echo "series: spinemet-phantom $study ($(ls "$work/series"/*.dcm | wc -l) files)"
echo "threads $threads, batch $batch, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$work/series"/*.dcm >/dev/null   # same page cache for both

# The three pipelines take turns, ROUNDS times, so that a change of load on a shared machine hits
# them alike; compare the best round of each.
"$bench" pipeline "$work/series" "$model" --threads "$threads" --batch "$batch" --centres "$work/centres.json" >/dev/null
round=1
[ "${PIPELINE:-1}" = 1 ] || round=$((${ROUNDS:-3} + 1))
while [ "$round" -le "${ROUNDS:-3}" ]; do
  echo "--- round $round"
  "$bench" pipeline "$work/series" "$model" --threads "$threads" --batch "$batch"
  /usr/bin/python3 "$here/engine.py" "$work/series" "$model" "$work/centres.json" --threads "$threads" --batch "$batch"
  "$bench" pipeline "$work/series" "$model" --threads "$threads" --batch "$batch" --graph none --channels-last off |
    sed 's/^spinemet pipeline/spinemet pipeline, levers off/'
  round=$((round + 1))
done

if [ "${LEVERS:-1}" = 1 ]; then
  "$bench" levers "$work/series" "$model" --threads 1 --batch 1,16,64 --crops 64 --rounds 3
  "$bench" levers "$work/series" "$model" --threads 2 --batch 16,64 --crops 64 --rounds 2 | tail -n +3
fi
if [ "${GATE:-1}" = 1 ]; then
  if PYTHONPATH="$root/training" /usr/bin/python3 "$here/without_gate.py" "$model" "$work/without-gate.pt"; then
    "$bench" gate "$work/series" "$model" --without "$work/without-gate.pt" --threads 1 --batch 1,16,64 --crops 96 --rounds 7
    "$bench" gate "$work/series" "$model" --without "$work/without-gate.pt" --threads 2 --batch 16 --crops 96 --rounds 7 |
      tail -n +3
  fi
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
