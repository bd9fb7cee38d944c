# SPDX-License-Identifier: GPL-3.0-or-later
"""A fixed small phantom set that a shipped model is checked against (tests/training/test_shipped_model.py).

    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.fixed_check --model M.pt \
        --phantom PATH/spinemet-phantom --prep PATH/spinemet-prep --out check.json

Generates the first studies of the held-out test split (same seeds and arguments as
make_dataset.py), crops them with spinemet-prep using the model's own preprocessing, classifies
them with the exported TorchScript model and aggregates per vertebra with the rule in its metadata.
The figures go into the model metadata (evaluation.fixed_phantom_check) at export time; the test
recomputes them and compares.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

from .data import load_samples
from .evaluate import Predictions, bone_quality_figures, posterolateral_figures
from .export import load_exported
from .make_dataset import SPLITS, phantom_arguments
from .predict import predict

CHECK_SEEDS = [3000, 3001, 3002]


def run_check(model_path: str, phantom: str, prep: str, workdir: str) -> dict:
    module, metadata = load_exported(model_path)
    preprocessing_path = os.path.join(workdir, "preprocessing.json")
    with open(preprocessing_path, "w") as f:
        json.dump(metadata["preprocessing"], f)
    _, _, ranges = SPLITS["test"]
    studies = []
    for seed in CHECK_SEEDS:
        dicom = os.path.join(workdir, "dicom", f"check-{seed}")
        subprocess.run([phantom, "--out", dicom] + phantom_arguments("test", seed, ranges), check=True,
                       stdout=subprocess.DEVNULL)
        studies.append(dicom)
    crops = os.path.join(workdir, "crops")
    subprocess.run([prep, "--out", crops, "--preprocessing", preprocessing_path] + studies, check=True,
                   stdout=subprocess.DEVNULL)
    samples = load_samples([crops])
    predictions = Predictions(samples, predict(module, samples.crops))
    aggregation = metadata["aggregation"]
    bq_truth, pl_truth = predictions.vertebra_truth()
    bq = bone_quality_figures(bq_truth, predictions.vertebra_bone_quality(aggregation["bone_quality"]))
    pl = posterolateral_figures(pl_truth, predictions.vertebra_posterolateral(aggregation["posterolateral"]))
    return {"seeds": CHECK_SEEDS, "split": "test (unseen acquisition; normal, hard, normal)", "vertebrae": int(len(bq_truth)),
            "vertebra_bone_quality_accuracy": bq["accuracy"],
            "vertebra_any_lesion_specificity": bq["any_lesion"]["specificity"],
            "vertebra_posterolateral_accuracy": pl["accuracy"],
            "note": "synthetic CT phantoms; recomputed by tests/training/test_shipped_model.py"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--phantom", required=True)
    parser.add_argument("--prep", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as workdir:
        result = run_check(args.model, args.phantom, args.prep, workdir)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
