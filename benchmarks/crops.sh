#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# makeCrops speed next to a per-pixel reference sampler, same run. Usage: benchmarks/crops.sh [BUILD_DIR]
set -e
build="${1:-build}"
cmake --build "$build" --target spinemet_crops_benchmark -j2 >/dev/null
exec nice "$build/tests/crops/spinemet_crops_benchmark"
