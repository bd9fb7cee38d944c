#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# findSpine speed on a 512x512x323 phantom volume next to a reference pass in the same run, then
# the finder's accuracy over 50 phantoms with random acquisitions (figures on phantoms only).
# Usage: benchmarks/spine.sh [BUILD_DIR] [SEEDS]
set -e
build="${1:-build}"
seeds="${2:-50}"
cmake --build "$build" --target spinemet-spine-bench spinemet-spine-accuracy -j2 >/dev/null
nice "$build/tests/spine/spinemet-spine-bench"
nice "$build/tests/spine/spinemet-spine-accuracy" 1 "$seeds"
