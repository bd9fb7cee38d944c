# SPDX-License-Identifier: GPL-3.0-or-later
"""The tables of docs/evaluation.md, "Experiment: scanner augmentation", from the run folders that
training/scanner_ab.sh writes (operating-points.json, evaluation.json and, for a fine-tuned run,
evaluation-at-reference-point.json; for the reference model its own evaluation.json is at the
reference point).

    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.scanner_table LABEL=RUN_DIR ... [--reference LABEL]
"""

import argparse
import json
import os
import sys

PATIENTS = (("validation", "thorax-4dct", "A thorax-4dct (validation)"),
            ("test", "chest-lidc-0314", "B chest-lidc-0314"),
            ("test", "abdomen-crlm-1006", "C abdomen-crlm-1006"))
CLASSES = ("blastic", "lytic", "mixed")


def load(path):
    with open(path) as f:
        return json.load(f)


def number(value, digits=3):
    return "n/a" if value is None else f"{value:.{digits}f}"


def tables(runs) -> str:
    """``runs``: [(label, run folder, evaluation at the reference point)]."""
    lines = ["Lesion-free real vertebrae, per patient: highest / 95th-percentile top-1 score (blastic; lytic)", "",
             "| model | " + " | ".join(name for _, _, name in PATIENTS) + " |",
             "|---|" + "---|" * len(PATIENTS)]
    for label, run, _ in runs:
        by_set = load(os.path.join(run, "operating-points.json"))["lesion_free_by_background"]["k=1"]
        cells = []
        for split, background, _ in PATIENTS:
            e = by_set[split][background]
            cells.append(f"{e['highest_blastic']:.2f} / {e['p95_blastic']:.2f}; {e['highest_lytic']:.2f} / "
                         f"{e['p95_lytic']:.2f} ({e['distinct_vertebrae']})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "At 0.4.0's operating point (subtask_topk_mean k 1, 0.85 both; posterolateral mean_probability)", "",
              "| model | real val: false calls (of distinct) | real test: false calls (of distinct) | lesion-free test "
              "studies flagged | real test inserted lesions, right class blastic / lytic / mixed | called a lesion "
              "blastic / lytic / mixed | posterolateral acc. | phantom test sens. blastic / lytic / mixed | phantom "
              "any-lesion spec. | phantom posterolateral acc. |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for label, run, evaluation_path in runs:
        rule = load(os.path.join(run, "operating-points.json"))["rules"][0]
        assert (rule["rule"]["k"], rule["rule"]["blastic_threshold"], rule["rule"]["lytic_threshold"]) == (1, 0.85, 0.85)
        val, test = rule["validation"], rule["test"]
        phantom = load(evaluation_path)
        bq = phantom["vertebra"]["bone_quality"]
        lines.append(
            f"| {label} | {val['distinct_false_calls']} of {val['distinct_lesion_free']} | "
            f"{test['distinct_false_calls']} of {test['distinct_lesion_free']} | "
            f"{test['lesion_free_studies_flagged']} of {test['lesion_free_studies']} | "
            + " / ".join(number(test["right_class"][c]) for c in CLASSES)
            + " (" + "/".join(str(test["lesions"][c]) for c in CLASSES) + ") | "
            + " / ".join(number(test["called_a_lesion"][c]) for c in CLASSES) + " | "
            f"{number(test['posterolateral_accuracy'])} ({test['posterolateral_n']}) | "
            + " / ".join(number(bq["sensitivity"][c]) for c in CLASSES) + " | "
            f"{number(bq['any_lesion']['specificity'])} | {number(phantom['vertebra']['posterolateral']['accuracy'])} |")
    lines += ["", "Operating point chosen on validation as train_real.sh does, and the held-out real ROC areas", "",
              "| model | chosen rule | real test false calls (of distinct) | right class blastic / lytic / mixed | "
              "ROC AUC real test blastic / lytic / mixed / any |", "|---|---|---|---|---|"]
    for label, run, _ in runs:
        evaluation = load(os.path.join(run, "evaluation.json"))
        real = evaluation["real_anatomy"]
        sensitivity = real["inserted_lesions"]["sensitivity"]
        auc = evaluation["roc"]["real backgrounds (held out)"]
        lines.append(f"| {label} | {evaluation['aggregation']['rule'].split(';')[0]} | "
                     f"{real['lesion_free']['distinct']['false_lesion_calls']} of "
                     f"{real['lesion_free']['distinct']['vertebrae']} | "
                     + " / ".join(number(sensitivity[c]["right_class"]) for c in CLASSES) + " | "
                     + " / ".join(number(auc[c]["auc"]) for c in (*CLASSES, "any lesion")) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    parser.add_argument("--reference", help="the label whose evaluation.json is itself at the reference point")
    args = parser.parse_args(argv)
    runs = []
    for entry in args.runs:
        label, _, run = entry.partition("=")
        at_point = "evaluation.json" if label == args.reference else "evaluation-at-reference-point.json"
        runs.append((label, run, os.path.join(run, at_point)))
    print(tables(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
