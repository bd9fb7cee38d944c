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
- ``subtask_topk_mean`` (k, threshold): B = mean of the min(k, n) largest pb_s, L = the same for
  pl_s; blastic = B >= threshold, lytic = L >= threshold; then the truth table (no/no normal,
  yes/no blastic, no/yes lytic, yes/yes mixed). k = 1 is the maximum over slices.
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
        is_blastic = _top_k_mean(blastic, rule["k"]) >= rule["threshold"]
        is_lytic = _top_k_mean(lytic, rule["k"]) >= rule["threshold"]
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
