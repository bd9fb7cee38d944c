#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# One analysing Orthanc node against two on PostgreSQL, the same phantom series (benchmarks/cluster.py
# says what is measured).
# Usage: benchmarks/cluster.sh [BUILD_DIR] [cluster.py options]
set -e
build="${1:-build}"
[ $# -gt 0 ] && shift
cmake --build "$build" --target SpineMet spinemet-phantom -j2 >/dev/null
SPINEMET_PHANTOM="$build/tools/phantom/spinemet-phantom" \
  nice /usr/bin/python3 "$(dirname "$0")/cluster.py" --plugin "$build/plugin/libSpineMet.so" "$@"
