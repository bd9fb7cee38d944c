# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes small study folders in the spinemet-prep format (spinemet-samples/1), with crops drawn so
that the labels can be learnt: a grey body, a bright spot for blastic, a dark hole for lytic (both
for mixed), bright blobs at the lower left / right corner for posterolateral involvement. As in a
phantom, the end slices of a vertebra miss its lesions, and the second slice of a mixed vertebra
shows only its blastic part; the visibility flags say so."""
import json
import os

import numpy as np

CLASSES = ["normal", "blastic", "lytic", "mixed"]
POSTEROLATERAL = ["none", "unilateral", "bilateral"]


def draw(rng, size, bone_quality, posterolateral, side):
    yy, xx = np.mgrid[0:size, 0:size] / size
    crop = np.where((xx - 0.5) ** 2 + (yy - 0.4) ** 2 < 0.09, 0.35, 0.1).astype(np.float32)
    cx, cy = 0.5 + rng.uniform(-0.1, 0.1), 0.4 + rng.uniform(-0.1, 0.1)
    if bone_quality in (1, 3):
        crop[(xx - cx + 0.08) ** 2 + (yy - cy) ** 2 < 0.006] = 0.9
    if bone_quality in (2, 3):
        crop[(xx - cx - 0.08) ** 2 + (yy - cy) ** 2 < 0.006] = 0.0
    sides = {0: [], 1: [side], 2: ["left", "right"]}[posterolateral]
    for s in sides:
        x = 0.8 if s == "left" else 0.2  # columns run to the patient's left
        crop[(xx - x) ** 2 + (yy - 0.8) ** 2 < 0.01] = 0.8
    crop += rng.normal(0, 0.03, crop.shape).astype(np.float32)
    return crop


def write_study(folder, seed, vertebrae=8, slices_per_vertebra=5, size=32, channels=1):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    preprocessing = {"input_size": size, "channels": channels, "channel_spacing_mm": 0 if channels == 1 else 2,
                     "crop_mm": 100, "window": [-250, 1250], "mean": 0.0, "std": 1.0}
    crops, samples, vertebra_entries = [], [], []
    slice_index = 0
    for v in range(vertebrae):
        bone_quality = int((seed + v) % 4)
        posterolateral = int((seed * 3 + v) % 3) if bone_quality else 0
        side = "left" if (seed + v) % 2 else "right"
        first = slice_index
        for k in range(slices_per_vertebra):
            edge = k in (0, slices_per_vertebra - 1)
            shown = 0 if edge else 1 if (bone_quality == 3 and k == 1) else bone_quality
            crop = draw(rng, size, shown, 0 if edge else posterolateral, side)
            crops.append(np.repeat(crop[None], channels, axis=0))
            samples.append({
                "crop_index": len(samples), "slice_index": slice_index, "z_mm": -2.5 * slice_index,
                "sop_instance_uid": f"1.2.3.{seed}.{slice_index}", "vertebra_index": v,
                "vertebra_level": None, "truth_vertebra_index": v, "truth_vertebra_level": None,
                "slice_truth": "disc" if k == 0 else "vertebra",
                "bone_quality": CLASSES[bone_quality], "bone_quality_index": bone_quality,
                "blastic": int(bone_quality in (1, 3)), "lytic": int(bone_quality in (2, 3)),
                "posterolateral": POSTEROLATERAL[posterolateral], "posterolateral_index": posterolateral,
                "posterolateral_side": side if posterolateral == 1 else None,
                "lesion_visible": shown > 0, "blastic_lesion_visible": shown in (1, 3),
                "lytic_lesion_visible": shown in (2, 3),
                "posterolateral_lesion_visible": posterolateral > 0 and not edge})
            slice_index += 1
        vertebra_entries.append({"index": v, "level": None, "first_slice": first, "last_slice": slice_index - 1,
                                 "crops": slices_per_vertebra, "bone_quality": CLASSES[bone_quality],
                                 "bone_quality_index": bone_quality, "posterolateral_index": posterolateral})
    array = np.stack(crops).astype(np.float32)
    np.save(os.path.join(folder, "crops.npy"), array)
    with open(os.path.join(folder, "samples.json"), "w") as f:
        json.dump({"format": "spinemet-samples/1", "spinemet_version": "0.1.0",
                   "crops": {"file": "crops.npy", "shape": list(array.shape), "dtype": "float32"},
                   "preprocessing": preprocessing,
                   "study": {"kind": "phantom", "name": os.path.basename(folder), "seed": seed},
                   "samples": samples, "vertebrae": vertebra_entries}, f)
    return folder


def write_studies(root, seeds, **kwargs):
    return [write_study(os.path.join(root, f"study-{seed:03d}"), seed, **kwargs) for seed in seeds]
