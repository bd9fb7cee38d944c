# SPDX-License-Identifier: GPL-3.0-or-later
"""Evaluate a SpineMet model at slice and vertebra level.

    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.evaluate --checkpoint RUN/best.pt \
        --val DATA/val --test DATA/test --out RUN/evaluation.json
    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.evaluate --model Resources/model/spinemet-demo.pt \
        --test DATA/test --out evaluation.json

With --val the slice -> vertebra aggregation rule is chosen there by measurement (bone quality:
the best balanced accuracy over the four classes, posterolateral: the best mean of accuracy and
balanced accuracy; ties go to the earlier, simpler candidate) and then applied once to the test
set. Without --val the rule comes from the model's metadata (--model) or --aggregation-from.

Real anatomy (real_anatomy.py): --real-test adds figures on held-out studies with a real CT as
background (spinemet-hybrid output): false lesion calls on lesion-free real vertebrae and the
sensitivity to lesions inserted into them, reported apart from the phantom figures. With --val and
--real-val, the bone-quality operating point is chosen on validation for specificity on real bone
(--real-specificity-target); --operating-point per-subtask chooses a threshold per subtask instead
(real_anatomy.choose_subtask_operating_point). --roc writes the ROC curves per class (a PNG).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

from . import BONE_QUALITY_CLASSES, POSTEROLATERAL_CLASSES
from .aggregation import (BONE_QUALITY_CANDIDATES, POSTEROLATERAL_CANDIDATES, aggregate_bone_quality,
                          aggregate_posterolateral, describe_rule, group_slices, rule_name)
from .data import SampleSet, describe, find_study_folders, load_samples
from .export import load_exported
from .model import ModelConfig, build_model
from .predict import predict
from .real_anatomy import choose_operating_point, choose_subtask_operating_point, draw_roc_png, real_anatomy_figures, roc_curves


def confusion(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def ratio(numerator, denominator):
    return float(numerator) / float(denominator) if denominator else None


def class_figures(matrix: np.ndarray, names) -> dict:
    """Rows are the truth, columns the prediction."""
    total = matrix.sum()
    figures = {"n": int(total), "confusion": matrix.tolist(), "sensitivity": {}, "specificity": {}, "support": {}}
    for c, name in enumerate(names):
        tp = matrix[c, c]
        positives = matrix[c].sum()
        negatives = total - positives
        fp = matrix[:, c].sum() - tp
        figures["sensitivity"][name] = ratio(tp, positives)
        figures["specificity"][name] = ratio(negatives - fp, negatives)
        figures["support"][name] = int(positives)
    figures["accuracy"] = ratio(np.trace(matrix), total)
    present = [v for v in figures["sensitivity"].values() if v is not None]
    figures["balanced_accuracy"] = float(np.mean(present)) if present else None
    return figures


def bone_quality_figures(truth: np.ndarray, predicted: np.ndarray) -> dict:
    figures = class_figures(confusion(truth, predicted, 4), BONE_QUALITY_CLASSES)
    lesion, called = truth > 0, predicted > 0
    figures["any_lesion"] = {"sensitivity": ratio((lesion & called).sum(), lesion.sum()),
                             "specificity": ratio((~lesion & ~called).sum(), (~lesion).sum())}
    return figures


def posterolateral_figures(truth: np.ndarray, predicted: np.ndarray) -> dict:
    known = truth >= 0
    return class_figures(confusion(truth[known], predicted[known], 3), POSTEROLATERAL_CLASSES)


class Predictions:
    def __init__(self, samples: SampleSet, outputs: dict):
        self.samples = samples
        self.outputs = outputs
        keys = samples.vertebra_keys()
        known = samples.bone_quality >= 0
        self.groups = [g for g in group_slices(keys, samples.slice_index) if known[g[0]]]

    def vertebra_truth(self):
        first = np.array([g[0] for g in self.groups])
        return self.samples.bone_quality[first], self.samples.posterolateral[first]

    def vertebra_bone_quality(self, rule: dict) -> np.ndarray:
        o = self.outputs
        return np.array([aggregate_bone_quality(rule, o["blastic_probability"][g], o["lytic_probability"][g],
                                                o["bone_quality_probabilities"][g]) for g in self.groups])

    def vertebra_posterolateral(self, rule: dict) -> np.ndarray:
        r = self.outputs["posterolateral_probabilities"]
        return np.array([aggregate_posterolateral(rule, r[g]) for g in self.groups])


def choose_aggregation(predictions: Predictions) -> tuple:
    bq_truth, pl_truth = predictions.vertebra_truth()
    bq_scores, pl_scores = {}, {}
    best_bq, best_bq_score = None, -1.0
    for rule in BONE_QUALITY_CANDIDATES:
        score = bone_quality_figures(bq_truth, predictions.vertebra_bone_quality(rule))["balanced_accuracy"]
        bq_scores[rule_name(rule)] = score
        if score > best_bq_score + 1e-9:
            best_bq, best_bq_score = rule, score
    best_pl, best_pl_score = None, -1.0
    for rule in POSTEROLATERAL_CANDIDATES:
        figures = posterolateral_figures(pl_truth, predictions.vertebra_posterolateral(rule))
        score = 0.5 * ((figures["accuracy"] or 0) + (figures["balanced_accuracy"] or 0))
        pl_scores[rule_name(rule)] = score
        if score > best_pl_score + 1e-9:
            best_pl, best_pl_score = rule, score
    return best_bq, best_pl, {"bone_quality_balanced_accuracy": bq_scores,
                              "posterolateral_mean_of_accuracy_and_balanced_accuracy": pl_scores}


def bone_quality_candidates_on_test(predictions: Predictions) -> dict:
    """Every bone-quality candidate rule on the test set, for information only: the rule is chosen
    on the validation set, and these figures show how much the choice matters."""
    truth, _ = predictions.vertebra_truth()
    figures = {}
    for rule in BONE_QUALITY_CANDIDATES:
        f = bone_quality_figures(truth, predictions.vertebra_bone_quality(rule))
        figures[rule_name(rule)] = {"sensitivity": {c: f["sensitivity"][c] for c in ("blastic", "lytic", "mixed")},
                                    "any_lesion_specificity": f["any_lesion"]["specificity"]}
    return figures


def evaluate_predictions(predictions: Predictions, aggregation: dict) -> dict:
    samples, o = predictions.samples, predictions.outputs
    shown = samples.slice_targets("visible")
    on_vertebra = shown.mask
    slice_bq = bone_quality_figures(shown.bone_quality[on_vertebra],
                                    o["bone_quality_probabilities"][on_vertebra].argmax(1))
    slice_pl = posterolateral_figures(shown.posterolateral[on_vertebra],
                                      o["posterolateral_probabilities"][on_vertebra].argmax(1))
    bq_truth, pl_truth = predictions.vertebra_truth()
    vertebra_bq = bone_quality_figures(bq_truth, predictions.vertebra_bone_quality(aggregation["bone_quality"]))
    vertebra_pl = posterolateral_figures(pl_truth, predictions.vertebra_posterolateral(aggregation["posterolateral"]))
    return {"slice": {"bone_quality": slice_bq, "posterolateral": slice_pl,
                      "slices": "slices the ground truth puts on the labelled vertebra (disc and end slices "
                                "excluded), each judged by what it shows where the truth knows (phantoms: "
                                "the lesion kinds visible on the slice), else by its vertebra's label"},
            "vertebra": {"bone_quality": vertebra_bq, "posterolateral": vertebra_pl,
                         "slices": "every slice the spine finder assigned, as in serving"}}


def summarise(report: dict, data: dict, posterolateral_trained: bool) -> dict:
    """The compact form embedded in the model metadata."""
    def level(figures):
        bq, pl = figures["bone_quality"], figures["posterolateral"]
        entry = {"bone_quality_sensitivity": bq["sensitivity"], "bone_quality_specificity": bq["specificity"],
                 "bone_quality_accuracy": bq["accuracy"], "bone_quality_confusion": bq["confusion"],
                 "any_lesion_sensitivity": bq["any_lesion"]["sensitivity"],
                 "any_lesion_specificity": bq["any_lesion"]["specificity"]}
        if posterolateral_trained:
            entry.update({"posterolateral_accuracy": pl["accuracy"], "posterolateral_sensitivity": pl["sensitivity"],
                          "posterolateral_confusion": pl["confusion"]})
        else:
            entry["posterolateral"] = "not trained"
        return entry
    return {"test_set": data, "note": "measured on synthetic CT phantoms, not on patients",
            "slice_level": level(report["slice"]), "vertebra_level": level(report["vertebra"])}


def phantom_difficulty(folder: str):
    """The --difficulty a phantom study was made with (make_dataset.py's phantom-arguments.json),
    or None for other data."""
    try:
        with open(os.path.join(folder, "phantom-arguments.json")) as f:
            arguments = json.load(f)
    except FileNotFoundError:
        return None
    return arguments[arguments.index("--difficulty") + 1] if "--difficulty" in arguments else None


def evaluate_by_difficulty(model, test_paths, aggregation: dict, posterolateral_trained: bool) -> dict:
    """The same figures for each phantom difficulty in the test set (same model, same rule)."""
    groups = {}
    for folder in find_study_folders(test_paths):
        difficulty = phantom_difficulty(folder)
        if difficulty is not None:
            groups.setdefault(difficulty, []).append(folder)
    figures = {}
    for difficulty, folders in sorted(groups.items()):
        subset = load_samples(folders)
        report = evaluate_predictions(Predictions(subset, predict(model, subset.crops)), aggregation)
        figures[difficulty] = summarise(report, describe(subset), posterolateral_trained)
    return figures


def load_model(args):
    if args.model:
        module, metadata = load_exported(args.model)
        return module, metadata.get("aggregation"), metadata.get("posterolateral_trained", True)
    checkpoint = torch.load(args.checkpoint, map_location="cpu")
    config = ModelConfig.from_json(checkpoint["model_config"])
    model = build_model(config)
    model.load_state_dict(checkpoint["model_state"])
    trained = config.variant == "multitask" and checkpoint["training"].get("aux_task", True)
    return model.eval(), None, trained


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="exported TorchScript model")
    source.add_argument("--checkpoint", help="checkpoint written by spinemet_train.train")
    parser.add_argument("--test", nargs="+", required=True, help="spinemet-prep output folders (held-out test set)")
    parser.add_argument("--val", nargs="*", help="validation folders to choose the aggregation rule on")
    parser.add_argument("--aggregation-from", help="evaluation.json whose aggregation rule to apply")
    parser.add_argument("--real-test", nargs="*", help="held-out studies on real CT backgrounds (spinemet-hybrid, "
                                                       "prepared by spinemet-prep)")
    parser.add_argument("--real-val", nargs="*", help="validation studies on real CT backgrounds: with --val, the "
                                                      "operating point is chosen for specificity on real bone")
    parser.add_argument("--real-specificity-target", type=float, default=0.95,
                        help="specificity on lesion-free real validation vertebrae the operating point must reach")
    parser.add_argument("--operating-point", choices=("single", "per-subtask"), default="single",
                        help="with --real-val: one threshold for both subtasks (model 0.4.0's rule, "
                             "choose_operating_point) or one per subtask with a margin on both sides (model "
                             "0.4.1's, choose_subtask_operating_point; docs/training.md)")
    parser.add_argument("--roc", help="PNG to draw the ROC curves per class into")
    parser.add_argument("--out", required=True, help="evaluation.json to write")
    args = parser.parse_args(argv)
    if args.real_val and not args.val:
        parser.error("--real-val chooses the operating point together with --val: give both")
    torch.set_num_threads(2)
    model, aggregation, posterolateral_trained = load_model(args)
    candidates, operating_point = None, None
    if args.val:
        val = load_samples(args.val)
        val_predictions = Predictions(val, predict(model, val.crops))
        bq_rule, pl_rule, candidates = choose_aggregation(val_predictions)
        chosen_by = (f"measured on the validation set ({describe(val)['vertebrae']} vertebrae): bone quality by "
                     f"balanced accuracy, posterolateral by the mean of accuracy and balanced accuracy")
        if args.real_val:
            real_val = load_samples(args.real_val)
            choose = choose_subtask_operating_point if args.operating_point == "per-subtask" else choose_operating_point
            operating_point = choose(
                val_predictions, Predictions(real_val, predict(model, real_val.crops)), pl_rule,
                args.real_specificity_target,
                lambda truth, called: bone_quality_figures(truth, called)["balanced_accuracy"])
            bq_rule = operating_point["rule"]
            chosen_by = (f"bone quality: {operating_point['reason']} ({describe(val)['vertebrae']} phantom and "
                         f"{describe(real_val)['vertebrae']} real-background validation vertebrae); posterolateral "
                         f"by the mean of accuracy and balanced accuracy on the phantom validation set")
        aggregation = describe_rule(bq_rule, pl_rule, chosen_by)
    elif args.aggregation_from:
        with open(args.aggregation_from) as f:
            aggregation = json.load(f)["aggregation"]
    if not aggregation or "bone_quality" not in aggregation:
        parser.error("no aggregation rule: give --val, --aggregation-from, or a model whose metadata has one")
    test = load_samples(args.test)
    test_predictions = Predictions(test, predict(model, test.crops))
    report = evaluate_predictions(test_predictions, aggregation)
    data = describe(test)
    summary = summarise(report, data, posterolateral_trained)
    by_difficulty = evaluate_by_difficulty(model, args.test, aggregation, posterolateral_trained)
    if by_difficulty:
        summary["by_difficulty"] = by_difficulty
    curves, operating_points = {}, {"phantom test set": any_lesion_point(report["vertebra"]["bone_quality"])}
    if args.real_test:
        real_test = load_samples(args.real_test)
        real_predictions = Predictions(real_test, predict(model, real_test.crops))
        real = real_anatomy_figures(real_predictions, aggregation)
        real["test_set"] = describe(real_test)
        real["note"] = ("real CT backgrounds (lesion-free patients), synthetic inserted lesions; vertebrae held "
                        "out of training")
        report["real_anatomy"] = summary["real_anatomy"] = real
        curves["real backgrounds (held out)"] = roc_curves(real_predictions, rule_k(aggregation))
        real_truth, _ = real_predictions.vertebra_truth()
        operating_points["real backgrounds (held out)"] = any_lesion_point(bone_quality_figures(
            real_truth, real_predictions.vertebra_bone_quality(aggregation["bone_quality"])))
    if args.roc:
        curves = {"phantom test set": roc_curves(test_predictions, rule_k(aggregation)), **curves}
        draw_roc_png(curves, args.roc, f"ROC per class, vertebra level; circle: {aggregation['rule']}",
                     operating_points)
        report["roc"] = {name: {c: {"auc": curve["auc"], "positives": curve["positives"],
                                    "negatives": curve["negatives"]} for c, curve in by_class.items()}
                         for name, by_class in curves.items()}
    report.update({"aggregation": aggregation, "aggregation_candidates_on_validation": candidates,
                   "operating_point": operating_point,
                   "bone_quality_candidates_on_test": bone_quality_candidates_on_test(test_predictions),
                   "test_set": data, "summary": summary, "by_difficulty": by_difficulty})
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print_report(report, posterolateral_trained)
    return 0


def any_lesion_point(figures: dict):
    """(1 - specificity, sensitivity) of lesion against normal, for the ROC picture."""
    any_lesion = figures["any_lesion"]
    if any_lesion["sensitivity"] is None or any_lesion["specificity"] is None:
        return None
    return 1.0 - any_lesion["specificity"], any_lesion["sensitivity"]


def rule_k(aggregation: dict) -> int:
    """The number of slices the bone-quality rule averages, for the ROC scores (1 for rules that
    do not threshold the subtasks)."""
    return int(aggregation["bone_quality"].get("k", 1))


def print_report(report: dict, posterolateral_trained: bool = True) -> None:
    print(f"aggregation: {report['aggregation']['rule']}")
    data = report["test_set"]
    print(f"test set (synthetic phantoms): {data['studies']} studies, {data['vertebrae']} vertebrae "
          f"{dict(zip(BONE_QUALITY_CLASSES, data['vertebrae_by_bone_quality']))}, {data['slices']} slices")
    for level in ("slice", "vertebra"):
        bq, pl = report[level]["bone_quality"], report[level]["posterolateral"]
        sens = " ".join(f"{k} {v:.3f}" if v is not None else f"{k} n/a" for k, v in bq["sensitivity"].items())
        print(f"{level:8s} bone quality sensitivity: {sens}; any-lesion specificity "
              f"{bq['any_lesion']['specificity']:.3f}; accuracy {bq['accuracy']:.3f}")
        if posterolateral_trained:
            pls = " ".join(f"{k} {v:.3f}" if v is not None else f"{k} n/a" for k, v in pl["sensitivity"].items())
            print(f"{level:8s} posterolateral accuracy {pl['accuracy']:.3f}; sensitivity {pls}")
    for difficulty, summary in report.get("by_difficulty", {}).items():
        v, data = summary["vertebra_level"], summary["test_set"]
        sens = " ".join(f"{k} {x:.3f}" if x is not None else f"{k} n/a" for k, x in v["bone_quality_sensitivity"].items())
        line = (f"{difficulty} phantoms only ({data['studies']} studies, {data['vertebrae']} vertebrae): vertebra "
                f"sensitivity {sens}; any-lesion specificity {v['any_lesion_specificity']:.3f}")
        if "posterolateral_accuracy" in v:
            line += f"; posterolateral accuracy {v['posterolateral_accuracy']:.3f}"
        print(line)
    if "real_anatomy" in report:
        print_real_anatomy(report["real_anatomy"])


def figure(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def print_real_anatomy(real: dict) -> None:
    free, inserted = real["lesion_free"], real["inserted_lesions"]
    print(f"real backgrounds ({real['test_set']['studies']} studies, held out): lesion-free vertebrae "
          f"{free['vertebrae']}, false lesion calls {free['false_lesion_calls']} (specificity "
          f"{figure(free['specificity'])}; distinct real vertebrae {free['distinct']['vertebrae']}, called "
          f"{free['distinct']['false_lesion_calls']}, specificity {figure(free['distinct']['specificity'])}); "
          f"studies without an inserted lesion flagged "
          f"{free['studies_flagged']} of {free['studies_without_inserted_lesion']}")
    sens = " ".join(f"{name} {figure(entry['right_class'])} (n {entry['n']})"
                    for name, entry in inserted["sensitivity"].items())
    print(f"real backgrounds, inserted lesions: sensitivity (right class) {sens}; posterolateral accuracy "
          f"{figure(inserted['posterolateral_accuracy'])} (n {inserted['posterolateral_n']})")


if __name__ == "__main__":
    sys.exit(main())
