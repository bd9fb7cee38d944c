# SPDX-License-Identifier: GPL-3.0-or-later
"""A phantom study sent to Orthanc with storescu is analysed by the plugin on its own: the SR and
the overlays land in the same study, the result JSON with the series; sending it again changes
nothing, extra slices replace the result; series that are not axial CT are left out with their
reason. The model is the random-weight test model, so the tests check structure and the spine
finder's vertebrae against the ground truth, not the model's classes."""

import hashlib
import os
import shutil
import subprocess

from orthanc_server import storescu
from phantom_cli import generate_phantom
from plugin_fixtures import (series_of_study, source_series_id, spinemet_orthanc, wait_for_analysis_jobs_to_end,
                             wait_for_change_log, wait_for_state)

PHANTOM = ["--levels", "T12-L2", "--matrix", "256", "--slice-thickness", "3", "--seed"]


def test_phantom_study_gets_its_sr_and_overlays_in_the_same_study(tmp_path, tiny_model):
    truth = generate_phantom(tmp_path / "study", *PHANTOM, "5")
    with spinemet_orthanc(tiny_model) as orthanc:
        storescu(orthanc, tmp_path / "study")
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        status = wait_for_state(orthanc, series_id)
        assert status["State"] == "done", status
        assert status["Slices"] == len(truth["slices"])
        assert status["Model"] == "spinemet-tiny-test 0.0.0"
        assert set(status["StageSeconds"]) == {"read", "spine", "classify", "write"}

        # the outputs are in the source study: one SR, the overlays in their own series
        study_id = status["Study"]
        by_modality = series_of_study(orthanc, study_id)
        assert len(by_modality["CT"]) == 1
        assert len(by_modality["SR"]) == 1 and len(by_modality["SR"][0]["Instances"]) == 1
        overlays = by_modality["OT"]
        assert len(overlays) == 1 and len(overlays[0]["Instances"]) >= 1
        assert sorted(status["Outputs"]) == sorted(by_modality["SR"][0]["Instances"] + overlays[0]["Instances"])

        # the result: one vertebra per phantom vertebra, cranial to caudal, each covering most of
        # its phantom vertebra's slices (the spine finder may differ by a slice at a disc)
        result = status["Result"]
        assert result["schema"] == "spinemet-result/2"
        assert result["series"]["series_instance_uid"] == truth["series"]["series_instance_uid"]
        assert len(result["vertebrae"]) == len(truth["vertebrae"])
        for found, expected in zip(result["vertebrae"], truth["vertebrae"]):
            covered = {s["sop_instance_uid"] for s in result["slices"] if s["vertebra"] == found["index"]}
            overlap = covered & set(expected["sop_instance_uids"])
            assert len(overlap) >= len(expected["sop_instance_uids"]) / 2, (found["display_name"], expected["level"])
            assert found["key_slice_sop_instance_uid"] in covered
            if found["assessable"]:
                assert found["bone_quality"]["class"] in {"normal", "blastic", "lytic", "mixed"}
                assert found["posterolateral"]["class"] in {"none", "unilateral", "bilateral"}
            else:
                # no finding at all for a vertebra the model cannot be trusted on, but its reasons
                assert found["not_assessable_reasons"], found
                assert found["bone_quality"]["class"] is None and found["sins"]["bone_lesion"] is None, found
        attached = orthanc.get(f"/series/{series_id}/attachments/spinemet-result/data")
        assert attached == result

        # the study route summarises; the job list shows the analysis; metrics count it
        study = orthanc.get(f"/spinemet/studies/{study_id}")
        assert study["Analysed"] is True
        assert [s["Series"] for s in study["Series"]] == [series_id]
        assert study["LesionSuspected"] == result["summary"]["lesion_suspected"]
        assert study["StudyState"] == status["StudyState"] == result["summary"]["state"]
        assert study["StudyState"] in {"lesion-suspected", "no-lesion-found", "not-assessable"}
        jobs = wait_for_analysis_jobs_to_end(orthanc)
        assert len(jobs) == 1
        assert jobs[0]["State"] == "Success" and jobs[0]["Progress"] == 100
        assert jobs[0]["Content"]["Series"] == series_id
        metrics = orthanc.get("/tools/metrics-prometheus", raw=True).decode()
        assert "spinemet_analyses_done 1" in metrics
        assert "spinemet_analysis_seconds" in metrics and "spinemet_slices_per_second" in metrics

        # the source instances are as they were sent
        first = truth["slices"][0]
        instance = [m for m in orthanc.post("/tools/lookup", first["sop_instance_uid"], content_type="text/plain")
                    if m["Type"] == "Instance"][0]["ID"]
        stored = orthanc.get(f"/instances/{instance}/file", raw=True)
        with open(tmp_path / "study" / first["file"], "rb") as f:
            assert hashlib.sha256(stored).digest() == hashlib.sha256(f.read()).digest()


def test_same_series_again_adds_nothing_and_extra_slices_replace_the_result(tmp_path, tiny_model):
    truth = generate_phantom(tmp_path / "study", *PHANTOM, "6")
    first_part, rest, total = split_study(tmp_path, truth)

    with spinemet_orthanc(tiny_model) as orthanc:
        storescu(orthanc, first_part)
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        first = wait_for_state(orthanc, series_id)
        assert first["State"] == "done", first
        study_id = first["Study"]
        outputs_before = sorted(first["Outputs"])

        # the same instances again: no new analysis, no new outputs
        storescu(orthanc, first_part)
        instances_before = orthanc.get("/statistics")["CountInstances"]
        orthanc.wait_until(lambda: orthanc.get(f"/series/{series_id}")["IsStable"], what="stable again")
        wait_for_change_log(orthanc)
        again = orthanc.get(f"/spinemet/series/{series_id}")
        assert again["FinishedAt"] == first["FinishedAt"]
        assert sorted(again["Outputs"]) == outputs_before
        assert orthanc.get("/statistics")["CountInstances"] == instances_before

        # the rest of the slices: analysed again, the old outputs replaced by new ones
        storescu(orthanc, rest)
        second = wait_for_state(orthanc, series_id, states={"done"}, after=first["FinishedAt"])
        assert second["Slices"] == total
        by_modality = series_of_study(orthanc, study_id)
        assert len(by_modality["SR"]) == 1 and len(by_modality["SR"][0]["Instances"]) == 1
        assert len(by_modality["OT"]) == 1
        current = sorted(by_modality["SR"][0]["Instances"] + by_modality["OT"][0]["Instances"])
        assert current == sorted(second["Outputs"])
        assert not set(outputs_before) & set(current)
        for old in outputs_before:
            assert old not in orthanc.get("/instances")

        # a manual re-analysis gives the same single set of outputs
        answer = orthanc.post(f"/spinemet/series/{series_id}/analyse", {})
        assert answer["Outcome"] == "queued"
        third = wait_for_state(orthanc, series_id, states={"done"}, after=second["FinishedAt"])
        assert third["Trigger"] == "manual"
        by_modality = series_of_study(orthanc, study_id)
        assert len(by_modality["SR"][0]["Instances"]) == 1 and len(by_modality["SR"]) == 1

        # the study deleted and sent again: Orthanc gives it the same IDs, SpineMet a new result
        orthanc.delete(f"/studies/{study_id}")
        storescu(orthanc, first_part, rest)
        fourth = wait_for_state(orthanc, series_id, states={"done"}, after=third["FinishedAt"])
        assert fourth["Trigger"] == "stable-series, result missing"
        by_modality = series_of_study(orthanc, study_id)
        assert len(by_modality["SR"]) == 1 and len(by_modality["SR"][0]["Instances"]) == 1
        assert sorted(by_modality["SR"][0]["Instances"] + by_modality["OT"][0]["Instances"]) == sorted(fourth["Outputs"])
        assert orthanc.get(f"/spinemet/series/{series_id}")["Result"]["vertebrae"]


def dcmodify(folder, *assignments):
    files = sorted(str(folder / name) for name in os.listdir(folder))
    subprocess.run(["dcmodify", "-nb", "-gin", *sum((["-m", a] for a in assignments), []), *files],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_series_that_are_not_axial_ct_of_a_spine_end_with_their_reason(tmp_path, tiny_model):
    truth = generate_phantom(tmp_path / "study", *PHANTOM, "7")
    mr, localizer = tmp_path / "mr", tmp_path / "localizer"
    shutil.copytree(tmp_path / "study", mr)
    shutil.copytree(tmp_path / "study", localizer)
    os.remove(mr / "ground_truth.json")
    os.remove(localizer / "ground_truth.json")
    uid = truth["series"]["series_instance_uid"]
    dcmodify(mr, "(0008,0060)=MR", f"(0020,000e)={uid}.1")
    dcmodify(localizer, "(0008,0008)=ORIGINAL\\PRIMARY\\LOCALIZER", f"(0020,000e)={uid}.2")
    head_ct = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "real-ct", "head-gantry-tilt")

    with spinemet_orthanc(tiny_model) as orthanc:
        storescu(orthanc, mr, localizer)
        subprocess.run(["storescu", "-aec", orthanc.aet, "+sd", "+r", "127.0.0.1", str(orthanc.dicom_port),
                        head_ct], check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        mr_status = wait_for_state(orthanc, source_series_id(orthanc, uid + ".1"))
        assert mr_status["State"] == "skipped"
        assert mr_status["Reason"]["Code"] == "not-ct"
        localizer_status = wait_for_state(orthanc, source_series_id(orthanc, uid + ".2"))
        assert localizer_status["State"] == "skipped"
        assert localizer_status["Reason"]["Code"] == "image-type"

        head_series = [s for s in orthanc.get("/series?expand")
                       if s["MainDicomTags"].get("SeriesInstanceUID") not in (uid + ".1", uid + ".2")]
        assert len(head_series) == 1
        head = wait_for_state(orthanc, head_series[0]["ID"])
        assert head["State"] in {"failed", "skipped"}, head
        assert head["Reason"]["Code"] and head["Reason"]["Message"]
        assert head["Outputs"] == []

        # nothing was written for any of them, and a manual request says why it is refused
        modalities = {s["MainDicomTags"].get("Modality") for s in orthanc.get("/series?expand")}
        assert "SR" not in modalities and "OT" not in modalities
        refused = orthanc.post(f"/spinemet/series/{mr_status['Series']}/analyse", {})
        assert refused["Outcome"] == "skipped" and refused["Reason"]["Code"] == "not-ct"


def test_localizer_stored_before_the_axial_slices_is_left_out_not_the_series(tmp_path, tiny_model):
    """The selection is judged from all instances of the series: a localizer that Orthanc stored
    first must not make the axial series skipped."""
    truth = generate_phantom(tmp_path / "study", *PHANTOM, "8")
    localizer = tmp_path / "localizer"
    localizer.mkdir()
    first = sorted(s["file"] for s in truth["slices"])[0]
    shutil.copy(tmp_path / "study" / first, localizer / "localizer.dcm")
    uid = truth["series"]["series_instance_uid"]
    dcmodify(localizer, "(0008,0008)=ORIGINAL\\PRIMARY\\LOCALIZER", f"(0008,0018)={uid}.9",
             "(0020,0037)=1\\0\\0\\0\\0\\-1")
    os.remove(tmp_path / "study" / "ground_truth.json")

    with spinemet_orthanc(tiny_model) as orthanc:
        storescu(orthanc, localizer)
        series_id = source_series_id(orthanc, uid)
        storescu(orthanc, tmp_path / "study")
        instances = orthanc.get(f"/series/{series_id}")["Instances"]
        assert len(instances) == len(truth["slices"]) + 1
        first_tags = orthanc.get(f"/instances/{instances[0]}/simplified-tags")
        assert "LOCALIZER" in first_tags["ImageType"], "Orthanc no longer lists the first stored instance first"
        status = wait_for_state(orthanc, series_id)
        assert status["State"] == "done", status
        assert status["Slices"] == len(truth["slices"])
        assert len(series_of_study(orthanc, status["Study"])["SR"]) == 1


def split_study(tmp_path, truth):
    """The phantom's files in two folders: the first two thirds of the slices, and the rest."""
    files = sorted(s["file"] for s in truth["slices"])
    first_part, rest = tmp_path / "first", tmp_path / "rest"
    first_part.mkdir()
    rest.mkdir()
    for index, name in enumerate(files):
        shutil.copy(tmp_path / "study" / name, (first_part if index < 2 * len(files) // 3 else rest) / name)
    return first_part, rest, len(files)


def test_reanalysis_policy_never_keeps_the_first_result_until_asked(tmp_path, tiny_model):
    truth = generate_phantom(tmp_path / "study", *PHANTOM, "8")
    first_part, rest, total = split_study(tmp_path, truth)
    with spinemet_orthanc(tiny_model, ReanalysisPolicy="Never") as orthanc:
        storescu(orthanc, first_part)
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        first = wait_for_state(orthanc, series_id)
        assert first["State"] == "done", first

        storescu(orthanc, rest)
        orthanc.wait_until(lambda: orthanc.get(f"/series/{series_id}")["IsStable"], what="stable again")
        wait_for_change_log(orthanc)
        kept = orthanc.get(f"/spinemet/series/{series_id}")
        assert kept["State"] == "done" and kept["FinishedAt"] == first["FinishedAt"]
        assert kept["Slices"] == first["Slices"] < total

        assert orthanc.post(f"/spinemet/series/{series_id}/analyse", {})["Outcome"] == "queued"
        manual = wait_for_state(orthanc, series_id, states={"done"}, after=first["FinishedAt"])
        assert manual["Slices"] == total
