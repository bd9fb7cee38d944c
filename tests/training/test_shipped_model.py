# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped demo model (Resources/model/spinemet-demo.pt): it loads, its metadata is complete
and honest, and it classifies a fixed small phantom set (made here with the real spinemet-phantom
and spinemet-prep) at the vertebra level as its card says, within tolerance."""
import os

import pytest
import torch

from conftest import SOURCE_DIR
from spinemet_train.export import load_exported
from spinemet_train.fixed_check import run_check
from spinemet_train.metadata import missing_keys

MODEL = os.path.join(SOURCE_DIR, "Resources", "model", "spinemet-demo.pt")
CARD = os.path.join(SOURCE_DIR, "Resources", "model", "MODEL_CARD.md")


@pytest.fixture(scope="module")
def shipped():
    return load_exported(MODEL)


def test_file_is_small_and_metadata_complete_and_honest(shipped):
    module, metadata = shipped
    assert os.path.getsize(MODEL) < 5 * 1024 * 1024
    assert missing_keys(metadata) == []
    assert metadata["contract"] == "spinemet-model/1" and metadata["name"] == "spinemet-demo"
    assert "synthetic CT phantoms" in metadata["trained_on"]
    assert "not for clinical use" in metadata["intended_use"]
    vertebra = metadata["evaluation"]["vertebra_level"]
    assert set(vertebra["bone_quality_sensitivity"]) == {"normal", "blastic", "lytic", "mixed"}
    assert "phantoms" in metadata["evaluation"]["note"]
    assert metadata["aggregation"]["rule"].startswith("bone_quality=")
    size = metadata["preprocessing"]["input_size"]
    outputs = module(torch.zeros(2, metadata["preprocessing"]["channels"], size, size))
    assert [tuple(t.shape) for t in outputs] == [(2,), (2,), (2, 4), (2, 3)]


def test_model_card_states_the_figures_of_the_metadata(shipped):
    _, metadata = shipped
    card = open(CARD).read()
    assert "not for clinical use" in card.lower() and "synthetic" in card.lower()
    sensitivity = metadata["evaluation"]["vertebra_level"]["bone_quality_sensitivity"]
    for name in ("blastic", "lytic", "mixed"):
        assert f"{sensitivity[name]:.3f}" in card


def test_fixed_phantom_set_is_classified_as_recorded(shipped, tmp_path):
    _, metadata = shipped
    recorded = metadata["evaluation"]["fixed_phantom_check"]
    measured = run_check(MODEL, os.environ["SPINEMET_PHANTOM"], os.environ["SPINEMET_PREP"], str(tmp_path))
    assert measured["vertebrae"] == recorded["vertebrae"]
    for key in ("vertebra_bone_quality_accuracy", "vertebra_posterolateral_accuracy"):
        assert measured[key] == pytest.approx(recorded[key], abs=0.05), key
