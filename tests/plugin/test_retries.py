# SPDX-License-Identifier: GPL-3.0-or-later
"""A failure of a transient kind (here Orthanc cannot read a slice from its storage: "fetch") is
retried with a backoff up to MaximumAttempts, the count and the last reason shown by REST and the
job; then it fails with that reason. A failure of the series itself is not retried."""

import os

from orthanc_server import storescu
from phantom_cli import generate_phantom
from plugin_fixtures import source_series_id, spinemet_orthanc, wait_for_analysis_jobs_to_end, wait_for_state


def test_a_slice_orthanc_cannot_read_is_retried_then_fails_with_the_count_and_the_reason(tmp_path, tiny_model):
    truth = generate_phantom(tmp_path / "study", "--levels", "T12-L1", "--matrix", "256",
                             "--slice-thickness", "3", "--seed", "41")
    # No storage cache: Orthanc reads each file from the folder, as it does for a series not seen lately.
    with spinemet_orthanc(tiny_model, extra={"MaximumStorageCacheSize": 0}, MaximumAttempts=3, RetryDelay=1,
                          MaximumRetryDelay=2) as orthanc:
        storescu(orthanc, tmp_path / "study")
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        first = wait_for_state(orthanc, series_id)
        assert first["State"] == "done", first
        assert first["Retries"] == 0 and first["LastFailure"] is None

        # One slice's file disappears from the storage folder (a storage hiccup, a network share
        # gone for a moment): Orthanc still lists the instance but cannot read it. The last one:
        # the selection rules read the first MinimumSlices instances' tags before queuing.
        instance = orthanc.get(f"/series/{series_id}")["Instances"][-1]
        uuid = orthanc.get(f"/instances/{instance}/attachments/dicom/info")["Uuid"]
        path = os.path.join(orthanc.storage, uuid[0:2], uuid[2:4], uuid)
        assert os.path.exists(path), path
        os.remove(path)

        answer = orthanc.post(f"/spinemet/series/{series_id}/analyse", {})
        assert answer["Outcome"] == "queued", answer
        failed = wait_for_state(orthanc, series_id, states={"failed"}, timeout=120)
        assert failed["Reason"]["Code"] == "fetch", failed
        assert instance in failed["Reason"]["Message"]
        assert "attempt 3 of 3" in failed["Reason"]["Message"], failed
        assert failed["Retries"] == 2, failed
        assert failed["LastFailure"].startswith("[fetch] "), failed
        assert failed["Node"] == "local"

        jobs = wait_for_analysis_jobs_to_end(orthanc)
        retried = [job for job in jobs if "retry" in str(job.get("Content", {}))]
        assert len(retried) == 2, [job.get("Content") for job in jobs]
        assert "retry 1" in orthanc.logs() and "retry 2" in orthanc.logs()
