# SPDX-License-Identifier: GPL-3.0-or-later
"""The models' shapes follow docs/model-contract.md, for every variant and ablation."""
import pytest
import torch

from spinemet_train.model import (BackboneConfig, FusionMLP, ModelConfig, build_model, tiny_model_config,
                                  truth_table_logits)


def small_config(**changes):
    config = tiny_model_config()
    for key, value in changes.items():
        setattr(config, key, value)
    return config


@pytest.mark.parametrize("config", [
    small_config(),
    small_config(fusion="product"),
    small_config(variant="baseline"),
    small_config(in_channels=3),
    ModelConfig(in_channels=1, backbone=BackboneConfig(growth_rate=4, block_config=[1, 1, 1, 1],
                                                       num_init_features=8, stem="imagenet")),
], ids=["multitask", "no-fusion-mlp", "baseline", "three-channels", "imagenet-stem"])
def test_outputs_have_contract_shapes(config):
    torch.manual_seed(0)
    model = build_model(config).eval()
    batch = torch.rand(5, config.in_channels, 64, 64)
    outputs = model(batch)
    assert len(outputs) == 4
    assert [tuple(t.shape) for t in outputs] == [(5,), (5,), (5, 4), (5, 3)]
    assert all(t.dtype == torch.float32 for t in outputs)
    assert all(torch.isfinite(t).all() for t in outputs)


def test_fusion_mlp_maps_two_probabilities_to_four_logits():
    mlp = FusionMLP(hidden=16)
    assert mlp.layers[0].in_features == 2
    assert mlp.layers[-1].out_features == 4
    assert tuple(mlp(torch.rand(7), torch.rand(7)).shape) == (7, 4)


def test_truth_table_without_mlp_is_a_distribution_over_the_four_classes():
    blastic, lytic = torch.tensor([8.0, 8.0, -8.0, -8.0]), torch.tensor([-8.0, 8.0, 8.0, -8.0])
    probabilities = truth_table_logits(blastic, lytic).exp()
    assert torch.allclose(probabilities.sum(1), torch.ones(4), atol=1e-5)
    assert probabilities.argmax(1).tolist() == [1, 3, 2, 0]  # blastic, mixed, lytic, normal


def test_baseline_sub_task_logits_are_log_odds_of_its_four_classes():
    torch.manual_seed(1)
    model = build_model(small_config(variant="baseline")).eval()
    blastic, lytic, four, posterolateral = model(torch.rand(4, 1, 32, 32))
    p = four.softmax(1)
    assert torch.allclose(torch.sigmoid(blastic), p[:, 1] + p[:, 3], atol=1e-5)
    assert torch.allclose(torch.sigmoid(lytic), p[:, 2] + p[:, 3], atol=1e-5)
    assert torch.count_nonzero(posterolateral) == 0


def test_unknown_settings_are_rejected_with_their_name():
    with pytest.raises(ValueError, match="stem"):
        build_model(ModelConfig(backbone=BackboneConfig(stem="huge")))
    with pytest.raises(ValueError, match="variant"):
        build_model(ModelConfig(variant="resnet"))


@pytest.mark.parametrize("variant", ["multitask", "baseline"])
def test_forward_with_features_is_forward_plus_the_backbone_features_scripted(variant):
    torch.manual_seed(0)
    config = small_config(variant=variant)
    model = build_model(config).eval()
    scripted = torch.jit.script(model)
    batch = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        plain = scripted(batch)
        with_features = scripted.forward_with_features(batch)
        backbone = model.backbone(batch)
    assert len(plain) == 4 and len(with_features) == 5
    for a, b in zip(plain, with_features[:4]):
        assert torch.equal(a, b)
    # Texture statistics of the stem and the first block, then the pooled features themselves.
    assert with_features[4].shape == (3, model.backbone.statistics_dimension)
    assert model.backbone.statistics_dimension > model.backbone.num_features
    assert torch.allclose(with_features[4][:, -model.backbone.num_features:], backbone, atol=1e-6)
    stem = model.backbone.features[:4](batch)
    assert torch.allclose(with_features[4][:, :stem.shape[1]], stem.flatten(2).mean(2), atol=1e-6)


def test_channel_std_is_torch_std():
    from spinemet_train.model import channel_std
    torch.manual_seed(3)
    flat = torch.relu(torch.randn(4, 16, 81) * 2 + 1)
    assert torch.allclose(channel_std(flat, flat.mean(dim=2)), flat.std(dim=2), atol=1e-6, rtol=1e-6)
    scripted = torch.jit.script(channel_std)
    assert torch.allclose(scripted(flat, flat.mean(dim=2)), flat.std(dim=2), atol=1e-6, rtol=1e-6)
