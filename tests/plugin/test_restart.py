# SPDX-License-Identifier: GPL-3.0-or-later
"""Orthanc killed with SIGKILL (or stopped with SIGTERM) while one series is being analysed and
others wait, then started again on the same storage: every series ends with exactly one current
result."""

import os
import shutil
import signal
import sqlite3

import pytest

from orthanc_server import storescu
from phantom_cli import generate_phantom
from plugin_fixtures import (series_of_study, source_series_id, spinemet_orthanc, wait_for_change_log,
                             wait_for_state)


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM])
def test_stop_while_analysing_then_restart_gives_one_result_per_series(tmp_path, tiny_model, stop_signal):
    truths = [generate_phantom(tmp_path / f"study{seed}", "--levels", "T11-L2", "--matrix", "512",
                               "--slice-thickness", "2", "--seed", str(seed)) for seed in (21, 22, 23)]
    server = spinemet_orthanc(tiny_model, VolumesInFlight=1)
    with server as orthanc:
        storescu(orthanc, *[tmp_path / f"study{seed}" for seed in (21, 22, 23)])
        running = orthanc.wait_until(
            lambda: [a for a in orthanc.get("/spinemet/queue")["Analyses"] if a["State"] == "running"],
            timeout=120, interval=0.1, what="an analysis to start")
        orthanc.process.send_signal(stop_signal)
        orthanc.process.wait(timeout=60)

        orthanc.start()   # same storage folder, same queue database
        for truth in truths:
            series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
            status = wait_for_state(orthanc, series_id, timeout=300)
            assert status["State"] == "done", status
            assert status["Slices"] == len(truth["slices"])
            by_modality = series_of_study(orthanc, status["Study"])
            assert len(by_modality["SR"]) == 1 and len(by_modality["SR"][0]["Instances"]) == 1
            assert len(by_modality["OT"]) == 1
            assert sorted(status["Outputs"]) == sorted(by_modality["SR"][0]["Instances"] +
                                                       by_modality["OT"][0]["Instances"])
        queue = orthanc.get("/spinemet/queue")
        assert queue["Analyses"] == []
        assert queue["Counts"]["done"] == 3 and queue["Counts"]["failed"] == 0
        assert "interrupted by the last stop of Orthanc" in orthanc.logs()
        if stop_signal == signal.SIGTERM:
            assert "interrupted by Orthanc's shutdown" in orthanc.logs()


def test_series_stored_while_the_plugin_was_disabled_are_analysed_once_it_is_enabled(tmp_path, tiny_model):
    truth = generate_phantom(tmp_path / "study", "--levels", "T12-L1", "--matrix", "256",
                             "--slice-thickness", "3", "--seed", "24")
    storage = str(tmp_path / "storage")
    same_storage = {"StorageDirectory": storage, "IndexDirectory": storage}

    with spinemet_orthanc(tiny_model, extra=same_storage) as orthanc:
        wait_for_change_log(orthanc)   # the queue exists and follows the change log

    with spinemet_orthanc(tiny_model, extra=same_storage, Enabled=False) as orthanc:
        assert orthanc.get("/spinemet/health")["Problems"] == ["SpineMet.Enabled is false"]
        storescu(orthanc, tmp_path / "study")
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        orthanc.wait_until_stable(series_id)

    with spinemet_orthanc(tiny_model, extra=same_storage) as orthanc:
        status = wait_for_state(orthanc, series_id)
        assert status["State"] == "done", status
        assert status["Trigger"] == "stable-series"
        assert len(series_of_study(orthanc, status["Study"])["SR"]) == 1


def test_series_arriving_when_orthanc_died_is_analysed_after_the_restart_though_the_plugin_never_saw_it(
        tmp_path, tiny_model):
    """Orthanc does not call a series stable after a restart if its instances came before it. The
    plugin must find such a series in the change log even when it had not read its NewSeries change
    before Orthanc died (here it was disabled; a busy plugin falls behind the log the same way)."""
    truth = generate_phantom(tmp_path / "study", "--levels", "T12-L1", "--matrix", "256",
                             "--slice-thickness", "3", "--seed", "25")
    storage = str(tmp_path / "storage")
    same_storage = {"StorageDirectory": storage, "IndexDirectory": storage}

    with spinemet_orthanc(tiny_model, extra=same_storage) as orthanc:
        wait_for_change_log(orthanc)

    never_stable = dict(same_storage, StableAge=3600)
    with spinemet_orthanc(tiny_model, extra=never_stable, Enabled=False) as orthanc:
        storescu(orthanc, tmp_path / "study")
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        orthanc.process.send_signal(signal.SIGKILL)
        orthanc.process.wait(timeout=60)

    with spinemet_orthanc(tiny_model, extra=same_storage) as orthanc:
        status = wait_for_state(orthanc, series_id)
        assert status["State"] == "done", status
        assert status["Trigger"] == "restart"
        assert status["Slices"] == len(truth["slices"])


def count_outputs(orthanc, study_id):
    """(SR series, SR instances, overlay series, overlay instances) in the study."""
    by_modality = series_of_study(orthanc, study_id)
    reports, overlays = by_modality.get("SR", []), by_modality.get("OT", [])
    return (len(reports), sum(len(s["Instances"]) for s in reports),
            len(overlays), sum(len(s["Instances"]) for s in overlays))


def test_outputs_stored_before_a_crash_are_found_by_their_tags_and_replaced(tmp_path, tiny_model):
    """Orthanc killed after the outputs were stored but before the run was marked done: the queue
    row is still running and names no outputs. After the restart the series is analysed again and
    the writer must find the earlier outputs in the study by their tags, not by the queue's list."""
    truth = generate_phantom(tmp_path / "study", "--levels", "T12-L1", "--matrix", "256",
                             "--slice-thickness", "3", "--seed", "26")
    with spinemet_orthanc(tiny_model) as orthanc:
        storescu(orthanc, tmp_path / "study")
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        first = wait_for_state(orthanc, series_id)
        assert first["State"] == "done", first
        expected = count_outputs(orthanc, first["Study"])
        assert expected[0] == 1 and expected[1] == 1 and expected[2] == 1 and expected[3] >= 1, expected

        orthanc.process.send_signal(signal.SIGKILL)
        orthanc.process.wait(timeout=60)
        # what a kill between "outputs stored" and "done" leaves: a row still queued, no outputs named
        database = sqlite3.connect(os.path.join(orthanc.storage, "spinemet-queue.sqlite"))
        with database:
            database.execute("UPDATE analyses SET state = 'queued', outputs = '', analysedFingerprint = '',"
                             " node = '' WHERE series = ?", (series_id,))
        database.close()

        orthanc.start()
        second = wait_for_state(orthanc, series_id, states={"done"}, after=first["FinishedAt"])
        assert count_outputs(orthanc, first["Study"]) == expected
        by_modality = series_of_study(orthanc, first["Study"])
        assert sorted(second["Outputs"]) == sorted(by_modality["SR"][0]["Instances"] +
                                                   by_modality["OT"][0]["Instances"])
        assert not set(first["Outputs"]) & set(second["Outputs"])

        # the plugin asked to write again for the same series: still one of each
        assert orthanc.post(f"/spinemet/series/{series_id}/analyse", {})["Outcome"] == "queued"
        wait_for_state(orthanc, series_id, states={"done"}, after=second["FinishedAt"])
        assert count_outputs(orthanc, first["Study"]) == expected


def test_series_that_grew_after_its_analysis_is_analysed_again_though_orthanc_died_before_calling_it_stable(
        tmp_path, tiny_model):
    """Instances added to an analysed series, then Orthanc killed before it called the series
    stable again: Orthanc does not do so after the restart, so the queue must remember the growth."""
    truth = generate_phantom(tmp_path / "study", "--levels", "T12-L1", "--matrix", "256",
                             "--slice-thickness", "3", "--seed", "27")
    files = sorted(s["file"] for s in truth["slices"])
    first_part, rest = tmp_path / "first", tmp_path / "rest"
    first_part.mkdir()
    rest.mkdir()
    for index, name in enumerate(files):
        shutil.copy(tmp_path / "study" / name, (first_part if index < 2 * len(files) // 3 else rest) / name)
    storage = str(tmp_path / "storage")
    same_storage = {"StorageDirectory": storage, "IndexDirectory": storage}

    with spinemet_orthanc(tiny_model, extra=same_storage) as orthanc:
        storescu(orthanc, first_part)
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        first = wait_for_state(orthanc, series_id)
        assert first["State"] == "done", first
        assert first["Slices"] == 2 * len(files) // 3

    never_stable = dict(same_storage, StableAge=3600)
    with spinemet_orthanc(tiny_model, extra=never_stable) as orthanc:
        storescu(orthanc, rest)
        wait_for_change_log(orthanc)   # the plugin has read the new instances
        assert orthanc.get(f"/spinemet/series/{series_id}")["State"] == "done"
        orthanc.process.send_signal(signal.SIGKILL)
        orthanc.process.wait(timeout=60)

    with spinemet_orthanc(tiny_model, extra=same_storage) as orthanc:
        second = wait_for_state(orthanc, series_id, states={"done"}, after=first["FinishedAt"], timeout=120)
        assert second["Trigger"] == "restart"
        assert second["Slices"] == len(files)
        by_modality = series_of_study(orthanc, second["Study"])
        assert len(by_modality["SR"]) == 1 and len(by_modality["SR"][0]["Instances"]) == 1
        assert len(by_modality["OT"]) == 1
