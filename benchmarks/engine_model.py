# SPDX-License-Identifier: GPL-3.0-or-later
"""A random-weight model with the demo model's architecture and preprocessing
(training/configs/demo.json, demo-preprocessing.json), exported by the training package's own
export, for timing only when Resources/model/spinemet-demo.pt does not exist yet.

    PYTHONPATH=training /usr/bin/python3 benchmarks/engine_model.py OUT.pt
"""

import json
import os
import sys

import torch

from spinemet_train.export import export_model
from spinemet_train.metadata import build_metadata
from spinemet_train.model import ModelConfig, build_model, parameter_count

here = os.path.dirname(os.path.abspath(__file__))
configs = os.path.join(here, "..", "training", "configs")


def main(out: str) -> int:
    torch.manual_seed(0)
    with open(os.path.join(configs, "demo.json")) as f:
        config = ModelConfig.from_json(json.load(f)["model"])
    with open(os.path.join(configs, "demo-preprocessing.json")) as f:
        preprocessing = json.load(f)
    model = build_model(config)
    metadata = build_metadata(config, parameter_count(model), preprocessing, name="spinemet-demo-architecture",
                              version="0.0.0", trained_on="nothing: random weights, for timing only",
                              evaluation={"status": "not evaluated: random weights"})
    export_model(model, metadata, out)
    print(f"wrote {out}: demo architecture, {parameter_count(model)} parameters, random weights")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
