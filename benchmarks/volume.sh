#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# loadSeries speed and peak memory for a ~512x512x300 phantom series (explicit little endian, RLE,
# JPEG-LS), next to references measured in the same run on the same files: pydicom + numpy building
# the same HU volume (explicit and RLE: its numpy handlers decode those), and DCMTK's dcmdrle /
# dcmdjpls decompressing the files one by one (the codec cost alone).
# Usage: benchmarks/volume.sh [BUILD_DIR]
set -e
build="${1:-build}"
cmake --build "$build" --target spinemet-phantom spinemet-volume-bench -j2 >/dev/null
phantom="$build/tools/phantom/spinemet-phantom"
bench="$build/tests/volume/spinemet-volume-bench"
here=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
study="--seed 1 --levels T8-L5 --matrix 512 --pixel-spacing 0.7 --slice-thickness 1.25 --slice-spacing 0.95"

# measure LABEL COMMAND...: wall, user+system CPU and peak resident memory from /usr/bin/time -v
measure() {
  label="$1"; shift
  /usr/bin/time -v -o "$work/time" "$@" >"$work/out"
  awk -v label="$label" -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, t, ":"); wall = (n == 3) ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2] }
    /User time/ { cpu += $2 } /System time/ { cpu += $2 }
    /Maximum resident set size/ { rss = $2 / 1024 }
    END { printf "%-52s %7.2f s wall %7.2f s cpu %7.0f MiB peak\n", label, wall, cpu, rss }' "$work/time"
}

for syntax in explicit rle jpeg-ls; do
  nice "$phantom" --out "$work/$syntax" $study --transfer-syntax "$syntax" >/dev/null 2>&1
  rm -f "$work/$syntax/ground_truth.json"
done
echo "series: spinemet-phantom $study"
"$bench" "$work/explicit" | sed 's/^/  /'
cat "$work"/*/*.dcm > /dev/null   # same page cache for every run

measure "loadSeries, explicit little endian" nice "$bench" "$work/explicit"
measure "  pydicom + numpy, explicit little endian" nice /usr/bin/python3 "$here/volume.py" "$work/explicit"
measure "loadSeries, RLE lossless" nice "$bench" "$work/rle"
measure "  pydicom + numpy, RLE lossless" nice /usr/bin/python3 "$here/volume.py" "$work/rle"
measure "  dcmdrle per file (process, decode, write)" nice sh -c \
  'for f in "$1"/*.dcm; do dcmdrle "$f" "$2/d.dcm"; done' sh "$work/rle" "$work"
measure "loadSeries, JPEG-LS lossless" nice "$bench" "$work/jpeg-ls"
measure "  dcmdjpls per file (process, decode, write)" nice sh -c \
  'for f in "$1"/*.dcm; do dcmdjpls "$f" "$2/d.dcm"; done' sh "$work/jpeg-ls" "$work"
