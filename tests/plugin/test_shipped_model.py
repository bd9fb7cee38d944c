# SPDX-License-Identifier: GPL-3.0-or-later
"""The product end to end with the shipped demo model: the fixed phantom check of the model card
(training/spinemet_train/fixed_check.py: the first studies of the held-out test split) sent to a
real Orthanc with storescu; the REST results match the phantoms' ground truth at the vertebra level
as well as the card says. Synthetic phantoms: this says nothing about patients."""

import os

from orthanc_server import storescu
from phantom_cli import generate_phantom
from plugin_fixtures import ROOT, source_series_id, spinemet_orthanc, wait_for_state
from spinemet_train.export import load_exported
from spinemet_train.fixed_check import CHECK_SEEDS
from spinemet_train.make_dataset import SPLITS, phantom_arguments

SHIPPED_MODEL = os.path.join(ROOT, "Resources", "model", "spinemet-demo.pt")
TOLERANCE = 0.05     # as in tests/training/test_shipped_model.py


def test_rest_results_match_the_ground_truth_as_well_as_the_model_card_says(tmp_path):
    _, metadata = load_exported(SHIPPED_MODEL)
    recorded = metadata["evaluation"]["fixed_phantom_check"]
    _, _, ranges = SPLITS["test"]
    truths = [generate_phantom(tmp_path / f"check-{seed}", *phantom_arguments("test", seed, ranges))
              for seed in CHECK_SEEDS]

    pairs = []
    with spinemet_orthanc(SHIPPED_MODEL, Threads=2) as orthanc:
        for seed in CHECK_SEEDS:      # one association each: their transfer syntaxes differ
            storescu(orthanc, tmp_path / f"check-{seed}")
        for truth in truths:
            series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
            status = wait_for_state(orthanc, series_id, timeout=600)
            assert status["State"] == "done", status
            assert status["Model"] == f"{metadata['name']} {metadata['version']}"
            found = status["Result"]["vertebrae"]
            assert len(found) == len(truth["vertebrae"])
            pairs += zip(found, truth["vertebrae"])

    assert len(pairs) == recorded["vertebrae"]
    # The check phantoms are drawn like the training data: the gate must let every vertebra through.
    withheld = [(f["display_name"], f["not_assessable_reasons"]) for f, _ in pairs if not f["assessable"]]
    assert not withheld, withheld
    bone_quality = sum(f["bone_quality"]["class"] == t["bone_quality"] for f, t in pairs) / len(pairs)
    posterolateral = sum(f["posterolateral"]["class"] == t["posterolateral"] for f, t in pairs) / len(pairs)
    assert bone_quality >= recorded["vertebra_bone_quality_accuracy"] - TOLERANCE, bone_quality
    assert posterolateral >= recorded["vertebra_posterolateral_accuracy"] - TOLERANCE, posterolateral
