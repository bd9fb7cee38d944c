# SPDX-License-Identifier: GPL-3.0-or-later
"""Orthanc killed with SIGKILL at five points of the pipeline over a batch of 20 series, restarted
on the same storage each time: in the end every series has exactly one SR and one set of overlays.

Each point is reached deterministically through the plugin's test hook (plugin/TestHooks.h:
SPINEMET_TEST_HOLD_AT=<point>:<n> holds the plugin the n-th time it gets there and logs it); the
test waits for that log line (a state, not a sleep), checks that Orthanc is where the point says,
and kills it. The points: a series claimed with the rest queued, one being analysed, its SR stored
but not its overlays, every output stored but the result not attached, the outputs stored but the
queue row not done."""

import signal

from orthanc_server import storescu
from phantom_cli import generate_phantom
from plugin_fixtures import series_of_study, source_series_id, spinemet_orthanc, wait_for_state

SERIES = 20
# (point, occurrence): later occurrences let some series finish between the kills, so that the
# kills fall on different series and on series whose outputs already exist.
KILL_POINTS = [("claimed", 3), ("analysing", 2), ("after-sr", 2), ("after-overlays", 3), ("before-done", 2)]


def modalities(orthanc, series_id):
    study = orthanc.get(f"/series/{series_id}")["ParentStudy"]
    return {modality: len(series) for modality, series in series_of_study(orthanc, study).items()}


def orthanc_counts(orthanc):
    return orthanc.get("/spinemet/queue")["Counts"]


def kill_at_every_point(server, folders, monkeypatch):
    for number, (point, occurrence) in enumerate(KILL_POINTS):
        monkeypatch.setenv("SPINEMET_TEST_HOLD_AT", f"{point}:{occurrence}")
        server.start()
        if number == 0:
            storescu(server, *folders)
        line = server.wait_until(
            lambda: [l for l in server.logs().splitlines() if f"test hook: holding at {point} " in l],
            timeout=300, interval=0.1, what=f"the plugin to hold at {point}")[0]
        held_series = line.rsplit("(series ", 1)[1].rstrip(")")
        status = server.get(f"/spinemet/series/{held_series}")
        assert status["State"] == "running", (point, status)
        found = modalities(server, held_series)
        if point == "claimed":
            assert orthanc_counts(server)["done"] <= 2, "the rest of the batch waits"
        if point == "after-sr":
            assert found.get("SR", 0) >= 1, (point, found)
        if point in {"after-overlays", "before-done"}:
            assert found.get("SR") and found.get("OT"), (point, found)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=60)
        print(f"killed at {point} ({occurrence}): series {held_series}, its study holds {found}")


def test_kill_at_five_points_over_twenty_series_leaves_one_result_each(tmp_path, tiny_model, monkeypatch):
    folders = []
    truths = []
    for index in range(SERIES):
        folder = tmp_path / f"study{index}"
        truths.append(generate_phantom(folder, "--levels", "L1-L2", "--matrix", "256",
                                       "--slice-thickness", "5", "--seed", str(300 + index)))
        folders.append(folder)

    server = spinemet_orthanc(tiny_model, MaximumAttempts=20)
    try:
        kill_at_every_point(server, folders, monkeypatch)
    except BaseException:
        server.print_logs()
        server.cleanup()
        raise

    monkeypatch.delenv("SPINEMET_TEST_HOLD_AT")
    with server as orthanc:      # started again on the same storage, without the hook
        for truth in truths:
            series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
            status = wait_for_state(orthanc, series_id, timeout=300)
            assert status["State"] == "done", status
            by_modality = series_of_study(orthanc, status["Study"])
            assert len(by_modality["SR"]) == 1 and len(by_modality["SR"][0]["Instances"]) == 1, by_modality["SR"]
            assert len(by_modality["OT"]) == 1, by_modality["OT"]
            assert sorted(status["Outputs"]) == sorted(by_modality["SR"][0]["Instances"] +
                                                       by_modality["OT"][0]["Instances"])
        queue = orthanc.get("/spinemet/queue")
        assert queue["Counts"]["done"] == SERIES and queue["Counts"]["failed"] == 0, queue["Counts"]
        assert orthanc.logs().count("interrupted by the last stop of Orthanc") >= len(KILL_POINTS) - 1
