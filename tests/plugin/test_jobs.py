# SPDX-License-Identifier: GPL-3.0-or-later
"""What users do around an analysis: cancel it from Orthanc's job list; receive its outputs on
another DICOM node and a webhook notice when a lesion is suspected, and neither otherwise."""

import contextlib
import http.server
import json
import threading
import time

from orthanc_server import OrthancServer, free_port, storescu
from phantom_cli import generate_phantom
from plugin_fixtures import export_tiny_model, series_of_study, source_series_id, spinemet_orthanc, wait_for_state


def test_cancelling_the_job_cancels_the_analysis_and_a_new_request_runs_it(tmp_path, tiny_model):
    truth = generate_phantom(tmp_path / "study", "--levels", "T6-L2", "--matrix", "512",
                             "--slice-thickness", "1", "--seed", "31")
    with spinemet_orthanc(tiny_model) as orthanc:
        storescu(orthanc, tmp_path / "study")
        job = orthanc.wait_until(
            lambda: [j for j in orthanc.get("/jobs?expand")
                     if j["Type"] == "SpineMetAnalysis" and j["State"] == "Running"],
            timeout=120, interval=0.05, what="the analysis job to run")[0]
        orthanc.post(f"/jobs/{job['ID']}/cancel", {})
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        status = wait_for_state(orthanc, series_id)
        assert status["State"] == "cancelled", status
        assert status["Outputs"] == []
        assert orthanc.wait_until(lambda: orthanc.get(f"/jobs/{job['ID']}")["State"] != "Running",
                                  what="the job to stop")
        assert set(series_of_study(orthanc, status["Study"])) == {"CT"}

        assert orthanc.post(f"/spinemet/series/{series_id}/analyse", {})["Outcome"] == "queued"
        done = wait_for_state(orthanc, series_id, states={"done", "failed"})
        assert done["State"] == "done", done
        assert done["Slices"] == len(truth["slices"])


class Webhook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Webhook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def forwarding_setup(tmp_path, model, seed):
    """A phantom analysed by `model` in an Orthanc that forwards to a second Orthanc ("PACS") and
    posts to a local webhook; yields (orthanc, pacs, truth, status)."""
    truth = generate_phantom(tmp_path / "study", "--levels", "T12-L2", "--matrix", "256",
                             "--slice-thickness", "3", "--seed", str(seed))
    hook = http.server.HTTPServer(("127.0.0.1", free_port()), Webhook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        with OrthancServer(aet="PACS") as pacs:
            modalities = {"PACS": [pacs.aet, "127.0.0.1", pacs.dicom_port]}
            forward = {"Modalities": ["PACS"], "Webhook": f"http://127.0.0.1:{hook.server_port}/spinemet"}
            with spinemet_orthanc(model, extra={"DicomModalities": modalities}, Forward=forward) as orthanc:
                storescu(orthanc, tmp_path / "study")
                series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
                status = wait_for_state(orthanc, series_id)
                assert status["State"] == "done", status
                summary = status["Result"]["summary"]
                assert status["StudyState"] == summary["state"]
                assert orthanc.get(f"/spinemet/studies/{status['Study']}")["StudyState"] == summary["state"]
                yield orthanc, pacs, truth, status
    finally:
        hook.shutdown()


def test_outputs_are_forwarded_and_the_webhook_hears_of_suspected_lesions(tmp_path, tiny_model):
    with forwarding_setup(tmp_path, tiny_model, 32) as (orthanc, pacs, truth, status):
        summary = status["Result"]["summary"]
        assert summary["state"] == "lesion-suspected", "the seed-0 tiny model calls every vertebra a lesion"
        forwarded = pacs.wait_until(lambda: len(pacs.get("/instances")) == len(status["Outputs"]) and
                                    pacs.get("/instances"), what="the outputs at the PACS")
        sop = {pacs.get(f"/instances/{i}")["MainDicomTags"]["SOPInstanceUID"] for i in forwarded}
        here = {orthanc.get(f"/instances/{i}")["MainDicomTags"]["SOPInstanceUID"] for i in status["Outputs"]}
        assert sop == here
        notices = [n for n in Webhook.received if n["Series"] == status["Series"]]
        assert len(notices) == 1
        assert notices[0]["Event"] == "spinemet-lesion-suspected"
        assert notices[0]["State"] == "lesion-suspected"
        assert notices[0]["AssessableVertebrae"] == summary["assessable_vertebrae"]
        assert notices[0]["Vertebrae"] == summary["vertebrae"]
        assert notices[0]["SeriesInstanceUID"] == truth["series"]["series_instance_uid"]
        assert sorted(notices[0]["Outputs"]) == sorted(status["Outputs"])


def test_a_study_without_suspected_lesion_is_neither_forwarded_nor_announced(tmp_path):
    model = export_tiny_model(tmp_path / "tiny-seed-1.pt", seed=1)
    with forwarding_setup(tmp_path, model, 33) as (orthanc, pacs, truth, status):
        assert status["StudyState"] == "no-lesion-found", "the seed-1 tiny model finds no lesion"
        assert status["Outputs"], "the SR and overlays are still stored in the study"
        # The forward and the notice are sent before the analysis is marked done, so by now they
        # would have arrived (the C-STORE job gets a few seconds).
        time.sleep(3)
        assert pacs.get("/instances") == []
        assert [n for n in Webhook.received if n["Series"] == status["Series"]] == []
