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


SLICE_TARGETS = ("vertebra", "vertebra_where_visible", "visible")


@dataclass
class SliceTargets:
    """What the loss sees: which samples (``mask``) and their targets (arrays over all samples;
    -1 where a target is masked)."""
    mask: np.ndarray               # bool [N]
    bone_quality: np.ndarray       # int64 [N], 0..3
    blastic: np.ndarray            # int64 [N], 0/1
    lytic: np.ndarray              # int64 [N], 0/1
    posterolateral: np.ndarray     # int64 [N], 0..2, -1 masked


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
    blastic_visible: np.ndarray    # int8 [N]: a blastic lesion shows on this slice: 1, 0, -1 not known
    lytic_visible: np.ndarray      # int8 [N]: the same for a lytic lesion
    posterolateral_visible: np.ndarray  # int8 [N]: the pedicle lesion shows on this slice: 1, 0, -1 not known
    study: np.ndarray              # int64 [N], index into studies
    vertebra: np.ndarray           # int64 [N], the pipeline's vertebra index within its study
    slice_index: np.ndarray        # int64 [N]
    studies: List[dict]            # each study's "study" object, plus "folder"
    preprocessing: dict

    def __len__(self) -> int:
        return len(self.bone_quality)

    def slice_targets(self, mode: str) -> SliceTargets:
        """The loss's samples and targets, for ``mode`` (docs/training.md, "What the loss sees"):

        - ``vertebra``: every slice the truth puts on a labelled vertebra carries that vertebra's
          labels, whether or not the slice shows the lesion;
        - ``vertebra_where_visible``: the same, less the lesion-free slices of a lesion vertebra,
          and with the posterolateral target masked where the pedicle lesion does not show;
        - ``visible``: each slice's targets say what it shows: blastic and lytic from the per-kind
          visibility, bone quality from those two (the truth table), posterolateral the vertebra's
          label where a pedicle lesion shows and none where it does not. Where the truth does not
          know (-1, e.g. a SEG study), the vertebra's labels stand.
        """
        if mode not in SLICE_TARGETS:
            raise ValueError(f"slice_targets must be one of {', '.join(SLICE_TARGETS)}, not {mode!r}")
        mask = (self.bone_quality >= 0) & self.on_vertebra
        bone_quality, blastic, lytic = self.bone_quality.copy(), self.blastic.copy(), self.lytic.copy()
        posterolateral = self.posterolateral.copy()
        lesion = self.bone_quality > 0
        if mode == "vertebra_where_visible":
            mask &= ~(lesion & (self.lesion_visible == 0))
            posterolateral[(posterolateral > 0) & (self.posterolateral_visible == 0)] = -1
        elif mode == "visible":
            known = lesion & (self.blastic_visible >= 0) & (self.lytic_visible >= 0)
            blastic[known] = self.blastic_visible[known]
            lytic[known] = self.lytic_visible[known]
            bone_quality[known] = blastic[known] + 2 * lytic[known]
            posterolateral[(posterolateral > 0) & (self.posterolateral_visible == 0)] = 0
        return SliceTargets(mask=mask, bone_quality=bone_quality, blastic=blastic, lytic=lytic,
                            posterolateral=posterolateral)

    def vertebra_keys(self) -> np.ndarray:
        """One int64 id per (study, vertebra): slices of one vertebra share it."""
        return self.study * 1000 + self.vertebra


def _preprocessing_key(preprocessing: dict) -> str:
    return json.dumps(preprocessing, sort_keys=True)


def _flag(sample: dict, name: str) -> int:
    value = sample.get(name)
    return -1 if value is None else int(bool(value))


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
        # The ground truth's vertebra behind each pipeline vertebra, where the truth knows it: the
        # spine finder may part one study of a background into more vertebrae than another
        # (real_anatomy counts each real vertebra once by it).
        study["truth_index_by_vertebra"] = {int(v["index"]): v["truth_index"] for v in document.get("vertebrae", [])
                                            if v.get("truth_index") is not None}
        studies.append(study)
        all_crops.append(crops)
        for n, sample in enumerate(document["samples"]):
            if sample.get("crop_index", n) != n:
                raise DataError(f"{folder}/samples.json: sample {n} has crop_index {sample.get('crop_index')}")
            rows.append((sample["bone_quality_index"], sample["blastic"], sample["lytic"],
                         sample["posterolateral_index"], sample.get("slice_truth") in ("vertebra", "unknown"),
                         _flag(sample, "lesion_visible"), study_number,
                         sample["vertebra_index"], sample["slice_index"],
                         _flag(sample, "posterolateral_lesion_visible"), _flag(sample, "blastic_lesion_visible"),
                         _flag(sample, "lytic_lesion_visible")))
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
                     blastic_visible=np.array(columns[10], dtype=np.int8),
                     lytic_visible=np.array(columns[11], dtype=np.int8),
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
