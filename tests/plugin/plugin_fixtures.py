# SPDX-License-Identifier: GPL-3.0-or-later
"""What the plugin's tests share: the built plugin, a model for it, and an Orthanc configured
with both (tests/support/orthanc_server.py starts it)."""

import os
import subprocess
import sys

import pytest

from orthanc_server import OrthancServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def plugin_path():
    path = os.environ.get("SPINEMET_PLUGIN")
    if not path or not os.path.exists(path):
        raise RuntimeError("SPINEMET_PLUGIN must name the built libSpineMet.so (CTest sets it)")
    return path


def export_tiny_model(path, input_size=32, seed=0):
    """The random-weight test model of training/spinemet_train/export.py: it has the contract's
    shape, so the whole pipeline runs; its findings mean nothing. A random network answers nearly
    the same class for every crop, so the seed decides the study state: seed 0 calls every
    vertebra a lesion, seed 1 none (bone quality normal)."""
    subprocess.run([sys.executable, "-m", "spinemet_train.export", "--tiny", "--out", str(path),
                    "--input-size", str(input_size), "--seed", str(seed)],
                   check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "training")),
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return str(path)


def spinemet_config(model_path, **settings):
    """Orthanc settings for SpineMet: the attachment type it needs and its own section."""
    section = {"ModelPath": str(model_path), "Device": "cpu", "Threads": 1,
               "Selection": {"MinimumSlices": 10}}
    section.update(settings)
    return {"UserContentType": {"spinemet-result": [4600, "application/json"]},
            "StableAge": 1,
            "SpineMet": section}


def spinemet_orthanc(model_path, extra=None, **settings):
    config = spinemet_config(model_path, **settings)
    config.update(extra or {})
    return OrthancServer(config=config, plugins=[plugin_path()], startup_timeout=120)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return export_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt")


FINAL_STATES = {"done", "failed", "skipped", "cancelled"}


def wait_for_state(orthanc, series_id, states=FINAL_STATES, timeout=240, after=None, interval=0.5):
    """Polls /spinemet/series/{id} until its State is one of `states` (and, with `after`, its
    FinishedAt differs from `after`); returns the status."""
    def ready():
        try:
            status = orthanc.get(f"/spinemet/series/{series_id}")
        except Exception:
            return None
        if status.get("State") in states and (after is None or status.get("FinishedAt") != after):
            return status
        return None
    return orthanc.wait_until(ready, timeout=timeout, interval=interval,
                              what=f"SpineMet to finish series {series_id}")


def wait_for_analysis_jobs_to_end(orthanc, timeout=60):
    """Returns the SpineMet jobs of Orthanc's job list once none is pending or running. Orthanc
    steps a job on its own thread, so a job may still say Running for a moment after the queue
    row says done."""
    def ended():
        jobs = [job for job in orthanc.get("/jobs?expand") if job["Type"] == "SpineMetAnalysis"]
        return jobs if all(job["State"] not in {"Pending", "Running"} for job in jobs) else None
    return orthanc.wait_until(ended, timeout=timeout, interval=0.2, what="the SpineMet jobs to end")


def series_of_study(orthanc, study_id):
    """{Modality: [series JSON, ...]} of a study."""
    found = {}
    for series in orthanc.get(f"/studies/{study_id}/series"):
        found.setdefault(series["MainDicomTags"].get("Modality"), []).append(series)
    return found


def source_series_id(orthanc, series_instance_uid):
    matches = [m for m in orthanc.post("/tools/lookup", series_instance_uid, content_type="text/plain")
               if m["Type"] == "Series"]
    assert len(matches) == 1, matches
    return matches[0]["ID"]


def wait_for_change_log(orthanc, timeout=60):
    """Waits until SpineMet has handled every change Orthanc has logged so far."""
    last = orthanc.get("/changes?last")["Last"]
    orthanc.wait_until(lambda: orthanc.get("/spinemet/health")["LastChange"] >= last, timeout=timeout,
                       what=f"SpineMet to handle change {last}")
