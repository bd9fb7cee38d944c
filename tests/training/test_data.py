# SPDX-License-Identifier: GPL-3.0-or-later
"""The spinemet-prep reader (format spinemet-samples/1) and the augmentation."""
import json

import numpy as np
import pytest
import torch

import fakeprep
from spinemet_train.augment import AugmentConfig, augment
from spinemet_train.data import DataError, describe, load_samples


def test_reads_study_folders_below_a_root(tmp_path):
    fakeprep.write_studies(str(tmp_path / "root"), [1, 2, 3], vertebrae=4, slices_per_vertebra=5)
    samples = load_samples([str(tmp_path / "root")])
    assert len(samples) == 60 and samples.crops.shape == (60, 1, 32, 32)
    summary = describe(samples)
    assert summary["studies"] == 3 and summary["vertebrae"] == 12
    assert sum(summary["vertebrae_by_bone_quality"]) == 12
    # the first slice of each vertebra is a disc slice: not in the loss, but kept for vertebra level
    assert samples.on_vertebra.sum() == 48
    mask = samples.training_mask("exclude")
    assert not (mask & ~samples.on_vertebra).any()
    assert not (mask & (samples.bone_quality > 0) & (samples.lesion_visible == 0)).any()
    assert mask.sum() < samples.training_mask("keep").sum()


def test_refuses_mixed_preprocessing_and_bad_shapes(tmp_path):
    fakeprep.write_study(str(tmp_path / "a"), 1, size=32)
    fakeprep.write_study(str(tmp_path / "b"), 2, size=24)
    with pytest.raises(DataError, match="preprocessing"):
        load_samples([str(tmp_path / "a"), str(tmp_path / "b")])
    np.save(tmp_path / "a" / "crops.npy", np.zeros((3, 1, 32, 32), np.float32))
    with pytest.raises(DataError, match="3 crops but 40 samples"):
        load_samples([str(tmp_path / "a")])
    with pytest.raises(DataError, match="no samples.json"):
        (tmp_path / "empty").mkdir()
        load_samples([str(tmp_path / "empty")])


def test_refuses_unknown_format(tmp_path):
    folder = fakeprep.write_study(str(tmp_path / "a"), 1)
    document = json.load(open(f"{folder}/samples.json"))
    document["format"] = "spinemet-samples/9"
    json.dump(document, open(f"{folder}/samples.json", "w"))
    with pytest.raises(DataError, match="spinemet-samples/9"):
        load_samples([folder])


def test_augmentation_is_deterministic_and_keeps_left_and_right():
    preprocessing = {"mean": 0.0, "std": 1.0}
    batch = torch.zeros(64, 1, 32, 32)
    batch[:, :, 10:22, 24:30] = 0.8        # a bright finding on the patient's left (high columns)
    config = AugmentConfig()
    a = augment(batch, preprocessing, config, torch.Generator().manual_seed(5))
    b = augment(batch, preprocessing, config, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert not torch.equal(a, batch)
    left, right = a[..., 16:].sum(dim=(1, 2, 3)), a[..., :16].sum(dim=(1, 2, 3))
    assert bool((left > 3 * right).all())  # no horizontal flip, ever
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_posterolateral_loss_is_masked_where_the_pedicle_lesion_does_not_show(tmp_path):
    fakeprep.write_studies(str(tmp_path), [1, 2], vertebrae=6)
    samples = load_samples([str(tmp_path)])
    targets = samples.posterolateral_targets("exclude")
    masked = targets == -1
    assert masked.any()
    assert bool((samples.posterolateral[masked] > 0).all() and (samples.posterolateral_visible[masked] == 0).all())
    assert (samples.posterolateral_targets("keep") >= 0).all()


def test_held_out_split_uses_unseen_acquisitions_and_half_hard_lesions():
    from spinemet_train.make_dataset import SPLITS, phantom_arguments

    def drawn(split):
        first, count, ranges = SPLITS[split]
        return [dict(zip(a[::2], a[1::2])) for a in (phantom_arguments(split, first + n, ranges) for n in range(count))]

    seen = drawn("train") + drawn("val")
    test = drawn("test")
    assert len(test) >= 20
    for key in ("--pixel-spacing", "--slice-thickness", "--transfer-syntax"):
        assert not {a[key] for a in seen} & {a[key] for a in test}, key
    difficulties = [a["--difficulty"] for a in test]
    assert difficulties.count("hard") == difficulties.count("normal") == len(test) // 2
    assert sum(a["--difficulty"] == "hard" for a in seen) >= len(seen) // 2
    assert not {a["--seed"] for a in seen} & {a["--seed"] for a in test}
