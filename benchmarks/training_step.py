# SPDX-License-Identifier: GPL-3.0-or-later
"""Training-step speed of the paper's DenseNet-121 backbone next to the demo configuration, in the
same run: samples per second of forward + backward + AdamW step on random input of the demo's
preprocessing (training/configs/demo-preprocessing.json), batch 32, with `--threads` threads.

    /usr/bin/python3 benchmarks/training_step.py [--threads 2] [--steps 3]
"""

import argparse
import json
import os
import sys
import time

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "training"))

from spinemet_train.config import load_config  # noqa: E402
from spinemet_train.model import build_model  # noqa: E402


def samples_per_second(config_path: str, preprocessing: dict, steps: int, batch: int = 32) -> tuple:
    config = load_config(config_path)
    config.model.in_channels = preprocessing["channels"]
    model = build_model(config.model)
    optimizer = torch.optim.AdamW(model.parameters())
    size = preprocessing["input_size"]
    x = torch.randn(batch, preprocessing["channels"], size, size)
    started = None
    for step in range(steps + 1):           # the first step warms up and is not counted
        if step == 1:
            started = time.time()
        loss = sum(output.float().mean() for output in model(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return sum(p.numel() for p in model.parameters()), batch * steps / (time.time() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(ROOT, "training", "configs", "demo-preprocessing.json")) as f:
        preprocessing = json.load(f)
    print(f"input {preprocessing['channels']} x {preprocessing['input_size']} x {preprocessing['input_size']}, "
          f"batch 32, {args.threads} threads, {args.steps} steps")
    for name in ("densenet121", "demo"):
        parameters, speed = samples_per_second(os.path.join(ROOT, "training", "configs", f"{name}.json"),
                                               preprocessing, args.steps)
        print(f"{name:12s} {parameters:>10,} parameters  {speed:7.1f} samples/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
