# SPDX-License-Identifier: GPL-3.0-or-later
"""Self-paced learning (Kumar et al. 2010): minimise sum_i v_i * loss_i, where v_i admits the
samples whose current loss is below a threshold lambda that grows over training.

The threshold is set each epoch from the losses the samples had when last seen, as the quantile
that admits a target fraction: ``fraction(e) = start + (1 - start) * (e - warmup) / (grow_epochs)``
(clipped to [start, 1]), so the admitted fraction grows linearly to all samples. Samples not seen
yet have no loss and are admitted. The first ``warmup`` epochs admit everything (a randomly
initialised network has no notion of easy yet).

Weighting: ``hard`` v_i = 1[loss_i <= lambda]; ``linear`` (soft) v_i = max(0, 1 - loss_i / lambda).
``off`` (the ablation) v_i = 1.

With ``groups`` (the trainer passes the bone-quality class) each group gets its own threshold, the
same quantile of its own losses, as in self-paced learning with diversity (Jiang et al. 2014): the
easiest part of every class is admitted. With one global threshold the easy majority (normal
vertebrae) crowded out nearly every lesion sample in the first self-paced epoch of the demo run,
and the lesion losses rose (measured: blastic 0.59 -> 0.86, lytic 0.66 -> 1.18 in one epoch).
"""

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class SelfPacedConfig:
    mode: str = "hard"          # "hard", "linear" or "off"
    start_fraction: float = 0.5
    warmup_epochs: int = 1
    grow_epochs: int = 6        # epochs after warmup until every sample is admitted


class SelfPacedWeighting:
    def __init__(self, config: SelfPacedConfig, sample_count: int, groups=None):
        if config.mode not in ("hard", "linear", "off"):
            raise ValueError(f"self-paced mode must be 'hard', 'linear' or 'off', not {config.mode!r}")
        self.config = config
        self.last_loss = np.full(sample_count, np.nan, dtype=np.float64)
        self.groups = np.zeros(sample_count, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
        self.group_thresholds = np.full(int(self.groups.max()) + 1 if sample_count else 1, np.inf)
        self.threshold = float("inf")
        self.admitted = 0.0
        self.seen = 0.0

    def target_fraction(self, epoch: int) -> float:
        c = self.config
        if c.mode == "off" or epoch < c.warmup_epochs:
            return 1.0
        progress = (epoch - c.warmup_epochs) / max(1, c.grow_epochs)
        return float(min(1.0, c.start_fraction + (1.0 - c.start_fraction) * progress))

    def begin_epoch(self, epoch: int) -> None:
        fraction = self.target_fraction(epoch)
        self.group_thresholds[:] = np.inf
        if fraction < 1.0:
            for group in range(len(self.group_thresholds)):
                losses = self.last_loss[(self.groups == group) & ~np.isnan(self.last_loss)]
                if losses.size:
                    self.group_thresholds[group] = np.quantile(losses, fraction)
        finite = self.group_thresholds[np.isfinite(self.group_thresholds)]
        self.threshold = float(finite.max()) if finite.size else float("inf")   # for the progress record
        self.admitted, self.seen = 0.0, 0.0

    def weights(self, indices: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        """Weights for a batch (sample ``indices`` into the training set, their current losses,
        detached); remembers the losses for the next epoch's threshold."""
        losses = losses.detach()
        self.last_loss[indices.numpy()] = losses.numpy()
        threshold = torch.from_numpy(self.group_thresholds[self.groups[indices.numpy()]]).to(losses.dtype)
        if self.config.mode == "off":
            v = torch.ones_like(losses)
        elif self.config.mode == "hard":
            v = (losses <= threshold).float()
        else:
            v = torch.where(torch.isinf(threshold), torch.ones_like(losses), (1.0 - losses / threshold).clamp(min=0.0))
        self.admitted += float((v > 0).sum())
        self.seen += float(v.numel())
        return v

    def admitted_fraction(self) -> float:
        return self.admitted / self.seen if self.seen else 1.0

    def state_dict(self) -> dict:
        return {"last_loss": self.last_loss.copy(), "threshold": self.threshold,
                "group_thresholds": self.group_thresholds.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.last_loss = np.array(state["last_loss"], dtype=np.float64)
        self.threshold = float(state["threshold"])
        self.group_thresholds = np.array(state["group_thresholds"], dtype=np.float64)
