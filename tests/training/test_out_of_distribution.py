# SPDX-License-Identifier: GPL-3.0-or-later
"""The out-of-distribution gate's fit (spinemet_train.mahalanobis, spinemet_train.out_of_distribution):
the arithmetic against a plain re-derivation, a shifted distribution scores above held-out
in-distribution data, the threshold rule, and the fit-and-re-export command on prep-format data."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import fakeprep
from spinemet_train.export import export_tiny, load_exported
from spinemet_train.mahalanobis import (crop_scores, fit_class_statistics, ledoit_wolf_shrinkage, threshold_rule,
                                        vertebra_scores)
from spinemet_train.out_of_distribution import phantom_domain, rebuild_eager


def gaussian_classes(rng, n_per_class, means, covariance_root):
    features, classes = [], []
    for c, mean in enumerate(means):
        features.append(mean + rng.standard_normal((n_per_class, len(mean))) @ covariance_root)
        classes.append(np.full(n_per_class, c))
    return np.concatenate(features), np.concatenate(classes)


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(5)
    d = 12
    means = rng.normal(0, 3, (4, d))
    root = rng.normal(0, 1, (d, d)) / np.sqrt(d) + np.eye(d)
    train = gaussian_classes(rng, 400, means, root)
    held_out = gaussian_classes(rng, 100, means, root)
    return {"rng": rng, "means": means, "root": root, "train": train, "held_out": held_out}


def test_scores_are_the_smallest_class_mahalanobis_distance(synthetic):
    features, classes = synthetic["train"]
    means, precision, _ = fit_class_statistics(features, classes)
    rows = synthetic["held_out"][0][:7]
    expected = [min(np.sqrt((f - mu) @ precision @ (f - mu)) for mu in means) for f in rows]
    np.testing.assert_allclose(crop_scores(rows, means, precision), expected, rtol=1e-10)
    np.testing.assert_allclose(means[2], features[classes == 2].mean(0), rtol=1e-12)


def test_a_shifted_distribution_scores_higher_than_held_out_in_distribution_data(synthetic):
    features, classes = synthetic["train"]
    means, precision, _ = fit_class_statistics(features, classes)
    held_out = crop_scores(synthetic["held_out"][0], means, precision)
    rng = synthetic["rng"]
    shifted_means = synthetic["means"] + rng.normal(0, 1.5, synthetic["means"].shape)
    shifted = crop_scores(gaussian_classes(rng, 100, shifted_means, synthetic["root"])[0], means, precision)
    scaled = crop_scores(gaussian_classes(rng, 100, synthetic["means"], 2.5 * synthetic["root"])[0], means, precision)
    threshold = threshold_rule(held_out, 0.99, 1.0)
    assert np.median(shifted) > np.quantile(held_out, 0.9)
    assert np.median(scaled) > threshold
    assert (held_out <= threshold).mean() >= 0.99
    assert (scaled > threshold).mean() > 0.8


def test_shrinkage_makes_a_singular_covariance_invertible():
    rng = np.random.default_rng(1)
    # Fewer samples than dimensions and a dead feature: the sample covariance is singular.
    features = np.concatenate([rng.normal(size=(20, 30)), np.zeros((20, 1))], axis=1)
    classes = np.arange(20) % 2
    means, precision, shrinkage = fit_class_statistics(features, classes)
    assert 0 < shrinkage <= 1
    assert np.isfinite(precision).all()
    np.testing.assert_allclose(precision, precision.T)
    assert np.linalg.eigvalsh(precision).min() > 0
    # Plenty of samples of a strongly anisotropic covariance: little to shrink; an isotropic one is
    # the target itself, so nearly all of it is shrinkage.
    anisotropic = rng.normal(size=(5000, 10)) * np.linspace(1, 10, 10)
    assert ledoit_wolf_shrinkage(anisotropic - anisotropic.mean(0)) < 0.02
    isotropic = rng.normal(size=(5000, 10))
    assert ledoit_wolf_shrinkage(isotropic - isotropic.mean(0)) > 0.5


def test_fit_refuses_a_class_without_samples():
    with pytest.raises(ValueError, match="class 1 has no samples"):
        fit_class_statistics(np.random.default_rng(0).normal(size=(10, 3)), np.array([0] * 5 + [2] * 5))


def test_threshold_rule_is_margin_times_the_quantile():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert threshold_rule(values, 0.5, 2.0) == pytest.approx(6.0)
    assert threshold_rule(values, 1.0, 1.25) == pytest.approx(6.25)
    assert threshold_rule(values, 0.75, 1.0) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        threshold_rule(values, 0.99, 0.9)
    with pytest.raises(ValueError):
        threshold_rule([], 0.99, 1.2)


def test_vertebra_score_is_the_median_of_its_crops():
    scores = np.array([1.0, 9.0, 2.0, 5.0, 5.0, 7.0])
    keys = np.array([10, 10, 10, 11, 11, 12])
    assert vertebra_scores(scores, keys) == {10: 2.0, 11: 5.0, 12: 7.0}


def test_phantom_domain_covers_the_seen_and_unseen_acquisitions():
    assert phantom_domain() == {"slice_thickness_mm": [1.0, 4.0], "pixel_spacing_mm": [0.5, 1.0]}


def test_rebuild_refuses_a_file_whose_weights_do_not_match_its_configuration(tmp_path):
    path = str(tmp_path / "tiny.pt")
    export_tiny(path)
    model, _ = rebuild_eager(path)
    scripted, metadata = load_exported(path)
    # Same shapes, other numbers: the rebuilt model's outputs differ from the file's.
    metadata["model_config"]["fusion"] = "product"
    torch.jit.save(scripted, str(tmp_path / "lying.pt"), _extra_files={"spinemet.json": json.dumps(metadata)})
    with pytest.raises(RuntimeError, match="differs from the file's"):
        rebuild_eager(str(tmp_path / "lying.pt"))


def test_fit_command_re_exports_with_the_gate_and_keeps_the_rest(tmp_path):
    fakeprep.write_studies(str(tmp_path / "train"), range(6))
    fakeprep.write_studies(str(tmp_path / "val"), [20, 21, 22])
    fakeprep.write_studies(str(tmp_path / "test"), [30, 31])
    # A study from another world: inverted, noisier crops.
    shifted = fakeprep.write_study(str(tmp_path / "shifted" / "study-900"), 900)
    crops = np.load(os.path.join(shifted, "crops.npy"))
    rng = np.random.default_rng(3)
    np.save(os.path.join(shifted, "crops.npy"),
            (1.0 - crops + rng.normal(0, 0.3, crops.shape)).astype(np.float32))

    model = str(tmp_path / "tiny.pt")
    export_tiny(model)
    out, report = str(tmp_path / "gated.pt"), str(tmp_path / "report.json")
    subprocess.run([sys.executable, "-m", "spinemet_train.out_of_distribution", "fit", "--model", model,
                    "--train", str(tmp_path / "train"), "--val", str(tmp_path / "val"),
                    "--test", str(tmp_path / "test"), "--version", "0.0.1", "--phantom-domain",
                    "--require-test-fraction", "0", "--out", out, "--report", report], check=True)
    _, before = load_exported(model)
    module, after = load_exported(out)
    assert after["version"] == "0.0.1"
    for key in ("evaluation", "aggregation", "training", "architecture", "preprocessing", "model_config"):
        assert after[key] == before[key], key
    section = after["assessability"]
    gate = section["out_of_distribution"]
    figures = json.load(open(report))
    assert gate["threshold"] == pytest.approx(figures["threshold"])
    assert gate["threshold"] == pytest.approx(1.25 * np.quantile(
        list(crop_vertebra_scores(module, gate, str(tmp_path / "val")).values()), 0.99))
    assert section["domain"] == phantom_domain()
    assert gate["validation"]["assessable_fraction"] == 1.0
    assert figures["train"]["slices_per_class"] == np.bincount(
        [c for c in figures_classes(tmp_path / "train")], minlength=4).tolist()
    # forward is untouched by the re-export.
    batch = torch.rand(2, 1, 32, 32)
    original, _ = load_exported(model)
    for a, b in zip(original(batch), module(batch)):
        assert torch.equal(a, b)

    scores = str(tmp_path / "scores.json")
    subprocess.run([sys.executable, "-m", "spinemet_train.out_of_distribution", "score", "--model", out,
                    "--data", str(tmp_path / "shifted"), str(tmp_path / "val"), "--json", scores], check=True)
    studies = {os.path.basename(s["folder"]): s for s in json.load(open(scores))["studies"]}
    val_max = max(s["vertebra_scores"]["max"] for name, s in studies.items() if name != "study-900")
    assert studies["study-900"]["vertebra_scores"]["min"] > val_max
    assert studies["study-900"]["assessable_fraction"] == 0.0


def crop_vertebra_scores(module, gate, folder):
    from spinemet_train.data import load_samples
    from spinemet_train.out_of_distribution import score_split
    samples = load_samples([folder])
    return score_split(module, samples, getattr(module, gate["class_means_buffer"]).numpy(),
                       getattr(module, gate["precision_buffer"]).numpy())["vertebra_scores"]


def figures_classes(folder):
    """The classes the fit must use for the tiny model (default slice targets: vertebra_where_visible)."""
    from spinemet_train.data import load_samples
    targets = load_samples([str(folder)]).slice_targets("vertebra_where_visible")
    return targets.bone_quality[targets.mask]


def test_image_noise_domain_is_the_measured_range_widened():
    from types import SimpleNamespace
    from spinemet_train.out_of_distribution import image_noise_domain
    train = SimpleNamespace(studies=[{"input_measurements": {"image_noise_hu": 20.0}},
                                     {"input_measurements": {"image_noise_hu": 24.0}}])
    test = SimpleNamespace(studies=[{"input_measurements": {"image_noise_hu": 16.0}}, {}])
    assert image_noise_domain([train, test], 0.25) == [12.0, 30.0]
    assert image_noise_domain([SimpleNamespace(studies=[{}])], 0.25) is None


def test_fit_refuses_a_threshold_that_rejects_the_test_split(tmp_path):
    from spinemet_train.data import load_samples
    from spinemet_train.out_of_distribution import fit
    fakeprep.write_studies(str(tmp_path / "train"), range(4))
    fakeprep.write_studies(str(tmp_path / "val"), [20, 21])
    path = str(tmp_path / "tiny.pt")
    export_tiny(path)
    model, metadata = rebuild_eager(path)
    train, val = load_samples([str(tmp_path / "train")]), load_samples([str(tmp_path / "val")])
    gate, report = fit(model, metadata, train, val, val, required_test_fraction=0.98)
    assert report["test"]["assessable_fraction"] >= 0.98
    assert gate.threshold == pytest.approx(report["threshold"])
    # A quantile of 0.5 without margin leaves half the validation vertebrae above the threshold.
    with pytest.raises(RuntimeError, match="keeps only"):
        fit(model, metadata, train, val, val, quantile=0.5, margin=1.0, required_test_fraction=0.98)


def test_reexport_keeps_the_gate_and_the_metadata(tmp_path):
    gated = str(tmp_path / "gated.pt")
    export_tiny(gated, with_gate=True)
    out = str(tmp_path / "again.pt")
    subprocess.run([sys.executable, "-m", "spinemet_train.out_of_distribution", "reexport", "--model", gated,
                    "--version", "0.0.2", "--out", out], check=True)
    old, before = load_exported(gated)
    new, after = load_exported(out)
    assert after["version"] == "0.0.2"
    assert after["assessability"] == before["assessability"]
    assert torch.equal(old.ood_precision, new.ood_precision) and torch.equal(old.ood_class_means, new.ood_class_means)
    batch = torch.rand(3, 1, 32, 32)
    a, b = old.forward_with_features(batch), new.forward_with_features(batch)
    for x, y in zip(a, b):
        assert torch.allclose(x, y, atol=1e-6)
