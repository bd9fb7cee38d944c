#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prints, as JSON for browser.mjs, what OHIF's Measurements panel must list for the phantom: every
vertebra of its ground truth, named as the SR names it, with the classes of SpineMet's result (a
random tiny model gives random classes, so these come from the result, not from the ground truth).
Usage: expected_vertebrae.py GROUND_TRUTH_JSON ANALYSIS_JSON (a /spinemet/series/<id> answer)."""

import json
import sys


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
    # The spine stage names a vertebra by its level when it can tell it, else "vertebra 3 of 6".
    accepted = [(level, "vertebra %d of %d" % (i + 1, len(levels))) for i, level in enumerate(levels)]
    if len(names) != len(levels) or any(name not in ok for name, ok in zip(names, accepted)):
        sys.exit("the result names the vertebrae %s, the phantom has %s" % (names, levels))
    print(json.dumps([{"name": v["display_name"],
                       "label": "%s: %s, posterolateral %s" % (v["display_name"], v["bone_quality"]["class"],
                                                               v["posterolateral"]["class"])}
                      for v in vertebrae]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
