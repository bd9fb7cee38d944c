# SPDX-License-Identifier: GPL-3.0-or-later
"""Each input check of docs/assessability.md triggered by a study made for it, and none of them by
the unaltered phantom: pedicle screws (metal), a wrong Rescale Intercept (hu-calibration), a series
that ends inside a vertebra (cut-by-series-edge). Model-independent checks, so the tiny test model
serves; the model-domain checks are tested with the shipped model (test_shipped_assessability.py).

    SPINEMET_PHANTOM=... /usr/bin/python3 tests/worker/test_input_checks.py SPINEMET_BINARY MODEL WORK_DIR
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from altered_studies import add_pedicle_screws, cut_through, shift_rescale_intercept  # noqa: E402
from phantom_cli import generate_phantom  # noqa: E402


def classify(binary, model, study, out):
    done = subprocess.run([binary, "classify", study, "--model", model, "--json", out, "--quiet",
                           "--device", "cpu", "--threads", "1"], capture_output=True, text=True, timeout=300)
    result = None
    if done.returncode == 0:
        with open(out) as f:
            result = json.load(f)
    return done, result


def reasons(vertebra):
    return {entry["reason"] for entry in vertebra["not_assessable_reasons"]}


def vertebrae_with_slices(result, sop_instance_uids):
    wanted = set(sop_instance_uids)
    return {s["vertebra"] for s in result["slices"] if s["sop_instance_uid"] in wanted}


def main(binary, model, work):
    os.makedirs(work, exist_ok=True)
    original = os.path.join(work, "original")
    generate_phantom(original, "--seed", "4242", "--levels", "T11-L2", "--lesion-probability", "0")
    done, baseline = classify(binary, model, original, os.path.join(work, "original.json"))
    assert done.returncode == 0, done.stderr
    assert len(baseline["vertebrae"]) >= 3, baseline["summary"]
    for vertebra in baseline["vertebrae"]:
        assert vertebra["assessable"] and not reasons(vertebra), (vertebra["display_name"], vertebra["not_assessable_reasons"])
    assert baseline["assessment"]["series_reasons"] == []
    # The tiny model's weights are random: whatever it calls, the study is assessable.
    assert baseline["summary"]["state"] != "not-assessable", baseline["summary"]
    measured = baseline["assessment"]["input_measurements"]
    assert -150 <= measured["body_median_hu"] <= 150, measured
    print("unaltered phantom: %d vertebrae, all assessable, no reason raised (%s)" % (len(baseline["vertebrae"]), measured))

    # Metal: only the vertebra with the screws.
    screwed = os.path.join(work, "screws")
    changed = add_pedicle_screws(original, screwed, "T12")
    done, result = classify(binary, model, screwed, os.path.join(work, "screws.json"))
    assert done.returncode == 0, done.stderr
    expected = vertebrae_with_slices(result, changed)
    flagged = {v["index"] for v in result["vertebrae"] if "metal" in reasons(v)}
    assert expected and flagged == expected, (expected, flagged)
    for index in flagged:
        vertebra = result["vertebrae"][index]
        assert not vertebra["assessable"] and vertebra["bone_quality"]["class"] is None, vertebra
        detail = next(e["detail"] for e in vertebra["not_assessable_reasons"] if e["reason"] == "metal")
        assert "3071 HU" in detail, detail
    print("pedicle screws in T12: metal named for vertebra %s only" % sorted(flagged))

    # HU calibration: a missing intercept shifts everything by 1024 HU.
    shifted = os.path.join(work, "shifted")
    shift_rescale_intercept(original, shifted)
    done, result = classify(binary, model, shifted, os.path.join(work, "shifted.json"))
    if done.returncode == 0:
        series = {entry["reason"] for entry in result["assessment"]["series_reasons"]}
        assert "hu-calibration" in series, result["assessment"]
        assert result["summary"]["state"] == "not-assessable", result["summary"]
        assert all("hu-calibration" in reasons(v) for v in result["vertebrae"])
        print("wrong Rescale Intercept: every vertebra not assessable, hu-calibration")
    else:
        assert done.returncode == 2 and "[hu-calibration]" in done.stderr, (done.returncode, done.stderr)
        assert "Rescale" in done.stderr, done.stderr
        print("wrong Rescale Intercept: the analysis fails as hu-calibration: " + done.stderr.strip().splitlines()[-1])

    # Cut by the series' edge: the series ends in the middle of T11, the most cranial vertebra.
    cut = os.path.join(work, "cut")
    removed = cut_through(original, cut, "T11")
    assert removed > 0
    done, result = classify(binary, model, cut, os.path.join(work, "cut.json"))
    assert done.returncode == 0, done.stderr
    flagged = [v["index"] for v in result["vertebrae"] if "cut-by-series-edge" in reasons(v)]
    assert flagged == [0], [(v["display_name"], v["first_slice"], v["last_slice"], reasons(v)) for v in result["vertebrae"]]
    assert all(not reasons(v) for v in result["vertebrae"][1:])
    print("series cut through T11 (%d slices removed): cut-by-series-edge for the most cranial vertebra only" % removed)
    print("4 passed, 0 failed")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
