# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped model's assessability (docs/assessability.md), through `spinemet classify`:

- on each lesion-free real CT of ../shared/testdata/real-ct: no more lesion calls than the model card
  states (Resources/model/real-ct-check.json, written by spinemet_train.real_ct_check; none when the
  model states none); run only when that folder is there, and said plainly when not;
- on phantoms drawn as the held-out test split is drawn (unseen acquisitions, normal and hard): at
  least 98% of the vertebrae assessable;
- a series thicker than the model's validated range: slice-thickness for every vertebra; a series
  far noisier than any it was validated on: image-noise.

    SPINEMET_PHANTOM=... /usr/bin/python3 tests/worker/test_shipped_assessability.py SPINEMET_BINARY MODEL WORK_DIR
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
sys.path.insert(0, os.path.join(ROOT, "training"))
from phantom_cli import generate_phantom  # noqa: E402
from spinemet_train.make_dataset import SPLITS, phantom_arguments  # noqa: E402

REAL_CT = os.path.normpath(os.path.join(ROOT, "..", "shared", "testdata", "real-ct"))
REAL_CT_STUDIES = ["thorax-4dct", "chest-lidc-0314", "abdomen-crlm-1006"]
STATED_REAL_CT_CALLS = os.path.join(ROOT, "Resources", "model", "real-ct-check.json")
TEST_SPLIT_STUDIES = 8             # seeds 3000-3007 of the test split: four normal, four hard
MINIMUM_ASSESSABLE = 0.98


def classify(binary, model, study, out):
    done = subprocess.run([binary, "classify", study, "--model", model, "--json", out, "--quiet",
                           "--device", "cpu", "--threads", "2"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (study, done.stderr)
    with open(out) as f:
        return json.load(f)


def reasons(vertebra):
    return sorted({entry["reason"] for entry in vertebra["not_assessable_reasons"]})


def lesion_calls(result):
    return [v for v in result["vertebrae"] if v["assessable"] and v["bone_quality"]["class"] != "normal"]


def stated_calls():
    """The lesion calls the model card states per real CT (none when the model states none)."""
    if not os.path.exists(STATED_REAL_CT_CALLS):
        return {}
    with open(STATED_REAL_CT_CALLS) as f:
        return {name: entry["lesion_calls"] for name, entry in json.load(f)["studies"].items()}


def check_real_ct(binary, model, work):
    if not os.path.isdir(REAL_CT):
        print("REAL-CT CHECKS NOT RUN: %s is not there (a clone without ../shared); the shipped model's "
              "behaviour on real CT was not checked" % REAL_CT)
        return 0
    checked = 0
    stated = stated_calls()
    for name in REAL_CT_STUDIES:
        study = os.path.join(REAL_CT, name)
        assert os.path.isdir(study), "missing real CT " + study
        result = classify(binary, model, study, os.path.join(work, name + ".json"))
        calls = lesion_calls(result)
        withheld = [v for v in result["vertebrae"] if not v["assessable"]]
        why = sorted({r for v in withheld for r in reasons(v)})
        scores = [v["out_of_distribution_score"] for v in result["vertebrae"]]
        print("%s: %d vertebrae, %d not assessable (%s), %d lesion calls, state %s, vertebra scores %s, threshold %s"
              % (name, len(result["vertebrae"]), len(withheld), ", ".join(why) or "-", len(calls),
                 result["summary"]["state"], ["%.1f" % s for s in scores if s is not None],
                 result["assessment"]["out_of_distribution_threshold"]))
        assert result["vertebrae"], name + ": no vertebra found"
        allowed = stated.get(name, [])
        assert len(calls) <= len(allowed), "%s: %d lesion calls on real normal bone, the card states %d: %s" % (
            name, len(calls), len(allowed), [(v["display_name"], v["bone_quality"]["class"]) for v in calls])
        if not allowed:
            assert result["summary"]["state"] != "lesion-suspected", result["summary"]
        checked += 1
    return checked


def check_test_split(binary, model, work):
    first_seed, _, ranges = SPLITS["test"]
    assessable = total = 0
    for seed in range(first_seed, first_seed + TEST_SPLIT_STUDIES):
        study = os.path.join(work, "test-%d" % seed)
        generate_phantom(study, *phantom_arguments("test", seed, ranges))
        result = classify(binary, model, study, study + ".json")
        withheld = [(v["display_name"], reasons(v)) for v in result["vertebrae"] if not v["assessable"]]
        assessable += result["summary"]["assessable_vertebrae"]
        total += len(result["vertebrae"])
        if withheld:
            print("test-%d: not assessable %s" % (seed, withheld))
    fraction = assessable / total
    print("phantoms of the test split (seeds %d-%d): %d of %d vertebrae assessable (%.3f)"
          % (first_seed, first_seed + TEST_SPLIT_STUDIES - 1, assessable, total, fraction))
    assert fraction >= MINIMUM_ASSESSABLE, fraction


def check_thick_slices(binary, model, work):
    study = os.path.join(work, "thick")
    generate_phantom(study, "--seed", "77", "--levels", "T12-L2", "--slice-thickness", "5")
    result = classify(binary, model, study, study + ".json")
    series = [entry["reason"] for entry in result["assessment"]["series_reasons"]]
    assert series == ["slice-thickness"], result["assessment"]
    assert all("slice-thickness" in reasons(v) for v in result["vertebrae"])
    assert result["summary"]["state"] == "not-assessable", result["summary"]
    print("5 mm slices: every vertebra not assessable, slice-thickness (%s)"
          % result["assessment"]["series_reasons"][0]["detail"])


def check_strong_noise(binary, model, work):
    study = os.path.join(work, "noisy")
    generate_phantom(study, "--seed", "78", "--levels", "T12-L2", "--noise", "70")
    result = classify(binary, model, study, study + ".json")
    series = [entry["reason"] for entry in result["assessment"]["series_reasons"]]
    assert series == ["image-noise"], result["assessment"]
    assert result["summary"]["state"] == "not-assessable", result["summary"]
    print("noise sigma 70 HU: every vertebra not assessable, image-noise (%s)"
          % result["assessment"]["series_reasons"][0]["detail"])


def main(binary, model, work):
    os.makedirs(work, exist_ok=True)
    real = check_real_ct(binary, model, work)
    check_test_split(binary, model, work)
    check_thick_slices(binary, model, work)
    check_strong_noise(binary, model, work)
    print("%d passed, 0 failed" % (real + 3))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
