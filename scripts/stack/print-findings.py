#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prints SpineMet's per-vertebra findings from a /spinemet/series/<id> answer read on stdin."""

import json
import sys


def main():
    status = json.load(sys.stdin)
    if status.get("State") != "done":
        reason = status.get("Reason", {})
        print("    analysis %s: %s" % (status.get("State"), reason.get("Message", "no reason given")))
        return 1
    result = status["Result"]
    model = result["model"]
    summary = result["summary"]
    print("    model %s %s, trained on %s" % (model["name"], model["version"], model["trained_on"]))
    print("    %-18s %-8s %6s  %-11s %6s  %s" % ("vertebra", "bone", "p", "posterolat.", "p", "SINS parts (lesion, posterolateral)"))
    for v in result["vertebrae"]:
        print("    %-18s %-8s %6.2f  %-11s %6.2f  %d, %d" % (
            v["display_name"], v["bone_quality"]["class"], v["bone_quality"]["probability"],
            v["posterolateral"]["class"], v["posterolateral"]["probability"],
            v["sins"]["bone_lesion"], v["sins"]["posterolateral"]))
    print("    metastatic lesion suspected: %s (highest finding: %s, %d vertebrae analysed)" % (
        "yes" if summary["lesion_suspected"] else "no", summary["highest_bone_quality"], summary["vertebrae"]))
    print("    AI result on a synthetic phantom - not for diagnostic use")
    return 0


if __name__ == "__main__":
    sys.exit(main())
