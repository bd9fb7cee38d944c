# SPDX-License-Identifier: GPL-3.0-or-later
"""SpineMet training: the multi-task DenseNet classifier, its training, evaluation and export.

Run modules with the training folder on the path, e.g.
``PYTHONPATH=training /usr/bin/python3 -m spinemet_train.export --tiny --out tiny.pt``.
"""

CONTRACT = "spinemet-model/1"
BONE_QUALITY_CLASSES = ["normal", "blastic", "lytic", "mixed"]
POSTEROLATERAL_CLASSES = ["none", "unilateral", "bilateral"]
OUTPUT_NAMES = ["blastic_logit", "lytic_logit", "bone_quality_logits", "posterolateral_logits"]
