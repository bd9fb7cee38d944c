# SPDX-License-Identifier: GPL-3.0-or-later
"""The exported model on the lesion-free real CTs of ../shared, served as a user would serve it:
`spinemet classify` on each whole series (gate, assessability and rule included). Records per CT the
vertebrae, how many are assessable and every lesion call, each marked with whether its vertebra was
a training background (training/hybrid_split.json). The model card states these calls and
tests/worker/test_shipped_assessability.py checks that the shipped model makes no more.

    python3 -m spinemet_train.real_ct_check --spinemet BUILD/tools/spinemet/spinemet --model MODEL.pt \\
        --real-ct ../shared/testdata/real-ct --split training/hybrid_split.json --out real-ct-check.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

REAL_CT_STUDIES = ("thorax-4dct", "chest-lidc-0314", "abdomen-crlm-1006")
FORMAT = "spinemet-real-ct-check/1"


def lesion_calls(result: dict) -> list:
    return [v for v in result["vertebrae"] if v["assessable"] and v["bone_quality"]["class"] != "normal"]


def classify(spinemet: str, model: str, study: str, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "result.json")
        done = subprocess.run([spinemet, "classify", study, "--model", model, "--json", out, "--quiet",
                               "--device", "cpu", "--threads", str(threads)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"spinemet classify {study} failed ({done.returncode}): {done.stderr.strip()}")
        with open(out) as f:
            return json.load(f)


def check(spinemet: str, model: str, real_ct: str, split: dict, threads: int = 2) -> dict:
    studies = {}
    for name in REAL_CT_STUDIES:
        result = classify(spinemet, model, os.path.join(real_ct, name), threads)
        trained = set(split["backgrounds"].get(name, {}).get("train", []))
        studies[name] = {
            "vertebrae": len(result["vertebrae"]),
            "assessable": sum(1 for v in result["vertebrae"] if v["assessable"]),
            "state": result["summary"]["state"],
            "lesion_calls": [{"vertebra": v["display_name"], "class": v["bone_quality"]["class"],
                              "training_background": v["display_name"] in trained}
                             for v in lesion_calls(result)],
        }
    return {"format": FORMAT, "studies": studies}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spinemet", required=True, help="the spinemet command-line tool")
    parser.add_argument("--model", required=True)
    parser.add_argument("--real-ct", required=True, help="folder of the real CTs (../shared/testdata/real-ct)")
    parser.add_argument("--split", required=True, help="training/hybrid_split.json")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with open(args.split) as f:
        split = json.load(f)
    report = check(args.spinemet, args.model, args.real_ct, split)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    for name, entry in report["studies"].items():
        calls = ", ".join(f"{c['vertebra']} {c['class']}{' (training background)' if c['training_background'] else ''}"
                          for c in entry["lesion_calls"]) or "none"
        print(f"{name}: {entry['vertebrae']} vertebrae, {entry['assessable']} assessable, lesion calls: {calls}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
