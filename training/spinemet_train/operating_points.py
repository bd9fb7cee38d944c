# SPDX-License-Identifier: GPL-3.0-or-later
"""Operating points side by side on real backgrounds, for information: how far each patient's
lesion-free bone reaches on each subtask, and the validation and test figures of given
``subtask_topk_mean`` rules. Nothing here chooses a rule (evaluate.py does, on validation only);
a table read off test figures is a trade-off shown, not an operating point chosen.

    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.operating_points --checkpoint RUN/best.pt \\
        --real-val VAL_FOLDERS --real-test TEST_FOLDERS --rule 1:0.85:0.85 --rule 1:0.7118:0.605 --out table.json

--rule K:BLASTIC:LYTIC (repeatable) is a subtask_topk_mean rule with k K and those thresholds.
"""

import argparse
import json
import sys

import torch

from .data import load_samples
from .evaluate import Predictions, load_model
from .predict import predict
from .real_anatomy import lesion_free_scores_by_background, real_anatomy_figures

POSTEROLATERAL = {"method": "mean_probability"}


def parse_rule(text: str) -> dict:
    try:
        k, blastic, lytic = text.split(":")
        rule = {"method": "subtask_topk_mean", "k": int(k), "blastic_threshold": float(blastic),
                "lytic_threshold": float(lytic)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rule {text!r}: expected K:BLASTIC:LYTIC, e.g. 1:0.85:0.85")
    if rule["k"] < 1 or not (0 < rule["blastic_threshold"] < 1 and 0 < rule["lytic_threshold"] < 1):
        raise argparse.ArgumentTypeError(f"--rule {text!r}: k must be >= 1 and the thresholds between 0 and 1")
    return rule


def row(predictions: Predictions, rule: dict) -> dict:
    figures = real_anatomy_figures(predictions, {"bone_quality": rule, "posterolateral": POSTEROLATERAL})
    free, sensitivity = figures["lesion_free"], figures["inserted_lesions"]["sensitivity"]
    return {"distinct_lesion_free": free["distinct"]["vertebrae"],
            "distinct_false_calls": free["distinct"]["false_lesion_calls"],
            "called": free["distinct"]["called"],
            "lesion_free_studies_flagged": free["studies_flagged"],
            "lesion_free_studies": free["studies_without_inserted_lesion"],
            "right_class": {c: e["right_class"] for c, e in sensitivity.items()},
            "called_a_lesion": {c: e["called_a_lesion"] for c, e in sensitivity.items()},
            "lesions": {c: e["n"] for c, e in sensitivity.items()},
            "posterolateral_accuracy": figures["inserted_lesions"]["posterolateral_accuracy"],
            "posterolateral_n": figures["inserted_lesions"]["posterolateral_n"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="exported TorchScript model")
    source.add_argument("--checkpoint", help="checkpoint written by spinemet_train.train")
    parser.add_argument("--real-val", nargs="+", required=True, help="validation studies on real backgrounds")
    parser.add_argument("--real-test", nargs="+", required=True, help="held-out studies on real backgrounds")
    parser.add_argument("--rule", type=parse_rule, action="append", required=True, help="K:BLASTIC:LYTIC")
    parser.add_argument("--out", required=True, help="JSON to write")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    model, _, _ = load_model(args)
    sets = {}
    for name, folders in (("validation", args.real_val), ("test", args.real_test)):
        samples = load_samples(folders)
        sets[name] = Predictions(samples, predict(model, samples.crops))
    ks = sorted({rule["k"] for rule in args.rule})
    report = {"lesion_free_by_background": {f"k={k}": {name: lesion_free_scores_by_background(p, k)
                                                       for name, p in sets.items()} for k in ks},
              "rules": [{"rule": rule, **{name: row(p, rule) for name, p in sets.items()}} for rule in args.rule]}
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    for k, by_set in report["lesion_free_by_background"].items():
        for name, backgrounds in by_set.items():
            for background, entry in backgrounds.items():
                print(f"{k} {name} {background}: lesion-free highest blastic {entry['highest_blastic']:.4f}, "
                      f"lytic {entry['highest_lytic']:.4f}; 95th percentile blastic {entry['p95_blastic']:.4f}, "
                      f"lytic {entry['p95_lytic']:.4f} ({entry['distinct_vertebrae']} vertebrae, "
                      f"{entry['copies']} copies)")
    for entry in report["rules"]:
        rule = entry["rule"]
        for name in ("validation", "test"):
            r = entry[name]
            print(f"k {rule['k']} blastic {rule['blastic_threshold']} lytic {rule['lytic_threshold']} {name}: false calls "
                  f"{r['distinct_false_calls']} of {r['distinct_lesion_free']} distinct, flagged "
                  f"{r['lesion_free_studies_flagged']} of {r['lesion_free_studies']}; right class "
                  + " ".join(f"{c} {v:.3f}" if v is not None else f"{c} n/a" for c, v in r["right_class"].items())
                  + "; called " + " ".join(f"{c} {v:.3f}" if v is not None else f"{c} n/a"
                                            for c, v in r["called_a_lesion"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
