# SPDX-License-Identifier: GPL-3.0-or-later
"""spinemet-prep on real phantom studies written by spinemet-phantom: the samples are the slices the
serving pipeline crops, crops.npy loads with numpy with the right shape, and the labels are the
ground truth's."""
import json
import os
import subprocess

import numpy
import pytest

PREP = os.environ["SPINEMET_PREP"]
PHANTOM = os.environ["SPINEMET_PHANTOM"]
LABELS = "T12=lytic:unilateral-left,L1=blastic,L2=mixed:bilateral"


def make_phantom(folder, seed, *extra):
    subprocess.run([PHANTOM, "--out", str(folder), "--seed", str(seed), "--matrix", "256", "--pixel-spacing", "0.9",
                    "--labels", LABELS, *extra], check=True, capture_output=True)
    return folder


def prep(*arguments):
    return subprocess.run([PREP, *map(str, arguments)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("studies")
    return {
        "thin": make_phantom(root / "thin", 11, "--slice-thickness", "2", "--order", "ascending"),
        "thick": make_phantom(root / "thick", 12, "--slice-thickness", "4", "--lateral-offset", "20"),
    }


def load(folder):
    with open(folder / "samples.json") as f:
        document = json.load(f)
    return document, numpy.load(folder / "crops.npy")


def truth_of(study):
    with open(study / "ground_truth.json") as f:
        return json.load(f)


@pytest.mark.parametrize("name", ["thin", "thick"])
def test_samples_are_the_vertebra_slices_with_ground_truth_labels(studies, tmp_path, name):
    result = prep("--out", tmp_path, studies[name])
    assert result.returncode == 0, result.stderr
    assert f"[1/1] {studies[name]}: " in result.stdout
    document, crops = load(tmp_path / name)
    truth = truth_of(studies[name])
    samples = document["samples"]

    assert document["format"] == "spinemet-samples/1"
    assert crops.dtype == numpy.float32 and crops.shape == (len(samples), 1, 96, 96)
    assert document["crops"]["shape"] == list(crops.shape)
    assert document["study"]["seed"] == truth["seed"]
    assert document["study"]["series_instance_uid"] == truth["series"]["series_instance_uid"]
    assert [s["crop_index"] for s in samples] == list(range(len(samples)))
    slice_indices = [s["slice_index"] for s in samples]
    assert slice_indices == sorted(set(slice_indices))

    # One sample per vertebra-bearing slice: every vertebra's crops add up, the found vertebrae
    # are the truth's, and the ground-truth vertebra slices are covered but for a few at the ends.
    assert document["study"]["vertebra_slices"] == len(samples)
    assert sum(v["crops"] for v in document["vertebrae"]) == len(samples)
    assert [v["truth_level"] for v in document["vertebrae"]] == [v["level"] for v in truth["vertebrae"]]
    truth_slices = {s["sop_instance_uid"]: s for s in truth["slices"]}
    truth_vertebra_slices = [s for s in truth["slices"] if s["vertebra"] is not None]
    on_vertebra = [s for s in samples if s["slice_truth"] == "vertebra"]
    covered = len(on_vertebra) + document["study"]["truth_vertebra_slices_missed"]
    assert covered == len(truth_vertebra_slices)
    assert len(on_vertebra) >= 0.8 * len(truth_vertebra_slices)
    assert len(on_vertebra) >= 0.8 * len(samples)

    truth_vertebrae = {v["index"]: v for v in truth["vertebrae"]}
    for sample in samples:
        truth_slice = truth_slices[sample["sop_instance_uid"]]
        assert sample["z_mm"] == pytest.approx(truth_slice["z_mm"], abs=0.01)
        for flag in ("lesion_visible", "blastic_lesion_visible", "lytic_lesion_visible", "posterolateral_lesion_visible"):
            assert sample[flag] == truth_slice[flag]
        vertebra = truth_vertebrae[sample["truth_vertebra_index"]]
        if sample["slice_truth"] == "vertebra":
            assert truth_slice["vertebra"] == vertebra["index"]
        else:
            assert truth_slice["vertebra"] != vertebra["index"]
        assert sample["truth_vertebra_level"] == vertebra["level"]
        assert sample["bone_quality"] == vertebra["bone_quality"]
        assert sample["bone_quality_index"] == ["normal", "blastic", "lytic", "mixed"].index(vertebra["bone_quality"])
        assert sample["blastic"] == int(vertebra["bone_quality"] in ("blastic", "mixed"))
        assert sample["lytic"] == int(vertebra["bone_quality"] in ("lytic", "mixed"))
        assert sample["posterolateral"] == vertebra["posterolateral"]
        assert sample["posterolateral_side"] == ("left" if vertebra["level"] == "T12" else None)
    by_level = {s["truth_vertebra_level"]: s["bone_quality"] for s in samples}
    assert by_level == {"T12": "lytic", "L1": "blastic", "L2": "mixed"}


def test_preprocessing_file_sets_the_crops(studies, tmp_path):
    preprocessing = {"input_size": 64, "channels": 3, "channel_spacing_mm": 4, "crop_mm": 110,
                     "window": [-200, 1000], "mean": 0.2, "std": 0.5}
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"contract": "spinemet-model/1", "preprocessing": preprocessing}))
    result = prep("--out", tmp_path / "out", "--preprocessing", path, studies["thin"])
    assert result.returncode == 0, result.stderr
    document, crops = load(tmp_path / "out" / "thin")
    assert document["preprocessing"] == preprocessing
    assert crops.shape == (len(document["samples"]), 3, 64, 64)
    assert crops.min() >= (0 - 0.2) / 0.5 - 1e-6 and crops.max() <= (1 - 0.2) / 0.5 + 1e-6
    # 2 mm slices, 4 mm channel spacing: the outer channels are other slices than the centre one.
    assert not numpy.array_equal(crops[:, 0], crops[:, 1]) and not numpy.array_equal(crops[:, 2], crops[:, 1])


def test_bad_preprocessing_file_is_refused(studies, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"input_size": 64, "channels": 2, "channel_spacing_mm": 4, "crop_mm": 110,
                                "window": [-200, 1000], "mean": 0, "std": 1}))
    result = prep("--out", tmp_path / "out", "--preprocessing", path, studies["thin"])
    assert result.returncode == 2
    assert "model-contract" in result.stderr and "preprocessing.channels" in result.stderr and "bad.json" in result.stderr


def test_many_studies_a_failing_one_is_reported_and_skipped(studies, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ground_truth.json").write_text("{}")
    (broken / "CT0001.dcm").write_bytes(b"not DICOM")
    out = tmp_path / "out"
    arguments = ["--out", out, studies["thin"], empty, broken, studies["thick"], studies["thin"]]
    result = prep(*arguments)
    assert result.returncode == 1
    assert f"[2/5] {empty}: FAILED (prep-study)" in result.stderr
    assert f"[3/5] {broken}: FAILED (ground-truth)" in result.stderr and '"schema" is missing' in result.stderr
    assert "2 of 5 studies failed" in result.stderr
    assert f"[4/5] {studies['thick']}: " in result.stdout
    for name in ("thin", "thick", "thin-2"):
        document, crops = load(out / name)
        assert crops.shape[0] == len(document["samples"]) > 0
    assert not (out / "empty" / "samples.json").exists()

    assert prep("--keep-going", *arguments).returncode == 0
    assert prep("--keep-going", "--out", out, empty).returncode == 1


def test_usage_errors(tmp_path):
    assert prep().returncode == 2
    assert prep("--out", tmp_path).returncode == 2
    assert prep("--frobnicate", "--out", tmp_path, tmp_path).returncode == 2
    result = prep("--out", tmp_path, "--labels", tmp_path / "missing.csv", tmp_path)
    assert result.returncode == 2 and "labels-table" in result.stderr


def write_stub_seg(path, patient_id):
    """A Segmentation Storage header without segments: enough for finding the study's files."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.66.4"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    seg = Dataset()
    seg.file_meta = meta
    seg.SOPClassUID = meta.MediaStorageSOPClassUID
    seg.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    seg.Modality = "SEG"
    seg.PatientID = patient_id
    seg.SeriesInstanceUID = generate_uid()
    seg.is_little_endian, seg.is_implicit_VR = True, False
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(str(path), write_like_original=False)


def test_real_study_files_and_case_are_checked(studies, tmp_path):
    import shutil
    case = tmp_path / "case-1"
    shutil.copytree(studies["thin"], case / "study" / "ct", ignore=shutil.ignore_patterns("ground_truth.json"))
    patient_id = "SPINEMET-PHANTOM-11"
    table = tmp_path / "labels.csv"
    table.write_text("case_id,blastic_levels,lytic_levels,mixed_levels\nother,T12,,\n")

    result = prep("--out", tmp_path / "out", case)
    assert result.returncode == 1 and "needs --labels" in result.stderr
    result = prep("--out", tmp_path / "out", "--labels", table, case)
    assert result.returncode == 1 and "0 DICOM SEG objects found" in result.stderr
    write_stub_seg(case / "study" / "seg" / "seg.dcm", patient_id)
    result = prep("--out", tmp_path / "out", "--labels", table, case)
    assert result.returncode == 1
    assert f'FAILED (labels-table): case "{patient_id}"' in result.stderr


def test_real_study_with_vertebra_seg_and_labels_table(tmp_path):
    case = tmp_path / "tcia" / "case-7"
    written = subprocess.run([os.environ["SPINEMET_WRITE_SEG_STUDY"], str(case), "7"], check=True,
                             capture_output=True, text=True)
    patient_id = written.stdout.strip()
    (case / "notes.txt").write_text("not DICOM")
    table = tmp_path / "labels.csv"
    table.write_text("case_id,age,blastic_levels,lytic_levels,mixed_levels\n"
                     f'{patient_id},60,T11,"T12, L2",L1\n'
                     "other,70,,T3,\n")
    result = prep("--out", tmp_path / "out", "--labels", table, case)
    assert result.returncode == 0, result.stderr
    assert "(spine-mets-ct-seg)" in result.stdout
    document, crops = load(tmp_path / "out" / "case-7")
    study = document["study"]
    assert study["kind"] == "spine-mets-ct-seg" and study["case_id"] == patient_id and study["seed"] is None
    assert any("notes.txt" in warning for warning in study["warnings"])

    # Vertebrae and their levels come from the SEG, labels from the table, per vertebra.
    expected = {"T11": "blastic", "T12": "lytic", "L1": "mixed", "L2": "lytic"}
    assert [v["level"] for v in document["vertebrae"]] == list(expected)
    for vertebra in document["vertebrae"]:
        assert vertebra["bone_quality"] == expected[vertebra["level"]]
        assert vertebra["posterolateral_index"] == -1 and vertebra["crops"] > 0
    samples = document["samples"]
    assert crops.shape == (len(samples), 1, 96, 96) and len(samples) == sum(v["crops"] for v in document["vertebrae"])
    for sample in samples:
        assert sample["bone_quality"] == expected[sample["vertebra_level"]]
        assert sample["truth_vertebra_level"] == sample["vertebra_level"]
        assert sample["posterolateral"] == "unknown" and sample["posterolateral_index"] == -1
        assert sample["lesion_visible"] is None and sample["slice_truth"] == "vertebra"
        assert (sample["blastic"], sample["lytic"]) == {"blastic": (1, 0), "lytic": (0, 1), "mixed": (1, 1)}[sample["bone_quality"]]
