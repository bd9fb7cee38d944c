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


def test_it_carries_a_fitted_gate_that_keeps_the_held_out_phantoms(shipped):
    module, metadata = shipped
    section = metadata["assessability"]
    assert section["version"] == "spinemet-assessability/1"
    gate = section["out_of_distribution"]
    assert gate["feature_dimension"] == module.ood_class_means.shape[1] == module.ood_precision.shape[0]
    assert module.ood_class_means.dtype == torch.float64 and module.ood_class_means.shape[0] == 4
    assert gate["validation"]["assessable_fraction"] >= 0.98
    assert gate["test"]["assessable_fraction"] >= 0.98
    assert gate["test"]["vertebra_scores"]["max"] <= gate["threshold"] or gate["test"]["assessable_fraction"] < 1
    assert section["domain"]["slice_thickness_mm"] == [1.0, 4.0]
    assert section["domain"]["pixel_spacing_mm"] == [0.5, 1.0]
    card = open(CARD).read()
    assert f"above **{gate['threshold']:.2f}**" in card
    assert gate["threshold_rule"] in card.replace("\n  ", " ")


def test_forward_with_features_gives_forward_and_the_gates_features(shipped):
    module, metadata = shipped
    size = metadata["preprocessing"]["input_size"]
    batch = torch.rand(2, metadata["preprocessing"]["channels"], size, size)
    plain, with_features = module(batch), module.forward_with_features(batch)
    for a, b in zip(plain, with_features[:4]):
        assert torch.equal(a, b)
    assert with_features[4].shape == (2, metadata["assessability"]["out_of_distribution"]["feature_dimension"])
