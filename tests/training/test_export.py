# SPDX-License-Identifier: GPL-3.0-or-later
"""Export to TorchScript: reload gives identical outputs and the complete metadata."""
import subprocess
import sys

import torch

from spinemet_train.export import load_exported
from spinemet_train.metadata import missing_keys


def test_tiny_export_from_the_command_line_reloads_with_metadata(tmp_path):
    out = tmp_path / "tiny.pt"
    subprocess.run([sys.executable, "-m", "spinemet_train.export", "--tiny", "--out", str(out),
                    "--input-size", "40", "--channels", "3"], check=True)
    module, metadata = load_exported(str(out))
    assert missing_keys(metadata) == []
    assert metadata["contract"] == "spinemet-model/1"
    assert metadata["preprocessing"]["input_size"] == 40 and metadata["preprocessing"]["channels"] == 3
    assert metadata["outputs"] == ["blastic_logit", "lytic_logit", "bone_quality_logits", "posterolateral_logits"]
    assert metadata["classes"]["bone_quality"] == ["normal", "blastic", "lytic", "mixed"]
    outputs = module(torch.rand(2, 3, 40, 40))
    assert [tuple(t.shape) for t in outputs] == [(2,), (2,), (2, 4), (2, 3)]


def test_tiny_export_is_deterministic_from_its_seed(tmp_path):
    outputs = []
    for name in ("a.pt", "b.pt"):
        subprocess.run([sys.executable, "-m", "spinemet_train.export", "--tiny", "--seed", "3",
                        "--out", str(tmp_path / name)], check=True)
        module, _ = load_exported(str(tmp_path / name))
        outputs.append(module(torch.full((1, 1, 32, 32), 0.5)))
    for a, b in zip(*outputs):
        assert torch.equal(a, b)


def test_tiny_export_with_a_gate_carries_its_buffers_and_section(tmp_path):
    out = tmp_path / "tiny-gate.pt"
    subprocess.run([sys.executable, "-m", "spinemet_train.export", "--tiny", "--with-gate", "--out", str(out)],
                   check=True)
    module, metadata = load_exported(str(out))
    section = metadata["assessability"]
    assert section["version"] == "spinemet-assessability/1"
    gate = section["out_of_distribution"]
    assert gate["method"] == "mahalanobis" and gate["features_method"] == "forward_with_features"
    assert gate["vertebra_statistic"] == "median" and gate["threshold"] > 0
    d = gate["feature_dimension"]
    means, precision = getattr(module, gate["class_means_buffer"]), getattr(module, gate["precision_buffer"])
    assert means.dtype == torch.float64 and means.shape == (4, d)
    assert precision.dtype == torch.float64 and precision.shape == (d, d)
    assert torch.allclose(precision, precision.T)
    features = module.forward_with_features(torch.rand(2, 1, 32, 32))[4]
    assert features.shape == (2, d)


def test_the_gate_changes_nothing_in_forward(tmp_path):
    for name, extra in (("plain.pt", []), ("gated.pt", ["--with-gate"])):
        subprocess.run([sys.executable, "-m", "spinemet_train.export", "--tiny", "--out", str(tmp_path / name)]
                       + extra, check=True)
    plain, plain_metadata = load_exported(str(tmp_path / "plain.pt"))
    gated, _ = load_exported(str(tmp_path / "gated.pt"))
    assert "assessability" not in plain_metadata
    batch = torch.rand(3, 1, 32, 32)
    for a, b in zip(plain(batch), gated(batch)):
        assert torch.equal(a, b)
