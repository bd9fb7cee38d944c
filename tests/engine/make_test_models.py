# SPDX-License-Identifier: GPL-3.0-or-later
"""Test models for the engine tests, written into a build folder at test time (never committed).

- tiny.pt               the training package's tiny random-weight export (the real contract)
- tiny-3ch.pt           the same with three stacked channels
- no-metadata.pt        valid TorchScript without the embedded spinemet.json
- wrong-outputs.pt      honest metadata, but forward() returns three tensors
- wrong-shape.pt        honest metadata, but bone_quality_logits is [N, 5]
- bad-metadata.pt       a correct model whose spinemet.json names another contract
- unknown-rule.pt       a correct model whose aggregation rule is unknown to the engine
- garbage.pt            random bytes
- tiny-gate.pt          tiny.pt's weights (same seed) with an out-of-distribution gate fitted on random
                        crops (export --tiny --with-gate)
- gate-missing-buffer.pt tiny-gate.pt whose metadata names a precision buffer the module lacks
- gate-wrong-dimension.pt tiny-gate.pt whose metadata says feature_dimension 17 (the buffers are 64)
- gate-float32.pt       tiny-gate.pt with its buffers stored as float32
- gate-no-method.pt     a contract-honouring forward with the gate's buffers but no
                        forward_with_features, and metadata that asks for it
- reference-inputs.npy  fixed crops [N, 1, 32, 32] float32
- reference-outputs.npy tiny.pt's probabilities per crop [N, 9] float32 in the order
                        P(blastic), P(lytic), bone quality (4, softmax), posterolateral (3, softmax)
- gate-reference-scores.npy tiny-gate.pt's Mahalanobis score per reference crop [N] float32
                        (spinemet_train.mahalanobis.crop_scores, float64, on the reloaded file's
                        features and buffers)
- aggregation-cases.json random vertebrae with the class each of the training package's
                        aggregation rules gives them (spinemet_train.aggregation)

    PYTHONPATH=training /usr/bin/python3 tests/engine/make_test_models.py OUT_DIR
"""

import json
import os
import sys
from typing import Tuple

import numpy as np
import torch

from spinemet_train import aggregation
from spinemet_train.export import METADATA_FILE, export_tiny, load_exported
from spinemet_train.mahalanobis import CLASS_MEANS_BUFFER, PRECISION_BUFFER, crop_scores


class ThreeOutputs(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        return x.mean(dim=[1, 2, 3]), x.mean(dim=[1, 2, 3]), torch.zeros(n, 4)


class WrongWidth(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        return torch.zeros(n), torch.zeros(n), torch.zeros(n, 5), torch.zeros(n, 3)


class NoFeaturesMethod(torch.nn.Module):
    """forward honours the contract; the gate's buffers are there; forward_with_features is not."""

    def __init__(self, means: torch.Tensor, precision: torch.Tensor):
        super().__init__()
        self.register_buffer(CLASS_MEANS_BUFFER, means)
        self.register_buffer(PRECISION_BUFFER, precision)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        return torch.zeros(n), torch.zeros(n), torch.zeros(n, 4), torch.zeros(n, 3)


def save(module: torch.nn.Module, path: str, metadata=None) -> None:
    scripted = torch.jit.script(module)
    extra = {METADATA_FILE: json.dumps(metadata)} if metadata is not None else {}
    torch.jit.save(scripted, path, _extra_files=extra)


def main(out: str) -> int:
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    metadata = export_tiny(os.path.join(out, "tiny.pt"), input_size=32, channels=1, seed=0)
    export_tiny(os.path.join(out, "tiny-3ch.pt"), input_size=32, channels=3, seed=1)

    save(ThreeOutputs(), os.path.join(out, "no-metadata.pt"))
    save(ThreeOutputs(), os.path.join(out, "wrong-outputs.pt"), metadata)
    save(WrongWidth(), os.path.join(out, "wrong-shape.pt"), metadata)
    model, _ = load_exported(os.path.join(out, "tiny.pt"))
    save(model, os.path.join(out, "bad-metadata.pt"), dict(metadata, contract="spinemet-model/0"))
    save(model, os.path.join(out, "unknown-rule.pt"), dict(metadata, aggregation={"rule": "median_of_modes"}))
    with open(os.path.join(out, "garbage.pt"), "wb") as f:
        f.write(np.random.default_rng(7).bytes(4096))

    # Crops spread over the window's range and beyond, as real normalised crops are.
    generator = torch.Generator().manual_seed(1234)
    inputs = torch.rand(12, 1, 32, 32, generator=generator) * 1.4 - 0.2
    with torch.no_grad():
        blastic, lytic, bone_quality, posterolateral = model(inputs)
    reference = torch.cat([torch.sigmoid(blastic)[:, None], torch.sigmoid(lytic)[:, None],
                           torch.softmax(bone_quality, 1), torch.softmax(posterolateral, 1)], dim=1)
    np.save(os.path.join(out, "reference-inputs.npy"), inputs.numpy().astype(np.float32))
    np.save(os.path.join(out, "reference-outputs.npy"), reference.numpy().astype(np.float32))
    write_gate_models(out, inputs)
    write_aggregation_cases(os.path.join(out, "aggregation-cases.json"))
    return 0


def write_gate_models(out: str, inputs: torch.Tensor) -> None:
    gate_metadata = export_tiny(os.path.join(out, "tiny-gate.pt"), input_size=32, channels=1, seed=0, with_gate=True)
    gated, _ = load_exported(os.path.join(out, "tiny-gate.pt"))
    means, precision = getattr(gated, CLASS_MEANS_BUFFER), getattr(gated, PRECISION_BUFFER)
    with torch.no_grad():
        features = gated.forward_with_features(inputs)[4]
    scores = crop_scores(features.numpy(), means.numpy(), precision.numpy())
    np.save(os.path.join(out, "gate-reference-scores.npy"), scores.astype(np.float32))

    def with_gate_fields(**fields):
        document = json.loads(json.dumps(gate_metadata))
        document["assessability"]["out_of_distribution"].update(fields)
        return document

    save(gated, os.path.join(out, "gate-missing-buffer.pt"), with_gate_fields(precision_buffer="ood_absent"))
    save(gated, os.path.join(out, "gate-wrong-dimension.pt"), with_gate_fields(feature_dimension=17))
    single, _ = load_exported(os.path.join(out, "tiny-gate.pt"))
    setattr(single, PRECISION_BUFFER, precision.float())
    save(single, os.path.join(out, "gate-float32.pt"), gate_metadata)
    save(NoFeaturesMethod(means, precision), os.path.join(out, "gate-no-method.pt"), gate_metadata)


# subtask_topk_mean with a threshold per subtask (model 0.4.1 on): not among the candidates the
# training package chooses by balanced accuracy, so listed here for the agreement check.
PER_SUBTASK_RULES = [{"method": "subtask_topk_mean", "k": k, "blastic_threshold": b, "lytic_threshold": l}
                     for k in (1, 3) for b, l in ((0.3, 0.7), (0.8, 0.45), (0.55, 0.55))]


def write_aggregation_cases(path: str) -> None:
    """Random vertebrae, and what every candidate rule of the training package makes of them.
    Probabilities are rounded to float32 first, as the engine sees them."""
    rng = np.random.default_rng(2024)
    cases = []
    for _ in range(60):
        n = int(rng.integers(1, 13))
        blastic = rng.random(n).astype(np.float32)
        lytic = rng.random(n).astype(np.float32)
        q = rng.dirichlet([0.7] * 4, n).astype(np.float32)
        r = rng.dirichlet([0.7] * 3, n).astype(np.float32)
        case = {"blastic": blastic.tolist(), "lytic": lytic.tolist(), "bone_quality": q.tolist(),
                "posterolateral": r.tolist(), "bone_quality_rules": [], "posterolateral_rules": []}
        for rule in aggregation.BONE_QUALITY_CANDIDATES + PER_SUBTASK_RULES:
            case["bone_quality_rules"].append(
                {"rule": rule, "class": aggregation.aggregate_bone_quality(rule, blastic, lytic, q)})
        for rule in aggregation.POSTEROLATERAL_CANDIDATES:
            case["posterolateral_rules"].append({"rule": rule, "class": aggregation.aggregate_posterolateral(rule, r)})
        cases.append(case)
    with open(path, "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
