# SPDX-License-Identifier: GPL-3.0-or-later
"""Train a SpineMet classifier on spinemet-prep output.

    PYTHONPATH=training /usr/bin/python3 -m spinemet_train.train --data DATA/train --val DATA/val \
        --out RUN_DIR --config training/configs/demo.json [--epochs N] [--seed S] [--resume | --init CHECKPOINT]
        [--no-fusion-mlp] [--no-aux-task] [--no-self-paced] [--baseline | --baseline-densenet121]

Writes RUN_DIR/last.pt after every epoch (everything needed to resume), RUN_DIR/best.pt (best
validation score), RUN_DIR/config.json and RUN_DIR/history.json. Deterministic from the seed on
one device and thread count: the data order and augmentation of epoch e come from seed + e.
--init CHECKPOINT starts from another run's weights (a fine-tune: weights only, a fresh optimiser,
schedule and self-paced state); the checkpoint's model configuration must be the configured one.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from .augment import augment
from .config import TrainConfig, apply_ablations, load_config
from .data import SampleSet, SliceTargets, describe, load_samples
from .model import build_model, parameter_count
from .predict import predict
from .selfpaced import SelfPacedWeighting

TRAINED_ON = ("synthetic CT phantoms (spinemet-phantom, cropped by spinemet-prep), not patient data; "
              "not for clinical use")
TRAINED_ON_WITH_REAL_BACKGROUNDS = (
    "synthetic CT phantoms (spinemet-phantom) and hybrid studies: real lesion-free CT of three patients with "
    "synthetic lesions inserted (spinemet-hybrid), cropped by spinemet-prep; no real lesion; not for clinical use")


def trained_on(train_set: SampleSet) -> str:
    hybrid = any(study.get("kind") == "hybrid" for study in train_set.studies)
    return TRAINED_ON_WITH_REAL_BACKGROUNDS if hybrid else TRAINED_ON


def draw_weights(train_set, indices: np.ndarray, bone_quality: np.ndarray, config: TrainConfig) -> np.ndarray:
    """The sampler's weight of each training sample: each bone-quality class drawn equally often
    (config.balance), and with config.real_background_share, that share of the draws from studies
    on a real CT background, classes balanced within each source."""
    def balanced(members: np.ndarray) -> np.ndarray:
        weights = np.zeros(len(indices))
        if config.balance:
            counts = np.bincount(bone_quality[members], minlength=4).astype(np.float64)
            weights[members] = 1.0 / np.maximum(counts, 1)[bone_quality[members]]
        else:
            weights[members] = 1.0
        return weights

    everything = np.ones(len(indices), dtype=bool)
    share = config.real_background_share
    if share is None:
        return balanced(everything)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"real_background_share must lie in [0, 1], not {share}")
    real = np.array([train_set.studies[s].get("kind") == "hybrid" for s in train_set.study[indices]], dtype=bool)
    if not real.any() or real.all():
        raise ValueError(f"real_background_share {share} needs studies of both sources; the training data has "
                         f"{int(real.sum())} samples on real backgrounds (prep kind 'hybrid') of {len(real)}")
    on_real, on_phantom = balanced(real), balanced(~real)
    return share * on_real / on_real.sum() + (1.0 - share) * on_phantom / on_phantom.sum()


def per_sample_loss(outputs, targets, config: TrainConfig, posterolateral_weights: torch.Tensor):
    """Per-sample multi-task loss and its per-task parts (means, for the progress line)."""
    blastic_logit, lytic_logit, bone_quality_logits, posterolateral_logits = outputs
    bone_quality, blastic, lytic, posterolateral = targets
    eps = config.loss.label_smoothing
    parts = {}
    if config.model.variant == "baseline":
        total = F.cross_entropy(bone_quality_logits, bone_quality, reduction="none", label_smoothing=eps)
        parts["bone_quality"] = total
        return total, parts
    smooth = lambda y: y.float() * (1 - eps) + eps / 2
    parts["blastic"] = F.binary_cross_entropy_with_logits(blastic_logit, smooth(blastic), reduction="none")
    parts["lytic"] = F.binary_cross_entropy_with_logits(lytic_logit, smooth(lytic), reduction="none")
    parts["bone_quality"] = F.cross_entropy(bone_quality_logits, bone_quality, reduction="none", label_smoothing=eps)
    w = config.loss
    total = w.blastic * parts["blastic"] + w.lytic * parts["lytic"] + w.bone_quality * parts["bone_quality"]
    if config.aux_task:
        known = posterolateral >= 0
        pl = F.cross_entropy(posterolateral_logits, posterolateral.clamp(min=0), weight=posterolateral_weights,
                             reduction="none", label_smoothing=eps) * known.float()
        parts["posterolateral"] = pl
        total = total + w.posterolateral * pl
    return total, parts


def validation_scores(model, samples: SampleSet, targets: SliceTargets, device: str) -> dict:
    """Slice-level scores on the validation samples the loss would see, against its targets."""
    mask = targets.mask
    p = predict(model, samples.crops[mask], device=device)
    truth = targets.bone_quality[mask]
    predicted = p["bone_quality_probabilities"].argmax(1)
    recalls = [float((predicted[truth == c] == c).mean()) for c in range(4) if (truth == c).any()]
    pl_truth = targets.posterolateral[mask]
    known = pl_truth >= 0
    pl_accuracy = float((p["posterolateral_probabilities"][known].argmax(1) == pl_truth[known]).mean()) if known.any() else 0.0
    return {"bone_quality_balanced_accuracy": float(np.mean(recalls)), "posterolateral_accuracy": pl_accuracy}


def selection_score(config: TrainConfig, scores: dict) -> float:
    if config.model.variant == "baseline" or not config.aux_task:
        return scores["bone_quality_balanced_accuracy"]
    return scores["bone_quality_balanced_accuracy"] + 0.5 * scores["posterolateral_accuracy"]


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    warmup = max(1, total_steps // 20)
    if step < warmup:
        return config.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return config.learning_rate * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def format_seconds(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def load_initial_weights(model, config: TrainConfig, path: str, device: str) -> dict:
    """Copies a checkpoint's weights into ``model`` (weights only: optimiser, schedule and
    self-paced state start fresh); refused unless the checkpoint was made with this model
    configuration. Returns what the run records about where it started."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"--init: {path} does not exist")
    state = torch.load(path, map_location=device)
    if "model_state" not in state or "model_config" not in state:
        raise ValueError(f"--init: {path} is not a checkpoint of spinemet_train.train (no model_state/model_config)")
    if state["model_config"] != config.model.to_json():
        raise ValueError(f"--init: {path} holds model {state['model_config']}, the configuration asks for "
                         f"{config.model.to_json()}")
    model.load_state_dict(state["model_state"])
    training = state.get("training", {})
    return {"checkpoint": os.path.abspath(path), "name": training.get("name"), "version": training.get("version"),
            "epoch": training.get("epoch")}


def train(config: TrainConfig, data_dirs, val_dirs, out_dir: str, resume: bool = False, device: str = "cpu",
          log=print, init_checkpoint: str = None) -> dict:
    if resume and init_checkpoint:
        raise ValueError("--init and --resume exclude each other: a resumed run continues from its own last.pt")
    torch.set_num_threads(config.threads)
    os.makedirs(out_dir, exist_ok=True)
    train_set = load_samples(data_dirs)
    val_set = load_samples(val_dirs) if val_dirs else None
    if val_set is not None and json.dumps(val_set.preprocessing, sort_keys=True) != json.dumps(train_set.preprocessing, sort_keys=True):
        raise ValueError("validation data was prepared with other preprocessing than the training data")
    if config.model.in_channels != train_set.preprocessing["channels"]:
        log(f"model in_channels {config.model.in_channels} -> {train_set.preprocessing['channels']} (from the data)")
        config.model.in_channels = int(train_set.preprocessing["channels"])

    slice_targets = train_set.slice_targets(config.slice_targets)
    indices = np.flatnonzero(slice_targets.mask)
    if indices.size == 0:
        raise ValueError("no training samples (all labels unknown or off-vertebra)")
    crops = torch.from_numpy(train_set.crops[indices])
    targets = [torch.from_numpy(a[indices]) for a in
               (slice_targets.bone_quality, slice_targets.blastic, slice_targets.lytic, slice_targets.posterolateral)]
    sample_weights = draw_weights(train_set, indices, targets[0].numpy(), config)
    pl_counts = np.bincount(targets[3].numpy()[targets[3].numpy() >= 0], minlength=3).astype(np.float64)
    pl_weights = np.where(pl_counts > 0, 1.0 / np.maximum(pl_counts, 1), 0.0)
    pl_weights = pl_weights / pl_weights[pl_counts > 0].mean() if config.balance and pl_counts.any() else np.ones(3)
    posterolateral_weights = torch.tensor(pl_weights, dtype=torch.float32, device=device)
    val_targets = val_set.slice_targets(config.slice_targets) if val_set is not None else None

    torch.manual_seed(config.seed)
    model = build_model(config.model).to(device)
    initialised_from = load_initial_weights(model, config, init_checkpoint, device) if init_checkpoint else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    spl = SelfPacedWeighting(config.self_paced, len(indices), groups=targets[0].numpy())
    samples_per_epoch = config.samples_per_epoch or len(indices)
    steps_per_epoch = max(1, samples_per_epoch // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    history, start_epoch, best_score = [], 0, -math.inf
    data_description = {"train": describe(train_set), "train_slices_in_loss": int(indices.size),
                        "validation": describe(val_set) if val_set is not None else None,
                        "train_dirs": list(data_dirs), "val_dirs": list(val_dirs or [])}

    last_path, best_path = os.path.join(out_dir, "last.pt"), os.path.join(out_dir, "best.pt")
    if resume:
        if not os.path.exists(last_path):
            raise FileNotFoundError(f"--resume: {last_path} does not exist")
        state = torch.load(last_path, map_location=device)
        if state["training"]["config"] != config.to_json():
            raise ValueError(f"--resume: {last_path} was trained with another configuration")
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        spl.load_state_dict(state["self_paced"])
        history, start_epoch, best_score = state["history"], state["epoch"] + 1, state["best_score"]
        initialised_from = state["training"].get("initialised_from")
        log(f"resuming after epoch {state['epoch'] + 1}")
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config.to_json(), f, indent=1)
    log(f"{config.name}: {config.model.variant}, {parameter_count(model)} parameters, "
        f"{indices.size} training slices ({data_description['train']['studies']} studies, "
        f"{data_description['train']['vertebrae']} vertebrae, by class {data_description['train']['vertebrae_by_bone_quality']}), "
        f"{steps_per_epoch} steps of {config.batch_size} per epoch, {config.epochs} epochs, device {device}"
        + (f", initialised from {initialised_from['checkpoint']}" if initialised_from else ""))

    epoch_seconds = []
    for epoch in range(start_epoch, config.epochs):
        started = time.time()
        generator = torch.Generator().manual_seed(config.seed * 1000 + epoch)
        order = torch.multinomial(torch.tensor(sample_weights, dtype=torch.float64), steps_per_epoch * config.batch_size,
                                  replacement=True, generator=generator)
        spl.begin_epoch(epoch)
        model.train()
        sums = {}
        for step in range(steps_per_epoch):
            batch_index = order[step * config.batch_size:(step + 1) * config.batch_size]
            batch = augment(crops[batch_index], train_set.preprocessing, config.augment, generator).to(device)
            batch_targets = [t[batch_index].to(device) for t in targets]
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, epoch * steps_per_epoch + step, total_steps)
            outputs = model(batch)
            losses, parts = per_sample_loss(outputs, batch_targets, config, posterolateral_weights)
            v = spl.weights(batch_index, losses.detach().cpu()).to(device)
            loss = (v * losses).sum() / v.sum().clamp(min=1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            sums["loss"] = sums.get("loss", 0.0) + float(losses.mean())
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + float(value.mean())
        means = {key: value / steps_per_epoch for key, value in sums.items()}
        record = {"epoch": epoch + 1, "losses": means, "admitted_fraction": spl.admitted_fraction(),
                  "self_paced_threshold": spl.threshold if math.isfinite(spl.threshold) else None,
                  "learning_rate": optimizer.param_groups[0]["lr"]}
        if val_set is not None:
            record["validation"] = validation_scores(model, val_set, val_targets, device)
            score = selection_score(config, record["validation"])
        else:
            score = -means["loss"]
        record["seconds"] = time.time() - started
        history.append(record)
        epoch_seconds.append(record["seconds"])
        state = {"model_config": config.model.to_json(), "model_state": model.state_dict(),
                 "optimizer_state": optimizer.state_dict(), "self_paced": spl.state_dict(), "epoch": epoch,
                 "history": history, "best_score": max(best_score, score),
                 "preprocessing": train_set.preprocessing, "trained_on": trained_on(train_set),
                 "training": {"config": config.to_json(), "data": data_description, "name": config.name,
                              "version": config.version, "aux_task": config.aux_task, "epoch": epoch + 1,
                              "initialised_from": initialised_from}}
        torch.save(state, last_path + ".tmp")
        os.replace(last_path + ".tmp", last_path)
        improved = score > best_score
        if improved:
            best_score = score
            torch.save(state, best_path)
        losses_text = " ".join(f"{k} {v:.3f}" for k, v in means.items() if k != "loss")
        val_text = ""
        if "validation" in record:
            val_text = (f"  val bq-bal-acc {record['validation']['bone_quality_balanced_accuracy']:.3f}"
                        f" pl-acc {record['validation']['posterolateral_accuracy']:.3f}{' *' if improved else ''}")
        eta = np.mean(epoch_seconds) * (config.epochs - epoch - 1)
        log(f"epoch {epoch + 1}/{config.epochs}  loss {means['loss']:.3f} ({losses_text})  "
            f"admitted {record['admitted_fraction']:.2f}{val_text}  {record['seconds']:.0f}s  ETA {format_seconds(eta)}")
        with open(os.path.join(out_dir, "history.json"), "w") as f:
            json.dump(history, f, indent=1)
    return {"history": history, "best_score": best_score}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", required=True, help="spinemet-prep output folders (training)")
    parser.add_argument("--val", nargs="*", help="spinemet-prep output folders (validation, selects best.pt)")
    parser.add_argument("--out", required=True, help="run folder for checkpoints and history")
    parser.add_argument("--config", help="JSON training configuration (training/configs/)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--samples-per-epoch", type=int, help="draws per epoch (a smaller budget than the configuration's)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--name")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    start.add_argument("--init", metavar="CHECKPOINT",
                       help="start from this checkpoint's weights (fresh optimiser, schedule and self-paced state)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto (cuda when available)")
    parser.add_argument("--no-fusion-mlp", action="store_true", help="ablation: truth table instead of the MLP")
    parser.add_argument("--no-aux-task", action="store_true", help="ablation: no posterolateral loss")
    parser.add_argument("--no-self-paced", action="store_true", help="ablation: every sample weighs 1")
    parser.add_argument("--baseline", action="store_true", help="plain four-class DenseNet with the configured backbone")
    parser.add_argument("--baseline-densenet121", action="store_true", help="the paper's baseline: DenseNet-121, four classes")
    parser.add_argument("--densenet121", action="store_true", help="the configured variant on the DenseNet-121 backbone")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    config = apply_ablations(config, no_fusion_mlp=args.no_fusion_mlp, no_aux_task=args.no_aux_task,
                             no_self_paced=args.no_self_paced, baseline_densenet121=args.baseline_densenet121,
                             baseline=args.baseline, densenet121=args.densenet121)
    if config.model.variant == "baseline":
        # The paper's baseline is a plain classifier: no self-paced learning, no label smoothing.
        config.self_paced.mode = "off"
        config.loss.label_smoothing = 0.0
    if args.epochs is not None:
        config.epochs = args.epochs
    if args.samples_per_epoch is not None:
        config.samples_per_epoch = args.samples_per_epoch
    if args.seed is not None:
        config.seed = args.seed
    if args.name:
        config.name = args.name
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    train(config, args.data, args.val, args.out, resume=args.resume, device=device,
          log=lambda line: print(line, flush=True), init_checkpoint=args.init)
    return 0


if __name__ == "__main__":
    sys.exit(main())
