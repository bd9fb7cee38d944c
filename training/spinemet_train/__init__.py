# SPDX-License-Identifier: GPL-3.0-or-later
"""SpineMet training: the multi-task DenseNet classifier, its training, evaluation and export.

Run modules with the training folder on the path, e.g.
``PYTHONPATH=training /usr/bin/python3 -m spinemet_train.export --tiny --out tiny.pt``.
"""

import os

# Measured on the shared two-core machine (docs/training.md): with OpenMP's default busy-waiting, two
# torch threads under CPU contention ran 7x slower than one; passive waiting makes two threads the
# fastest. It must be set before torch starts its thread pool, hence here, before any torch import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

CONTRACT = "spinemet-model/1"
BONE_QUALITY_CLASSES = ["normal", "blastic", "lytic", "mixed"]
POSTEROLATERAL_CLASSES = ["none", "unilateral", "bilateral"]
OUTPUT_NAMES = ["blastic_logit", "lytic_logit", "bone_quality_logits", "posterolateral_logits"]
