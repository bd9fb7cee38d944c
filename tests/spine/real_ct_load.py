#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# A real CT series as NAME.npy (HU, caudal slice first) and NAME_z.npy (slice z, mm), for
# real_ct_sagittal.py and real_ct_coronal.py (docs/spine.md, "Real-CT reference"). JPEG-LS files
# must be decoded first: for f in SRC/*.dcm; do dcmdjpls "$f" DECODED/$(basename "$f"); done
# usage: real_ct_load.py DECODED_FOLDER NAME
import glob
import sys

import numpy as np
import pydicom

folder, name = sys.argv[1], sys.argv[2]
instances = sorted((pydicom.dcmread(f) for f in glob.glob(folder + "/*.dcm")),
                   key=lambda d: float(d.ImagePositionPatient[2]))
volume = np.stack([d.pixel_array.astype(np.float32) * float(d.RescaleSlope) + float(d.RescaleIntercept)
                   for d in instances])
np.save(name + ".npy", volume)
np.save(name + "_z.npy", np.array([float(d.ImagePositionPatient[2]) for d in instances]))
print(name, volume.shape, "pixel spacing", [float(v) for v in instances[0].PixelSpacing])
