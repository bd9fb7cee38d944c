# SPDX-License-Identifier: GPL-3.0-or-later
"""Training configuration: a JSON file (training/configs/*.json) over these defaults."""

import json
from dataclasses import asdict, dataclass, field
from typing import Optional

from .augment import AugmentConfig
from .model import DENSENET121, BackboneConfig, ModelConfig
from .selfpaced import SelfPacedConfig


@dataclass
class LossConfig:
    # Per-sample loss = blastic * BCE + lytic * BCE + bone_quality * CE(fusion) + posterolateral * CE.
    # The sub-tasks carry the lesion evidence; the fusion CE teaches the MLP the truth table and
    # pushes the sub-task heads where the four-class decision needs it. Posterolateral weighs half:
    # it is the auxiliary task (and the SINS component with the simpler visual cue).
    blastic: float = 1.0
    lytic: float = 1.0
    bone_quality: float = 1.0
    posterolateral: float = 0.5
    label_smoothing: float = 0.1     # CE: torch's label_smoothing; BCE: targets eps/2 and 1 - eps/2


@dataclass
class TrainConfig:
    name: str = "spinemet"
    version: str = "0.1.0"
    seed: int = 1
    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 12
    batch_size: int = 64
    samples_per_epoch: Optional[int] = None   # None: as many as training samples (drawn with replacement)
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    loss: LossConfig = field(default_factory=LossConfig)
    # Class balancing: the sampler draws each bone-quality class equally often; the posterolateral
    # CE weighs its classes by inverse frequency (normalised to mean 1).
    balance: bool = True
    # The share of each epoch's draws that come from studies on a real CT background (prep kind
    # "hybrid"), classes balanced within each source; None draws from all studies alike. Real
    # backgrounds are few next to phantoms, and they are what teaches real normal bone.
    real_background_share: Optional[float] = None
    slice_targets: str = "vertebra_where_visible"   # data.SampleSet.slice_targets (docs/training.md)
    aux_task: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    self_paced: SelfPacedConfig = field(default_factory=SelfPacedConfig)
    threads: int = 2

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(data: dict) -> "TrainConfig":
        data = dict(data)
        known = set(TrainConfig.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        config = TrainConfig(**{k: v for k, v in data.items()
                                if k not in ("model", "loss", "augment", "self_paced")})
        if "model" in data:
            config.model = ModelConfig.from_json(data["model"])
        config.loss = LossConfig(**data.get("loss", {}))
        config.augment = AugmentConfig(**data.get("augment", {}))
        config.self_paced = SelfPacedConfig(**data.get("self_paced", {}))
        return config


def load_config(path: Optional[str]) -> TrainConfig:
    if not path:
        return TrainConfig()
    with open(path) as f:
        return TrainConfig.from_json(json.load(f))


def apply_ablations(config: TrainConfig, *, no_fusion_mlp=False, no_aux_task=False, no_self_paced=False,
                    baseline_densenet121=False, baseline=False, densenet121=False) -> TrainConfig:
    if no_fusion_mlp:
        config.model.fusion = "product"
    if no_aux_task:
        config.aux_task = False
    if no_self_paced:
        config.self_paced.mode = "off"
    if baseline_densenet121:
        baseline = densenet121 = True
    if densenet121:
        config.model.backbone = BackboneConfig(**asdict(DENSENET121))
    if baseline:
        config.model.variant = "baseline"
    return config
