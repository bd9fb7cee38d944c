# SPDX-License-Identifier: GPL-3.0-or-later
"""The spinemet command-line tool on a phantom study: the table, the JSON, the exit codes.

    /usr/bin/python3 tests/worker/test_cli.py SPINEMET_BINARY MODEL PHANTOM_FOLDER WORK_DIR
"""

import json
import os
import shutil
import subprocess
import sys


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300)


def main(binary, model, phantoms, work):
    os.makedirs(work, exist_ok=True)
    study = os.path.join(phantoms, "medium")
    out = os.path.join(work, "medium.json")
    done = run(binary, "classify", study, "--model", model, "--json", out, "--device", "cpu", "--threads", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("spinemet-tiny-test" in line for line in lines[:2]), done.stdout
    assert any(line.startswith("Model trained on: nothing: random weights") for line in lines), done.stdout
    header = next(i for i, line in enumerate(lines) if line.startswith("vertebra "))
    assert "bone quality" in lines[header] and "SINS posterolateral" in lines[header], lines[header]
    assert "\r" not in done.stderr, "a progress bar was drawn although stderr is not a terminal"

    with open(out) as f:
        result = json.load(f)
    assert result["schema"] == "spinemet-result/2"
    assert result["model"]["name"] == "spinemet-tiny-test"
    vertebrae = result["vertebrae"]
    assert vertebrae, "no vertebra found in the phantom"
    rows = lines[header + 1:header + 1 + len(vertebrae)]
    words = {"out-of-distribution": "out of distribution", "hu-calibration": "HU calibration",
             "slice-thickness": "slice thickness", "pixel-spacing": "pixel spacing", "image-noise": "image noise",
             "metal": "metal", "cut-by-series-edge": "cut by series edge"}
    for vertebra, row in zip(vertebrae, rows):
        fields = row.split()
        assert row.startswith(vertebra["display_name"]), (row, vertebra["display_name"])
        if not vertebra["assessable"]:
            # No class, probability or SINS point for a vertebra the model cannot be trusted on.
            assert "not assessable (" in row, row
            assert all(words[r["reason"]] in row for r in vertebra["not_assessable_reasons"]), row
            assert not any(c in fields for c in ("normal", "blastic", "lytic", "mixed")), row
            continue
        assert vertebra["bone_quality"]["class"] in fields, row
        assert vertebra["posterolateral"]["class"] in fields, row
        sins = {"normal": 0, "blastic": 0, "mixed": 1, "lytic": 2}[vertebra["bone_quality"]["class"]]
        assert vertebra["sins"]["bone_lesion"] == sins
        assert fields[-2:] == [str(vertebra["sins"]["bone_lesion"]), str(vertebra["sins"]["posterolateral"])], row
    for s in result["slices"]:
        assert abs(sum(s["bone_quality"].values()) - 1) < 1e-5
        assert 0 <= s["vertebra"] < len(vertebrae)
    assert result["summary"]["lesion_suspected"] == any(
        v["assessable"] and v["bone_quality"]["class"] != "normal" for v in vertebrae)
    assessed = sum(v["assessable"] for v in vertebrae)
    study_line = next(line for line in lines if line.startswith("Study: "))
    expected = {"lesion-suspected": "Study: lesion suspected",
                "no-lesion-found": "Study: no lesion found in %d of %d vertebrae assessed" % (assessed, len(vertebrae)),
                "not-assessable": "Study: not assessable"}[result["summary"]["state"]]
    assert study_line.startswith(expected), (study_line, expected)

    # --dicom-out: the SR and the overlays of the dicom-sr writers, readable by DCMTK.
    dicom_out = os.path.join(work, "dicom")
    shutil.rmtree(dicom_out, ignore_errors=True)     # a fresh folder: earlier runs left their files
    written = run(binary, "classify", study, "--model", model, "--quiet", "--dicom-out", dicom_out)
    assert written.returncode == 0, written.stderr
    files = sorted(os.listdir(dicom_out))
    reports = [f for f in files if f.startswith("sr-")]
    overlays = [f for f in files if f.startswith("sc-")]
    assert len(reports) == 1 and overlays, files
    dump = run("dsrdump", os.path.join(dicom_out, reports[0]))
    assert dump.returncode == 0 and "Measurement Report" in dump.stdout, dump.stdout[:500] + dump.stderr
    assert result["series"]["study_instance_uid"] in run("dcmdump", "+P", "StudyInstanceUID",
                                                         os.path.join(dicom_out, overlays[0])).stdout

    # Bad input: exit 2 and the message names the file.
    bad = os.path.join(phantoms, "not-dicom", "IM0001.dcm")
    failed = run(binary, "classify", bad, "--model", model, "--quiet")
    assert failed.returncode == 2, (failed.returncode, failed.stderr)
    assert "spinemet: error [" in failed.stderr and bad in failed.stderr, failed.stderr

    missing = run(binary, "classify", os.path.join(work, "no-such-folder"), "--model", model)
    assert missing.returncode == 2 and "no-such-folder" in missing.stderr, missing.stderr

    broken_model = run(binary, "classify", study, "--model", os.path.join(os.path.dirname(model), "garbage.pt"))
    assert broken_model.returncode == 2 and "[model-load]" in broken_model.stderr, broken_model.stderr

    # A model whose metadata reads well but whose graph breaks the contract fails only once it has
    # loaded, while the series is being read (the CLI loads it meanwhile): still exit 2 with the
    # model's own message, no output written, and its error wins over the input's, as when the
    # model loaded first.
    late_json = os.path.join(work, "late-failure.json")
    late = run(binary, "classify", study, "--model", os.path.join(os.path.dirname(model), "wrong-outputs.pt"),
               "--quiet", "--json", late_json)
    assert late.returncode == 2 and "[model-contract]" in late.stderr, (late.returncode, late.stderr)
    assert "must return a tuple of 4 tensors" in late.stderr, late.stderr
    assert not os.path.exists(late_json), "a JSON result was written although the model failed"
    both = run(binary, "classify", bad, "--model", os.path.join(os.path.dirname(model), "wrong-outputs.pt"), "--quiet")
    assert both.returncode == 2 and "[model-contract]" in both.stderr, (both.returncode, both.stderr)

    # Usage errors: exit 1.
    for args in (["classify"], ["classify", study, "--device", "tpu"], ["frobnicate"], ["classify", study, "--threads", "0"]):
        usage = run(binary, *args)
        assert usage.returncode == 1, (args, usage.returncode, usage.stderr)
        assert "Usage:" in usage.stderr

    info = run(binary, "model-info", model)
    assert info.returncode == 0, info.stderr
    assert "spinemet-model/1" in info.stdout and "Aggregation:   bone_quality=mean_probability" in info.stdout
    embedded = json.loads(info.stdout.split("Metadata (spinemet.json):\n", 1)[1])
    assert embedded["name"] == "spinemet-tiny-test"

    no_metadata = run(binary, "model-info", os.path.join(os.path.dirname(model), "no-metadata.pt"))
    assert no_metadata.returncode == 2 and "spinemet.json" in no_metadata.stderr, no_metadata.stderr
    print("spinemet CLI: table, JSON, DICOM outputs, exit codes 0/1/2 checked")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
