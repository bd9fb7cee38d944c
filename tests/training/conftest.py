# SPDX-License-Identifier: GPL-3.0-or-later
import os
import sys

import torch

SOURCE_DIR = os.environ.get("SPINEMET_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SOURCE_DIR, "training"))
torch.set_num_threads(2)
