# SPDX-License-Identifier: GPL-3.0-or-later
"""Self-paced weighting admits a growing fraction of samples, easy (low-loss) ones first."""
import numpy as np
import pytest
import torch

from spinemet_train.selfpaced import SelfPacedConfig, SelfPacedWeighting


def run_epochs(mode, epochs=6, count=1000):
    weighting = SelfPacedWeighting(SelfPacedConfig(mode=mode, start_fraction=0.3, warmup_epochs=1, grow_epochs=4), count)
    losses = torch.linspace(0.01, 3.0, count)          # sample i is harder than sample i - 1
    fractions, admitted_easy = [], []
    for epoch in range(epochs):
        weighting.begin_epoch(epoch)
        v = torch.cat([weighting.weights(torch.arange(s, s + 100), losses[s:s + 100]) for s in range(0, count, 100)])
        fractions.append(weighting.admitted_fraction())
        admitted_easy.append(bool(v[:10].min() > 0))
    return fractions, admitted_easy, v


@pytest.mark.parametrize("mode", ["hard", "linear"])
def test_admitted_fraction_grows_to_all(mode):
    fractions, admitted_easy, _ = run_epochs(mode)
    assert fractions[0] == 1.0                       # warm-up epoch admits everything
    assert fractions[1] == pytest.approx(0.3, abs=0.02)
    assert all(b > a for a, b in zip(fractions[1:5], fractions[2:6]))
    assert fractions[5] == 1.0
    assert all(admitted_easy)


def test_hard_weighting_drops_the_hardest_samples():
    weighting = SelfPacedWeighting(SelfPacedConfig(mode="hard", start_fraction=0.5, warmup_epochs=1, grow_epochs=4), 4)
    weighting.begin_epoch(0)
    weighting.weights(torch.arange(4), torch.tensor([0.1, 0.2, 2.0, 3.0]))
    weighting.begin_epoch(1)
    assert weighting.weights(torch.arange(4), torch.tensor([0.1, 0.2, 2.0, 3.0])).tolist() == [1, 1, 0, 0]


def test_soft_weights_fall_with_the_loss():
    weighting = SelfPacedWeighting(SelfPacedConfig(mode="linear", start_fraction=0.75, warmup_epochs=1, grow_epochs=4), 4)
    weighting.begin_epoch(0)
    losses = torch.tensor([0.1, 0.5, 1.0, 4.0])
    weighting.weights(torch.arange(4), losses)
    weighting.begin_epoch(1)
    v = weighting.weights(torch.arange(4), losses)
    assert v[0] > v[1] > v[2] >= 0 and v[3] == 0


def test_off_admits_everything_and_state_round_trips():
    fractions, _, v = run_epochs("off")
    assert fractions == [1.0] * 6 and bool((v == 1).all())
    weighting = SelfPacedWeighting(SelfPacedConfig(), 3)
    weighting.weights(torch.arange(3), torch.tensor([1.0, 2.0, 3.0]))
    restored = SelfPacedWeighting(SelfPacedConfig(), 3)
    restored.load_state_dict(weighting.state_dict())
    assert np.array_equal(restored.last_loss, weighting.last_loss)
    with pytest.raises(ValueError, match="self-paced mode"):
        SelfPacedWeighting(SelfPacedConfig(mode="sometimes"), 3)


def test_each_class_admits_its_own_easiest_part():
    # class 0 is easy (low losses), class 1 hard: one global threshold would admit only class 0
    groups = np.array([0] * 8 + [1] * 8)
    losses = torch.cat([torch.linspace(0.1, 0.2, 8), torch.linspace(2.0, 3.0, 8)])
    weighting = SelfPacedWeighting(SelfPacedConfig(mode="hard", start_fraction=0.5, warmup_epochs=1, grow_epochs=4),
                                   16, groups=groups)
    weighting.begin_epoch(0)
    weighting.weights(torch.arange(16), losses)
    weighting.begin_epoch(1)
    v = weighting.weights(torch.arange(16), losses)
    assert v[:8].sum() == 4 and v[8:].sum() == 4
    assert v[:4].tolist() == [1, 1, 1, 1] and v[8:12].tolist() == [1, 1, 1, 1]
