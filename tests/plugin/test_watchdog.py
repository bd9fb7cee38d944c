# SPDX-License-Identifier: GPL-3.0-or-later
"""The watchdog and the cancellation of a running analysis, in a real Orthanc: a cancel from the
job list stops a big analysis at its next check, whichever stage it is in; a tiny AnalysisTimeout
fails an analysis with the reason "timeout"; Orthanc stopped (SIGTERM) while analysing exits.

The bounds below are generous (tens of seconds against the checks' fraction of a second): they
say "it stopped", not how fast; the figures are in benchmarks/README.md."""

import signal
import time

import pytest

from orthanc_server import storescu
from phantom_cli import generate_phantom
from plugin_fixtures import series_of_study, source_series_id, spinemet_orthanc, wait_for_state

# Far more than one check of any stage takes (an instance, a slice, a batch of crops), far less
# than the analysis of the big phantom.
STOPPED_WITHIN_SECONDS = 30


@pytest.fixture(scope="module")
def big_phantom(tmp_path_factory):
    """A long, fine series (T1-L5, 512 x 512, 1 mm: several hundred instances) whose analysis
    takes long enough to be caught in every stage."""
    folder = tmp_path_factory.mktemp("big") / "study"
    truth = generate_phantom(folder, "--levels", "T1-L5", "--matrix", "512", "--slice-thickness", "1",
                             "--seed", "41")
    return folder, truth


def running_analysis_job(orthanc, stage_words):
    """The SpineMet job once it is running and its Stage is one of `stage_words`."""
    def running():
        for job in orthanc.get("/jobs?expand"):
            if job["Type"] == "SpineMetAnalysis" and job["State"] == "Running" and \
                    job["Content"].get("Stage") in stage_words:
                return job
        return None
    return orthanc.wait_until(running, timeout=300, interval=0.05, what=f"the analysis job in {stage_words}")


# The model stage of the tiny test model is over in a moment: it is not caught reliably, and its
# checks (one per batch of crops) are the worker's own (tests/worker).
@pytest.mark.parametrize("stage_words", [("reading instances",), ("finding the spine",)])
def test_cancelling_from_the_job_list_stops_a_big_analysis_in_any_stage(big_phantom, tiny_model, stage_words):
    folder, truth = big_phantom
    with spinemet_orthanc(tiny_model) as orthanc:
        storescu(orthanc, folder)
        job = running_analysis_job(orthanc, stage_words)
        series_id = job["Content"]["Series"]
        asked = time.monotonic()
        orthanc.post(f"/jobs/{job['ID']}/cancel", {})
        status = wait_for_state(orthanc, series_id, timeout=STOPPED_WITHIN_SECONDS, interval=0.05)
        print(f"cancelled in stage {stage_words[0]!r}: ended {time.monotonic() - asked:.2f} s after the request")
        assert status["State"] == "cancelled", status
        assert status["Outputs"] == []
        ended = orthanc.wait_until(lambda: orthanc.get(f"/jobs/{job['ID']}")["State"] != "Running" and
                                   orthanc.get(f"/jobs/{job['ID']}"), timeout=STOPPED_WITHIN_SECONDS,
                                   what="the job to stop")
        assert ended["State"] == "Failure", ended     # Orthanc's word for a cancelled job
        assert set(series_of_study(orthanc, status["Study"])) == {"CT"}
        assert orthanc.get("/system")["Name"]      # Orthanc still answers


def test_a_tiny_analysis_timeout_fails_the_analysis_with_its_reason(big_phantom, tiny_model):
    folder, truth = big_phantom
    with spinemet_orthanc(tiny_model, AnalysisTimeout=1) as orthanc:
        storescu(orthanc, folder)
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        status = wait_for_state(orthanc, series_id, timeout=300)
        assert status["State"] == "failed", status
        assert status["Reason"]["Code"] == "timeout", status
        assert "longer than its limit of 1 s" in status["Reason"]["Message"]
        assert "SpineMet.AnalysisTimeout" in status["Reason"]["Message"]
        assert status["Outputs"] == []
        assert set(series_of_study(orthanc, status["Study"])) == {"CT"}
        jobs = orthanc.wait_until(
            lambda: [j for j in orthanc.get("/jobs?expand")
                     if j["Type"] == "SpineMetAnalysis" and j["State"] not in {"Pending", "Running"}],
            timeout=STOPPED_WITHIN_SECONDS, what="the job to end")
        assert jobs[0]["State"] == "Failure"
        assert jobs[0]["Content"]["Message"].startswith("[timeout] ")
        assert "failed [timeout]" in orthanc.logs()


def test_orthanc_stops_while_analysing_a_big_series(big_phantom, tiny_model):
    folder, truth = big_phantom
    with spinemet_orthanc(tiny_model) as orthanc:
        storescu(orthanc, folder)
        running_analysis_job(orthanc, ("reading instances", "finding the spine"))
        asked = time.monotonic()
        orthanc.process.send_signal(signal.SIGTERM)
        orthanc.process.wait(timeout=STOPPED_WITHIN_SECONDS)
        print(f"Orthanc exited {time.monotonic() - asked:.2f} s after SIGTERM")
        assert orthanc.process.returncode == 0, orthanc.logs()
        assert "interrupted by Orthanc's shutdown" in orthanc.logs()
