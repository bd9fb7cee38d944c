#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prints SpineMet's per-vertebra findings from a /spinemet/series/<id> answer read on stdin."""

import json
import sys

# The words every SpineMet surface uses (dicom-sr/AssessabilityText.cpp).
REASON_WORDS = {
    "out-of-distribution": "out of distribution", "hu-calibration": "HU calibration",
    "slice-thickness": "slice thickness", "pixel-spacing": "pixel spacing", "image-noise": "image noise",
    "metal": "metal", "cut-by-series-edge": "cut by series edge",
}


def reasons_in_words(reasons):
    words = []
    for entry in reasons:
        word = REASON_WORDS.get(entry["reason"], entry["reason"])
        if word not in words:
            words.append(word)
    return ", ".join(words)


def state_line(result):
    """The study state as the overlays' banner says it."""
    summary = result["summary"]
    vertebrae = result["vertebrae"]
    # A spinemet-result/1 document has no assessability: every vertebra in it was assessed.
    assessed = summary.get("assessable_vertebrae", len(vertebrae))
    state = summary.get("state", "lesion-suspected" if summary["lesion_suspected"] else "no-lesion-found")
    counted = "%d of %d vertebrae assessed" % (assessed, len(vertebrae))
    if state == "lesion-suspected":
        line = "lesion suspected" if assessed == len(vertebrae) else "lesion suspected in " + counted
        return line + " (highest finding: %s)" % summary["highest_bone_quality"]
    if state == "no-lesion-found":
        return "no lesion found in " + counted
    reasons = [r for v in vertebrae for r in v.get("not_assessable_reasons", [])]
    reasons = result.get("assessment", {}).get("series_reasons", []) + reasons
    return "not assessable: " + reasons_in_words(reasons) if reasons else "not assessable"


def main():
    status = json.load(sys.stdin)
    if status.get("State") != "done":
        reason = status.get("Reason", {})
        print("    analysis %s: %s" % (status.get("State"), reason.get("Message", "no reason given")))
        return 1
    result = status["Result"]
    model = result["model"]
    print("    model %s %s, trained on %s" % (model["name"], model["version"], model["trained_on"]))
    print("    %-18s %-8s %6s  %-11s %6s  %s" % ("vertebra", "bone", "p", "posterolat.", "p", "SINS parts (lesion, posterolateral)"))
    for v in result["vertebrae"]:
        if not v.get("assessable", True):
            print("    %-18s not assessable (%s)" % (v["display_name"], reasons_in_words(v["not_assessable_reasons"])))
            continue
        print("    %-18s %-8s %6.2f  %-11s %6.2f  %d, %d" % (
            v["display_name"], v["bone_quality"]["class"], v["bone_quality"]["probability"],
            v["posterolateral"]["class"], v["posterolateral"]["probability"],
            v["sins"]["bone_lesion"], v["sins"]["posterolateral"]))
    print("    study: " + state_line(result))
    print("    AI result on a synthetic phantom - not for diagnostic use")
    return 0


if __name__ == "__main__":
    sys.exit(main())
