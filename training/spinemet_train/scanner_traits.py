# SPDX-License-Identifier: GPL-3.0-or-later
"""What the model sees of normal vertebral bone, per real background (patient, scanner): marrow
HU, texture and noise, sharpness, and the through-plane smoothness of the channels, measured on
the crops spinemet-prep made (docs/evaluation.md, "Experiment: scanner augmentation").

    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.scanner_traits --data FOLDERS... [--pool LABEL]
        [--max-crops N] [--out traits.json]

Only lesion-free vertebrae, only slices the truth puts on a vertebra. Per crop (the centre channel,
back to HU through the preprocessing window):

- marrow: the vertebral body's interior. Bone is where the 5x5 mean is >= 100 HU; eroded by four
  pixels (about 4 mm), only the thick part of it survives (the body: the pedicles, laminae and
  processes are thinner), of which the largest connected part is the marrow; the erosion keeps it
  off the cortex. Crops with fewer than 80 marrow pixels (disc and endplate slices) are skipped.
- marrow_median_hu, marrow_iqr_hu: the level and spread of cancellous bone (texture and noise);
- marrow_highpass_std_hu: the standard deviation of the marrow minus its 3x3 binomial blur: fine
  texture plus noise, what a sharp kernel raises and a soft one smears;
- cortex_edge_hu_per_px: the 90th percentile of the gradient magnitude on the body's rim: a sharp
  kernel and thin slices give steep cortical edges, partial volume flattens them;
- channel_difference_hu: the median absolute difference between the centre channel and its
  neighbours (2 mm apart) within the marrow: small where a thick slice was interpolated to 2 mm;
- image_noise_hu (per study, spinemet-prep's measurement, the serving one) and the slice spacing.

Figures are medians over crops, and the range of the per-crop values (5th to 95th percentile).
"""

import argparse
import json
import sys
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from .data import load_samples
from .real_anatomy import background_name

BONE_HU = 100.0
EROSIONS = 4
MIN_MARROW_PIXELS = 80


def _dilate(mask: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(mask[None, None].float(), 3, 1, 1)[0, 0] > 0


def _erode(mask: torch.Tensor) -> torch.Tensor:
    return ~_dilate(~mask)


def largest_component(mask: torch.Tensor) -> torch.Tensor:
    """The largest 8-connected part of ``mask`` (labels spread by max-pooling until stable)."""
    if not mask.any():
        return mask
    labels = torch.where(mask, torch.arange(1, mask.numel() + 1, dtype=torch.float32).view(mask.shape),
                         torch.zeros(mask.shape))
    while True:
        spread = F.max_pool2d(labels[None, None], 3, 1, 1)[0, 0] * mask
        if torch.equal(spread, labels):
            break
        labels = spread
    values, counts = torch.unique(labels[mask], return_counts=True)
    return labels == values[counts.argmax()]


def marrow_mask(hu: np.ndarray) -> np.ndarray:
    image = torch.from_numpy(np.ascontiguousarray(hu, dtype=np.float32))[None, None]
    bone = F.avg_pool2d(F.pad(image, (2, 2, 2, 2), mode="replicate"), 5, 1)[0, 0] >= BONE_HU
    for _ in range(EROSIONS):
        bone = _erode(bone)
    return largest_component(bone).numpy()


def blur3(image: np.ndarray) -> np.ndarray:
    smooth = torch.tensor([0.25, 0.5, 0.25])
    kernel = (smooth[:, None] * smooth[None, :])[None, None]
    padded = F.pad(torch.from_numpy(np.ascontiguousarray(image))[None, None], (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kernel)[0, 0].numpy()


def crop_traits(crop: np.ndarray, preprocessing: dict):
    """Traits of one crop [C, H, W] in model input units, or None when no marrow is found."""
    low, high = preprocessing["window"]
    unit = crop * float(preprocessing["std"]) + float(preprocessing["mean"])
    hu = low + unit * (high - low)
    centre = hu[hu.shape[0] // 2]
    marrow = marrow_mask(centre)
    if marrow.sum() < MIN_MARROW_PIXELS:
        return None
    values = centre[marrow]
    rim = _dilate(torch.from_numpy(marrow)).numpy() & ~marrow
    rim = _dilate(_dilate(torch.from_numpy(rim))).numpy()
    gy, gx = np.gradient(centre)
    traits = {"marrow_median_hu": float(np.median(values)),
              "marrow_iqr_hu": float(np.subtract(*np.percentile(values, [75, 25]))),
              "marrow_highpass_std_hu": float((centre - blur3(centre))[marrow].std()),
              "cortex_edge_hu_per_px": float(np.percentile(np.hypot(gx, gy)[rim], 90))}
    if hu.shape[0] > 1:
        neighbours = [hu[c] for c in range(hu.shape[0]) if c != hu.shape[0] // 2]
        traits["channel_difference_hu"] = float(np.median(np.abs(np.stack(neighbours) - centre)[:, marrow]))
    return traits


def summarise(values):
    values = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(values)), "p5": float(np.percentile(values, 5)),
            "p95": float(np.percentile(values, 95))}


def traits_by_background(samples, max_crops_per_background: int = 400, pool: str = None) -> dict:
    rows = np.flatnonzero((samples.bone_quality == 0) & samples.on_vertebra)
    by_background = defaultdict(list)
    for row in rows:
        by_background[pool or background_name(samples.studies[samples.study[row]])].append(row)
    report = {}
    for name, members in sorted(by_background.items()):
        # Every seed of a hybrid background repeats its lesion-free slices: one copy of each slice.
        seen, unique = set(), []
        for row in members:
            study = samples.studies[samples.study[row]]
            key = (background_name(study), int(samples.slice_index[row]))
            if study.get("kind") == "hybrid" and key in seen:
                continue
            seen.add(key)
            unique.append(row)
        unique = unique[:: max(1, len(unique) // max_crops_per_background)]
        measured = [t for t in (crop_traits(samples.crops[row], samples.preprocessing) for row in unique) if t]
        studies = {int(samples.study[row]) for row in members}
        entry = {"crops": len(unique), "crops_with_marrow": len(measured),
                 "slice_spacing_mm": sorted({samples.studies[s].get("slice_spacing_mm") for s in studies}),
                 "image_noise_hu": summarise([samples.studies[s].get("input_measurements", {}).get("image_noise_hu",
                                                                                                   np.nan)
                                              for s in studies])}
        for key in (measured[0] if measured else {}):
            entry[key] = summarise([t[key] for t in measured])
        report[name] = entry
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", required=True, help="spinemet-prep output folders")
    parser.add_argument("--max-crops", type=int, default=400, help="crops measured per background at most")
    parser.add_argument("--pool", metavar="LABEL", help="one entry for all studies (e.g. phantoms), not one per background")
    parser.add_argument("--out", help="JSON to write")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    report = traits_by_background(load_samples(args.data), args.max_crops, args.pool)
    for name, entry in report.items():
        parts = [f"{key} {value['median']:.1f} [{value['p5']:.1f}, {value['p95']:.1f}]"
                 for key, value in entry.items() if isinstance(value, dict)]
        print(f"{name}: {entry['crops_with_marrow']} of {entry['crops']} crops, slice spacing "
              f"{entry['slice_spacing_mm']} mm; " + "; ".join(parts))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
