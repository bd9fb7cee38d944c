#!/usr/bin/env bash
# Small phantom studies for the worker and CLI tests, written at test time (never committed).
# Usage: make_phantoms.sh SPINEMET_PHANTOM OUT_DIR
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
phantom=$1
out=$2
rm -rf "$out"
mkdir -p "$out"
# Different sizes, so that a small series can overtake a large one.
"$phantom" --out "$out/small" --seed 11 --matrix 256 --levels L1-L2 --slice-thickness 5 >/dev/null
"$phantom" --out "$out/medium" --seed 12 --matrix 256 --levels T12-L2 --slice-thickness 3 --lesion-probability 0.9 >/dev/null
"$phantom" --out "$out/large" --seed 13 --matrix 256 --levels T9-L3 --slice-thickness 2.5 --lesion-probability 0.9 >/dev/null
# Not a CT series: one text file with a DICOM-like name.
mkdir -p "$out/not-dicom"
printf 'this is not DICOM\n' > "$out/not-dicom/IM0001.dcm"
