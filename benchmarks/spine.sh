#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# findSpine speed on a 512x512x323 phantom volume next to a reference pass in the same run, then
# the finder's accuracy (count, edges, crops, levels, time per study) over 50 phantoms with random
# acquisitions (simple and realistic normal bone), over 50 whose levels put a landmark in view (first
# rib, last rib, sacrum) and over 50 with a rib or lumbosacral variant as well (figures on phantoms
# only), then the real CTs of ../shared/testdata/real-ct when present.
# Usage: benchmarks/spine.sh [BUILD_DIR] [SEEDS]
set -e
build="${1:-build}"
seeds="${2:-50}"
cmake --build "$build" --target spinemet-spine-bench spinemet-spine-accuracy spinemet-spine-inspect -j2 >/dev/null
nice "$build/tests/spine/spinemet-spine-bench"
nice "$build/tests/spine/spinemet-spine-accuracy" 1 "$seeds"
# the same seeds with realistic normal bone (docs/phantom.md, "Realistic bone")
nice "$build/tests/spine/spinemet-spine-accuracy" 1 "$seeds" --bone realistic
echo "== a landmark in view"
nice "$build/tests/spine/spinemet-spine-accuracy" 1 "$seeds" --landmarks | sed -n '/phantoms (random/,$p' || true
echo "== a landmark and a variant in view"
nice "$build/tests/spine/spinemet-spine-accuracy" 1 "$seeds" --variants | sed -n '/phantoms (random/,$p' || true
# The real CTs beside the repository: vertebrae, levels and findSpine's time per study.
real="$(dirname "$0")/../../shared/testdata/real-ct"
if [ -d "$real" ]; then
  for ct in thorax-4dct chest-lidc-0314 abdomen-crlm-1006; do
    echo "== $ct"
    nice "$build/tests/spine/spinemet-spine-inspect" "$real/$ct" | head -2
  done
else
  echo "real-CT figures NOT RUN: $real is absent"
fi
