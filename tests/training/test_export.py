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
