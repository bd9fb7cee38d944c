#!/usr/bin/env bash
# The README's demo, tested as a person would use it: starts the native stack (scripts/demo.sh) on
# free loopback ports in a folder of its own, then drives headless Chromium through the OHIF viewer
# (browser.mjs), and stops the stack. Screenshots stay in $SPINEMET_DEMO_DIR/screenshots.
# Usage: run-browser-test.sh BUILD_DIR STATE_DIR
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd)
export SPINEMET_DEMO_DIR=$2
mkdir -p "$SPINEMET_DEMO_DIR"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export SPINEMET_HTTP_PORT=$(free_port) SPINEMET_DICOM_PORT=$(free_port) SPINEMET_VIEWER_PORT=$(free_port)
# demo.sh takes the build folder relative to the source tree.
export SPINEMET_BUILD_DIR=$(realpath --relative-to="$top" "$build")

trap '"$top/scripts/demo.sh" stop >/dev/null' EXIT
"$top/scripts/demo.sh" | tee "$SPINEMET_DEMO_DIR/demo-output.txt"

# playwright-core drives Debian's Chromium; it downloads no browser of its own.
node_dir="$build/tests/demo/node"
if [ ! -d "$node_dir/node_modules/playwright-core" ]; then
  mkdir -p "$node_dir"
  cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --silent)
fi
cp "$here/browser.mjs" "$node_dir/"

. "$SPINEMET_DEMO_DIR/credentials"
truth="$SPINEMET_DEMO_DIR/phantom/ground_truth.json"
series_uid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["series"]["series_instance_uid"])' "$truth")
orthanc="http://127.0.0.1:$SPINEMET_HTTP_PORT"
series=$(curl -fsS -u "$ORTHANC_USER:$ORTHANC_PASSWORD" -X POST "$orthanc/tools/lookup" -d "$series_uid" |
         /usr/bin/python3 -c 'import json,sys; print([x["ID"] for x in json.load(sys.stdin) if x["Type"] == "Series"][0])')
curl -fsS -u "$ORTHANC_USER:$ORTHANC_PASSWORD" "$orthanc/spinemet/series/$series" > "$SPINEMET_DEMO_DIR/analysis.json"

expected=$(/usr/bin/python3 "$here/expected_vertebrae.py" "$truth" "$SPINEMET_DEMO_DIR/analysis.json")

VIEWER_URL="http://127.0.0.1:$SPINEMET_VIEWER_PORT" \
VIEWER_USER=$VIEWER_USER VIEWER_PASSWORD=$VIEWER_PASSWORD \
STUDY_UID=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["series"]["study_instance_uid"])' "$truth") \
PATIENT_TEXT="PHANTOM, SPINE" \
EXPECTED_VERTEBRAE=$expected \
SCREENSHOT_DIR="$SPINEMET_DEMO_DIR/screenshots" \
  node "$node_dir/browser.mjs"
