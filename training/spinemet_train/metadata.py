# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``spinemet.json`` document embedded in every exported model (docs/model-contract.md)."""

import datetime
from typing import Optional

from . import BONE_QUALITY_CLASSES, CONTRACT, OUTPUT_NAMES, POSTEROLATERAL_CLASSES
from .model import ModelConfig

REQUIRED_KEYS = ["contract", "name", "version", "architecture", "input", "preprocessing", "outputs",
                 "classes", "aggregation", "trained_on", "evaluation", "date", "intended_use"]
REQUIRED_PREPROCESSING_KEYS = ["input_size", "channels", "channel_spacing_mm", "crop_mm", "window",
                               "mean", "std"]

INTENDED_USE = ("research and demonstration only; not for clinical use; not a medical device. "
                "Trained and evaluated on synthetic lesions only (phantoms, or real lesion-free CT with "
                "lesions inserted), never on a real metastasis.")


def default_preprocessing(input_size: int = 64, channels: int = 1) -> dict:
    return {"input_size": input_size, "channels": channels, "channel_spacing_mm": 0.0 if channels == 1 else 2.0,
            "crop_mm": 100.0, "window": [-250.0, 1250.0], "mean": 0.0, "std": 1.0}


def architecture_description(config: ModelConfig, parameters: int) -> dict:
    backbone = config.backbone
    description = {
        "family": "densenet",
        "variant": config.variant,
        "backbone": "torchvision.models.densenet.DenseNet, random initialisation (no pretrained weights)",
        "growth_rate": backbone.growth_rate,
        "block_config": list(backbone.block_config),
        "num_init_features": backbone.num_init_features,
        "bn_size": backbone.bn_size,
        "drop_rate": backbone.drop_rate,
        "stem": backbone.stem,
        "in_channels": config.in_channels,
        "parameters": parameters,
    }
    if config.variant == "multitask":
        description["heads"] = {
            "blastic": "linear, 1 logit",
            "lytic": "linear, 1 logit",
            "bone_quality": ("MLP 2-%d-4 (ReLU) over [sigmoid(blastic_logit), sigmoid(lytic_logit)]" % config.fusion_hidden
                             if config.fusion == "mlp" else
                             "no MLP (ablation): log of the truth table over independent sub-task probabilities"),
            "posterolateral": "linear, 3 logits",
        }
    else:
        description["heads"] = {
            "bone_quality": "linear, 4 logits (plain four-class classifier)",
            "blastic": "derived: log-odds of P(blastic) + P(mixed)",
            "lytic": "derived: log-odds of P(lytic) + P(mixed)",
            "posterolateral": "not trained: constant zero logits (uniform probabilities)",
        }
    return description


DEFAULT_AGGREGATION = {
    "rule": "mean_probability",
    "definition": ("bone quality: softmax of bone_quality_logits per slice, averaged over the vertebra's "
                   "slices, argmax; posterolateral: softmax of posterolateral_logits averaged the same way, argmax"),
}


def build_metadata(config: ModelConfig, parameters: int, preprocessing: dict, *, name: str, version: str,
                   aggregation: Optional[dict] = None, trained_on: str, evaluation: Optional[dict] = None,
                   training: Optional[dict] = None, date: Optional[str] = None) -> dict:
    metadata = {
        "contract": CONTRACT,
        "name": name,
        "version": version,
        "architecture": architecture_description(config, parameters),
        "input": {"dtype": "float32", "layout": "NCHW",
                  "shape": ["N", preprocessing["channels"], preprocessing["input_size"], preprocessing["input_size"]]},
        "preprocessing": dict(preprocessing),
        "outputs": list(OUTPUT_NAMES),
        "classes": {"bone_quality": list(BONE_QUALITY_CLASSES), "posterolateral": list(POSTEROLATERAL_CLASSES)},
        "posterolateral_trained": config.variant == "multitask" and (training or {}).get("aux_task", True),
        "aggregation": dict(aggregation or DEFAULT_AGGREGATION),
        "trained_on": trained_on,
        "evaluation": evaluation if evaluation is not None else {"status": "not evaluated"},
        "date": date or datetime.date.today().isoformat(),
        "intended_use": INTENDED_USE,
        "model_config": config.to_json(),
    }
    if training is not None:
        metadata["training"] = training
    return metadata


def missing_keys(metadata: dict) -> list:
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    missing += ["preprocessing." + key for key in REQUIRED_PREPROCESSING_KEYS
                if key not in metadata.get("preprocessing", {})]
    return missing
