#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Triage latency and C-STORE ingest throughput of the SpineMet plugin in a real Orthanc
# (benchmarks/plugin.py says what is measured).
# Usage: benchmarks/plugin.sh [BUILD_DIR] [plugin.py options]
set -e
build="${1:-build}"
[ $# -gt 0 ] && shift
cmake --build "$build" --target SpineMet spinemet-phantom -j2 >/dev/null
SPINEMET_PHANTOM="$build/tools/phantom/spinemet-phantom" \
  nice /usr/bin/python3 "$(dirname "$0")/plugin.py" --plugin "$build/plugin/libSpineMet.so" "$@"
