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

# What the Measurements panel must list: every vertebra of the phantom's ground truth, named as the
# SR names it, with the classes of the plugin's result (a random tiny model gives random classes, so
# these come from the result, not from the ground truth).
expected=$(/usr/bin/python3 - "$truth" "$SPINEMET_DEMO_DIR/analysis.json" <<'PY'
import json, sys
truth = json.load(open(sys.argv[1]))
analysis = json.load(open(sys.argv[2]))
if analysis.get("State") != "done":
    sys.exit("the analysis is not done: %s" % json.dumps(analysis.get("Reason", analysis.get("State"))))
vertebrae = analysis["Result"]["vertebrae"]
names = [v["display_name"] for v in vertebrae]
levels = [v["level"] for v in truth["vertebrae"]]
# The spine stage names a vertebra by its level when it can tell it ("T12?" when uncertain: counted
# from the last rib alone), else "vertebra 3 of 6".
accepted = [(level, level + "?", "vertebra %d of %d" % (i + 1, len(levels))) for i, level in enumerate(levels)]
if len(names) != len(levels) or any(name not in ok for name, ok in zip(names, accepted)):
    sys.exit("the result names the vertebrae %s, the phantom has %s" % (names, levels))
# A vertebra that is not assessable is labelled with its reasons, as dicom-sr/AssessabilityText.cpp
# words them, never with a class.
words = {"out-of-distribution": "out of distribution", "hu-calibration": "HU calibration",
         "slice-thickness": "slice thickness", "pixel-spacing": "pixel spacing", "image-noise": "image noise",
         "metal": "metal", "cut-by-series-edge": "cut by series edge"}
def label(v):
    if not v.get("assessable", True):
        reasons = []
        for r in v["not_assessable_reasons"]:
            if words[r["reason"]] not in reasons:
                reasons.append(words[r["reason"]])
        return "%s not assessable: %s" % (v["display_name"], ", ".join(reasons))
    return "%s: %s, posterolateral %s" % (v["display_name"], v["bone_quality"]["class"], v["posterolateral"]["class"])
print(json.dumps([{"name": v["display_name"], "label": label(v)} for v in vertebrae]))
PY
)

VIEWER_URL="http://127.0.0.1:$SPINEMET_VIEWER_PORT" \
VIEWER_USER=$VIEWER_USER VIEWER_PASSWORD=$VIEWER_PASSWORD \
STUDY_UID=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["series"]["study_instance_uid"])' "$truth") \
PATIENT_TEXT="PHANTOM, SPINE" \
EXPECTED_VERTEBRAE=$expected \
SCREENSHOT_DIR="$SPINEMET_DEMO_DIR/screenshots" \
  node "$node_dir/browser.mjs"
