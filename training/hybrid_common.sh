# SPDX-License-Identifier: GPL-3.0-or-later
# Sourced by make_hybrid.sh and make_hybrid_validation.sh (needs $root): their common arguments
# OUT_DIR [STUDIES [BUILD_DIR [SHARED_TESTDATA_DIR]]] with STUDIES' default in $default_count, the
# tools they run and the per-CT seed, so that both scripts draw one CT's lesions the same way.
# Sets out, count, build, shared, hybrid, prep, split, preprocessing; the caller's "$@" is read.
# shellcheck disable=SC2034  # the variables are for the scripts that source this file
out=$1
count=${2:-$default_count}
build=${3:-$root/build}
shared=${4:-$root/../shared/testdata}
hybrid=$build/tools/hybrid/spinemet-hybrid
prep=$build/tools/prep/spinemet-prep
for tool in "$hybrid" "$prep"; do
  [ -x "$tool" ] || { echo "missing $tool: cmake --build $build --target spinemet-hybrid spinemet-prep" >&2; exit 2; }
done
split=$root/training/hybrid_split.json
preprocessing=$root/training/configs/demo-preprocessing.json

# The spinemet-hybrid seed of study SEED on real CT NAME: each CT its own range of seeds.
hybrid_seed() {
  echo "$(($2 + 1000 * $(printf '%s' "$1" | cksum | cut -c1-3)))"
}
