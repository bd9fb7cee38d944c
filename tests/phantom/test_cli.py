# SPDX-License-Identifier: GPL-3.0-or-later
"""spinemet-phantom on the command line: help, exit codes, clear errors, the files it writes."""

import json
import os

import pytest

from phantom_cli import generate_phantom, run_phantom


def test_help_lists_the_options():
    result = run_phantom("--help")
    assert result.returncode == 0
    for option in ("--out", "--seed", "--levels", "--matrix", "--pixel-spacing", "--slice-thickness",
                   "--slice-spacing", "--order", "--transfer-syntax", "--difficulty",
                   "--random-acquisition", "--labels", "--lesion-probability", "--bone"):
        assert option in result.stdout


@pytest.mark.parametrize("args, message", [
    ([], "--out DIR is required"),
    (["--out", "x", "--matrix", "300"], "--matrix"),
    (["--out", "x", "--seed", "-3"], "--seed"),
    (["--out", "x", "--pixel-spacing", "fine"], "--pixel-spacing expects a number"),
    (["--out", "x", "--transfer-syntax", "jpeg2000"], "unknown transfer syntax"),
    (["--out", "x", "--levels", "L3-T1"], "cranial to caudal"),
    (["--out", "x", "--labels", "T11=normal:bilateral"], "cannot have posterolateral"),
    (["--out", "x", "--slice-thickness", "7"], "slice thickness must be 0.625 to 5 mm"),
    (["--out", "x", "--frobnicate"], "unknown option"),
    (["--out"], "needs a value"),
    (["--out", "x", "--bone", "real"], "--bone must be simple or realistic"),
    (["--out", "x", "--bone", "realistic", "--bone-density", "500"], "bone density must be 50 to 350 HU"),
    (["--out", "x", "--bone-density", "200"], "a bone density needs realistic bone"),
])
def test_bad_arguments_exit_2_with_a_clear_message(tmp_path, args, message):
    os.chdir(tmp_path)
    result = run_phantom(*args, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not os.path.exists(tmp_path / "x")


def test_unwritable_output_exits_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_phantom("--out", blocker / "study", "--levels", "L1", "--matrix", "256", check=False)
    assert result.returncode == 1
    assert "phantom-write" in result.stderr


def test_ground_truth_describes_the_files(tmp_path):
    truth = generate_phantom(tmp_path, "--seed", "33", "--levels", "T11-L1", "--matrix", "256",
                             "--slice-thickness", "2.5", "--order", "ascending",
                             "--labels", "T11=lytic:bilateral,T12=normal,L1=blastic:unilateral-right")
    assert truth["schema"] == "spinemet-phantom-truth/1"
    assert truth["synthetic"] is True
    assert truth["seed"] == 33
    series = truth["series"]
    assert (series["rows"], series["columns"]) == (256, 256)
    assert series["slices"] == len(truth["slices"])
    files = sorted(f for f in os.listdir(tmp_path) if f.endswith(".dcm"))
    assert files == sorted(s["file"] for s in truth["slices"])

    levels = [v["level"] for v in truth["vertebrae"]]
    assert levels == ["T11", "T12", "L1"]
    t11, t12, l1 = truth["vertebrae"]
    assert (t11["bone_quality"], t11["posterolateral"], t11["side"]) == ("lytic", "bilateral", "both")
    assert (t12["bone_quality"], t12["posterolateral"], t12["lesions"]) == ("normal", "none", [])
    assert (l1["bone_quality"], l1["posterolateral"], l1["side"]) == ("blastic", "unilateral", "right")
    assert {l["region"] for l in t11["lesions"]} >= {"left-pedicle", "right-pedicle", "body"}

    # slices cranial to caudal; ascending order puts instance 1 at the caudal end
    zs = [s["z_mm"] for s in truth["slices"]]
    assert zs == sorted(zs, reverse=True)
    assert truth["slices"][-1]["instance_number"] == 1
    for v in truth["vertebrae"]:
        assert v["z_min_mm"] < v["z_max_mm"]
        inside = [s for s in truth["slices"] if s["vertebra"] == v["index"]]
        assert [s["sop_instance_uid"] for s in inside] == v["sop_instance_uids"]
        assert all(v["z_min_mm"] <= s["z_mm"] <= v["z_max_mm"] for s in inside)
        assert all(s["bone_quality"] == v["bone_quality"] for s in inside)
    for s in truth["slices"]:
        if s["vertebra"] is None:
            assert (s["bone_quality"], s["posterolateral"]) == ("normal", "none")
    assert any(s["lesion_visible"] for s in truth["slices"] if s["vertebra"] == 0)
    assert not any(s["lesion_visible"] for s in truth["slices"] if s["vertebra"] == 1)


def test_same_seed_same_bytes_other_seed_other_study(tmp_path):
    args = ("--levels", "L2", "--matrix", "256", "--slice-thickness", "5", "--transfer-syntax", "rle")
    a = generate_phantom(tmp_path / "a", "--seed", "8", *args)
    b = generate_phantom(tmp_path / "b", "--seed", "8", *args)
    c = generate_phantom(tmp_path / "c", "--seed", "9", *args)
    assert a == b
    for s in a["slices"]:
        assert (tmp_path / "a" / s["file"]).read_bytes() == (tmp_path / "b" / s["file"]).read_bytes()
    assert c["series"]["study_instance_uid"] != a["series"]["study_instance_uid"]
    assert (tmp_path / "a" / "ground_truth.json").read_bytes() == (tmp_path / "b" / "ground_truth.json").read_bytes()


def test_bone_model_is_recorded_and_realistic_bone_is_deterministic(tmp_path):
    args = ("--levels", "L1-L2", "--matrix", "256", "--slice-thickness", "3", "--seed", "12")
    simple = generate_phantom(tmp_path / "simple", *args)
    assert simple["settings"]["bone"] == "simple"          # the default, for now
    assert "normal_findings" not in simple["vertebrae"][0]
    a = generate_phantom(tmp_path / "a", *args, "--bone", "realistic")
    b = generate_phantom(tmp_path / "b", *args, "--bone", "realistic")
    assert a == b
    assert a["settings"]["bone"] == "realistic"
    for v in a["vertebrae"]:
        assert isinstance(v["normal_findings"], list)
        assert all(f["kind"] in ("bone-island", "schmorl-node", "endplate-sclerosis", "osteophyte")
                   for f in v["normal_findings"])
    for s in a["slices"]:
        assert (tmp_path / "a" / s["file"]).read_bytes() == (tmp_path / "b" / s["file"]).read_bytes()
    # the labels are those of the simple study; the images are not
    assert [v["bone_quality"] for v in a["vertebrae"]] == [v["bone_quality"] for v in simple["vertebrae"]]
    assert a["series"]["study_instance_uid"] != simple["series"]["study_instance_uid"]
    middle = a["slices"][len(a["slices"]) // 2]["file"]
    assert (tmp_path / "a" / middle).read_bytes() != (tmp_path / "simple" / middle).read_bytes()


def test_random_acquisition_is_recorded(tmp_path):
    truth = generate_phantom(tmp_path, "--seed", "5", "--random-acquisition", "--levels", "L1")
    acquisition = truth["settings"]["acquisition"]
    assert truth["settings"]["random_acquisition"] is True
    assert acquisition["matrix"] in (256, 512)
    assert 0.5 <= acquisition["pixel_spacing_mm"] <= 1.0
    assert acquisition["transfer_syntax"] == truth["series"]["transfer_syntax"]
    assert json.dumps(truth)   # plain JSON all the way down


def test_dicom_geometry_agrees_with_the_ground_truth(tmp_path):
    """Read back with pydicom: positions, instance numbers, HU through the rescale, and the body
    centre found where Image Position, Pixel Spacing and Orientation put it."""
    import pydicom

    truth = generate_phantom(tmp_path, "--seed", "19", "--levels", "L2-L3", "--matrix", "256",
                             "--pixel-spacing", "0.85", "--slice-thickness", "2", "--order",
                             "descending", "--labels", "L2=normal,L3=normal")
    by_uid = {}
    for s in truth["slices"]:
        ds = pydicom.dcmread(tmp_path / s["file"])
        assert ds.SOPInstanceUID == s["sop_instance_uid"]
        assert int(ds.InstanceNumber) == s["instance_number"]
        assert abs(float(ds.ImagePositionPatient[2]) - s["z_mm"]) < 1e-3
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert (ds.BitsStored, ds.PixelRepresentation, float(ds.RescaleIntercept)) == (12, 0, -1024)
        assert ds.PatientName == "PHANTOM^SPINE^19"
        by_uid[s["sop_instance_uid"]] = ds
    assert truth["slices"][0]["instance_number"] == 1   # descending: the most cranial slice first

    for v in truth["vertebrae"]:
        middle = v["sop_instance_uids"][len(v["sop_instance_uids"]) // 2]
        ds = by_uid[middle]
        hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        spacing = float(ds.PixelSpacing[0])
        column = (v["body_centre_mm"][0] - float(ds.ImagePositionPatient[0])) / spacing
        row = (v["body_centre_mm"][1] - float(ds.ImagePositionPatient[1])) / spacing
        assert abs(column - v["body_centre_pixel"]["column"]) < 1e-2
        assert abs(row - v["body_centre_pixel"]["row"]) < 1e-2
        r, c = int(round(row)), int(round(column))
        centre = hu[r - 3:r + 4, c - 3:c + 4].mean()
        assert 150 <= centre <= 300, f"{v['level']}: {centre} HU at the body centre"
        # the spine is posterior: the body centre lies in the lower half of the image
        assert row > ds.Rows / 2 - 40
        # air outside the body, left and right of it at the same row, within the image
        assert hu[2, 2] < -900 or hu[-3, 2] < -900 or hu[2, -3] < -900
