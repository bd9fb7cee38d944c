# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes a copy of a gated model without its "assessability" section (the same weights, the same
TorchScript module, buffers included), so that benchmarks/engine.sh can time the engine with and
without the out-of-distribution gate on exactly the same network.

    PYTHONPATH=training /usr/bin/python3 benchmarks/without_gate.py MODEL OUT
"""
import json
import sys

import torch

from spinemet_train.export import METADATA_FILE, load_exported


def main(model: str, out: str) -> int:
    module, metadata = load_exported(model)
    if "assessability" not in metadata:
        print(f"{model} has no assessability section", file=sys.stderr)
        return 1
    del metadata["assessability"]
    torch.jit.save(module, out, _extra_files={METADATA_FILE: json.dumps(metadata, indent=1, sort_keys=True)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
