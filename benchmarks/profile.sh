#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Where `spinemet classify` spends its time on the issue-18 phantom (docs/performance.md): a
# sampling profile with perf, reported by library, by function, and by thread over time (which
# stage, which thread, and how much of it is OpenMP spin-waiting in libgomp).
# Usage: benchmarks/profile.sh [BUILD_DIR] [THREADS]   (THREADS=2 by default; needs perf and
#        kernel.perf_event_paranoid <= 2; the phantom is written to a temporary folder)
set -e
build="${1:-build}"
threads="${2:-2}"
here=$(cd "$(dirname "$0")" && pwd)
cmake --build "$build" --target spinemet spinemet-phantom -j2 >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/tools/phantom/spinemet-phantom" --out "$work/series" --seed 90101 --levels T9-L3 --slice-thickness 0.625 \
  --matrix 512 --pixel-spacing 0.7 >/dev/null
cat "$work/series"/*.dcm >/dev/null
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); $threads threads"
perf record -q -F 999 -o "$work/perf.data" -- "$build/tools/spinemet/spinemet" classify "$work/series" \
  --model "$here/../Resources/model/spinemet-demo.pt" --threads "$threads" --json "$work/result.json" \
  --dicom-out "$work/dicom" --quiet --timings 2>&1 | grep '^timings:' || true
echo "--- by library"
perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
echo "--- by function"
perf report -i "$work/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -25
echo "--- samples per thread and quarter second: libgomp (OpenMP waiting), slice (findSpine's per-slice pass),"
echo "    torch (LibTorch, oneDNN, the JIT), other"
perf script -i "$work/perf.data" -F tid,time,ip,sym,dso 2>/dev/null | awk '
  { t = int($2 * 4) / 4; if (!start) start = t
    kind = ($0 ~ /gomp/) ? "libgomp" : (($0 ~ /SliceAnalyser|labelComponents/) ? "slice" : (($0 ~ /JIT|torch|dnnl/) ? "torch" : "other"))
    count[sprintf("%6.2f s  thread %s  %s", t - start, $1, kind)]++ }
  END { for (key in count) print key, count[key] }' | sort -n -k1,1 -k4,4n
