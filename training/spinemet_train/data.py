# SPDX-License-Identifier: GPL-3.0-or-later
"""Reads ``spinemet-prep`` output (format ``spinemet-samples/1``, docs/crops-and-prep.md).

A data argument is either one study folder (holding ``samples.json`` + ``crops.npy``) or a folder
whose sub-folders (searched recursively) are study folders. All studies of one data set must have
been made with the same preprocessing: it is what the model metadata will say.
"""

import json
import os
from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

SAMPLES_FORMAT = "spinemet-samples/1"


class DataError(Exception):
    pass


def find_study_folders(paths: Sequence[str]) -> List[str]:
    folders = []
    for path in paths:
        if not os.path.isdir(path):
            raise DataError(f"{path}: not a folder")
        found = sorted(root for root, _, files in os.walk(path) if "samples.json" in files)
        if not found:
            raise DataError(f"{path}: no samples.json below it (expected spinemet-prep output)")
        folders += found
    return folders


@dataclass
class SampleSet:
    """All crops and labels of some studies, one row per crop (arrays of equal length)."""
    crops: np.ndarray              # float32 [N, C, H, W]
    bone_quality: np.ndarray       # int64 [N], 0..3, -1 unknown
    blastic: np.ndarray            # int64 [N], 0/1, -1 unknown
    lytic: np.ndarray              # int64 [N], 0/1, -1 unknown
    posterolateral: np.ndarray     # int64 [N], 0..2, -1 unknown
    on_vertebra: np.ndarray        # bool [N]: ground truth says this slice shows the labelled vertebra
    lesion_visible: np.ndarray     # int8 [N]: 1 visible, 0 not, -1 not known
    posterolateral_visible: np.ndarray  # int8 [N]: the pedicle lesion shows on this slice: 1, 0, -1 not known
    study: np.ndarray              # int64 [N], index into studies
    vertebra: np.ndarray           # int64 [N], the pipeline's vertebra index within its study
    slice_index: np.ndarray        # int64 [N]
    studies: List[dict]            # each study's "study" object, plus "folder"
    preprocessing: dict

    def __len__(self) -> int:
        return len(self.bone_quality)

    def training_mask(self, lesion_invisible: str = "exclude") -> np.ndarray:
        """Samples the loss should see: known bone quality, a slice the truth puts on the vertebra,
        and, unless lesion_invisible == "keep", not a lesion-free slice of a lesion vertebra (its
        label would describe a lesion the slice does not show)."""
        mask = (self.bone_quality >= 0) & self.on_vertebra
        if lesion_invisible == "exclude":
            mask &= ~((self.bone_quality > 0) & (self.lesion_visible == 0))
        elif lesion_invisible != "keep":
            raise ValueError(f"lesion_invisible must be 'keep' or 'exclude', not {lesion_invisible!r}")
        return mask

    def posterolateral_targets(self, lesion_invisible: str = "exclude") -> np.ndarray:
        """Posterolateral labels for the loss: -1 (masked) where unknown and, unless lesion_invisible
        == "keep", on slices of an involved vertebra where the pedicle lesion does not show."""
        targets = self.posterolateral.copy()
        if lesion_invisible == "exclude":
            targets[(targets > 0) & (self.posterolateral_visible == 0)] = -1
        return targets

    def vertebra_keys(self) -> np.ndarray:
        """One int64 id per (study, vertebra): slices of one vertebra share it."""
        return self.study * 1000 + self.vertebra


def _preprocessing_key(preprocessing: dict) -> str:
    return json.dumps(preprocessing, sort_keys=True)


def _read_study(folder: str):
    samples_path = os.path.join(folder, "samples.json")
    with open(samples_path) as f:
        document = json.load(f)
    if document.get("format") != SAMPLES_FORMAT:
        raise DataError(f"{samples_path}: format {document.get('format')!r}, expected {SAMPLES_FORMAT!r}")
    crops_path = os.path.join(folder, document["crops"]["file"])
    crops = np.load(crops_path)
    if crops.dtype != np.float32 or crops.ndim != 4:
        raise DataError(f"{crops_path}: expected float32 [N, C, H, W], found {crops.dtype} {crops.shape}")
    samples = document["samples"]
    if crops.shape[0] != len(samples):
        raise DataError(f"{crops_path}: {crops.shape[0]} crops but {len(samples)} samples in samples.json")
    preprocessing = document["preprocessing"]
    if crops.shape[1] != preprocessing["channels"] or crops.shape[2] != preprocessing["input_size"]:
        raise DataError(f"{crops_path}: shape {crops.shape} does not match its preprocessing {preprocessing}")
    return document, crops


def load_samples(paths: Sequence[str]) -> SampleSet:
    folders = find_study_folders(paths)
    all_crops, rows, studies = [], [], []
    preprocessing = None
    for study_number, folder in enumerate(folders):
        document, crops = _read_study(folder)
        if preprocessing is None:
            preprocessing = document["preprocessing"]
        elif _preprocessing_key(document["preprocessing"]) != _preprocessing_key(preprocessing):
            raise DataError(f"{folder}: preprocessing {document['preprocessing']} differs from the other "
                            f"studies' {preprocessing}")
        study = dict(document.get("study", {}))
        study["folder"] = folder
        studies.append(study)
        all_crops.append(crops)
        for n, sample in enumerate(document["samples"]):
            if sample.get("crop_index", n) != n:
                raise DataError(f"{folder}/samples.json: sample {n} has crop_index {sample.get('crop_index')}")
            visible = sample.get("lesion_visible")
            pl_visible = sample.get("posterolateral_lesion_visible")
            rows.append((sample["bone_quality_index"], sample["blastic"], sample["lytic"],
                         sample["posterolateral_index"], sample.get("slice_truth") in ("vertebra", "unknown"),
                         -1 if visible is None else int(bool(visible)), study_number,
                         sample["vertebra_index"], sample["slice_index"],
                         -1 if pl_visible is None else int(bool(pl_visible))))
    if not rows:
        raise DataError(f"{', '.join(paths)}: the studies hold no samples")
    columns = list(zip(*rows))
    return SampleSet(crops=np.concatenate(all_crops),
                     bone_quality=np.array(columns[0], dtype=np.int64),
                     blastic=np.array(columns[1], dtype=np.int64),
                     lytic=np.array(columns[2], dtype=np.int64),
                     posterolateral=np.array(columns[3], dtype=np.int64),
                     on_vertebra=np.array(columns[4], dtype=bool),
                     lesion_visible=np.array(columns[5], dtype=np.int8),
                     study=np.array(columns[6], dtype=np.int64),
                     vertebra=np.array(columns[7], dtype=np.int64),
                     slice_index=np.array(columns[8], dtype=np.int64),
                     posterolateral_visible=np.array(columns[9], dtype=np.int8),
                     studies=studies, preprocessing=preprocessing)


def describe(samples: SampleSet) -> Dict[str, object]:
    keys = samples.vertebra_keys()
    _, first = np.unique(keys, return_index=True)
    return {
        "studies": len(samples.studies),
        "slices": len(samples),
        "vertebrae": len(first),
        "vertebrae_by_bone_quality": np.bincount(samples.bone_quality[first][samples.bone_quality[first] >= 0],
                                                 minlength=4).tolist(),
        "vertebrae_by_posterolateral": np.bincount(samples.posterolateral[first][samples.posterolateral[first] >= 0],
                                                   minlength=3).tolist(),
    }
