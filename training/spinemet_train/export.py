# SPDX-License-Identifier: GPL-3.0-or-later
"""Export a SpineMet model to TorchScript with its ``spinemet.json`` metadata embedded.

    # a trained run (checkpoint written by spinemet_train.train, evaluation by spinemet_train.evaluate)
    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.export --checkpoint RUN/best.pt \
        --evaluation RUN/evaluation.json --out Resources/model/spinemet-demo.pt

    # a tiny random-weight model for engine tests (about 2k parameters, loads in milliseconds)
    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.export --tiny --out tiny.pt [--input-size 32] [--channels 1]
    # the same with an out-of-distribution gate fitted on random crops (software tests only)
    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.export --tiny --with-gate --out tiny-gate.pt

Every export is reloaded with torch.jit.load and must give the same outputs as the eager model,
and, with a gate, the same features and crop scores. A trained model gets its gate from
``python3 -m spinemet_train.out_of_distribution`` (docs/training.md).
"""

import argparse
import json
import sys
from typing import Optional

import numpy as np
import torch

from .mahalanobis import (GateStatistics, assessability_section, attach_buffers, crop_scores, fit_class_statistics,
                          threshold_rule, CLASS_MEANS_BUFFER, FEATURES_METHOD, PRECISION_BUFFER)
from .metadata import build_metadata, default_preprocessing, missing_keys
from .model import ModelConfig, build_model, parameter_count, tiny_model_config

METADATA_FILE = "spinemet.json"


def export_model(model: torch.nn.Module, metadata: dict, path: str, check_batch: int = 3,
                 gate: Optional[GateStatistics] = None) -> dict:
    """Script ``model``, save it with the metadata embedded, reload it and compare outputs.

    With ``gate``, its statistics become the module's float64 buffers and the metadata gets the
    "assessability" section (replacing any it had). Returns the metadata as written."""
    problems = missing_keys(metadata)
    if problems:
        raise ValueError("metadata incomplete, missing: " + ", ".join(problems))
    model = model.eval()
    if gate is not None:
        attach_buffers(model, gate)
        metadata = dict(metadata, assessability=assessability_section(gate))
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, path, _extra_files={METADATA_FILE: json.dumps(metadata, indent=1, sort_keys=True)})

    preprocessing = metadata["preprocessing"]
    generator = torch.Generator().manual_seed(0)
    probe = torch.rand(check_batch, preprocessing["channels"], preprocessing["input_size"],
                       preprocessing["input_size"], generator=generator)
    reloaded, reloaded_metadata = load_exported(path)
    with torch.no_grad():
        expected = model(probe)
        actual = reloaded(probe)
    if len(actual) != 4:
        raise RuntimeError(f"{path}: forward returns {len(actual)} tensors, the contract says 4")
    for name, a, b in zip(metadata["outputs"], expected, actual):
        if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-5, atol=1e-6):
            raise RuntimeError(f"{path}: output {name} differs after reload")
    if reloaded_metadata != json.loads(json.dumps(metadata)):
        raise RuntimeError(f"{path}: embedded metadata differs after reload")
    if gate is not None:
        check_reloaded_gate(model, reloaded, gate, probe, path)
    return metadata


def check_reloaded_gate(model, reloaded, gate: GateStatistics, probe: torch.Tensor, path: str) -> None:
    """The reloaded file's forward_with_features gives forward's outputs plus the eager features,
    and its own buffers give the eager scores."""
    with torch.no_grad():
        expected = model.forward_with_features(probe)
        actual = getattr(reloaded, FEATURES_METHOD)(probe)
        plain = reloaded(probe)
    if len(actual) != 5:
        raise RuntimeError(f"{path}: {FEATURES_METHOD} returns {len(actual)} tensors, the contract says 5")
    for n, (a, b) in enumerate(zip(plain, actual[:4])):
        if not torch.equal(a, b):
            raise RuntimeError(f"{path}: {FEATURES_METHOD} output {n} differs from forward's")
    if actual[4].shape != (probe.shape[0], gate.feature_dimension) or \
            not torch.allclose(actual[4], expected[4], rtol=1e-5, atol=1e-6):
        raise RuntimeError(f"{path}: the reloaded features differ from the eager model's")
    means = getattr(reloaded, CLASS_MEANS_BUFFER)
    precision = getattr(reloaded, PRECISION_BUFFER)
    if means.dtype != torch.float64 or precision.dtype != torch.float64:
        raise RuntimeError(f"{path}: the gate's buffers must be float64")
    eager_scores = crop_scores(expected[4].numpy(), gate.class_means, gate.precision)
    reloaded_scores = crop_scores(actual[4].numpy(), means.numpy(), precision.numpy())
    if not np.allclose(eager_scores, reloaded_scores, rtol=1e-5, atol=1e-6):
        raise RuntimeError(f"{path}: the reloaded gate scores {reloaded_scores} differ from the eager "
                           f"{eager_scores}")


def load_exported(path: str):
    """Load an exported model and its metadata, as the C++ engine does."""
    extra_files = {METADATA_FILE: ""}
    module = torch.jit.load(path, map_location="cpu", _extra_files=extra_files)
    return module.eval(), json.loads(extra_files[METADATA_FILE])


def export_checkpoint(checkpoint_path: str, out: str, evaluation_path: Optional[str] = None,
                      name: Optional[str] = None, version: Optional[str] = None,
                      fixed_check_path: Optional[str] = None) -> dict:
    checkpoint = torch.load(checkpoint_path, map_location="cpu")
    config = ModelConfig.from_json(checkpoint["model_config"])
    model = build_model(config)
    model.load_state_dict(checkpoint["model_state"])
    evaluation, aggregation = None, None
    if evaluation_path:
        with open(evaluation_path) as f:
            report = json.load(f)
        evaluation = report["summary"]
        aggregation = report["aggregation"]
    if fixed_check_path:
        with open(fixed_check_path) as f:
            evaluation = dict(evaluation or {}, fixed_phantom_check=json.load(f))
    training = dict(checkpoint["training"])
    training["history"] = [{"epoch": r["epoch"], "loss": round(r["losses"]["loss"], 4),
                            "admitted_fraction": round(r["admitted_fraction"], 3),
                            "validation": {k: round(v, 4) for k, v in r.get("validation", {}).items()},
                            "seconds": round(r["seconds"], 1)} for r in checkpoint["history"]]
    metadata = build_metadata(config, parameter_count(model), checkpoint["preprocessing"],
                              name=name or checkpoint["training"].get("name", "spinemet"),
                              version=version or checkpoint["training"].get("version", "0.1.0"),
                              aggregation=aggregation, trained_on=checkpoint["trained_on"],
                              evaluation=evaluation, training=training)
    export_model(model, metadata, out)
    return metadata


def export_tiny(out: str, input_size: int = 32, channels: int = 1, seed: int = 0, variant: str = "multitask",
                with_gate: bool = False) -> dict:
    torch.manual_seed(seed)
    config = tiny_model_config(channels)
    config.variant = variant
    model = build_model(config)
    metadata = build_metadata(config, parameter_count(model), default_preprocessing(input_size, channels),
                              name="spinemet-tiny-test", version="0.0.0",
                              trained_on="nothing: random weights (seed %d), for software tests only" % seed,
                              evaluation={"status": "not evaluated: random weights"},
                              training={"seed": seed, "epochs": 0})
    gate = tiny_gate(model.eval(), input_size, channels, seed) if with_gate else None
    return export_model(model, metadata, out, gate=gate)


def tiny_gate(model: torch.nn.Module, input_size: int, channels: int, seed: int) -> GateStatistics:
    """A gate fitted on random crops in [0, 1] with random classes: meaningless as a detector, but
    a real fit with real buffers, for software tests of the gate's plumbing."""
    generator = torch.Generator().manual_seed(seed + 101)
    crops = torch.rand(96, channels, input_size, input_size, generator=generator)
    classes = torch.arange(96) % 4
    with torch.no_grad():
        features = model.forward_with_features(crops)[4].double().numpy()
    means, precision, shrinkage = fit_class_statistics(features, classes.numpy())
    scores = crop_scores(features, means, precision)
    return GateStatistics(class_means=means, precision=precision, threshold=threshold_rule(scores, 0.99, 1.2),
                          documentation={"fitted_on": "96 random crops in [0, 1] with random classes "
                                                      "(software tests only)",
                                         "threshold_rule": "1.2 x the 0.99 quantile of the fitting crops' scores",
                                         "shrinkage": shrinkage},
                          domain={"slice_thickness_mm": [1.0, 4.0], "pixel_spacing_mm": [0.5, 1.0]})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tiny", action="store_true", help="random-weight tiny DenseNet for software tests")
    source.add_argument("--checkpoint", help="checkpoint written by spinemet_train.train")
    parser.add_argument("--out", required=True, help="TorchScript file to write")
    parser.add_argument("--evaluation", help="evaluation.json written by spinemet_train.evaluate")
    parser.add_argument("--fixed-check", help="check.json written by spinemet_train.fixed_check")
    parser.add_argument("--name")
    parser.add_argument("--version")
    parser.add_argument("--input-size", type=int, default=32, help="--tiny only")
    parser.add_argument("--channels", type=int, default=1, help="--tiny only")
    parser.add_argument("--seed", type=int, default=0, help="--tiny only")
    parser.add_argument("--baseline", action="store_true", help="--tiny only: the four-class baseline variant")
    parser.add_argument("--with-gate", action="store_true",
                        help="--tiny only: an out-of-distribution gate fitted on random crops")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    if args.tiny:
        metadata = export_tiny(args.out, args.input_size, args.channels, args.seed,
                               "baseline" if args.baseline else "multitask", args.with_gate)
    else:
        metadata = export_checkpoint(args.checkpoint, args.out, args.evaluation, args.name, args.version,
                                     args.fixed_check)
    print(f"wrote {args.out}: {metadata['name']} {metadata['version']}, "
          f"input [N, {metadata['preprocessing']['channels']}, {metadata['preprocessing']['input_size']}, "
          f"{metadata['preprocessing']['input_size']}], reload check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
