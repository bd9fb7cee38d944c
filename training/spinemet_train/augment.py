# SPDX-License-Identifier: GPL-3.0-or-later
"""Augmentation for axial CT crops, applied to a batch with an explicit generator (deterministic).

What varies between real acquisitions and between patients: position of the crop centre (the spine
finder's centre is not exact), small in-plane rotation (patient positioning, column curvature),
small scale (vertebra size, pixel spacing rounding), the HU calibration and window, noise, and the
slice thickness: with several channels (the neighbouring slices), mixing each channel with its
neighbours along z stands in for a thicker slice, whose partial volume dims a small lesion; the
reconstruction kernel (a sharp bone kernel makes normal trabecular bone look mottled, a soft one
smears it) is stood in for by an in-plane unsharp mask whose strength may be negative (a blur).
Scanner and protocol traits that reach normal bone (docs/evaluation.md, "Experiment: scanner
augmentation"): intravenous contrast raises the marrow's attenuation (red marrow and the
basivertebral venous plexus enhance) while fat and air do not move, so ``marrow_offset`` shifts
cancellous-bone pixels only; a slice thicker than about twice the channel spacing makes
spinemet-prep take every channel from the same slice (nearest slice, docs/crops-and-prep.md), and
that slice averages the bone over its thickness, so ``thick_slice_probability`` replaces the
channels by their mean, one image repeated, with one noise field for all of them. What must not
vary: left and right. A unilateral finding has a side, so there is no horizontal flip (and no
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
    marrow_offset_low_hu: float = 0.0   # an HU offset drawn in [low, high] for cancellous bone only
    marrow_offset_high_hu: float = 0.0  # (both 0: off)
    thick_slice_probability: float = 0.0  # share of samples made one thick slice repeated over the channels


# Cancellous bone for marrow_offset, judged on the 3x3-smoothed image (so that noise does not decide
# which pixel moves): full weight from 180 to 500 HU, ramping from 0 at 100 HU and back to 0 at 800
# HU. Soft tissue, fat, discs (<= 100 HU) and dense cortex (>= 800 HU) keep their values.
MARROW_RAMP_HU = (100.0, 180.0, 500.0, 800.0)


def _blur3(unit: torch.Tensor) -> torch.Tensor:
    """A 3x3 binomial blur of each channel, edges replicated."""
    smooth = torch.tensor([0.25, 0.5, 0.25], dtype=unit.dtype)
    kernel = (smooth[:, None] * smooth[None, :]).expand(unit.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(unit, (1, 1, 1, 1), mode="replicate"), kernel, groups=unit.shape[1])


def marrow_weight(hu: torch.Tensor) -> torch.Tensor:
    """0..1 per pixel: how much of a marrow offset a pixel of this (smoothed) HU takes."""
    start, full, fade, end = MARROW_RAMP_HU
    rising = ((hu - start) / (full - start)).clamp(0, 1)
    falling = ((end - hu) / (end - fade)).clamp(0, 1)
    return torch.minimum(rising, falling)


def shift_marrow(unit: torch.Tensor, offset_hu: torch.Tensor, window) -> torch.Tensor:
    """Adds ``offset_hu`` [N] (HU) to the cancellous bone of ``unit`` (window units [N, C, H, W])."""
    low, high = float(window[0]), float(window[1])
    weight = marrow_weight(low + _blur3(unit) * (high - low))
    return unit + weight * (offset_hu.view(-1, 1, 1, 1) / (high - low))


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
    if config.marrow_offset_high_hu != 0 or config.marrow_offset_low_hu != 0:
        if config.marrow_offset_low_hu > config.marrow_offset_high_hu:
            raise ValueError(f"marrow_offset_low_hu {config.marrow_offset_low_hu} is above marrow_offset_high_hu "
                             f"{config.marrow_offset_high_hu}")
        unit = shift_marrow(unit, uniform(config.marrow_offset_low_hu, config.marrow_offset_high_hu),
                            preprocessing["window"])
    unit = (unit - 0.5) * contrast + 0.5 + offset
    if config.slab_blur > 0 and unit.shape[1] > 1:
        # a 1-2-1 kernel along the channel (z) axis, the end channels repeated
        padded = torch.cat([unit[:, :1], unit, unit[:, -1:]], 1)
        blurred = 0.25 * padded[:, :-2] + 0.5 * padded[:, 1:-1] + 0.25 * padded[:, 2:]
        strength = uniform(0, config.slab_blur).view(n, 1, 1, 1)
        unit = (1 - strength) * unit + strength * blurred
    thick = torch.zeros(n, dtype=torch.bool)
    if config.thick_slice_probability > 0 and unit.shape[1] > 1:
        thick = torch.rand(n, generator=generator) < config.thick_slice_probability
        unit = torch.where(thick.view(n, 1, 1, 1), unit.mean(1, keepdim=True).expand_as(unit), unit)
    if config.kernel_sharpness > 0:
        strength = uniform(-config.kernel_sharpness, config.kernel_sharpness).view(n, 1, 1, 1)
        unit = unit + strength * (unit - _blur3(unit))
    sigma = uniform(0, config.noise_max).view(n, 1, 1, 1)
    noise = torch.randn(unit.shape, generator=generator)
    # One slice repeated over the channels carries one noise field.
    noise = torch.where(thick.view(n, 1, 1, 1), noise[:, :1].expand_as(noise), noise)
    unit = unit + sigma * noise
    unit = unit.clamp(0, 1)
    return (unit - mean) / std
