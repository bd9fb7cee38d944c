#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the phantom data set for training/configs/demo.json into training/data (git-ignored):
# train (96 studies), val (16), test (32 studies, half normal, half hard, unseen acquisition settings).
# Usage: training/make_dataset.sh [BUILD_DIR] [OPTIONS]   (BUILD_DIR holds spinemet-phantom and spinemet-prep;
# default build). OPTIONS go to spinemet_train.make_dataset, e.g. a mix with realistic normal bone
# into another folder (the default data set stays simple bone):
#   training/make_dataset.sh build --config training/configs/dataset-realistic-bone.json --out training/data-realistic
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
if [ $# -gt 0 ]; then shift; fi
for tool in "$build/tools/phantom/spinemet-phantom" "$build/tools/prep/spinemet-prep"; do
  [ -x "$tool" ] || { echo "missing $tool: cmake --build $build --target spinemet-phantom spinemet-prep" >&2; exit 2; }
done
PYTHONPATH=$root/training exec nice -n 10 /usr/bin/python3 -m spinemet_train.make_dataset \
  --out "$root/training/data" \
  --phantom "$build/tools/phantom/spinemet-phantom" --prep "$build/tools/prep/spinemet-prep" \
  --preprocessing "$root/training/configs/demo-preprocessing.json" --jobs 2 "$@"
