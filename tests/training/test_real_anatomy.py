# SPDX-License-Identifier: GPL-3.0-or-later
"""Figures on real backgrounds (false calls on lesion-free real vertebrae, sensitivity to inserted
lesions), ROC curves and the operating point chosen for specificity on real bone, on hand-made
predictions with known answers; then the evaluate command with real-background sets."""
import argparse
import json
import subprocess
import sys

import numpy as np
import pytest

import fakeprep
from spinemet_train.data import load_samples
from spinemet_train.evaluate import Predictions, bone_quality_figures
from spinemet_train.real_anatomy import (choose_operating_point, choose_subtask_operating_point,
                                         lesion_free_scores_by_background, logit, real_anatomy_figures, roc_curve,
                                         roc_curves, sigmoid, subtask_scores, subtask_threshold)

MAXIMUM = {"method": "subtask_topk_mean", "k": 1, "threshold": 0.5}
MEAN_POSTEROLATERAL = {"method": "mean_probability"}


def predictions_with(samples, blastic_by_vertebra, lytic_by_vertebra):
    """Every slice of vertebra (study s, index v) gets the given subtask probabilities; the
    posterolateral output says what the truth says."""
    keys = samples.vertebra_keys()
    order = {key: n for n, key in enumerate(np.unique(keys))}
    blastic = np.array([blastic_by_vertebra[order[k]] for k in keys], dtype=np.float32)
    lytic = np.array([lytic_by_vertebra[order[k]] for k in keys], dtype=np.float32)
    q = np.zeros((len(keys), 4), dtype=np.float32)
    q[np.arange(len(keys)), (blastic >= 0.5).astype(int) + 2 * (lytic >= 0.5).astype(int)] = 1
    r = np.eye(3, dtype=np.float32)[np.clip(samples.posterolateral, 0, 2)]
    return Predictions(samples, {"blastic_probability": blastic, "lytic_probability": lytic,
                                 "bone_quality_probabilities": q, "posterolateral_probabilities": r})


def write_lesion_free_study(folder):
    """Four normal vertebrae: a lesion-free real background as spinemet-prep writes it."""
    fakeprep.write_study(folder, 4, vertebrae=4)
    with open(f"{folder}/samples.json") as f:
        document = json.load(f)
    for sample in document["samples"]:
        sample.update(bone_quality="normal", bone_quality_index=0, blastic=0, lytic=0, posterolateral="none",
                      posterolateral_index=0, lesion_visible=False, blastic_lesion_visible=False,
                      lytic_lesion_visible=False, posterolateral_lesion_visible=False)
    with open(f"{folder}/samples.json", "w") as f:
        json.dump(document, f)


def lesion_free_and_lesion_studies(tmp_path):
    """Study 1: four normal vertebrae (a lesion-free real background); study 2: the fake data's
    cycle normal, blastic, lytic, mixed (seed 4 starts at normal)."""
    write_lesion_free_study(str(tmp_path / "real" / "free"))
    fakeprep.write_study(str(tmp_path / "real" / "lesions"), 4, vertebrae=4)
    return load_samples([str(tmp_path / "real")])


def test_false_calls_flagged_studies_and_sensitivity_are_counted(tmp_path):
    samples = lesion_free_and_lesion_studies(tmp_path)
    truth = Predictions(samples, {}).vertebra_truth()[0]
    assert truth.tolist() == [0, 0, 0, 0, 0, 1, 2, 3]
    # one lesion-free vertebra of study 1 called blastic; study 2: normal right, blastic right,
    # lytic missed, mixed called lytic
    predictions = predictions_with(samples, [0.1, 0.9, 0.1, 0.1, 0.1, 0.9, 0.1, 0.2],
                                   [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.9])
    figures = real_anatomy_figures(predictions, {"bone_quality": MAXIMUM, "posterolateral": MEAN_POSTEROLATERAL})
    free = figures["lesion_free"]
    assert free["vertebrae"] == 5 and free["false_lesion_calls"] == 1 and free["specificity"] == 4 / 5
    assert free["false_calls_by_class"] == {"blastic": 1, "lytic": 0, "mixed": 0}
    assert free["studies_without_inserted_lesion"] == 1 and free["studies_flagged"] == 1
    assert free["flagged_study_folders"][0].endswith("free")
    sensitivity = figures["inserted_lesions"]["sensitivity"]
    assert sensitivity["blastic"] == {"n": 1, "right_class": 1.0, "called_a_lesion": 1.0}
    assert sensitivity["lytic"] == {"n": 1, "right_class": 0.0, "called_a_lesion": 0.0}
    assert sensitivity["mixed"] == {"n": 1, "right_class": 0.0, "called_a_lesion": 1.0}


def test_a_real_vertebra_repeated_by_several_seeds_counts_once(tmp_path):
    # two hybrid studies of one background (make_hybrid.sh names them <ct>-s<seed>), both lesion-free:
    # the same four real vertebrae twice; vertebra 1 called a lesion in one copy only
    for seed_name in ("ct-a-s0", "ct-a-s1"):
        write_lesion_free_study(str(tmp_path / "real" / seed_name))
    samples = load_samples([str(tmp_path / "real")])
    predictions = predictions_with(samples, [0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1] * 8)
    free = real_anatomy_figures(predictions, {"bone_quality": MAXIMUM, "posterolateral": MEAN_POSTEROLATERAL})["lesion_free"]
    assert (free["vertebrae"], free["false_lesion_calls"]) == (8, 1)
    assert (free["distinct"]["vertebrae"], free["distinct"]["false_lesion_calls"]) == (4, 1)
    assert free["distinct"]["specificity"] == 0.75
    assert free["distinct"]["called"] == ["ct-a vertebra 1"]


def test_a_real_vertebra_is_known_by_its_ground_truth_index_where_the_finder_parted_a_seed_otherwise(tmp_path):
    # the same background twice; in the second seed the spine finder found one more vertebra above,
    # so its pipeline indices 1-4 are the truth's 0-3 (prep's "truth_index"): still four real vertebrae
    for seed_name, shift in (("ct-a-s0", 0), ("ct-a-s1", 1)):
        folder = tmp_path / "real" / seed_name
        write_lesion_free_study(str(folder))
        with open(folder / "samples.json") as f:
            document = json.load(f)
        for entry in document["vertebrae"]:
            entry["index"] += shift
            entry["truth_index"] = entry["index"] - shift
        for sample in document["samples"]:
            sample["vertebra_index"] += shift
        with open(folder / "samples.json", "w") as f:
            json.dump(document, f)
    samples = load_samples([str(tmp_path / "real")])
    predictions = predictions_with(samples, [0.1] * 7 + [0.9], [0.1] * 8)
    distinct = real_anatomy_figures(predictions, {"bone_quality": MAXIMUM,
                                                  "posterolateral": MEAN_POSTEROLATERAL})["lesion_free"]["distinct"]
    assert distinct["vertebrae"] == 4 and distinct["false_lesion_calls"] == 1
    assert distinct["called"] == ["ct-a vertebra 3"]


def test_roc_area_is_the_chance_a_positive_outscores_a_negative():
    assert roc_curve(np.array([0.8, 0.9]), np.array([0.1, 0.2]))["auc"] == 1.0
    assert roc_curve(np.array([0.1, 0.2]), np.array([0.8, 0.9]))["auc"] == 0.0
    assert roc_curve(np.array([0.5]), np.array([0.5]))["auc"] == 0.5
    curve = roc_curve(np.array([0.9, 0.4]), np.array([0.5, 0.1]))
    assert curve["auc"] == 0.75
    assert curve["fpr"][0] == 0.0 and curve["tpr"][-1] == 1.0 and curve["fpr"] == sorted(curve["fpr"])
    assert roc_curve(np.array([0.3]), np.array([]))["auc"] is None


def test_roc_scores_are_the_subtask_scores_the_rule_thresholds(tmp_path):
    samples = lesion_free_and_lesion_studies(tmp_path)
    predictions = predictions_with(samples, [0.1] * 5 + [0.9, 0.1, 0.8], [0.1] * 5 + [0.1, 0.7, 0.6])
    scores = subtask_scores(predictions, 1)
    assert np.allclose(scores[5], [0.9, 0.1]) and np.allclose(scores[7], [0.8, 0.6])
    curves = roc_curves(predictions, 1)
    assert {c: curves[c]["auc"] for c in curves} == {"blastic": 1.0, "lytic": 1.0, "mixed": 1.0, "any lesion": 1.0}
    assert curves["blastic"]["negatives"] == 5 and curves["any lesion"]["positives"] == 3


def test_operating_point_is_chosen_for_real_specificity_then_kept_far_from_normal_bone(tmp_path):
    samples = lesion_free_and_lesion_studies(tmp_path)
    # lesion-free real vertebrae score up to 0.75 on the blastic subtask: only thresholds above
    # it keep all five normal; the blastic lesion scores 0.93, lytic 0.98, mixed 0.96 on both.
    # Thresholds 0.8, 0.85 and 0.9 keep every normal vertebra and call every lesion: 0.9 is the
    # farthest from normal bone's 0.75 (all slices of a vertebra score alike: k does not matter,
    # ties go to the earlier candidate, k = 1)
    real = predictions_with(samples, [0.75, 0.6, 0.1, 0.1, 0.1, 0.93, 0.1, 0.96], [0.1] * 5 + [0.1, 0.98, 0.96])
    accuracy = lambda truth, called: bone_quality_figures(truth, called)["balanced_accuracy"]
    chosen = choose_operating_point(None, real, MEAN_POSTEROLATERAL, 1.0, accuracy)
    assert chosen["target_met_on_validation"] and "widest margin" in chosen["reason"]
    assert chosen["rule"]["threshold"] == 0.9 and chosen["rule"]["k"] == 1
    assert len(chosen["trade_off"]) == 36
    row = [r for r in chosen["trade_off"] if r["rule"] == chosen["rule"]][0]
    assert abs(row["margin"] - 0.15) < 1e-6
    lax = [row for row in chosen["trade_off"] if row["rule"] == MAXIMUM][0]
    assert lax["real_specificity"] == 3 / 5
    # a floor no candidate keeps: back to the best balanced accuracy among the specific ones (0.8,
    # the earliest of the equally accurate 0.8 / 0.85 / 0.9)
    unreachable = choose_operating_point(None, real, MEAN_POSTEROLATERAL, 1.0, accuracy, sensitivity_floor=1.1)
    assert "no candidate kept the sensitivity floor" in unreachable["reason"]
    assert unreachable["rule"]["threshold"] == 0.8
    # no threshold keeps a normal vertebra that scores 0.995: the most specific rules (0.95 and
    # up, which keep the one at 0.92) compete on balanced accuracy, and 0.95 still finds the
    # mixed lesion (0.96) and the lytic one (0.98)
    hopeless = predictions_with(samples, [0.995, 0.92, 0.1, 0.1, 0.1, 0.9, 0.1, 0.96], [0.1] * 5 + [0.1, 0.98, 0.96])
    fallback = choose_operating_point(None, hopeless, MEAN_POSTEROLATERAL, 1.0, accuracy)
    assert not fallback["target_met_on_validation"] and "no candidate" in fallback["reason"]
    assert fallback["rule"]["threshold"] == 0.95
    assert max(row["real_specificity"] for row in fallback["trade_off"]) == 4 / 5


def test_evaluate_command_reports_real_backgrounds_apart_and_draws_the_roc(tmp_path):
    fakeprep.write_studies(str(tmp_path / "val"), [1, 2])
    fakeprep.write_studies(str(tmp_path / "test"), [3])
    fakeprep.write_studies(str(tmp_path / "real-val"), [5])
    fakeprep.write_studies(str(tmp_path / "real-test"), [6, 7])
    model = tmp_path / "tiny.pt"
    subprocess.run([sys.executable, "-m", "spinemet_train.export", "--tiny", "--out", str(model)], check=True)
    out, roc = tmp_path / "evaluation.json", tmp_path / "roc.png"
    result = subprocess.run([sys.executable, "-m", "spinemet_train.evaluate", "--model", str(model),
                             "--val", str(tmp_path / "val"), "--real-val", str(tmp_path / "real-val"),
                             "--test", str(tmp_path / "test"), "--real-test", str(tmp_path / "real-test"),
                             "--roc", str(roc), "--out", str(out)], check=True, capture_output=True, text=True)
    report = json.loads(out.read_text())
    real = report["summary"]["real_anatomy"]
    assert real["test_set"]["studies"] == 2 and real["test_set"]["vertebrae"] == 16
    assert real["lesion_free"]["vertebrae"] == sum(1 for s in (6, 7) for v in range(8) if (s + v) % 4 == 0)
    assert report["operating_point"]["rule"]["method"] == "subtask_topk_mean"
    assert report["aggregation"]["bone_quality"] == report["operating_point"]["rule"]
    assert "real lesion-free specificity" in report["aggregation"]["chosen_by"]
    assert set(report["roc"]) == {"phantom test set", "real backgrounds (held out)"}
    assert "real backgrounds (2 studies, held out)" in result.stdout
    with open(roc, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"

    # the comparison page of `compare.sh --real` puts the same figures in its real-anatomy table
    run = tmp_path / "compare-real-2ep-64s" / "method"
    run.mkdir(parents=True)
    (run / "evaluation.json").write_text(out.read_text())
    (run / "config.json").write_text(json.dumps({"epochs": 2, "samples_per_epoch": 64, "slice_targets": "visible"}))
    page = tmp_path / "evaluation-real-anatomy.md"
    subprocess.run([sys.executable, "-m", "spinemet_train.compare_table", "--runs", str(run.parent), "--out", str(page)],
                   check=True, capture_output=True)
    text = page.read_text()
    free = report["real_anatomy"]["lesion_free"]["distinct"]
    assert "on realistic phantoms and real CT backgrounds" in text
    assert f"| `method` | {free['specificity']:.3f} | {free['false_lesion_calls']} / {free['vertebrae']} |" in text
    assert "`training/compare.sh --epochs 2 --samples-per-epoch 64 --real`" in text
    assert "**A small budget**: 128 draws per variant" in text
    assert "The shipped model" not in text

    # the phantom comparison page carries the shipped model's real-anatomy rows, so that rerunning
    # the comparison never drops them
    phantom_runs = tmp_path / "compare-2ep"
    (phantom_runs / "method").mkdir(parents=True)
    for name in ("evaluation.json", "config.json"):
        (phantom_runs / "method" / name).write_text((run / name).read_text())
    subprocess.run([sys.executable, "-m", "spinemet_train.compare_table", "--runs", str(phantom_runs), "--out", str(page),
                    "--model", str(model)], check=True, capture_output=True)
    text = page.read_text()
    assert "## The shipped model (spinemet-tiny-test 0.0.0) on real anatomy" in text
    assert "### Evaluation on real anatomy" in text


def test_real_validation_without_phantom_validation_is_refused(tmp_path):
    fakeprep.write_studies(str(tmp_path / "real-val"), [5])
    result = subprocess.run([sys.executable, "-m", "spinemet_train.evaluate", "--model", "unused.pt",
                             "--real-val", str(tmp_path / "real-val"), "--test", str(tmp_path / "real-val"),
                             "--out", str(tmp_path / "e.json")], capture_output=True, text=True)
    assert result.returncode == 2 and "--real-val chooses the operating point together with --val" in result.stderr


def test_model_card_gives_real_anatomy_rows_and_says_when_targets_are_missed():
    from spinemet_train.model_card import real_anatomy_section
    assert "Not measured" in "\n".join(real_anatomy_section({}))
    real = {"test_set": {"studies": 3, "vertebrae": 30},
            "lesion_free": {"vertebrae": 20, "false_lesion_calls": 1, "specificity": 0.95,
                            "studies_flagged": 0, "studies_without_inserted_lesion": 2},
            "inserted_lesions": {"sensitivity": {c: {"n": 4, "right_class": 1.0, "called_a_lesion": 1.0}
                                                 for c in ("blastic", "lytic", "mixed")},
                                 "posterolateral_accuracy": 0.9, "posterolateral_n": 12}}
    card = "\n".join(real_anatomy_section({"real_anatomy": real}))
    assert "| (a) lesion-free real vertebrae | 20 | 1 | 0.950 | 0 of 2 |" in card
    assert "**all met**" in card
    real["lesion_free"]["studies_flagged"] = 1
    assert "**not all met**" in "\n".join(real_anatomy_section({"real_anatomy": real}))


def test_real_background_share_of_the_draws_with_classes_balanced_within_each_source(tmp_path):
    import pytest
    from spinemet_train.config import TrainConfig
    from spinemet_train.train import draw_weights
    folders = fakeprep.write_studies(str(tmp_path / "train"), [1, 2, 3])
    with open(f"{folders[0]}/samples.json") as f:
        document = json.load(f)
    document["study"]["kind"] = "hybrid"
    with open(f"{folders[0]}/samples.json", "w") as f:
        json.dump(document, f)
    samples = load_samples([str(tmp_path / "train")])
    indices = np.arange(len(samples))
    bone_quality = samples.bone_quality[indices]
    real = np.array([samples.studies[s]["kind"] == "hybrid" for s in samples.study])
    config = TrainConfig(real_background_share=0.4)
    weights = draw_weights(samples, indices, bone_quality, config)
    assert weights[real].sum() == pytest.approx(0.4) and weights[~real].sum() == pytest.approx(0.6)
    for source in (real, ~real):
        by_class = [weights[source & (bone_quality == c)].sum() for c in range(4) if (source & (bone_quality == c)).any()]
        assert np.allclose(by_class, by_class[0])
    # without a share, the classes are balanced over all studies as before
    plain = draw_weights(samples, indices, bone_quality, TrainConfig())
    totals = [plain[bone_quality == c].sum() for c in range(4)]
    assert np.allclose(totals, totals[0])
    with pytest.raises(ValueError, match="needs studies of both sources"):
        draw_weights(load_samples([folders[1]]), np.arange(40), np.zeros(40, dtype=np.int64), config)


def test_subtask_threshold_keeps_a_margin_on_both_sides_in_logits():
    normal = np.array([0.3, 0.5, 0.6])
    # eleven lesions: the 0.1 quantile is the second lowest, 0.9 (the lowest, 0.55, is an outlier
    # below normal bone's highest; the rule does not sit at its edge)
    lesions = np.array([0.55, 0.9] + [0.99] * 9)
    entry = subtask_threshold(normal, lesions, 0.1)
    assert entry["highest_lesion_free"] == 0.6 and abs(entry["lesion_quantile"] - 0.9) < 1e-9
    midway = sigmoid(0.5 * (logit(0.6) + logit(0.9)))
    assert entry["threshold"] >= midway and entry["threshold"] - midway < 1e-4
    assert 0.6 < entry["threshold"] < 0.9
    assert abs(entry["gap_logit"] - (logit(0.9) - logit(0.6))) < 1e-9
    # lesions no higher than normal bone: specificity first, half a logit above normal bone
    overlap = subtask_threshold(np.array([0.8]), np.array([0.5, 0.7, 0.8]), 0.1)
    assert overlap["gap_logit"] < 0 and overlap["threshold"] > 0.8
    assert abs(overlap["threshold"] - sigmoid(logit(0.8) + 0.5)) < 1e-4
    # never 1: a threshold stays a probability the rule can be read with
    assert subtask_threshold(np.array([0.99999]), np.array([0.999999]), 0.1)["threshold"] == 0.9999


def test_subtask_operating_point_sets_each_threshold_between_its_normal_bone_and_its_lesions(tmp_path):
    samples = lesion_free_and_lesion_studies(tmp_path)
    # normal real vertebrae: blastic scores up to 0.75, lytic up to 0.2; lesions: blastic 0.93,
    # lytic 0.98, mixed 0.96 / 0.9. Blastic sees the blastic and mixed lesions, lytic the lytic and
    # mixed ones: the thresholds differ, each above its own normal bone and below its lesions.
    real = predictions_with(samples, [0.75, 0.6, 0.1, 0.1, 0.1, 0.93, 0.1, 0.96], [0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.98, 0.9])
    accuracy = lambda truth, called: bone_quality_figures(truth, called)["balanced_accuracy"]
    chosen = choose_subtask_operating_point(None, real, MEAN_POSTEROLATERAL, 0.95, accuracy, lesion_quantile=0.0)
    rule = chosen["rule"]
    assert rule["method"] == "subtask_topk_mean" and rule["k"] == 1      # all k score alike: the smaller
    assert 0.75 < rule["blastic_threshold"] < 0.93 and 0.2 < rule["lytic_threshold"] < 0.9
    assert rule["blastic_threshold"] != rule["lytic_threshold"]
    assert abs(rule["blastic_threshold"] - sigmoid(0.5 * (logit(0.75) + logit(0.93)))) < 1e-4
    assert chosen["target_met_on_validation"] and chosen["sensitivity_floor_met_on_validation"]
    row = [r for r in chosen["by_k"] if r["rule"] == rule][0]
    assert row["real_specificity"] == 1.0
    assert row["real_lesion_right_class"] == {"blastic": 1.0, "lytic": 1.0, "mixed": 1.0}
    assert len(chosen["by_k"]) == 4
    # the one threshold 0.4.0's rule would need to keep every normal vertebra (above 0.75) also
    # misses nothing here, but the per-subtask lytic threshold sits far below it
    assert rule["lytic_threshold"] < 0.75


def test_subtask_operating_point_puts_specificity_first_when_lesions_overlap_normal_bone(tmp_path):
    samples = lesion_free_and_lesion_studies(tmp_path)
    # a normal vertebra scores 0.97 on blastic, above the blastic lesion (0.93): specificity on
    # real bone wins, the blastic lesion is missed and the validation says so
    real = predictions_with(samples, [0.97, 0.6, 0.1, 0.1, 0.1, 0.93, 0.1, 0.1], [0.1] * 5 + [0.1, 0.98, 0.96])
    accuracy = lambda truth, called: bone_quality_figures(truth, called)["balanced_accuracy"]
    chosen = choose_subtask_operating_point(None, real, MEAN_POSTEROLATERAL, 0.95, accuracy, ks=(1,))
    assert chosen["rule"]["blastic_threshold"] > 0.97
    assert chosen["target_met_on_validation"] and not chosen["sensitivity_floor_met_on_validation"]
    assert chosen["by_k"][0]["real_lesion_sensitivity"]["blastic"] == 0.0


def test_each_backgrounds_lesion_free_bone_is_reported_apart(tmp_path):
    # two lesion-free backgrounds: patient a's normal bone reaches 0.3 blastic, patient b's 0.8
    # lytic; lesion vertebrae do not count
    for name in ("ct-a-s0", "ct-b-s0"):
        write_lesion_free_study(str(tmp_path / "real" / name))
    samples = load_samples([str(tmp_path / "real")])
    predictions = predictions_with(samples, [0.3, 0.1, 0.2, 0.1, 0.1, 0.2, 0.1, 0.1],
                                   [0.1, 0.1, 0.1, 0.2, 0.8, 0.1, 0.1, 0.1])
    by_background = lesion_free_scores_by_background(predictions, 1)
    assert set(by_background) == {"ct-a", "ct-b"}
    # the 95th percentile over the four distinct vertebrae interpolates between the two highest
    assert by_background["ct-a"] == pytest.approx({"copies": 4, "distinct_vertebrae": 4, "highest_blastic": 0.3,
                                                   "highest_lytic": 0.2, "p95_blastic": 0.285, "p95_lytic": 0.185})
    assert by_background["ct-b"] == pytest.approx({"copies": 4, "distinct_vertebrae": 4, "highest_blastic": 0.2,
                                                   "highest_lytic": 0.8, "p95_blastic": 0.185, "p95_lytic": 0.695})


def test_operating_points_table_reads_its_rules_and_refuses_bad_ones():
    from spinemet_train.operating_points import parse_rule
    assert parse_rule("1:0.85:0.6") == {"method": "subtask_topk_mean", "k": 1, "blastic_threshold": 0.85,
                                        "lytic_threshold": 0.6}
    for bad in ("0.85", "1:0.85", "0:0.5:0.5", "1:1.2:0.5", "x:0.5:0.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="--rule"):
            parse_rule(bad)
