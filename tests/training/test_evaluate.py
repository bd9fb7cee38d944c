# SPDX-License-Identifier: GPL-3.0-or-later
"""Aggregation rules and evaluation figures, on hand-made predictions with known answers."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fakeprep
from spinemet_train.aggregation import aggregate_bone_quality, aggregate_posterolateral, rule_name
from spinemet_train.evaluate import bone_quality_figures, posterolateral_figures


def one_hot_rows(classes, size):
    q = np.full((len(classes), size), 0.05)
    q[np.arange(len(classes)), classes] = 1 - 0.05 * (size - 1)
    return q


def test_bone_quality_rules_on_a_vertebra_with_a_small_lytic_lesion():
    # 7 slices, the lytic lesion shows on 2 of them only
    blastic = np.array([0.1, 0.1, 0.2, 0.1, 0.1, 0.05, 0.1])
    lytic = np.array([0.1, 0.2, 0.9, 0.8, 0.2, 0.1, 0.1])
    q = one_hot_rows([0, 0, 2, 2, 0, 0, 0], 4)
    assert aggregate_bone_quality({"method": "mean_probability"}, blastic, lytic, q) == 0
    assert aggregate_bone_quality({"method": "majority_vote"}, blastic, lytic, q) == 0
    assert aggregate_bone_quality({"method": "subtask_topk_mean", "k": 1, "threshold": 0.5}, blastic, lytic, q) == 2
    assert aggregate_bone_quality({"method": "subtask_topk_mean", "k": 2, "threshold": 0.5}, blastic, lytic, q) == 2
    assert aggregate_bone_quality({"method": "subtask_topk_mean", "k": 5, "threshold": 0.5}, blastic, lytic, q) == 0
    both = np.array([0.9] * 7)
    assert aggregate_bone_quality({"method": "subtask_topk_mean", "k": 3, "threshold": 0.5}, both, both, q) == 3
    assert rule_name({"method": "subtask_topk_mean", "k": 3, "threshold": 0.5}) == "subtask_topk_mean(k=3,threshold=0.5)"
    # a threshold per subtask (model 0.4.1 on): L = 0.9 is lytic at 0.85 and not at 0.95; B = 0.2 is
    # not blastic at 0.25 and is at 0.2
    per_subtask = {"method": "subtask_topk_mean", "k": 1, "blastic_threshold": 0.25, "lytic_threshold": 0.85}
    assert aggregate_bone_quality(per_subtask, blastic, lytic, q) == 2
    assert aggregate_bone_quality(dict(per_subtask, blastic_threshold=0.2), blastic, lytic, q) == 3
    assert aggregate_bone_quality(dict(per_subtask, lytic_threshold=0.95), blastic, lytic, q) == 0
    assert rule_name(per_subtask) == "subtask_topk_mean(blastic_threshold=0.25,k=1,lytic_threshold=0.85)"


def test_subtask_thresholds_refuse_a_half_or_doubled_rule():
    blastic, lytic, q = np.array([0.5]), np.array([0.5]), one_hot_rows([0], 4)
    for rule, field in (({"k": 1, "blastic_threshold": 0.5}, "lytic_threshold is missing"),
                        ({"k": 1, "threshold": 0.5, "blastic_threshold": 0.5, "lytic_threshold": 0.5}, "not both"),
                        ({"k": 1, "blastic_threshold": 1.0, "lytic_threshold": 0.5}, "blastic_threshold must be"),
                        ({"k": 1}, "threshold must be")):
        with pytest.raises(ValueError, match=field):
            aggregate_bone_quality(dict(rule, method="subtask_topk_mean"), blastic, lytic, q)


def test_majority_vote_tie_goes_to_the_larger_mean_probability():
    q = np.array([[0.6, 0.4, 0, 0], [0.6, 0.4, 0, 0], [0.0, 1.0, 0, 0], [0.0, 1.0, 0, 0]])
    assert aggregate_bone_quality({"method": "majority_vote"}, None, None, q) == 1


def test_posterolateral_rules():
    r = np.array([[0.9, 0.05, 0.05]] * 5 + [[0.1, 0.2, 0.7]])
    assert aggregate_posterolateral({"method": "mean_probability"}, r) == 0
    assert aggregate_posterolateral({"method": "topk_involvement_mean", "k": 1}, r) == 2
    assert aggregate_posterolateral({"method": "topk_involvement_mean", "k": 3}, r) == 0


def test_figures_count_sensitivity_specificity_and_any_lesion():
    truth = np.array([0, 0, 0, 0, 1, 1, 2, 2, 3, 3])
    predicted = np.array([0, 0, 0, 1, 1, 1, 2, 3, 3, 0])
    f = bone_quality_figures(truth, predicted)
    assert f["confusion"][0] == [3, 1, 0, 0] and f["confusion"][3] == [1, 0, 0, 1]
    assert f["sensitivity"] == {"normal": 0.75, "blastic": 1.0, "lytic": 0.5, "mixed": 0.5}
    assert f["specificity"]["blastic"] == 7 / 8
    assert f["any_lesion"] == {"sensitivity": 5 / 6, "specificity": 0.75}
    p = posterolateral_figures(np.array([0, 1, 2, -1]), np.array([0, 2, 2, 0]))
    assert p["n"] == 3 and p["accuracy"] == 2 / 3 and p["sensitivity"]["unilateral"] == 0.0


def test_evaluate_command_chooses_a_rule_and_writes_the_report(tmp_path):
    fakeprep.write_studies(str(tmp_path / "val"), [1, 2])
    test_studies = fakeprep.write_studies(str(tmp_path / "test"), [3, 4])
    for folder, difficulty in zip(test_studies, ("normal", "hard")):    # as make_dataset.py records it
        with open(os.path.join(folder, "phantom-arguments.json"), "w") as f:
            json.dump(["--seed", "3", "--difficulty", difficulty], f)
    model = tmp_path / "tiny.pt"
    subprocess.run([sys.executable, "-m", "spinemet_train.export", "--tiny", "--out", str(model)], check=True)
    out = tmp_path / "evaluation.json"
    result = subprocess.run([sys.executable, "-m", "spinemet_train.evaluate", "--model", str(model),
                             "--val", str(tmp_path / "val"), "--test", str(tmp_path / "test"), "--out", str(out)],
                            check=True, capture_output=True, text=True)
    assert "synthetic phantoms" in result.stdout
    report = json.loads(out.read_text())
    assert report["test_set"]["vertebrae"] == 16
    assert report["aggregation"]["rule"].startswith("bone_quality=")
    assert report["vertebra"]["bone_quality"]["n"] == 16
    assert report["slice"]["bone_quality"]["n"] == 16 * 4        # disc slices excluded at slice level
    assert set(report["summary"]["vertebra_level"]) >= {"bone_quality_sensitivity", "any_lesion_specificity",
                                                        "posterolateral_accuracy"}
    on_test = report["bone_quality_candidates_on_test"]
    assert len(on_test) == 14 and report["aggregation"]["rule"].split(";")[0].split("=", 1)[1] in on_test
    by_difficulty = report["summary"]["by_difficulty"]
    assert sorted(by_difficulty) == ["hard", "normal"]
    assert [by_difficulty[d]["test_set"]["vertebrae"] for d in ("hard", "normal")] == [8, 8]
    assert "hard phantoms only (1 studies, 8 vertebrae)" in result.stdout
