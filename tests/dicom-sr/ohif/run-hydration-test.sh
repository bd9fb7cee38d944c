#!/usr/bin/env bash
# Writes the example SRs (all assessable, two vertebrae not assessable, none assessable) and reads
# them with OHIF 3.13.2's SR adapter (hydrate.mjs). The adapter comes from the npm registry, pinned
# by package-lock.json; without the registry the test is skipped (exit 77), not passed.
# Usage: run-hydration-test.sh EXAMPLE_WRITER WORK_DIR
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
writer=$1
work=$2
mkdir -p "$work"

node_dir="$work/node"
if ! cmp -s "$here/package-lock.json" "$node_dir/package-lock.json" || [ ! -d "$node_dir/node_modules/@cornerstonejs/adapters" ]; then
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
  if ! (cd "$node_dir" && npm ci --no-audit --no-fund --silent); then
    echo "SKIPPED: npm could not install OHIF's SR adapter (no registry?)"
    rm -rf "$node_dir"
    exit 77
  fi
fi
cp "$here/hydrate.mjs" "$node_dir/"

reports=()
for variant in all-assessable not-assessable none-assessable; do
  rm -rf "$work/$variant"
  if [ "$variant" = all-assessable ]; then "$writer" "$work/$variant" >/dev/null; else "$writer" "$work/$variant" "$variant" >/dev/null; fi
  reports+=("$work/$variant/sr.dcm")
done
node "$node_dir/hydrate.mjs" "${reports[@]}"
