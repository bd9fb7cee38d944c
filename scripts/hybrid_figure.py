#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Before/after picture of inserted lesions (docs/hybrid.md): for each chosen vertebra of a hybrid
study, the axial slice and the sagittal reformat through its first lesion's centre, from the
background series and from the hybrid one, side by side. Writes a PNG with numpy and zlib only.

usage: hybrid_figure.py BACKGROUND_DIR HYBRID_DIR OUT.png VERTEBRA_INDEX [VERTEBRA_INDEX...]
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import pydicom

WINDOW = (-250.0, 1250.0)   # the model's window (docs/model-contract.md): bone and soft tissue
HALF_FIELD_MM = 45.0


DECOMPRESSORS = {"1.2.840.10008.1.2.4.80": "dcmdjpls", "1.2.840.10008.1.2.4.81": "dcmdjpls",
                 "1.2.840.10008.1.2.4.57": "dcmdjpeg", "1.2.840.10008.1.2.4.70": "dcmdjpeg",
                 "1.2.840.10008.1.2.5": "dcmdrle"}


def read_uncompressed(path):
    """pydicom here decodes no JPEG-LS: DCMTK's own tools decompress first."""
    ds = pydicom.dcmread(path)
    tool = DECOMPRESSORS.get(str(ds.file_meta.TransferSyntaxUID))
    if tool is None:
        return ds
    with tempfile.TemporaryDirectory() as folder:
        plain = os.path.join(folder, "plain.dcm")
        subprocess.run([tool, path, plain], check=True)
        return pydicom.dcmread(plain)


def load_series(folder, wanted_uids=None):
    slices = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith(".json") or not os.path.isfile(path):
            continue
        ds = read_uncompressed(path)
        hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        slices.append((float(ds.ImagePositionPatient[2]), str(ds.SOPInstanceUID), hu, ds))
    slices.sort(key=lambda s: s[0])
    return slices


def png(path, image):
    """8-bit greyscale PNG."""
    height, width = image.shape
    raw = b"".join(b"\x00" + image[r].tobytes() for r in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def to_grey(hu):
    v = np.clip((hu - WINDOW[0]) / (WINDOW[1] - WINDOW[0]), 0, 1)
    return (v * 255 + 0.5).astype(np.uint8)


def resample_rows(image, row_mm, target_mm):
    """Nearest-neighbour stretch of rows so that one row is target_mm (sagittal slices are thick)."""
    rows = int(round(image.shape[0] * row_mm / target_mm))
    index = np.minimum((np.arange(rows) * target_mm / row_mm).astype(int), image.shape[0] - 1)
    return image[index]


def main():
    background_dir, hybrid_dir, out_png = sys.argv[1:4]
    indices = [int(i) for i in sys.argv[4:]]
    truth = json.load(open(os.path.join(hybrid_dir, "ground_truth.json")))
    before = load_series(background_dir)
    after = load_series(hybrid_dir)
    by_uid = {s["background_sop_instance_uid"]: s["sop_instance_uid"] for s in truth["slices"]}
    after_by_uid = {uid: hu for _, uid, hu, _ in after}
    volume_before = np.stack([hu for _, _, hu, _ in before])
    volume_after = np.stack([after_by_uid[by_uid[uid]] for _, uid, _, _ in before])
    z = np.array([s[0] for s in before])
    ds = before[0][3]
    spacing = float(ds.PixelSpacing[0])
    origin = [float(v) for v in ds.ImagePositionPatient]
    slice_mm = abs(z[1] - z[0]) if len(z) > 1 else 1.0

    panels = []
    for index in indices:
        vertebra = truth["vertebrae"][index]
        lesion = vertebra["lesions"][0]
        cx, cy, cz = lesion["centre_mm"]
        column = int(round((cx - origin[0]) / spacing))
        row = int(round((cy - origin[1]) / spacing))
        k = int(np.argmin(np.abs(z - cz)))
        half = int(HALF_FIELD_MM / spacing)
        bc = int(round(vertebra["body_centre_pixel"]["column"]))
        br = int(round(vertebra["body_centre_pixel"]["row"]))
        r0, r1 = max(0, br - half), min(volume_before.shape[1], br + half)
        c0, c1 = max(0, bc - half), min(volume_before.shape[2], bc + half)
        zk0, zk1 = max(0, k - int(HALF_FIELD_MM / slice_mm)), min(len(z), k + int(HALF_FIELD_MM / slice_mm))
        row_panels = []
        for volume in (volume_before, volume_after):
            axial = to_grey(volume[k, r0:r1, c0:c1])
            sagittal = to_grey(volume[zk0:zk1, r0:r1, column][::-1])   # head up, anterior left
            sagittal = resample_rows(sagittal, slice_mm, spacing)
            height = max(axial.shape[0], sagittal.shape[0])
            pad = lambda im: np.pad(im, ((0, height - im.shape[0]), (0, 4)), constant_values=0)
            row_panels.append(np.hstack([pad(axial), pad(sagittal)]))
        width = max(p.shape[1] for p in row_panels)
        row_panels = [np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p in row_panels]
        panels.append(np.hstack([row_panels[0], np.full((row_panels[0].shape[0], 8), 255, np.uint8), row_panels[1]]))
    width = max(p.shape[1] for p in panels)
    panels = [np.pad(p, ((0, 8), (0, width - p.shape[1]))) for p in panels]
    image = np.vstack(panels)
    # upscale 2x for legibility
    image = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
    png(out_png, image)
    print(f"wrote {out_png}: {image.shape[1]}x{image.shape[0]}")


if __name__ == "__main__":
    main()
