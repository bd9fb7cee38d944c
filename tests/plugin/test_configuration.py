# SPDX-License-Identifier: GPL-3.0-or-later
"""Orthanc loads the plugin, which says who it is; a wrong configuration or a broken model leaves
Orthanc running with the plugin disabled and the reasons in /spinemet/health."""

import json
import os
import urllib.error
import urllib.request

import pytest

from orthanc_server import OrthancServer, storescu
from phantom_cli import generate_phantom
from plugin_fixtures import ROOT, plugin_path, source_series_id, spinemet_orthanc, wait_for_state


def test_orthanc_loads_the_plugin_which_logs_name_version_and_device(tiny_model):
    with spinemet_orthanc(tiny_model) as orthanc:
        health = orthanc.get("/spinemet/health")
        assert health["Enabled"] is True, health
        assert health["Problems"] == []
        assert health["Version"] == "0.1.0"
        assert health["Device"].startswith("cpu")
        assert health["Model"] == "spinemet-tiny-test 0.0.0"
        assert health["QueueDatabase"] == orthanc.storage + "/spinemet-queue.sqlite"

        assert "spinemet" in orthanc.get("/plugins")
        assert orthanc.get("/plugins/spinemet")["Version"] == "0.1.0"
        log = orthanc.logs()
        assert "SpineMet 0.1.0 initialising" in log
        assert "LibTorch device cpu" in log

        model = orthanc.get("/spinemet/model")
        assert model["contract"] == "spinemet-model/1"
        assert model["name"] == "spinemet-tiny-test"
        assert orthanc.get("/spinemet/queue")["Analyses"] == []

        metrics = orthanc.get("/tools/metrics-prometheus", raw=True).decode()
        assert "spinemet_queue_depth 0" in metrics
        explorer = orthanc.get("/plugins/explorer.js", raw=True).decode()
        assert "spinemet/series/" in explorer


def expect_disabled(orthanc, *reasons):
    health = orthanc.get("/spinemet/health")
    assert health["Enabled"] is False
    problems = "\n".join(health["Problems"])
    for reason in reasons:
        assert reason in problems, problems
    log = orthanc.logs()
    for reason in reasons:
        assert reason in log
    # Orthanc itself goes on, and the other routes say why they cannot answer.
    assert orthanc.get("/system")["Name"] == "spinemet-test"
    with pytest.raises(urllib.error.HTTPError) as error:
        orthanc.get("/spinemet/queue")
    assert error.value.code == 503


def test_wrong_configuration_disables_the_plugin_with_one_line_per_mistake(tiny_model):
    with spinemet_orthanc(tiny_model, Treads=2, BatchSize="big", Device="tpu",
                          Selection={"MinimumSlices": 0}) as orthanc:
        expect_disabled(orthanc,
                        'SpineMet: unknown setting "Treads"',
                        'SpineMet.BatchSize: expected an integer of at least 1, got "big" (a string)',
                        'SpineMet.Device: expected one of "auto", "cpu", "cuda", got "tpu"',
                        "SpineMet.Selection.MinimumSlices: expected an integer of at least 1, got 0")


def test_broken_model_file_disables_the_plugin(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"this is not a TorchScript archive")
    with spinemet_orthanc(broken) as orthanc:
        expect_disabled(orthanc, "SpineMet.ModelPath: the model " + str(broken) + " does not load")


def test_missing_model_file_and_attachment_type_disable_the_plugin(tmp_path):
    missing = tmp_path / "missing.pt"
    with spinemet_orthanc(missing) as orthanc:
        expect_disabled(orthanc, str(missing))
    with spinemet_orthanc(missing, extra={"UserContentType": {}}) as orthanc:
        expect_disabled(orthanc, 'UserContentType: the result JSON is attached to each analysed series as "spinemet-result"')


def test_the_example_configuration_is_valid_and_orthancs_authentication_guards_the_routes(tiny_model):
    with open(os.path.join(ROOT, "config", "orthanc.json")) as f:
        example = json.load(f)
    section = dict(example["SpineMet"], ModelPath=tiny_model, Device="cpu")
    config = {"UserContentType": example["UserContentType"], "SpineMet": section}
    with OrthancServer(config=config, plugins=[plugin_path()], startup_timeout=120,
                       user="reader", password="secret-word") as orthanc:
        health = orthanc.get("/spinemet/health")
        assert health["Enabled"] is True and health["Problems"] == [], health
        for route in ("/spinemet/health", "/spinemet/queue"):
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(orthanc.url + route, timeout=30)
            assert error.value.code == 401


def test_configuration_values_past_their_bound_disable_the_plugin_naming_the_setting(tiny_model):
    with spinemet_orthanc(tiny_model, VolumesInFlight=2000, Threads=1000) as orthanc:
        expect_disabled(orthanc,
                        "SpineMet.VolumesInFlight: expected an integer of at most 16",
                        "SpineMet.Threads: expected an integer of at most 256")


def test_route_ids_that_are_not_orthanc_ids_are_refused_without_touching_the_queue(tmp_path, tiny_model):
    truth = generate_phantom(tmp_path / "study", "--levels", "T12-L1", "--matrix", "256",
                             "--slice-thickness", "3", "--seed", "28")
    with spinemet_orthanc(tiny_model) as orthanc:
        storescu(orthanc, tmp_path / "study")
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        done = wait_for_state(orthanc, series_id)
        # SpineMet's own output series arrive as rows too (receiving, then skipped) whenever
        # Orthanc reports them: only the rows of analyses are compared
        def analyses():
            counts = orthanc.get("/spinemet/queue")["Counts"]
            return {state: count for state, count in counts.items() if state not in ("receiving", "skipped")}
        counts = analyses()
        assert counts["done"] == 1 and sum(counts.values()) == 1, counts
        for method, path in [("POST", f"/spinemet/series/{series_id}%3Fx/analyse"),
                             ("GET", f"/spinemet/series/{series_id}%3Fx"),
                             ("POST", f"/spinemet/series/{series_id.upper()}/cancel"),
                             ("GET", f"/spinemet/studies/{done['Study']}%3Fexpand")]:
            with pytest.raises(urllib.error.HTTPError) as error:
                orthanc.request(method, path, {} if method == "POST" else None)
            assert error.value.code == 400, path
            assert "is not an Orthanc ID" in json.loads(error.value.read())["Error"], path
        assert analyses() == counts
        again = orthanc.get(f"/spinemet/series/{series_id}")
        assert again["State"] == "done" and again["FinishedAt"] == done["FinishedAt"]
