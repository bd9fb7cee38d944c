# SPDX-License-Identifier: GPL-3.0-or-later
"""The SpineMet classifiers (docs/model-contract.md, docs/training.md).

Both models return the contract's tuple ``(blastic_logit [N], lytic_logit [N],
bone_quality_logits [N, 4], posterolateral_logits [N, 3])`` so that every variant exports to the
same TorchScript interface.

- ``MultiTaskDenseNet``: the published method. One hard-shared torchvision DenseNet backbone
  (random initialisation: no pretrained weights are available here), two binary sub-task heads
  ("is it blastic?", "is it lytic?"), a small MLP that fuses the two sub-task probabilities into the
  four bone-quality classes, and a posterolateral-involvement head (none/unilateral/bilateral).
- ``FourClassDenseNet``: the paper's baseline, a plain DenseNet four-class classifier. Its sub-task
  logits are derived from its four classes, its posterolateral output is constant (not trained).

Both also export ``forward_with_features``: forward's four outputs plus ``[N, D]`` features for the
out-of-distribution gate (out_of_distribution.py): the channel means and standard deviations after
the stem and after the first dense block, then the backbone's pooled features. It is a
second TorchScript method rather than a fifth output of ``forward`` so that ``forward`` keeps the
contract's four outputs for every consumer that knows nothing of the gate.
"""

from dataclasses import asdict, dataclass, field
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.densenet import DenseNet


@dataclass
class BackboneConfig:
    growth_rate: int = 32
    block_config: List[int] = field(default_factory=lambda: [6, 12, 24, 16])
    num_init_features: int = 64
    bn_size: int = 4
    drop_rate: float = 0.0
    # "imagenet": torchvision's 7x7/2 convolution + 3x3/2 max-pool (input / 4 before block 1), for
    # inputs of 128 px and more. "small": 3x3/1 convolution + 2x2/2 max-pool (input / 2), so that
    # 64-96 px crops keep enough resolution for small lesions.
    stem: str = "imagenet"


# DenseNet-121 as in Huang et al. and torchvision's densenet121: the configuration of the paper.
DENSENET121 = BackboneConfig()


@dataclass
class ModelConfig:
    variant: str = "multitask"          # "multitask" or "baseline" (plain four-class DenseNet)
    in_channels: int = 1
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    fusion: str = "mlp"                 # "mlp" (published) or "product" (ablation: fixed truth table)
    fusion_hidden: int = 16

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(data: dict) -> "ModelConfig":
        data = dict(data)
        backbone = BackboneConfig(**data.pop("backbone", {}))
        backbone.block_config = list(backbone.block_config)
        return ModelConfig(backbone=backbone, **data)


class DenseNetBackbone(nn.Module):
    """torchvision's DenseNet feature extractor, with the first convolution adapted to C channels
    and, for small crops, a lighter stem. Returns one feature vector per image."""

    def __init__(self, config: BackboneConfig, in_channels: int):
        super().__init__()
        densenet = DenseNet(growth_rate=config.growth_rate,
                            block_config=tuple(config.block_config),
                            num_init_features=config.num_init_features,
                            bn_size=config.bn_size,
                            drop_rate=config.drop_rate)
        features = densenet.features
        if config.stem == "imagenet":
            features.conv0 = nn.Conv2d(in_channels, config.num_init_features, kernel_size=7,
                                       stride=2, padding=3, bias=False)
        elif config.stem == "small":
            features.conv0 = nn.Conv2d(in_channels, config.num_init_features, kernel_size=3,
                                       stride=1, padding=1, bias=False)
            features.pool0 = nn.MaxPool2d(kernel_size=2, stride=2)
        else:
            raise ValueError(f"unknown stem {config.stem!r} (expected 'imagenet' or 'small')")
        nn.init.kaiming_normal_(features.conv0.weight)
        self.features = features
        self.num_features = densenet.classifier.in_features
        # Where the out-of-distribution statistics are taken: after the stem and after the first
        # dense block, where the features still describe texture; deeper blocks are what the
        # pooled features already summarise. (Two taps also keep the gate's covariance small:
        # 544 features for the demo backbone, 1664 for DenseNet-121.)
        names = [name for name, _ in features.named_children()]
        self.statistics_taps: List[int] = [names.index("pool0"), names.index("denseblock1")]
        first_block = config.num_init_features + config.block_config[0] * config.growth_rate
        tapped = [config.num_init_features, first_block] if len(config.block_config) > 1 else [config.num_init_features]
        if len(config.block_config) == 1:
            self.statistics_taps = self.statistics_taps[:1]
        self.statistics_dimension = 2 * sum(tapped) + self.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    @torch.jit.export
    def forward_with_statistics(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The pooled features (as forward) and, for the out-of-distribution gate, those features
        preceded by the mean and standard deviation of every channel over the image at each tap
        (after the stem, after the first dense block).

        The penultimate features alone encode mostly what the heads need: a real vertebra can land
        near a phantom class mean there. The earlier layers' channel means and deviations describe
        texture (Huang & Belongie's "style statistics"), where real trabecular bone and the
        phantom's synthetic texture differ most (docs/assessability.md)."""
        statistics: List[torch.Tensor] = []
        index = 0
        for layer in self.features:
            x = layer(x)
            if index in self.statistics_taps:
                flat = torch.flatten(x, 2)
                mean = flat.mean(dim=2)
                statistics.append(mean)
                statistics.append(channel_std(flat, mean))
            index += 1
        features = torch.flatten(F.adaptive_avg_pool2d(F.relu(x), 1), 1)
        statistics.append(features)
        return features, torch.cat(statistics, dim=1)


def channel_std(flat: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """``flat.std(dim=2)`` (unbiased) written out in two passes. LibTorch 1.13's CPU ``std`` kernel
    is about 18 times slower on [16, 128, 576] float32 (6.9 ms against 0.4 ms on one thread,
    benchmarks/README.md, "Out-of-distribution gate"), which made it most of the gate's cost;
    the two agree within 1e-7 on such features."""
    centred = flat - mean.unsqueeze(2)
    count = flat.shape[2]
    return ((centred * centred).sum(dim=2) / max(count - 1, 1)).sqrt()


class FusionMLP(nn.Module):
    """The published fusion: the two sub-task probabilities in, four bone-quality logits out.

    Input is ``[sigmoid(blastic_logit), sigmoid(lytic_logit)]`` only, so the four-class decision is a
    function of the two sub-task predictions as in the paper (truth table no/no normal, yes/no
    blastic, no/yes lytic, yes/yes mixed); the MLP learns that table and its soft boundaries."""

    def __init__(self, hidden: int = 16):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 4))

    def forward(self, blastic_probability: torch.Tensor, lytic_probability: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.stack([blastic_probability, lytic_probability], dim=1))


def truth_table_logits(blastic_logit: torch.Tensor, lytic_logit: torch.Tensor) -> torch.Tensor:
    """The fusion without an MLP (ablation): the truth table applied to independent sub-task
    probabilities, log P(normal) = log(1-pb) + log(1-pl), and so on. No parameters."""
    log_b = F.logsigmoid(blastic_logit)
    log_not_b = F.logsigmoid(-blastic_logit)
    log_l = F.logsigmoid(lytic_logit)
    log_not_l = F.logsigmoid(-lytic_logit)
    return torch.stack([log_not_b + log_not_l, log_b + log_not_l, log_not_b + log_l, log_b + log_l], dim=1)


class MultiTaskDenseNet(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.backbone = DenseNetBackbone(config.backbone, config.in_channels)
        features = self.backbone.num_features
        self.blastic_head = nn.Linear(features, 1)
        self.lytic_head = nn.Linear(features, 1)
        self.posterolateral_head = nn.Linear(features, 3)
        self.use_mlp = config.fusion == "mlp"
        if config.fusion not in ("mlp", "product"):
            raise ValueError(f"unknown fusion {config.fusion!r} (expected 'mlp' or 'product')")
        self.fusion = FusionMLP(config.fusion_hidden)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.heads(self.backbone(x))

    @torch.jit.export
    def forward_with_features(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                torch.Tensor, torch.Tensor]:
        features, statistics = self.backbone.forward_with_statistics(x)
        blastic_logit, lytic_logit, bone_quality, posterolateral = self.heads(features)
        return blastic_logit, lytic_logit, bone_quality, posterolateral, statistics

    def heads(self, features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        blastic_logit = self.blastic_head(features).squeeze(1)
        lytic_logit = self.lytic_head(features).squeeze(1)
        if self.use_mlp:
            bone_quality = self.fusion(torch.sigmoid(blastic_logit), torch.sigmoid(lytic_logit))
        else:
            bone_quality = truth_table_logits(blastic_logit, lytic_logit)
        posterolateral = self.posterolateral_head(features)
        return blastic_logit, lytic_logit, bone_quality, posterolateral


class FourClassDenseNet(nn.Module):
    """The baseline: a plain DenseNet with one four-class head (normal, blastic, lytic, mixed).

    To honour the contract its sub-task logits are the exact log-odds of the four-class softmax,
    blastic = P(blastic) + P(mixed) and lytic = P(lytic) + P(mixed); its posterolateral logits are
    zeros (uniform probabilities): the baseline does not model that task."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.backbone = DenseNetBackbone(config.backbone, config.in_channels)
        self.classifier = nn.Linear(self.backbone.num_features, 4)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.heads(self.backbone(x))

    @torch.jit.export
    def forward_with_features(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                torch.Tensor, torch.Tensor]:
        features, statistics = self.backbone.forward_with_statistics(x)
        blastic_logit, lytic_logit, logits, posterolateral = self.heads(features)
        return blastic_logit, lytic_logit, logits, posterolateral, statistics

    def heads(self, features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = self.classifier(features)
        normal, blastic, lytic, mixed = logits[:, 0], logits[:, 1], logits[:, 2], logits[:, 3]
        blastic_logit = torch.logaddexp(blastic, mixed) - torch.logaddexp(normal, lytic)
        lytic_logit = torch.logaddexp(lytic, mixed) - torch.logaddexp(normal, blastic)
        posterolateral = torch.zeros(logits.shape[0], 3, dtype=logits.dtype, device=logits.device)
        return blastic_logit, lytic_logit, logits, posterolateral


def build_model(config: ModelConfig) -> nn.Module:
    if config.variant == "multitask":
        return MultiTaskDenseNet(config)
    if config.variant == "baseline":
        return FourClassDenseNet(config)
    raise ValueError(f"unknown model variant {config.variant!r} (expected 'multitask' or 'baseline')")


def tiny_model_config(in_channels: int = 1) -> ModelConfig:
    """A DenseNet small enough for unit tests and the C++ engine's test models (about 2k parameters)."""
    return ModelConfig(in_channels=in_channels,
                       backbone=BackboneConfig(growth_rate=4, block_config=[2, 2], num_init_features=8,
                                               bn_size=2, stem="small"))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
