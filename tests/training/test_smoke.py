# SPDX-License-Identifier: GPL-3.0-or-later
"""Training smoke test on a tiny prep-format data set: the loss falls, runs are deterministic and
resumable, and the exported model reloads with identical outputs and complete metadata."""
import json
import os
import subprocess
import sys

import pytest
import torch

import fakeprep
from conftest import SOURCE_DIR
from spinemet_train.config import TrainConfig
from spinemet_train.export import export_checkpoint, load_exported
from spinemet_train.metadata import missing_keys
from spinemet_train.model import BackboneConfig, ModelConfig, build_model
from spinemet_train.train import train

TINY = {"name": "smoke", "epochs": 8, "batch_size": 16, "samples_per_epoch": 320, "learning_rate": 0.01,
        "model": {"backbone": {"growth_rate": 4, "block_config": [2, 2], "num_init_features": 8, "bn_size": 2,
                               "stem": "small"}},
        "self_paced": {"warmup_epochs": 1, "grow_epochs": 3}}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("prep")
    fakeprep.write_studies(str(root / "train"), range(4))
    fakeprep.write_studies(str(root / "val"), [20, 21])
    return root


def quiet(_line):
    pass


def test_loss_falls_and_export_reloads_identically(data, tmp_path):
    config = TrainConfig.from_json(TINY)
    result = train(config, [str(data / "train")], [str(data / "val")], str(tmp_path / "run"), log=quiet)
    losses = [record["losses"]["loss"] for record in result["history"]]
    assert losses[-1] < 0.85 * losses[0]
    assert result["history"][1]["admitted_fraction"] < 1.0 <= result["history"][-1]["admitted_fraction"] + 1e-9

    metadata = export_checkpoint(str(tmp_path / "run" / "best.pt"), str(tmp_path / "model.pt"))
    assert missing_keys(metadata) == []
    module, reloaded_metadata = load_exported(str(tmp_path / "model.pt"))
    assert reloaded_metadata["trained_on"].startswith("synthetic CT phantoms")
    assert reloaded_metadata["preprocessing"]["input_size"] == 32
    checkpoint = torch.load(str(tmp_path / "run" / "best.pt"))
    eager = build_model(ModelConfig.from_json(checkpoint["model_config"]))
    eager.load_state_dict(checkpoint["model_state"])
    eager.eval()
    probe = torch.rand(6, 1, 32, 32)
    with torch.no_grad():
        for a, b in zip(eager(probe), module(probe)):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_same_seed_gives_the_same_run_and_resume_refuses_another_configuration(data, tmp_path):
    short = dict(TINY, epochs=2)
    for name in ("a", "b"):
        train(TrainConfig.from_json(short), [str(data / "train")], None, str(tmp_path / name), log=quiet)
    a = torch.load(str(tmp_path / "a" / "last.pt"))["model_state"]
    b = torch.load(str(tmp_path / "b" / "last.pt"))["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="another configuration"):
        train(TrainConfig.from_json(dict(short, seed=9)), [str(data / "train")], None, str(tmp_path / "a"),
              resume=True, log=quiet)


def test_interrupted_run_resumes_to_the_same_weights(data, tmp_path):
    config = dict(TINY, epochs=3)
    train(TrainConfig.from_json(config), [str(data / "train")], None, str(tmp_path / "full"), log=quiet)
    # the command line, interrupted after the first epoch: run with a killer that stops after epoch 1
    lines = []

    def stop_after_first_epoch(line):
        lines.append(line)
        if line.startswith("epoch 1/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig.from_json(config), [str(data / "train")], None, str(tmp_path / "cut"), log=stop_after_first_epoch)
    resumed_lines = []
    train(TrainConfig.from_json(config), [str(data / "train")], None, str(tmp_path / "cut"), resume=True,
          log=resumed_lines.append)
    assert resumed_lines[0] == "resuming after epoch 1"
    full = torch.load(str(tmp_path / "full" / "last.pt"))["model_state"]
    cut = torch.load(str(tmp_path / "cut" / "last.pt"))["model_state"]
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_init_starts_from_another_runs_weights_with_a_fresh_optimiser(data, tmp_path):
    train(TrainConfig.from_json(dict(TINY, epochs=1)), [str(data / "train")], None, str(tmp_path / "base"), log=quiet)
    base = str(tmp_path / "base" / "best.pt")
    # a learning rate of 0: every weight stays the checkpoint's (batch-norm statistics still move)
    still = dict(TINY, epochs=1, learning_rate=0.0, seed=5)
    lines = []
    train(TrainConfig.from_json(still), [str(data / "train")], None, str(tmp_path / "ft"), log=lines.append,
          init_checkpoint=base)
    assert "initialised from" in lines[0]
    weights = lambda path: {k: v for k, v in torch.load(path)["model_state"].items()
                            if "running" not in k and "num_batches" not in k}
    started, tuned = weights(base), weights(str(tmp_path / "ft" / "last.pt"))
    assert all(torch.equal(started[k], tuned[k]) for k in started)
    train(TrainConfig.from_json(still), [str(data / "train")], None, str(tmp_path / "fresh"), log=quiet)
    fresh = weights(str(tmp_path / "fresh" / "last.pt"))
    assert not all(torch.equal(started[k], fresh[k]) for k in started)     # without --init: seed 5's own weights
    state = torch.load(str(tmp_path / "ft" / "last.pt"))
    assert state["training"]["initialised_from"]["checkpoint"] == os.path.abspath(base)
    assert state["training"]["initialised_from"]["epoch"] == 1
    assert len(state["history"]) == 1                                       # its own schedule and history
    other_model = dict(still, model={"backbone": dict(TINY["model"]["backbone"], growth_rate=6)})
    with pytest.raises(ValueError, match="--init: .* holds model"):
        train(TrainConfig.from_json(other_model), [str(data / "train")], None, str(tmp_path / "x"), log=quiet,
              init_checkpoint=base)
    with pytest.raises(ValueError, match="exclude each other"):
        train(TrainConfig.from_json(still), [str(data / "train")], None, str(tmp_path / "ft"), resume=True,
              log=quiet, init_checkpoint=base)
    with pytest.raises(FileNotFoundError, match="--init"):
        train(TrainConfig.from_json(still), [str(data / "train")], None, str(tmp_path / "y"), log=quiet,
              init_checkpoint=str(tmp_path / "missing.pt"))


def test_command_line_trains_the_baseline_and_the_ablations(data, tmp_path):
    config_path = tmp_path / "tiny.json"
    config_path.write_text(json.dumps(dict(TINY, epochs=1)))
    for flags in (["--baseline"], ["--no-fusion-mlp", "--no-aux-task", "--no-self-paced"]):
        out = tmp_path / "_".join(flags)
        result = subprocess.run([sys.executable, "-m", "spinemet_train.train", "--data", str(data / "train"),
                                 "--out", str(out), "--config", str(config_path), "--device", "cpu"] + flags,
                                check=True, capture_output=True, text=True)
        assert "epoch 1/1" in result.stdout and "admitted 1.00" in result.stdout
        metadata = export_checkpoint(str(out / "best.pt"), str(out / "model.pt"))
        assert metadata["posterolateral_trained"] is False


def test_the_papers_densenet121_configuration_trains_evaluates_and_exports(data, tmp_path):
    """training/configs/densenet121.json, briefly: the configuration faithful to the paper works end
    to end (the demo model uses a smaller DenseNet for the two CPU cores; docs/training.md)."""
    with open(os.path.join(SOURCE_DIR, "training", "configs", "densenet121.json")) as f:
        config = TrainConfig.from_json(dict(json.load(f), epochs=1, samples_per_epoch=32, batch_size=16))
    assert config.model.backbone.block_config == [6, 12, 24, 16] and config.model.backbone.growth_rate == 32
    train(config, [str(data / "train")], [str(data / "val")], str(tmp_path / "run"), log=quiet)
    subprocess.run([sys.executable, "-m", "spinemet_train.evaluate", "--checkpoint", str(tmp_path / "run" / "best.pt"),
                    "--val", str(data / "val"), "--test", str(data / "val"), "--out", str(tmp_path / "evaluation.json")],
                   check=True, capture_output=True, text=True)
    metadata = export_checkpoint(str(tmp_path / "run" / "best.pt"), str(tmp_path / "model.pt"),
                                 str(tmp_path / "evaluation.json"))
    assert metadata["architecture"]["parameters"] > 6_900_000
    assert missing_keys(metadata) == []
    module, _ = load_exported(str(tmp_path / "model.pt"))
    assert [tuple(t.shape) for t in module(torch.rand(2, 1, 32, 32))] == [(2,), (2,), (2, 4), (2, 3)]
