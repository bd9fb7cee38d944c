# SPDX-License-Identifier: GPL-3.0-or-later
"""Figures on real anatomy, and the operating point chosen for specificity on real bone.

Real anatomy here means studies whose background is a real CT (spinemet-hybrid output, made from
lesion-free real series, prepared by spinemet-prep): their untouched vertebrae are real normal
bone, their lesions are synthetic. Two questions are asked of them, kept apart because a triage
tool lives or dies by the first:

- lesion-free real vertebrae: how many are called a lesion (false calls per vertebra, specificity),
  and how many studies without an inserted lesion would be flagged;
- inserted lesions in held-out real vertebrae: sensitivity per class, posterolateral accuracy.

The operating point is a ``subtask_topk_mean`` rule (k slices, threshold; aggregation.py). Its
threshold trades the two against each other; ``choose_operating_point`` picks it on validation
data, never on the test set, for specificity on real bone (its docstring says how): model 0.4.0's
rule, one threshold for both subtasks. ``choose_subtask_operating_point`` (model 0.4.1 on) picks
a threshold per subtask with a margin on both sides, on a validation set with enough inserted
lesions to place the lesion-side margin (docs/training.md).
"""

import math

import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from . import BONE_QUALITY_CLASSES

OPERATING_POINT_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)
OPERATING_POINT_KS = (1, 2, 3, 5)
LESION_CLASSES = ("blastic", "lytic", "mixed")
SENSITIVITY_FLOOR = 0.85          # the project's sensitivity target per class
LESION_QUANTILE = 0.10            # per-subtask rule: the low quantile of the validation lesions' scores
NO_GAP_MARGIN_LOGIT = 0.5         # per-subtask rule: the margin above normal bone when lesions overlap it
SUBTASKS = ("blastic", "lytic")


def top_k_mean(values: np.ndarray, k: int) -> float:
    k = min(k, len(values))
    return float(np.sort(values)[::-1][:k].mean())


def subtask_scores(predictions, k: int) -> np.ndarray:
    """Per vertebra [blastic score, lytic score]: the mean of the k highest slice probabilities of
    each subtask, the quantities ``subtask_topk_mean`` thresholds."""
    o = predictions.outputs
    return np.array([[top_k_mean(o["blastic_probability"][g], k), top_k_mean(o["lytic_probability"][g], k)]
                     for g in predictions.groups]).reshape(-1, 2)


def class_scores(scores: np.ndarray) -> Dict[str, np.ndarray]:
    """One score per vertebra for each lesion class against normal: the threshold at which the
    rule would start calling that class (mixed needs both subtasks, hence the minimum)."""
    blastic, lytic = scores[:, 0], scores[:, 1]
    return {"blastic": blastic, "lytic": lytic, "mixed": np.minimum(blastic, lytic),
            "any lesion": np.maximum(blastic, lytic)}


def vertebra_studies(predictions) -> np.ndarray:
    return np.array([predictions.samples.study[g[0]] for g in predictions.groups], dtype=np.int64)


def ratio(numerator, denominator) -> Optional[float]:
    return float(numerator) / float(denominator) if denominator else None


def background_name(study: dict) -> str:
    """The real CT a hybrid study was made from: make_hybrid.sh names its studies <ct>-s<seed>."""
    return re.sub(r"-s\d+$", "", study.get("name") or study["folder"].rstrip("/").split("/")[-1])


def distinct_lesion_free_vertebrae(predictions, normal: np.ndarray, called: np.ndarray) -> dict:
    """Every seed of one background repeats its lesion-free vertebrae with the same pixels, so the
    per-study count weighs one real vertebra several times. Counted once here, by (background,
    vertebra of the ground truth; the pipeline's index where the truth does not say: the spine
    finder may part one seed's study into more vertebrae than another's), and a false call where
    any of its copies was called a lesion."""
    studies = vertebra_studies(predictions)
    vertebrae = np.array([predictions.samples.vertebra[g[0]] for g in predictions.groups], dtype=np.int64)
    distinct: Dict[tuple, bool] = {}
    for index in np.flatnonzero(normal):
        study = predictions.samples.studies[studies[index]]
        truth_index = study.get("truth_index_by_vertebra", {}).get(int(vertebrae[index]))
        key = (background_name(study), int(vertebrae[index]) if truth_index is None else int(truth_index))
        distinct[key] = distinct.get(key, False) or bool(called[index] > 0)
    false_calls = sum(distinct.values())
    return {"vertebrae": len(distinct), "false_lesion_calls": false_calls,
            "specificity": ratio(len(distinct) - false_calls, len(distinct)),
            "called": sorted(f"{name} vertebra {v}" for (name, v), was in distinct.items() if was)}


def real_anatomy_figures(predictions, rule: dict) -> dict:
    """Lesion-free real vertebrae and inserted lesions under one aggregation rule."""
    bq_truth, pl_truth = predictions.vertebra_truth()
    called = predictions.vertebra_bone_quality(rule["bone_quality"])
    posterolateral = predictions.vertebra_posterolateral(rule["posterolateral"])
    studies = vertebra_studies(predictions)
    normal = bq_truth == 0
    false_calls = int((normal & (called > 0)).sum())
    lesion_free_studies = [s for s in np.unique(studies) if (bq_truth[studies == s] == 0).all()]
    flagged = [s for s in lesion_free_studies if (called[studies == s] > 0).any()]
    sensitivity = {}
    for index, name in enumerate(BONE_QUALITY_CLASSES):
        if index == 0:
            continue
        of_class = bq_truth == index
        sensitivity[name] = {"n": int(of_class.sum()), "right_class": ratio((called[of_class] == index).sum(),
                                                                              of_class.sum()),
                             "called_a_lesion": ratio((called[of_class] > 0).sum(), of_class.sum())}
    lesion = (bq_truth > 0) & (pl_truth >= 0)
    return {
        "lesion_free": {"vertebrae": int(normal.sum()), "false_lesion_calls": false_calls,
                        "specificity": ratio(normal.sum() - false_calls, normal.sum()),
                        "false_calls_by_class": {name: int((normal & (called == i)).sum())
                                                 for i, name in enumerate(BONE_QUALITY_CLASSES) if i},
                        "studies_without_inserted_lesion": len(lesion_free_studies),
                        "studies_flagged": len(flagged),
                        "flagged_study_folders": [predictions.samples.studies[s]["folder"] for s in flagged],
                        "distinct": distinct_lesion_free_vertebrae(predictions, normal, called)},
        "inserted_lesions": {"vertebrae": int((bq_truth > 0).sum()), "sensitivity": sensitivity,
                             "posterolateral_accuracy": ratio((posterolateral[lesion] == pl_truth[lesion]).sum(),
                                                              lesion.sum()),
                             "posterolateral_n": int(lesion.sum())},
    }


def roc_curve(positive_scores: np.ndarray, negative_scores: np.ndarray) -> dict:
    """False and true positive rates for every threshold, and the area under the curve (the
    probability that a positive outscores a negative, ties counting half)."""
    thresholds = np.unique(np.concatenate([positive_scores, negative_scores]))[::-1]
    fpr = [0.0] + [float((negative_scores >= t).mean()) if len(negative_scores) else 0.0 for t in thresholds]
    tpr = [0.0] + [float((positive_scores >= t).mean()) if len(positive_scores) else 0.0 for t in thresholds]
    auc = None
    if len(positive_scores) and len(negative_scores):
        greater = (positive_scores[:, None] > negative_scores[None, :]).mean()
        equal = (positive_scores[:, None] == negative_scores[None, :]).mean()
        auc = float(greater + 0.5 * equal)
    return {"fpr": fpr + [1.0], "tpr": tpr + [1.0], "auc": auc,
            "positives": int(len(positive_scores)), "negatives": int(len(negative_scores))}


def roc_curves(predictions, k: int) -> Dict[str, dict]:
    """Each lesion class (and any lesion) against the normal vertebrae of the same data."""
    truth, _ = predictions.vertebra_truth()
    scores = class_scores(subtask_scores(predictions, k))
    negatives = truth == 0
    curves = {}
    for name, score in scores.items():
        positives = truth > 0 if name == "any lesion" else truth == BONE_QUALITY_CLASSES.index(name)
        curves[name] = roc_curve(score[positives], score[negatives])
    return curves


def operating_point_candidates() -> List[dict]:
    return [{"method": "subtask_topk_mean", "k": k, "threshold": t}
            for k in OPERATING_POINT_KS for t in OPERATING_POINT_THRESHOLDS]


def highest_lesion_free_score(predictions, k: int) -> Optional[float]:
    """The highest any-lesion score (top-k mean, either subtask) of a lesion-free real vertebra."""
    truth, _ = predictions.vertebra_truth()
    scores = class_scores(subtask_scores(predictions, k))["any lesion"][truth == 0]
    return float(scores.max()) if len(scores) else None


def choose_operating_point(phantom_val, real_val, posterolateral_rule: dict, target: float,
                           balanced_accuracy, sensitivity_floor: float = SENSITIVITY_FLOOR) -> dict:
    """The bone-quality rule for serving, chosen on validation data, for specificity on real bone:

    1. the candidates whose specificity on the real lesion-free validation vertebrae (each real
       vertebra once) is at least ``target``;
    2. of those, the ones that still call every class of inserted lesion on the real validation
       vertebrae at least ``sensitivity_floor`` of the time (the project's sensitivity target);
    3. of those, the one whose threshold clears the highest score of a lesion-free real
       validation vertebra by the widest margin (ties to the better balanced accuracy over the
       phantom and hybrid validation vertebrae together). One patient's normal vertebrae are too
       few to know the tail of normal bone's scores, so the rule keeps as far from it as the
       sensitivity target allows, rather than as close as balanced accuracy would go.

    When no candidate keeps the sensitivity floor, the best balanced accuracy among step 1's; when
    none reaches the target, the most specific one (ties to the better balanced accuracy).
    ``balanced_accuracy(truth, predicted)`` is passed in so that the figure is the evaluation's own."""
    rows = []
    for rule in operating_point_candidates():
        full = {"bone_quality": rule, "posterolateral": posterolateral_rule}
        real = real_anatomy_figures(real_val, full)
        truths, calls = [], []
        for predictions in (phantom_val, real_val):
            if predictions is None:
                continue
            truth, _ = predictions.vertebra_truth()
            truths.append(truth)
            calls.append(predictions.vertebra_bone_quality(rule))
        accuracy = balanced_accuracy(np.concatenate(truths), np.concatenate(calls))
        highest = highest_lesion_free_score(real_val, rule["k"])
        rows.append({"rule": rule, "real_specificity": real["lesion_free"]["distinct"]["specificity"],
                     "balanced_accuracy": accuracy,
                     "margin": None if highest is None else rule["threshold"] - highest,
                     "real_lesion_sensitivity": {name: entry["called_a_lesion"]
                                                 for name, entry in real["inserted_lesions"]["sensitivity"].items()}})
    meeting = [row for row in rows if row["real_specificity"] is not None and row["real_specificity"] >= target]
    sensitive = [row for row in meeting
                 if all(value is None or value >= sensitivity_floor for value in row["real_lesion_sensitivity"].values())]
    if sensitive:
        chosen = max(sensitive, key=lambda row: (row["margin"], row["balanced_accuracy"]))
        reason = (f"real lesion-free specificity >= {target} and every inserted lesion class called >= "
                  f"{sensitivity_floor} on validation, then the widest margin above lesion-free real bone's "
                  f"highest score")
    elif meeting:
        chosen = max(meeting, key=lambda row: row["balanced_accuracy"])
        reason = (f"best balanced accuracy with real lesion-free specificity >= {target} on validation (no "
                  f"candidate kept the sensitivity floor {sensitivity_floor})")
    else:
        chosen = max(rows, key=lambda row: ((row["real_specificity"] or 0.0), row["balanced_accuracy"]))
        reason = (f"no candidate reached real lesion-free specificity {target} on validation: the most "
                  f"specific one was taken")
    return {"rule": chosen["rule"], "reason": reason, "target_real_specificity": target,
            "sensitivity_floor": sensitivity_floor, "target_met_on_validation": bool(meeting), "trade_off": rows}


def logit(p: float) -> float:
    p = min(max(float(p), 1e-7), 1.0 - 1e-7)
    return math.log(p / (1.0 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def subtask_threshold(normal_scores: np.ndarray, lesion_scores: np.ndarray,
                      lesion_quantile: float = LESION_QUANTILE) -> dict:
    """One subtask's threshold with a margin on both sides, on the logit scale (the subtask heads'
    own scale: their probabilities crowd at 0.99, where a margin of 0.01 is a wide one):

    - ``normal``: the highest score of a lesion-free real validation vertebra;
    - ``lesion``: the ``lesion_quantile`` quantile of the scores of the validation lesions the
      subtask must see;
    - where lesion > normal, the threshold is their midpoint in logits: as far above normal real
      bone as below the low lesion quantile;
    - where they overlap, specificity on real bone comes first: ``NO_GAP_MARGIN_LOGIT`` above normal.

    Rounded up to 4 decimals (the threshold stays above normal bone's highest score), at most 0.9999."""
    normal = float(np.max(normal_scores)) if len(normal_scores) else None
    lesion = float(np.quantile(lesion_scores, lesion_quantile)) if len(lesion_scores) else None
    if normal is None and lesion is None:
        raise ValueError("a subtask threshold needs lesion-free or lesion validation scores")
    if normal is None:
        centre, gap = logit(lesion) - NO_GAP_MARGIN_LOGIT, None
    elif lesion is None:
        centre, gap = logit(normal) + NO_GAP_MARGIN_LOGIT, None
    else:
        gap = logit(lesion) - logit(normal)
        centre = 0.5 * (logit(lesion) + logit(normal)) if gap > 0 else logit(normal) + NO_GAP_MARGIN_LOGIT
    threshold = min(math.ceil(sigmoid(centre) * 1e4) / 1e4, 0.9999)
    return {"threshold": threshold, "highest_lesion_free": normal, "lesion_quantile": lesion,
            "gap_logit": gap, "lesions": int(len(lesion_scores)), "lesion_free": int(len(normal_scores))}


def choose_subtask_operating_point(phantom_val, real_val, posterolateral_rule: dict, target: float,
                                   balanced_accuracy, ks: Sequence[int] = OPERATING_POINT_KS,
                                   lesion_quantile: float = LESION_QUANTILE,
                                   sensitivity_floor: float = SENSITIVITY_FLOOR) -> dict:
    """A ``subtask_topk_mean`` rule with a threshold per subtask, chosen on validation data for
    specificity on real bone (decided before model 0.4.1's test figures were computed; it replaces
    ``choose_operating_point``, whose last step sat at the edge of 0.4.0's 3 lytic validation
    lesions):

    1. for each k, each subtask's threshold by ``subtask_threshold``: above the highest score of
       the lesion-free real validation vertebrae (every copy of each), and below the
       ``lesion_quantile`` quantile of the real validation lesions that subtask must see (blastic:
       the blastic and mixed lesions; lytic: the lytic and mixed ones), midway in logits;
    2. the k whose narrower subtask gap (lesion quantile above normal, logits) is the widest;
       ties to the smaller k.

    Real lesion-free specificity on validation is then 1 by construction where a gap exists;
    ``target`` and ``sensitivity_floor`` are checked and reported, not used to choose. The
    phantom validation set enters only the reported balanced accuracy."""
    truth, _ = real_val.vertebra_truth()
    normal = truth == 0
    sees = {"blastic": (truth == 1) | (truth == 3), "lytic": (truth == 2) | (truth == 3)}
    rows = []
    for k in ks:
        scores = subtask_scores(real_val, k)
        subtasks = {name: subtask_threshold(scores[normal, column], scores[sees[name], column], lesion_quantile)
                    for column, name in enumerate(SUBTASKS)}
        rule = {"method": "subtask_topk_mean", "k": k, "blastic_threshold": subtasks["blastic"]["threshold"],
                "lytic_threshold": subtasks["lytic"]["threshold"]}
        real = real_anatomy_figures(real_val, {"bone_quality": rule, "posterolateral": posterolateral_rule})
        truths, calls = [], []
        for predictions in (phantom_val, real_val):
            if predictions is not None:
                truths.append(predictions.vertebra_truth()[0])
                calls.append(predictions.vertebra_bone_quality(rule))
        gaps = [entry["gap_logit"] for entry in subtasks.values()]
        rows.append({"rule": rule, "subtasks": subtasks,
                     "narrower_gap_logit": None if None in gaps else min(gaps),
                     "real_specificity": real["lesion_free"]["distinct"]["specificity"],
                     "balanced_accuracy": balanced_accuracy(np.concatenate(truths), np.concatenate(calls)),
                     "real_lesion_sensitivity": {name: entry["called_a_lesion"]
                                                 for name, entry in real["inserted_lesions"]["sensitivity"].items()},
                     "real_lesion_right_class": {name: entry["right_class"]
                                                 for name, entry in real["inserted_lesions"]["sensitivity"].items()}})
    chosen = max(rows, key=lambda row: (-math.inf if row["narrower_gap_logit"] is None else row["narrower_gap_logit"],
                                        -row["rule"]["k"]))
    reason = (f"per-subtask thresholds midway (logits) between the highest lesion-free real validation score and "
              f"the {lesion_quantile:g} quantile of the real validation lesions' scores, the k with the widest "
              f"narrower gap")
    meets_target = chosen["real_specificity"] is not None and chosen["real_specificity"] >= target
    meets_floor = all(value is None or value >= sensitivity_floor
                      for value in chosen["real_lesion_sensitivity"].values())
    return {"rule": chosen["rule"], "reason": reason, "rule_version": "per-subtask margins (model 0.4.1)",
            "lesion_quantile": lesion_quantile, "target_real_specificity": target,
            "sensitivity_floor": sensitivity_floor, "target_met_on_validation": bool(meets_target),
            "sensitivity_floor_met_on_validation": bool(meets_floor), "by_k": rows}


def lesion_free_scores_by_background(predictions, k: int) -> Dict[str, dict]:
    """Per real background (patient), the highest top-k subtask score of its lesion-free vertebrae
    (every copy): how far each patient's normal bone reaches on each subtask. A threshold learnt
    on one patient holds on another only where the other's normal bone stays below it. Also the
    95th percentile over its distinct lesion-free vertebrae (each counted once, by the ground
    truth's vertebra, at the highest score of its copies): the tail without the single worst."""
    truth, _ = predictions.vertebra_truth()
    scores = subtask_scores(predictions, k)
    studies = vertebra_studies(predictions)
    vertebrae = np.array([predictions.samples.vertebra[g[0]] for g in predictions.groups], dtype=np.int64)
    names = np.array([background_name(predictions.samples.studies[s]) for s in studies])
    by_background = {}
    for name in sorted(set(names[truth == 0])):
        rows = (truth == 0) & (names == name)
        distinct: Dict[int, np.ndarray] = {}
        for index in np.flatnonzero(rows):
            truth_index = predictions.samples.studies[studies[index]].get("truth_index_by_vertebra", {}).get(
                int(vertebrae[index]))
            key = int(vertebrae[index]) if truth_index is None else int(truth_index)
            distinct[key] = np.maximum(distinct.get(key, scores[index]), scores[index])
        highest_per_vertebra = np.array(list(distinct.values())).reshape(-1, 2)
        by_background[name] = {"copies": int(rows.sum()), "distinct_vertebrae": len(distinct),
                               **{f"highest_{subtask}": float(scores[rows, column].max())
                                  for column, subtask in enumerate(SUBTASKS)},
                               **{f"p95_{subtask}": float(np.percentile(highest_per_vertebra[:, column], 95))
                                  for column, subtask in enumerate(SUBTASKS)}}
    return by_background


def draw_roc_png(curves_by_data: Dict[str, Dict[str, dict]], path: str, title: str,
                 operating_points: Optional[Dict[str, Sequence[float]]] = None) -> None:
    """One panel per data set, a curve per class; the operating point (false and true positive
    rate of the chosen rule, any lesion against normal) marked with a circle where given. Drawn with Pillow (Debian's python3-pil, which
    python3-torchvision pulls in): no plotting library is needed."""
    from PIL import Image, ImageDraw, ImageFont

    colours = {"blastic": (214, 96, 77), "lytic": (67, 147, 195), "mixed": (120, 170, 60),
               "any lesion": (40, 40, 40)}
    title_lines = title.replace("; ", ";\n")
    panel, margin, top = 360, 50, 30 + 16 * (title_lines.count("\n") + 1)
    names = list(curves_by_data)
    image = Image.new("RGB", (len(names) * (panel + margin) + margin, panel + top + margin + 90), "white")
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 13)
    except OSError:
        font = ImageFont.load_default()
    draw.multiline_text((margin, 6), title_lines, fill="black", font=font, spacing=2)
    for n, data_name in enumerate(names):
        left = margin + n * (panel + margin)
        bottom = top + panel

        def point(fpr, tpr):
            return left + fpr * panel, bottom - tpr * panel

        draw.rectangle([left, top, left + panel, bottom], outline="black")
        draw.line([point(0, 0), point(1, 1)], fill=(200, 200, 200))
        for tick in (0.0, 0.5, 1.0):
            draw.text((left + tick * panel - 8, bottom + 4), f"{tick:.1f}", fill="black", font=font)
            draw.text((left - 28, bottom - tick * panel - 7), f"{tick:.1f}", fill="black", font=font)
        draw.text((left + panel / 2 - 60, bottom + 20), "1 - specificity", fill="black", font=font)
        draw.text((left, top - 18), data_name, fill="black", font=font)
        legend_y = bottom + 40
        for class_name, curve in curves_by_data[data_name].items():
            if curve["auc"] is None:
                continue
            colour = colours.get(class_name, (0, 0, 0))
            draw.line([point(f, t) for f, t in zip(curve["fpr"], curve["tpr"])], fill=colour, width=2)
            draw.text((left, legend_y),
                      f"{class_name}: AUC {curve['auc']:.3f} ({curve['positives']} vs {curve['negatives']} normal)",
                      fill=colour, font=font)
            legend_y += 16
        if operating_points and operating_points.get(data_name):
            fpr, tpr = operating_points[data_name]
            x, y = point(fpr, tpr)
            draw.ellipse([x - 5, y - 5, x + 5, y + 5], outline="black", width=2)
    image.save(path)
