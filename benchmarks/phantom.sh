#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# spinemet-phantom speed and peak memory for a ~512x512x300 series (explicit, JPEG-LS, RLE), next to
# two references measured in the same run: copying the written files (the I/O floor) and DCMTK's
# own dcmcjpls compressing every tenth explicit file, one process per file (the codec as a tool).
# Usage: benchmarks/phantom.sh [BUILD_DIR]
set -e
build="${1:-build}"
cmake --build "$build" --target spinemet-phantom -j2 >/dev/null
tool="$build/tools/phantom/spinemet-phantom"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
study="--seed 1 --levels T8-L5 --matrix 512 --pixel-spacing 0.7 --slice-thickness 1.25 --slice-spacing 0.95"

# measure LABEL COMMAND...: wall, user+system CPU and peak resident memory from /usr/bin/time -v
measure() {
  label="$1"; shift
  /usr/bin/time -v -o "$work/time" "$@" >/dev/null
  awk -v label="$label" -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, t, ":"); wall = (n == 3) ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2] }
    /User time/ { cpu += $2 } /System time/ { cpu += $2 }
    /Maximum resident set size/ { rss = $2 / 1024 }
    END { printf "%-46s %7.2f s wall %7.2f s cpu %7.0f MiB peak\n", label, wall, cpu, rss }' "$work/time"
}

echo "spinemet-phantom $study"
nice "$tool" --out "$work/explicit" $study --transfer-syntax explicit | sed 's/^/  /'
rm -rf "$work/explicit"
measure "generate + write, explicit little endian" nice "$tool" --out "$work/explicit" $study --transfer-syntax explicit
measure "generate + write, JPEG-LS lossless" nice "$tool" --out "$work/jpeg-ls" $study --transfer-syntax jpeg-ls
measure "generate + write, RLE lossless" nice "$tool" --out "$work/rle" $study --transfer-syntax rle
measure "generate + write, JPEG lossless SV1" nice "$tool" --out "$work/jpeg" $study --transfer-syntax jpeg-lossless
echo "references:"
measure "  cp -r of the explicit files (I/O floor)" nice cp -r "$work/explicit" "$work/copy"
mkdir "$work/dcmcjpls"
measure "  dcmcjpls on every 10th file ($(ls "$work/explicit" | grep -c '0\.dcm$') files)" nice sh -c \
  'for f in "$1"/*0.dcm; do dcmcjpls "$f" "$2/$(basename "$f")"; done' sh "$work/explicit" "$work/dcmcjpls"
du -sh "$work/explicit" "$work/jpeg-ls" "$work/rle" "$work/jpeg" | awk '{ printf "size %-6s %s\n", $1, $2 }' |
  sed "s|$work/||"
