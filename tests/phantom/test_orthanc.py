# SPDX-License-Identifier: GPL-3.0-or-later
"""A real Orthanc receives a generated study through storescu and sees one study, one series and
every instance, with the phantom's UIDs, in each transfer syntax the generator writes."""

import pytest

from orthanc_server import OrthancServer, storescu
from phantom_cli import generate_phantom


@pytest.fixture(scope="module")
def orthanc():
    with OrthancServer(config={"StableAge": 1}) as server:
        yield server


@pytest.mark.parametrize("syntax", ["explicit", "rle", "jpeg-lossless", "jpeg-ls"])
def test_orthanc_receives_one_study_with_one_series(orthanc, tmp_path, syntax):
    truth = generate_phantom(tmp_path / "study", "--seed", "12", "--levels", "T12-L1",
                             "--matrix", "256", "--slice-thickness", "3",
                             "--transfer-syntax", syntax)
    expected = len(truth["slices"])
    assert orthanc.get("/studies") == []

    storescu(orthanc, tmp_path / "study")
    try:
        studies = orthanc.get("/studies")
        assert len(studies) == 1
        study = orthanc.get(f"/studies/{studies[0]}")
        assert study["MainDicomTags"]["StudyInstanceUID"] == truth["series"]["study_instance_uid"]
        assert len(study["Series"]) == 1
        series = orthanc.get(f"/series/{study['Series'][0]}")
        assert series["MainDicomTags"]["SeriesInstanceUID"] == truth["series"]["series_instance_uid"]
        assert series["MainDicomTags"]["Modality"] == "CT"
        assert len(series["Instances"]) == expected
        assert orthanc.get("/statistics")["CountInstances"] == expected

        # one instance round-trips: its SOP Instance UID and transfer syntax are the phantom's
        instance = series["Instances"][0]
        tags = orthanc.get(f"/instances/{instance}/simplified-tags")
        assert tags["SOPInstanceUID"] in {s["sop_instance_uid"] for s in truth["slices"]}
        received = orthanc.get(f"/instances/{instance}/metadata/TransferSyntax", raw=True).decode()
        assert received == truth["series"]["transfer_syntax_uid"]
        orthanc.wait_until_stable(study["Series"][0])
    finally:
        for study_id in orthanc.get("/studies"):
            orthanc.delete(f"/studies/{study_id}")
