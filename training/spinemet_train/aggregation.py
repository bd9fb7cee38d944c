# SPDX-License-Identifier: GPL-3.0-or-later
"""Slice -> vertebra aggregation rules. The chosen rule is recorded in the model metadata
(``aggregation``) and the C++ engine implements the same definitions (docs/training.md).

Notation for one vertebra with n slices (every slice the spine finder assigned to it):
``pb_s = sigmoid(blastic_logit_s)``, ``pl_s = sigmoid(lytic_logit_s)``,
``q_s = softmax(bone_quality_logits_s)``, ``r_s = softmax(posterolateral_logits_s)``.

Bone quality methods:
- ``mean_probability``: argmax_c mean_s q_s[c].
- ``majority_vote``: the most frequent argmax_c q_s[c]; a tie goes to the tied class with the
  larger mean_s q_s[c].
- ``subtask_topk_mean`` (k, threshold; or k, blastic_threshold, lytic_threshold): B = mean of the
  min(k, n) largest pb_s, L = the same for pl_s; blastic = B >= blastic threshold, lytic = L >= lytic
  threshold (``threshold`` alone: the same for both); then the truth table (no/no normal, yes/no
  blastic, no/yes lytic, yes/yes mixed). k = 1 is the maximum over slices.
Posterolateral methods:
- ``mean_probability``: argmax_c mean_s r_s[c].
- ``topk_involvement_mean`` (k): the min(k, n) slices with the largest 1 - r_s[none] (ties: the
  lower slice position first), argmax_c of the mean of their r_s[c].
Ties in argmax go to the lower class index.
"""

from typing import Dict, List

import numpy as np

BONE_QUALITY_CANDIDATES = [
    {"method": "mean_probability"},
    {"method": "majority_vote"},
] + [{"method": "subtask_topk_mean", "k": k, "threshold": t} for t in (0.5, 0.65, 0.8) for k in (1, 2, 3, 5)]

POSTEROLATERAL_CANDIDATES = [{"method": "mean_probability"}] + [
    {"method": "topk_involvement_mean", "k": k} for k in (1, 2, 3, 5)]


def rule_name(rule: dict) -> str:
    parameters = ",".join(f"{key}={rule[key]}" for key in sorted(rule) if key != "method")
    return rule["method"] + (f"({parameters})" if parameters else "")


def describe_rule(bone_quality: dict, posterolateral: dict, chosen_by: str) -> dict:
    return {
        "rule": f"bone_quality={rule_name(bone_quality)}; posterolateral={rule_name(posterolateral)}",
        "bone_quality": dict(bone_quality),
        "posterolateral": dict(posterolateral),
        "slices": "every slice the spine finder assigned to the vertebra",
        "definition": __doc__.split("\n\n", 1)[1].strip(),
        "chosen_by": chosen_by,
    }


def subtask_thresholds(rule: dict):
    """(blastic threshold, lytic threshold) of a ``subtask_topk_mean`` rule: the pair
    ``blastic_threshold``/``lytic_threshold`` (model 0.4.1 on), or the older single ``threshold``
    for both. Raises ValueError naming the field that is missing, doubled or out of (0, 1)."""
    per_subtask = [key for key in ("blastic_threshold", "lytic_threshold") if key in rule]
    if per_subtask and "threshold" in rule:
        raise ValueError("subtask_topk_mean: give either threshold or blastic_threshold and lytic_threshold, "
                         "not both")
    if per_subtask and len(per_subtask) != 2:
        missing = ({"blastic_threshold", "lytic_threshold"} - set(per_subtask)).pop()
        raise ValueError(f"subtask_topk_mean: {missing} is missing (both subtask thresholds are needed)")
    keys = ("blastic_threshold", "lytic_threshold") if per_subtask else ("threshold", "threshold")
    values = []
    for key in keys:
        value = rule.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ValueError(f"subtask_topk_mean: {key} must be a number between 0 and 1, not {value!r}")
        values.append(float(value))
    return values[0], values[1]


def _top_k_mean(values: np.ndarray, k: int) -> float:
    k = min(k, len(values))
    return float(np.sort(values)[::-1][:k].mean())


def aggregate_bone_quality(rule: dict, blastic: np.ndarray, lytic: np.ndarray, q: np.ndarray) -> int:
    method = rule["method"]
    if method == "mean_probability":
        return int(np.argmax(q.mean(0)))
    if method == "majority_vote":
        votes = np.bincount(q.argmax(1), minlength=4)
        tied = np.flatnonzero(votes == votes.max())
        mean = q.mean(0)
        return int(tied[np.argmax(mean[tied])])
    if method == "subtask_topk_mean":
        blastic_threshold, lytic_threshold = subtask_thresholds(rule)
        is_blastic = _top_k_mean(blastic, rule["k"]) >= blastic_threshold
        is_lytic = _top_k_mean(lytic, rule["k"]) >= lytic_threshold
        return int(is_blastic) + 2 * int(is_lytic)   # normal 0, blastic 1, lytic 2, mixed 3
    raise ValueError(f"unknown bone-quality aggregation {method!r}")


def aggregate_posterolateral(rule: dict, r: np.ndarray) -> int:
    method = rule["method"]
    if method == "mean_probability":
        return int(np.argmax(r.mean(0)))
    if method == "topk_involvement_mean":
        k = min(rule["k"], len(r))
        order = np.argsort(-(1.0 - r[:, 0]), kind="stable")[:k]
        return int(np.argmax(r[order].mean(0)))
    raise ValueError(f"unknown posterolateral aggregation {method!r}")


def group_slices(keys: np.ndarray, slice_index: np.ndarray) -> List[np.ndarray]:
    """Sample indices per vertebra, each in slice order."""
    groups: Dict[int, list] = {}
    for n, key in enumerate(keys):
        groups.setdefault(int(key), []).append(n)
    return [np.array(sorted(g, key=lambda n: slice_index[n])) for _, g in sorted(groups.items())]
