# SPDX-License-Identifier: GPL-3.0-or-later
"""Augmentation for axial CT crops, applied to a batch with an explicit generator (deterministic).

What varies between real acquisitions and between patients: position of the crop centre (the spine
finder's centre is not exact), small in-plane rotation (patient positioning, column curvature),
small scale (vertebra size, pixel spacing rounding), the HU calibration and window, noise, and the
slice thickness: with several channels (the neighbouring slices), mixing each channel with its
neighbours along z stands in for a thicker slice, whose partial volume dims a small lesion; the
reconstruction kernel (a sharp bone kernel makes normal trabecular bone look mottled, a soft one
smears it) is stood in for by an in-plane unsharp mask whose strength may be negative (a blur). What
must not vary: left and right. A unilateral finding has a side, so there is no horizontal flip (and no
vertical flip either: anterior/posterior is anatomy).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentConfig:
    enabled: bool = True
    shift_fraction: float = 0.06      # up to +-6% of the crop side (6 mm of a 100 mm crop)
    rotation_degrees: float = 10.0
    scale: float = 0.08               # zoom in [1 - scale, 1 + scale]
    window_shift: float = 0.02        # in window units: 0.02 x 1500 HU = 30 HU offset
    window_scale: float = 0.06        # contrast factor in [1 - w, 1 + w]
    noise_max: float = 0.02           # Gaussian noise sigma drawn in [0, noise_max] window units
    slab_blur: float = 0.0            # z mixing strength drawn in [0, slab_blur] (0: off; needs channels > 1)
    kernel_sharpness: float = 0.0     # in-plane unsharp/blur strength drawn in [-k, k] (0: off)


def augment(batch: torch.Tensor, preprocessing: dict, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """``batch`` is normalised model input [N, C, H, W]; returns an augmented copy."""
    if not config.enabled:
        return batch
    n = batch.shape[0]
    mean, std = float(preprocessing["mean"]), float(preprocessing["std"])
    unit = batch * std + mean        # back to window units [0, 1], where air/below-window is 0

    def uniform(low, high):
        return low + (high - low) * torch.rand(n, generator=generator)

    angle = uniform(-config.rotation_degrees, config.rotation_degrees) * math.pi / 180
    zoom = uniform(1 - config.scale, 1 + config.scale)
    shift_x = uniform(-config.shift_fraction, config.shift_fraction) * 2   # affine grid spans [-1, 1]
    shift_y = uniform(-config.shift_fraction, config.shift_fraction) * 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1)
    grid = F.affine_grid(theta, list(unit.shape), align_corners=False)
    unit = F.grid_sample(unit, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    offset = uniform(-config.window_shift, config.window_shift).view(n, 1, 1, 1)
    contrast = uniform(1 - config.window_scale, 1 + config.window_scale).view(n, 1, 1, 1)
    unit = (unit - 0.5) * contrast + 0.5 + offset
    if config.slab_blur > 0 and unit.shape[1] > 1:
        # a 1-2-1 kernel along the channel (z) axis, the end channels repeated
        padded = torch.cat([unit[:, :1], unit, unit[:, -1:]], 1)
        blurred = 0.25 * padded[:, :-2] + 0.5 * padded[:, 1:-1] + 0.25 * padded[:, 2:]
        strength = uniform(0, config.slab_blur).view(n, 1, 1, 1)
        unit = (1 - strength) * unit + strength * blurred
    if config.kernel_sharpness > 0:
        smooth = torch.tensor([0.25, 0.5, 0.25])
        kernel = (smooth[:, None] * smooth[None, :]).expand(unit.shape[1], 1, 3, 3)
        blurred = F.conv2d(F.pad(unit, (1, 1, 1, 1), mode="replicate"), kernel, groups=unit.shape[1])
        strength = uniform(-config.kernel_sharpness, config.kernel_sharpness).view(n, 1, 1, 1)
        unit = unit + strength * (unit - blurred)
    sigma = uniform(0, config.noise_max).view(n, 1, 1, 1)
    unit = unit + sigma * torch.randn(unit.shape, generator=generator)
    unit = unit.clamp(0, 1)
    return (unit - mean) / std
