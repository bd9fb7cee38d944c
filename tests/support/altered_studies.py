# SPDX-License-Identifier: GPL-3.0-or-later
"""Copies of a phantom study made for one input check each (docs/assessability.md): pedicle screws
in one vertebra, a wrong Rescale Intercept, a series cut through a vertebra.

The phantom must be written uncompressed (spinemet-phantom's default transfer syntax) in the
standard axial orientation; its ground_truth.json says where each vertebra is. Run with Debian's
/usr/bin/python3 (python3-pydicom, python3-numpy)."""

import json
import os
import shutil

import numpy as np
import pydicom

TITANIUM_HU = 3071          # the top of a 12-bit CT range, where scanners clip metal
STREAK_HU = -250            # the dark band between two screws (photon starvation)
SCREW_RADIUS_MM = 2.75      # a 5.5 mm pedicle screw
SCREW_HALF_LENGTH_Z_MM = 2.75


def _files(study):
    return sorted(f for f in os.listdir(study) if f.endswith(".dcm"))


def _truth(study):
    with open(os.path.join(study, "ground_truth.json")) as f:
        return json.load(f)


def _vertebra(truth, level):
    for vertebra in truth["vertebrae"]:
        if vertebra["level"] == level:
            return vertebra
    raise ValueError("the phantom has no vertebra %s (it has %s)"
                     % (level, ", ".join(v["level"] for v in truth["vertebrae"])))


def _copy(study, out):
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(study, out)


def _segment_mask(shape, origin, spacing, start, end, radius):
    """Pixels within `radius` mm of the segment start-end (x, y in mm) on one axial slice."""
    rows, columns = shape
    y = origin[1] + np.arange(rows)[:, None] * spacing[0]
    x = origin[0] + np.arange(columns)[None, :] * spacing[1]
    sx, sy = start
    dx, dy = end[0] - sx, end[1] - sy
    t = np.clip(((x - sx) * dx + (y - sy) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return (x - sx - t * dx) ** 2 + (y - sy - t * dy) ** 2 <= radius ** 2


def add_pedicle_screws(study, out, level):
    """Two titanium pedicle screws through the pedicles of `level` into its body, with the dark
    streak that metal casts between them. Returns the SOP Instance UIDs of the changed slices."""
    _copy(study, out)
    vertebra = _vertebra(_truth(study), level)
    cx, cy, cz = vertebra["body_centre_mm"]
    width = vertebra["body_size_mm"]["width"]
    depth = vertebra["body_size_mm"]["depth"]
    # LPS: +y is posterior. Each screw enters behind the pedicle and ends in the front half of the body.
    screws = [((cx + side * 0.32 * width, cy + depth / 2 + 22), (cx + side * 0.12 * width, cy - depth / 4))
              for side in (-1, 1)]
    changed = []
    for name in _files(out):
        path = os.path.join(out, name)
        ds = pydicom.dcmread(path)
        z = float(ds.ImagePositionPatient[2])
        if abs(z - cz) > SCREW_HALF_LENGTH_Z_MM + float(ds.SliceThickness) / 2:
            continue
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        stored = ds.pixel_array.astype(np.float64)
        hu = stored * slope + intercept
        origin = [float(v) for v in ds.ImagePositionPatient]
        spacing = [float(v) for v in ds.PixelSpacing]
        streak = _segment_mask(hu.shape, origin, spacing, screws[0][0], screws[1][0], 1.5)
        hu[streak] += STREAK_HU
        for start, end in screws:
            hu[_segment_mask(hu.shape, origin, spacing, start, end, SCREW_RADIUS_MM)] = TITANIUM_HU
        limit = 2 ** int(ds.BitsStored) - 1
        values = np.clip(np.round((hu - intercept) / slope), 0, limit).astype(ds.pixel_array.dtype)
        ds.PixelData = values.tobytes()
        ds.save_as(path)
        changed.append(str(ds.SOPInstanceUID))
    if not changed:
        raise ValueError("no slice of %s lies within the screws' reach" % level)
    return changed


def shift_rescale_intercept(study, out, shift_hu=1024):
    """Every slice's Rescale Intercept raised by `shift_hu`: the classic missing-intercept error
    (stored values read as HU), air then reads about 0 HU and soft tissue about 1000 HU."""
    _copy(study, out)
    for name in _files(out):
        path = os.path.join(out, name)
        ds = pydicom.dcmread(path)
        ds.RescaleIntercept = str(int(float(ds.RescaleIntercept) + shift_hu))
        ds.save_as(path)


def cut_through(study, out, level):
    """Removes every slice above the middle of `level`, so that the series ends inside it.
    Returns the number of slices removed."""
    _copy(study, out)
    vertebra = _vertebra(_truth(study), level)
    middle = (vertebra["z_min_mm"] + vertebra["z_max_mm"]) / 2
    removed = 0
    for name in _files(out):
        path = os.path.join(out, name)
        if float(pydicom.dcmread(path, stop_before_pixels=True).ImagePositionPatient[2]) > middle:
            os.remove(path)
            removed += 1
    return removed
