# SPDX-License-Identifier: GPL-3.0-or-later
"""Fit the out-of-distribution gate of an exported model and re-export it (docs/training.md,
"The out-of-distribution gate"; the contract's "assessability" section: docs/model-contract.md).

    # fit on the model's own training data, set the threshold on validation, check on test
    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.out_of_distribution fit \\
        --model Resources/model/spinemet-demo.pt --train training/data/train --val training/data/val \\
        --test training/data/test --version 0.3.1 --out Resources/model/spinemet-demo.pt --report gate.json

    # the same model, gate and metadata exported again with this package's code (e.g. a faster
    # forward_with_features), after checking its outputs, features and scores against the file
    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.out_of_distribution reexport \
        --model Resources/model/spinemet-demo.pt --version X.Y.Z --out NEW.pt

    # vertebra scores of any spinemet-prep output (e.g. a real CT) against a gated model's threshold
    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.out_of_distribution score \\
        --model Resources/model/spinemet-demo.pt --data prep-out/ [--json scores.json]

``fit`` works from the exported TorchScript file alone (no checkpoint needed): it rebuilds the
eager model from the embedded ``model_config`` and the file's state_dict, refuses to go on unless
the rebuilt model gives the file's outputs, and re-exports it with the gate added. Every other
metadata member (evaluation, aggregation, training, ...) is kept; the version is the one given.

The gate (Lee et al., NeurIPS 2018): features f = the backbone's pooled output (the layer before
the heads). Classes: the slice's bone-quality target as the trainer defines it
(``SampleSet.slice_targets`` with the model's configured ``slice_targets``; the slices the loss
saw). One mean per class and one covariance shared by all classes, both on the TRAIN split only;
the covariance is shrunk towards a scaled identity with Ledoit-Wolf's intensity. A crop scores
min_c sqrt((f - mu_c)^T P (f - mu_c)); a vertebra, the median over its crops (every crop the
pipeline assigned to it, as in serving). Threshold: ``margin`` x the ``quantile`` of the VAL
split's vertebra scores (held-out, in-distribution); the TEST split (acquisitions no training
study had) must then keep at least ``--require-test-fraction`` of its vertebrae assessable, or the
fit is refused.
"""

import argparse
import datetime
import json
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .data import SampleSet, find_study_folders, load_samples
from .evaluate import phantom_difficulty
from .export import export_model, load_exported
from .mahalanobis import (FEATURES_METHOD, GateStatistics, crop_scores, fit_class_statistics, threshold_rule,
                          vertebra_scores, without_gate_buffers)
from .model import ModelConfig, build_model

DEFAULT_QUANTILE = 0.99
DEFAULT_MARGIN = 1.25
DEFAULT_REQUIRED_TEST_FRACTION = 0.98


def phantom_domain() -> Dict[str, list]:
    """What the phantom data set's models were trained and tested on: make_dataset.py's seen and
    unseen acquisition values together (the test split, all unseen, shows the model holds there)."""
    from .make_dataset import SEEN, UNSEEN
    thickness = SEEN["slice_thickness"] + UNSEEN["slice_thickness"]
    spacing = SEEN["pixel_spacing"] + UNSEEN["pixel_spacing"]
    return {"slice_thickness_mm": [min(thickness), max(thickness)], "pixel_spacing_mm": [min(spacing), max(spacing)]}


@torch.no_grad()
def extract_features(model, crops: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """The backbone features [N, D] (float64) through the model's forward_with_features."""
    method = getattr(model, FEATURES_METHOD)
    parts = []
    for start in range(0, len(crops), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(crops[start:start + batch_size]))
        parts.append(method(batch)[4].double().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, 0))


def rebuild_eager(path: str, check_batch: int = 4):
    """The eager model behind an exported file, from its metadata's model_config and its
    state_dict (without any gate buffers). Returns (model, metadata); raises if the rebuilt
    model's outputs differ from the file's."""
    scripted, metadata = load_exported(path)
    if "model_config" not in metadata:
        raise ValueError(f"{path}: its metadata has no model_config, so the eager model cannot be rebuilt")
    model = build_model(ModelConfig.from_json(metadata["model_config"]))
    model.load_state_dict(without_gate_buffers(scripted.state_dict()))
    model.eval()
    p = metadata["preprocessing"]
    probe = torch.rand(check_batch, p["channels"], p["input_size"], p["input_size"],
                       generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        expected, actual = scripted(probe), model(probe)
    for name, a, b in zip(metadata["outputs"], expected, actual):
        if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-5, atol=1e-6):
            raise RuntimeError(f"{path}: the rebuilt eager model's {name} differs from the file's "
                               f"(max |diff| {float((a - b).abs().max())})")
    return model, metadata


def distribution(values: Sequence[float]) -> dict:
    values = np.asarray(list(values), dtype=np.float64)
    if len(values) == 0:
        return {"n": 0}
    return {"n": int(len(values)), "min": float(values.min()), "median": float(np.median(values)),
            "q90": float(np.quantile(values, 0.9)), "q99": float(np.quantile(values, 0.99)),
            "max": float(values.max())}


def rounded(figures: dict) -> dict:
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in figures.items()}


def score_split(model, samples: SampleSet, class_means, precision) -> dict:
    """Crop scores and vertebra scores (median over every crop of a vertebra) of one split."""
    scores = crop_scores(extract_features(model, samples.crops), class_means, precision)
    keys = samples.vertebra_keys()
    return {"crop_scores": scores, "vertebra_scores": vertebra_scores(scores, keys), "keys": keys}


def assessable_fraction(vertebra: Dict[int, float], threshold: float) -> float:
    values = np.array(list(vertebra.values()))
    return float((values <= threshold).mean()) if len(values) else float("nan")


def by_difficulty(samples: SampleSet, scored: dict, threshold: float) -> dict:
    """Test figures for each phantom difficulty (evaluate.py's grouping), when the data has it."""
    groups = {}
    for study_number, study in enumerate(samples.studies):
        difficulty = phantom_difficulty(study["folder"])
        if difficulty is not None:
            groups.setdefault(difficulty, []).append(study_number)
    figures = {}
    for difficulty, studies in sorted(groups.items()):
        values = {k: v for k, v in scored["vertebra_scores"].items() if k // 1000 in studies}
        figures[difficulty] = {"vertebrae": len(values), "assessable_fraction": assessable_fraction(values, threshold),
                               "vertebra_scores": distribution(values.values())}
    return figures


def slice_target_mode(metadata: dict) -> str:
    config = (metadata.get("training") or {}).get("config") or {}
    return config.get("slice_targets", "vertebra_where_visible")


def fit(model, metadata: dict, train: SampleSet, val: SampleSet, test: Optional[SampleSet], *,
        quantile: float = DEFAULT_QUANTILE, margin: float = DEFAULT_MARGIN, shrinkage: Optional[float] = None,
        domain: Optional[dict] = None, required_test_fraction: float = DEFAULT_REQUIRED_TEST_FRACTION):
    """Returns (GateStatistics, report). Raises if the test split keeps too few vertebrae."""
    mode = slice_target_mode(metadata)
    targets = train.slice_targets(mode)
    rows = np.flatnonzero(targets.mask)
    features = extract_features(model, train.crops[rows])
    classes = targets.bone_quality[rows]
    means, precision, intensity = fit_class_statistics(features, classes, shrinkage)

    train_scored = score_split(model, train, means, precision)
    val_scored = score_split(model, val, means, precision)
    threshold = threshold_rule(val_scored["vertebra_scores"].values(), quantile, margin)
    report = {
        "classes": f"bone quality (normal, blastic, lytic, mixed) of each slice as the trainer's loss sees it: "
                   f"SampleSet.slice_targets(\"{mode}\")",
        "train": {"studies": len(train.studies), "slices_fitted": int(len(rows)),
                  "slices_per_class": np.bincount(classes, minlength=4).tolist(),
                  "vertebrae": len(train_scored["vertebra_scores"]),
                  "assessable_fraction": assessable_fraction(train_scored["vertebra_scores"], threshold),
                  "vertebra_scores": distribution(train_scored["vertebra_scores"].values())},
        "shrinkage": intensity,
        "threshold": threshold,
        "threshold_rule": f"{margin:g} x the {quantile:g} quantile of the validation split's vertebra scores",
        "val": {"studies": len(val.studies), "vertebrae": len(val_scored["vertebra_scores"]),
                "assessable_fraction": assessable_fraction(val_scored["vertebra_scores"], threshold),
                "vertebra_scores": distribution(val_scored["vertebra_scores"].values()),
                "crop_scores": distribution(val_scored["crop_scores"])},
    }
    if test is not None:
        test_scored = score_split(model, test, means, precision)
        fraction = assessable_fraction(test_scored["vertebra_scores"], threshold)
        report["test"] = {"studies": len(test.studies), "vertebrae": len(test_scored["vertebra_scores"]),
                          "assessable_fraction": fraction,
                          "vertebra_scores": distribution(test_scored["vertebra_scores"].values()),
                          "crop_scores": distribution(test_scored["crop_scores"]),
                          "by_difficulty": by_difficulty(test, test_scored, threshold)}
        if fraction < required_test_fraction:
            raise RuntimeError(f"the threshold {threshold:.3f} ({report['threshold_rule']}) keeps only "
                               f"{fraction:.3f} of the test split's vertebrae assessable, below the required "
                               f"{required_test_fraction:g}: {json.dumps(report['test']['vertebra_scores'])}")
    documentation = {
        "fitted_on": f"backbone features of {len(rows)} training slices ({len(train.studies)} studies; "
                     f"{metadata.get('trained_on', 'the training data')})",
        "classes": report["classes"],
        "covariance": f"shared within-class covariance, shrunk towards (trace/D) I with Ledoit-Wolf intensity "
                      f"{intensity:.4g}; the precision buffer is its inverse",
        "threshold_rule": report["threshold_rule"],
        "validation": {"studies": report["val"]["studies"], "vertebrae": report["val"]["vertebrae"],
                       "assessable_fraction": round(report["val"]["assessable_fraction"], 4),
                       "vertebra_scores": rounded(report["val"]["vertebra_scores"])},
    }
    if test is not None:
        documentation["test"] = {"studies": report["test"]["studies"], "vertebrae": report["test"]["vertebrae"],
                                 "assessable_fraction": round(report["test"]["assessable_fraction"], 4),
                                 "vertebra_scores": rounded(report["test"]["vertebra_scores"]),
                                 "by_difficulty": {k: {"vertebrae": v["vertebrae"],
                                                       "assessable_fraction": round(v["assessable_fraction"], 4),
                                                       "vertebra_scores": rounded(v["vertebra_scores"])}
                                                   for k, v in report["test"]["by_difficulty"].items()},
                                 "note": "held-out data; for the phantom data set, acquisition settings no "
                                         "training study had"}
    gate = GateStatistics(class_means=means, precision=precision, threshold=threshold,
                          documentation=documentation, domain=domain)
    return gate, report


def image_noise_domain(splits: List[SampleSet], margin: float) -> Optional[list]:
    """[min, max] of the studies' measured image noise (spinemet-prep's "study" ->
    "input_measurements", the serving measurement), widened by ``margin`` (a fraction of each end);
    None when the data carries no measurement."""
    values = []
    for samples in splits:
        for study in samples.studies:
            measured = study.get("input_measurements", {}).get("image_noise_hu")
            if measured is not None:
                values.append(float(measured))
    if not values:
        return None
    return [round(min(values) * (1 - margin), 2), round(max(values) * (1 + margin), 2)]


def command_fit(args) -> int:
    model, metadata = rebuild_eager(args.model)
    train, val = load_samples(args.train), load_samples(args.val)
    test = load_samples(args.test) if args.test else None
    for samples in (train, val, test):
        if samples is not None:
            if samples.preprocessing != metadata["preprocessing"]:
                raise SystemExit(f"the data's preprocessing {samples.preprocessing} is not the model's "
                                 f"{metadata['preprocessing']}")
    domain = phantom_domain() if args.phantom_domain else {}
    if args.slice_thickness_mm:
        domain["slice_thickness_mm"] = list(args.slice_thickness_mm)
    if args.pixel_spacing_mm:
        domain["pixel_spacing_mm"] = list(args.pixel_spacing_mm)
    noise = image_noise_domain([s for s in (train, test) if s is not None], args.noise_margin)
    if noise is not None:
        domain["image_noise_hu"] = noise
    try:
        gate, report = fit(model, metadata, train, val, test, quantile=args.quantile, margin=args.margin,
                           shrinkage=args.shrinkage, domain=domain or None,
                           required_test_fraction=args.require_test_fraction)
    except RuntimeError as error:
        raise SystemExit(f"out_of_distribution fit: {error}; nothing written")
    if "image_noise_hu" in domain:
        gate.documentation["image_noise_hu_rule"] = (f"[min, max] of the training and test studies' measured image "
                                                     f"noise, widened by {args.noise_margin:.0%} at each end")
    if domain:
        gate.documentation["domain_rule"] = ("slice thickness and pixel spacing: every value the training and test "
                                             "phantoms were made with (make_dataset.py, seen and unseen)"
                                             if args.phantom_domain else "given on the command line")
    report["domain"] = domain
    new_metadata = dict(metadata, version=args.version or metadata["version"], date=datetime.date.today().isoformat())
    if args.out:
        written = export_model(model, new_metadata, args.out, gate=gate)
        report["exported"] = {"path": args.out, "name": written["name"], "version": written["version"]}
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1)
    print_fit(report)
    return 0


def print_fit(report: dict) -> None:
    print(f"threshold {report['threshold']:.3f} ({report['threshold_rule']}); shrinkage {report['shrinkage']:.4g}")
    for split in ("train", "val", "test"):
        if split in report:
            r, d = report[split], report[split]["vertebra_scores"]
            print(f"{split:5s} {r['vertebrae']:4d} vertebrae, assessable {r['assessable_fraction']:.3f}; vertebra "
                  f"scores min {d['min']:.2f} median {d['median']:.2f} q99 {d['q99']:.2f} max {d['max']:.2f}")
    for difficulty, figures in report.get("test", {}).get("by_difficulty", {}).items():
        d = figures["vertebra_scores"]
        print(f"test {difficulty}: {figures['vertebrae']} vertebrae, assessable {figures['assessable_fraction']:.3f}, "
              f"max {d['max']:.2f}")
    if "exported" in report:
        print(f"wrote {report['exported']['path']}: {report['exported']['name']} {report['exported']['version']}")


GATE_MEMBERS = ("method", "features_method", "feature_dimension", "class_means_buffer", "precision_buffer",
                "vertebra_statistic", "threshold")


def command_reexport(args) -> int:
    """The file's weights and gate, scripted again by the current code; refuses unless the new file
    gives the old one's outputs and gate scores on a probe batch."""
    model, metadata = rebuild_eager(args.model)
    module, _ = load_exported(args.model)
    section = metadata.get("assessability") or {}
    gate = section.get("out_of_distribution")
    if not gate:
        raise SystemExit(f"{args.model}: no out-of-distribution gate to keep")
    statistics = GateStatistics(
        class_means=getattr(module, gate["class_means_buffer"]).numpy(),
        precision=getattr(module, gate["precision_buffer"]).numpy(), threshold=gate["threshold"],
        documentation={k: v for k, v in gate.items() if k not in GATE_MEMBERS}, domain=section.get("domain"))
    new_metadata = dict(metadata, version=args.version or metadata["version"], date=datetime.date.today().isoformat())
    export_model(model, new_metadata, args.out, gate=statistics)
    reloaded, _ = load_exported(args.out)
    p = metadata["preprocessing"]
    probe = torch.rand(8, p["channels"], p["input_size"], p["input_size"], generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        old, new = module.forward_with_features(probe), reloaded.forward_with_features(probe)
    for n, (a, b) in enumerate(zip(old[:4], new[:4])):
        if not torch.allclose(a, b, rtol=1e-5, atol=1e-5):
            raise SystemExit(f"{args.out}: output {n} differs from {args.model}'s")
    old_scores = crop_scores(old[4].double().numpy(), statistics.class_means, statistics.precision)
    new_scores = crop_scores(new[4].double().numpy(), statistics.class_means, statistics.precision)
    worst = float(np.abs(old_scores - new_scores).max())
    if worst > 1e-3:
        raise SystemExit(f"{args.out}: gate scores differ from {args.model}'s by up to {worst}")
    print(f"wrote {args.out}: {new_metadata['name']} {new_metadata['version']}, the gate of {args.model} "
          f"(scores within {worst:.2g} of the old file's on a probe batch)")
    return 0


def command_score(args) -> int:
    module, metadata = load_exported(args.model)
    gate = (metadata.get("assessability") or {}).get("out_of_distribution")
    if not gate:
        raise SystemExit(f"{args.model}: its metadata has no assessability.out_of_distribution gate")
    means = getattr(module, gate["class_means_buffer"]).numpy()
    precision = getattr(module, gate["precision_buffer"]).numpy()
    threshold = gate["threshold"]
    result = {"model": f"{metadata['name']} {metadata['version']}", "threshold": threshold, "studies": []}
    for folder in find_study_folders(args.data):
        samples = load_samples([folder])
        scored = score_split(module, samples, means, precision)
        vertebrae = []
        for key, score in sorted(scored["vertebra_scores"].items()):
            rows = scored["keys"] == key
            vertebrae.append({"vertebra_index": int(key % 1000), "crops": int(rows.sum()), "score": score,
                              "assessable": score <= threshold})
        values = [v["score"] for v in vertebrae]
        result["studies"].append({"folder": folder, "vertebrae": vertebrae, "vertebra_scores": distribution(values),
                                  "assessable_fraction": float(np.mean([v["assessable"] for v in vertebrae]))})
        d = distribution(values)
        print(f"{folder}: {len(values)} vertebrae, {sum(v['assessable'] for v in vertebrae)} assessable "
              f"(threshold {threshold:.2f}); scores min {d['min']:.2f} median {d['median']:.2f} max {d['max']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    f = commands.add_parser("fit", help="fit the gate on train/val(/test) and re-export the model with it")
    f.add_argument("--model", required=True, help="exported TorchScript model (its metadata needs model_config)")
    f.add_argument("--train", nargs="+", required=True, help="spinemet-prep output the model was trained on")
    f.add_argument("--val", nargs="+", required=True, help="held-out in-distribution data: sets the threshold")
    f.add_argument("--test", nargs="*", help="held-out test data: must keep --require-test-fraction assessable")
    f.add_argument("--out", help="TorchScript file to write (the same path as --model replaces it)")
    f.add_argument("--version", help="version of the re-exported model (default: unchanged)")
    f.add_argument("--report", help="JSON report of the fit and the score distributions")
    f.add_argument("--quantile", type=float, default=DEFAULT_QUANTILE)
    f.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    f.add_argument("--shrinkage", type=float, help="fixed shrinkage intensity in [0, 1] (default: Ledoit-Wolf)")
    f.add_argument("--require-test-fraction", type=float, default=DEFAULT_REQUIRED_TEST_FRACTION)
    f.add_argument("--phantom-domain", action="store_true",
                   help="domain slice thickness and pixel spacing from make_dataset.py's acquisition lists")
    f.add_argument("--slice-thickness-mm", nargs=2, type=float, metavar=("LOW", "HIGH"))
    f.add_argument("--pixel-spacing-mm", nargs=2, type=float, metavar=("LOW", "HIGH"))
    f.add_argument("--noise-margin", type=float, default=0.25,
                   help="widen the measured image-noise range by this fraction at each end")
    r = commands.add_parser("reexport", help="export a gated model again with the current code, gate kept")
    r.add_argument("--model", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--version", help="version of the re-exported model (default: unchanged)")
    s = commands.add_parser("score", help="vertebra scores of spinemet-prep output against a gated model")
    s.add_argument("--model", required=True)
    s.add_argument("--data", nargs="+", required=True)
    s.add_argument("--json", help="write the scores here")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    commands_by_name = {"fit": command_fit, "reexport": command_reexport, "score": command_score}
    return commands_by_name[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
