# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference for benchmarks/volume.sh: the same series to an int16 HU volume with pydicom and numpy
(one file at a time, sorted along the slice normal), as a Python pipeline would load it.
Run with /usr/bin/python3 (Debian's python3-pydicom and python3-numpy)."""
import pathlib
import sys

import numpy as np
import pydicom

files = sorted(p for p in pathlib.Path(sys.argv[1]).iterdir() if p.suffix == ".dcm")
first = pydicom.dcmread(files[0], stop_before_pixels=True)
orientation = np.array(first.ImageOrientationPatient, dtype=float)
normal = np.cross(orientation[:3], orientation[3:])
volume = np.empty((len(files), first.Rows, first.Columns), dtype=np.int16)
positions = np.empty(len(files))
for index, path in enumerate(files):
    dataset = pydicom.dcmread(path)
    hu = dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    volume[index] = np.clip(np.rint(hu), -32768, 32767)
    positions[index] = np.dot(np.array(dataset.ImagePositionPatient, dtype=float), normal)
volume = volume[np.argsort(positions)]
print(f"{volume.shape[2]}x{volume.shape[1]}x{volume.shape[0]} HU volume with pydicom + numpy")
