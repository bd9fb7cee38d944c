# SPDX-License-Identifier: GPL-3.0-or-later
"""The out-of-distribution gate's arithmetic (docs/model-contract.md, "assessability"): class means
and a shared, shrunk covariance of backbone features, the class-conditional Mahalanobis score of a
crop (Lee et al., NeurIPS 2018) and the median of a vertebra's crop scores.

Kept free of data-set and export code so that export.py (the reload check) and
out_of_distribution.py (the fit) compute the very same score, and so does the C++ engine
(Engine.cpp mirrors ``crop_scores`` with LibTorch ops, tested against this file's output).
"""

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np
import torch

ASSESSABILITY_VERSION = "spinemet-assessability/1"
FEATURES_METHOD = "forward_with_features"
CLASS_MEANS_BUFFER = "ood_class_means"
PRECISION_BUFFER = "ood_precision"


@dataclass
class GateStatistics:
    """What the gate needs at serving time, and what the metadata says about how it was fitted."""
    class_means: np.ndarray              # float64 [K, D]
    precision: np.ndarray                # float64 [D, D], inverse of the shrunk shared covariance
    threshold: float                     # vertebra score above which a vertebra is not assessable
    documentation: Dict[str, object] = field(default_factory=dict)   # fitted_on, threshold_rule, ...
    domain: Optional[Dict[str, list]] = None                        # assessability.domain, when known

    @property
    def feature_dimension(self) -> int:
        return int(self.class_means.shape[1])


def ledoit_wolf_shrinkage(centred: np.ndarray) -> float:
    """Ledoit and Wolf's (2004) estimate of the intensity s in (1 - s) S + s (tr S / D) I for
    centred rows ``centred`` [N, D]. It is chosen from the data rather than by hand because the
    feature covariance of a ReLU network is close to singular (dead or nearly constant channels),
    and how close depends on the model."""
    n, d = centred.shape
    squared = centred ** 2
    variances = squared.sum(0) / n
    mu = variances.sum() / d
    beta_sum = float((squared.T @ squared).sum())
    delta_sum = float(((centred.T @ centred) ** 2).sum()) / n ** 2
    beta = (beta_sum / n - delta_sum) / (d * n)
    delta = (delta_sum - 2 * mu * variances.sum() + d * mu ** 2) / d
    beta = min(beta, delta)
    return 0.0 if beta <= 0 else float(beta / delta)


def fit_class_statistics(features: np.ndarray, classes: np.ndarray, shrinkage=None, minimum_shrinkage: float = 0.0):
    """Class means [K, D] (K = max class + 1; a class without samples is refused) and the precision
    of the shared within-class covariance, shrunk towards a scaled identity. ``shrinkage`` None:
    Ledoit-Wolf, at least ``minimum_shrinkage``; a number: that intensity.
    Returns (class_means, precision, shrinkage used)."""
    features = np.asarray(features, dtype=np.float64)
    classes = np.asarray(classes, dtype=np.int64)
    if features.ndim != 2 or len(features) != len(classes):
        raise ValueError(f"features must be [N, D] with one class per row, not {features.shape} and {classes.shape}")
    count = int(classes.max()) + 1
    means = np.zeros((count, features.shape[1]))
    centred = np.empty_like(features)
    for c in range(count):
        rows = classes == c
        if not rows.any():
            raise ValueError(f"class {c} has no samples to fit its mean on")
        means[c] = features[rows].mean(0)
        centred[rows] = features[rows] - means[c]
    covariance = centred.T @ centred / len(features)
    intensity = max(ledoit_wolf_shrinkage(centred), minimum_shrinkage) if shrinkage is None else float(shrinkage)
    if not 0 <= intensity <= 1:
        raise ValueError(f"shrinkage must be in [0, 1], not {intensity}")
    d = features.shape[1]
    target = np.trace(covariance) / d
    if target <= 0:
        raise ValueError("the features do not vary at all: no covariance can be fitted")
    shrunk = (1 - intensity) * covariance + intensity * target * np.eye(d)
    precision = np.linalg.inv(shrunk)
    # Symmetric to the last bit, so that C++ and Python agree whatever the summation order.
    precision = 0.5 * (precision + precision.T)
    return means, precision, intensity


def crop_scores(features, class_means, precision) -> np.ndarray:
    """min over classes c of sqrt((f - mu_c)^T P (f - mu_c)), float64, one per row of ``features``."""
    f = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    mu = torch.as_tensor(np.asarray(class_means), dtype=torch.float64)
    p = torch.as_tensor(np.asarray(precision), dtype=torch.float64)
    difference = f[:, None, :] - mu[None, :, :]                        # [N, K, D]
    squared = ((difference @ p) * difference).sum(-1)                  # [N, K]
    return squared.clamp_min(0).sqrt().min(1).values.numpy()


def vertebra_scores(scores: np.ndarray, vertebra_keys: np.ndarray) -> Dict[int, float]:
    """The median of each vertebra's crop scores (the gate's ``vertebra_statistic``), by key."""
    result = {}
    for key in np.unique(vertebra_keys):
        result[int(key)] = float(np.median(scores[vertebra_keys == key]))
    return result


def threshold_rule(in_distribution_vertebra_scores, quantile: float, margin: float) -> float:
    """``margin`` times the ``quantile`` of held-out in-distribution vertebra scores (linear
    interpolation between order statistics, numpy's default)."""
    values = np.asarray(list(in_distribution_vertebra_scores), dtype=np.float64)
    if len(values) == 0:
        raise ValueError("no in-distribution vertebra scores to set the threshold from")
    if not 0 < quantile <= 1 or margin < 1:
        raise ValueError(f"quantile must be in (0, 1] and margin >= 1, not {quantile} and {margin}")
    return float(margin * np.quantile(values, quantile))


def assessability_section(gate: GateStatistics) -> dict:
    """The metadata's "assessability" object for ``gate`` (docs/model-contract.md)."""
    out_of_distribution = {
        "method": "mahalanobis",
        "features_method": FEATURES_METHOD,
        "feature_dimension": gate.feature_dimension,
        "class_means_buffer": CLASS_MEANS_BUFFER,
        "precision_buffer": PRECISION_BUFFER,
        "vertebra_statistic": "median",
        "threshold": float(gate.threshold),
    }
    for key, value in gate.documentation.items():
        out_of_distribution.setdefault(key, value)
    section = {"version": ASSESSABILITY_VERSION, "out_of_distribution": out_of_distribution}
    if gate.domain:
        section["domain"] = dict(gate.domain)
    return section


def attach_buffers(model: torch.nn.Module, gate: GateStatistics) -> None:
    """Registers the gate's statistics as float64 buffers, so that they travel inside the
    TorchScript file (and its state_dict) with the weights they were fitted on."""
    features = getattr(getattr(model, "backbone", None), "statistics_dimension", gate.feature_dimension)
    if features != gate.feature_dimension:
        raise ValueError(f"the gate was fitted on {gate.feature_dimension} features, the model gives {features}")
    if gate.precision.shape != (gate.feature_dimension, gate.feature_dimension):
        raise ValueError(f"precision must be [{gate.feature_dimension}, {gate.feature_dimension}], "
                         f"not {list(gate.precision.shape)}")
    model.register_buffer(CLASS_MEANS_BUFFER, torch.as_tensor(gate.class_means, dtype=torch.float64).clone())
    model.register_buffer(PRECISION_BUFFER, torch.as_tensor(gate.precision, dtype=torch.float64).clone())


def without_gate_buffers(state_dict: dict) -> dict:
    return {k: v for k, v in state_dict.items() if k not in (CLASS_MEANS_BUFFER, PRECISION_BUFFER)}
