#!/usr/bin/env bash
# The hostile corpus (tests/hostile) through a spinemet built with AddressSanitizer and
# UndefinedBehaviorSanitizer: builds the CLI and the phantom generator in a build folder of their
# own (SPINEMET_SANITIZE=ON) and runs the label hostile-sanitize; any sanitizer report fails a kind.
# LibTorch, DCMTK and OpenJPEG are not instrumented; leak detection is off (ASAN_OPTIONS
# detect_leaks=0, set by the tests) because LibTorch's allocations alive at exit are not ours.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build=${SPINEMET_SANITIZE_BUILD_DIR:-build-sanitize}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPINEMET_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target spinemet spinemet-phantom
cd "$build"
ctest --output-on-failure -j"$(nproc)" -L '^hostile-sanitize$' "$@"
