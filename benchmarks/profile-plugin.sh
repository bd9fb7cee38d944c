#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Where the SpineMet plugin spends its time in a real Orthanc on the issue-18 phantom: perf of the
# Orthanc process during one analysis, cut into the plugin's stages (benchmarks/profile_plugin.py
# says how; docs/performance.md has the figures).
# Usage: benchmarks/profile-plugin.sh [BUILD_DIR] [profile_plugin.py options, e.g. --threads 1]
#        (needs perf and kernel.perf_event_paranoid <= 2, Orthanc and storescu as the plugin tests do)
set -e
build="${1:-build}"
[ $# -gt 0 ] && shift
cmake --build "$build" --target SpineMet spinemet-phantom -j2 >/dev/null
/usr/bin/python3 "$(dirname "$0")/profile_plugin.py" --plugin "$build/plugin/libSpineMet.so" \
  --phantom "$build/tools/phantom/spinemet-phantom" "$@"
