# SPDX-License-Identifier: GPL-3.0-or-later
"""The straightforward Python pipeline that benchmarks/engine.sh sets beside the C++ one: pydicom
reads every file, numpy sorts and rescales them to HU, torch crops (bilinear, as
docs/crops-and-prep.md) and runs the same TorchScript model with the same number of threads.
It has no spine finder: it crops the slices, at the centres, that the C++ run found (--centres).

    /usr/bin/python3 benchmarks/engine.py SERIES_DIR MODEL CENTRES.json --threads N --batch N
"""

import argparse
import json
import math
import os
import resource
import time

import numpy as np
import pydicom
import torch
import torch.nn.functional as F


def read_series(folder):
    datasets = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            if f.read(132)[128:] != b"DICM":
                continue
        datasets.append(pydicom.dcmread(path))
    row, column = np.array(datasets[0].ImageOrientationPatient[:3]), np.array(datasets[0].ImageOrientationPatient[3:])
    normal = np.cross(row, column)
    datasets.sort(key=lambda ds: float(np.dot(normal, np.array(ds.ImagePositionPatient, dtype=float))))
    volume = np.stack([ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                       for ds in datasets])
    positions = [float(np.dot(normal, np.array(ds.ImagePositionPatient, dtype=float))) for ds in datasets[:2]]
    # row spacing, column spacing, slice spacing
    spacing = [float(v) for v in datasets[0].PixelSpacing] + [positions[1] - positions[0]]
    return volume, spacing, [ds.SOPInstanceUID for ds in datasets]


def channel_slices(slice_index, slices, slice_spacing, preprocessing):
    """docs/crops-and-prep.md: channel k is the slice nearest to (k - C // 2) * channel_spacing_mm
    away (rounded half away from zero, as C++ does), clamped to the volume."""
    count, step = preprocessing["channels"], preprocessing["channel_spacing_mm"]
    indices = []
    for k in range(count):
        offset = (k - count // 2) * step / slice_spacing
        rounded = int(math.copysign(math.floor(abs(offset) + 0.5), offset))
        indices.append(min(max(slice_index + rounded, 0), slices - 1))
    return indices


def crops(volume, spacing, items, preprocessing):
    size, crop_mm = preprocessing["input_size"], preprocessing["crop_mm"]
    low, high = preprocessing["window"]
    slices, rows, columns = volume.shape
    offsets = ((torch.arange(size, dtype=torch.float64) + 0.5) / size - 0.5) * crop_mm
    batch = []
    for item in items:
        indices = channel_slices(item["slice_index"], slices, spacing[2], preprocessing)
        image = torch.from_numpy(volume[indices]) + 1024.0     # air -> 0, the zero padding
        x = item["column"] + offsets / spacing[1]
        y = item["row"] + offsets / spacing[0]
        grid = torch.stack(torch.meshgrid(2 * y / (rows - 1) - 1, 2 * x / (columns - 1) - 1, indexing="ij")[::-1], -1)
        sampled = F.grid_sample(image[None], grid[None].float(), mode="bilinear", padding_mode="zeros",
                                align_corners=True)[0] - 1024.0
        value = ((sampled - low) / (high - low)).clamp(0, 1)
        batch.append((value - preprocessing["mean"]) / preprocessing["std"])
    return torch.stack(batch)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("series")
    parser.add_argument("model")
    parser.add_argument("centres")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    extra = {"spinemet.json": ""}
    model = torch.jit.load(args.model, map_location="cpu", _extra_files=extra).eval()
    preprocessing = json.loads(extra["spinemet.json"])["preprocessing"]
    with open(args.centres) as f:
        items = json.load(f)

    cpu_start = time.process_time()
    start = time.perf_counter()
    volume, spacing, uids = read_series(args.series)
    read_done = time.perf_counter()
    crop_seconds, model_seconds, lytic = 0.0, 0.0, []
    with torch.inference_mode():
        for first in range(0, len(items), args.batch):
            t0 = time.perf_counter()
            x = crops(volume, spacing, items[first:first + args.batch], preprocessing)
            t1 = time.perf_counter()
            blastic_logit, lytic_logit, bone_quality, posterolateral = model(x)
            torch.sigmoid(blastic_logit), torch.softmax(bone_quality, 1), torch.softmax(posterolateral, 1)
            lytic.extend(torch.sigmoid(lytic_logit).tolist())
            t2 = time.perf_counter()
            crop_seconds += t1 - t0
            model_seconds += t2 - t1
    total = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    difference = max(abs(a - item["lytic"]) for a, item in zip(lytic, items))
    same_uids = all(uids[item["slice_index"]] == item["sop_instance_uid"] for item in items)
    print(f"python pipeline: {volume.shape[0]} slices, {len(items)} classified, {args.threads} threads, batch {args.batch}")
    print(f"  read + decode + assemble      {read_done - start:7.2f} s (pydicom + numpy)")
    print(f"  crops + model                 {crop_seconds + model_seconds:7.2f} s (model {model_seconds:.2f} s)")
    print(f"  end to end                    {total:7.2f} s wall, {cpu_seconds:.2f} s CPU: "
          f"{volume.shape[0] / total:.1f} slices/s (series), {len(items) / total:.1f} classified/s")
    print(f"  model share                   {100 * model_seconds / total:7.1f} %")
    print(f"  peak resident memory          {peak / 1024:7.0f} MiB")
    print(f"  check: same slices {same_uids}, max |P(lytic) python - C++| = {difference:.2e}")


if __name__ == "__main__":
    main()
