# SPDX-License-Identifier: GPL-3.0-or-later
import os
import sys

# Before torch loads OpenMP: busy-waiting threads are very slow on the shared two-core machine
# (docs/training.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

SOURCE_DIR = os.environ.get("SPINEMET_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SOURCE_DIR, "training"))
torch.set_num_threads(2)
