#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prints, as JSON for browser.mjs, what OHIF's Measurements panel must list for the phantom: every
vertebra of its ground truth, named as the SR names it, with the classes of SpineMet's result (a
random tiny model gives random classes, so these come from the result, not from the ground truth).
Usage: expected_vertebrae.py GROUND_TRUTH_JSON ANALYSIS_JSON (a /spinemet/series/<id> answer)."""

import json
import sys

# How dicom-sr/AssessabilityText.cpp words each reason in a label.
REASON_WORDS = {"out-of-distribution": "out of distribution", "hu-calibration": "HU calibration",
                "slice-thickness": "slice thickness", "pixel-spacing": "pixel spacing", "image-noise": "image noise",
                "metal": "metal", "cut-by-series-edge": "cut by series edge"}


def label(vertebra):
    """A vertebra that is not assessable is labelled with its reasons, never with a class."""
    if not vertebra.get("assessable", True):
        reasons = []
        for entry in vertebra["not_assessable_reasons"]:
            if REASON_WORDS[entry["reason"]] not in reasons:
                reasons.append(REASON_WORDS[entry["reason"]])
        return "%s not assessable: %s" % (vertebra["display_name"], ", ".join(reasons))
    return "%s: %s, posterolateral %s" % (vertebra["display_name"], vertebra["bone_quality"]["class"],
                                          vertebra["posterolateral"]["class"])


def main():
    with open(sys.argv[1]) as f:
        truth = json.load(f)
    with open(sys.argv[2]) as f:
        analysis = json.load(f)
    if analysis.get("State") != "done":
        sys.exit("the analysis is not done: %s" % json.dumps(analysis.get("Reason", analysis.get("State"))))
    vertebrae = analysis["Result"]["vertebrae"]
    names = [v["display_name"] for v in vertebrae]
    levels = [v["level"] for v in truth["vertebrae"]]
    # The spine stage names a vertebra by its level when it can tell it ("T12?" when uncertain:
    # counted from the last rib alone), else "vertebra 3 of 6".
    accepted = [(level, level + "?", "vertebra %d of %d" % (i + 1, len(levels))) for i, level in enumerate(levels)]
    if len(names) != len(levels) or any(name not in ok for name, ok in zip(names, accepted)):
        sys.exit("the result names the vertebrae %s, the phantom has %s" % (names, levels))
    print(json.dumps([{"name": v["display_name"], "label": label(v)} for v in vertebrae]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
