# SPDX-License-Identifier: GPL-3.0-or-later
"""Batched inference over a crop array, for training-time validation and evaluation."""

import numpy as np
import torch


@torch.no_grad()
def predict(model, crops: np.ndarray, batch_size: int = 256, device: str = "cpu") -> dict:
    """Returns numpy arrays: blastic_probability [N], lytic_probability [N],
    bone_quality_probabilities [N, 4], posterolateral_probabilities [N, 3]."""
    was_training = getattr(model, "training", False)
    model.eval()
    parts = {"blastic_probability": [], "lytic_probability": [], "bone_quality_probabilities": [],
             "posterolateral_probabilities": []}
    for start in range(0, len(crops), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(crops[start:start + batch_size])).to(device)
        blastic, lytic, bone_quality, posterolateral = model(batch)
        parts["blastic_probability"].append(torch.sigmoid(blastic).cpu().numpy())
        parts["lytic_probability"].append(torch.sigmoid(lytic).cpu().numpy())
        parts["bone_quality_probabilities"].append(bone_quality.softmax(1).cpu().numpy())
        parts["posterolateral_probabilities"].append(posterolateral.softmax(1).cpu().numpy())
    if was_training:
        model.train()
    return {key: np.concatenate(value) for key, value in parts.items()}
