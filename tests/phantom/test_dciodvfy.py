# SPDX-License-Identifier: GPL-3.0-or-later
"""Every transfer syntax the generator writes passes dciodvfy (dicom3tools) without an error."""

import os
import subprocess

import pydicom
import pytest

from phantom_cli import generate_phantom

SYNTAXES = {
    "explicit": "1.2.840.10008.1.2.1",
    "rle": "1.2.840.10008.1.2.5",
    "jpeg-lossless": "1.2.840.10008.1.2.4.70",
    "jpeg-ls": "1.2.840.10008.1.2.4.80",
}


def transfer_syntax_of(path):
    # the File Meta Information, read by pydicom rather than trusting our own writer
    return str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)


@pytest.mark.parametrize("syntax", sorted(SYNTAXES))
def test_every_file_passes_dciodvfy(tmp_path, syntax):
    out = tmp_path / syntax
    truth = generate_phantom(out, "--seed", "4", "--levels", "L1", "--matrix", "256",
                             "--pixel-spacing", "0.9", "--slice-thickness", "5",
                             "--labels", "L1=mixed:bilateral", "--transfer-syntax", syntax)
    files = [s["file"] for s in truth["slices"]]
    assert len(files) >= 4
    assert truth["series"]["transfer_syntax_uid"] == SYNTAXES[syntax]
    # the first, a middle and the last slice: all files share one writer, so these three cover it
    for name in (files[0], files[len(files) // 2], files[-1]):
        path = str(out / name)
        assert transfer_syntax_of(path) == SYNTAXES[syntax]
        result = subprocess.run(["dciodvfy", path], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        errors = [line for line in result.stdout.splitlines() if line.startswith("Error")]
        assert not errors, f"dciodvfy on {name} ({syntax}):\n{result.stdout}"
        assert "CTImage" in result.stdout, result.stdout


def test_dciodvfy_catches_a_broken_file(tmp_path):
    """The check above can fail: a file without its Modality is reported as an error."""
    out = tmp_path / "broken"
    truth = generate_phantom(out, "--seed", "4", "--levels", "L1", "--matrix", "256",
                             "--slice-thickness", "5")
    path = str(out / truth["slices"][0]["file"])
    subprocess.run(["dcmodify", "-nb", "-ea", "(0008,0060)", path], check=True,
                   stdout=subprocess.PIPE)
    result = subprocess.run(["dciodvfy", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    assert any(line.startswith("Error") for line in result.stdout.splitlines()), result.stdout


@pytest.mark.parametrize("seed", [21, 22, 23, 27])
def test_random_acquisitions_pass_dciodvfy(tmp_path, seed):
    """Drawn spacings, offsets, orders and syntaxes still make valid files (DS lengths, geometry)."""
    truth = generate_phantom(tmp_path, "--seed", str(seed), "--random-acquisition", "--levels", "L2")
    for name in (truth["slices"][0]["file"], truth["slices"][-1]["file"]):
        path = str(tmp_path / name)
        assert transfer_syntax_of(path) == truth["series"]["transfer_syntax_uid"]
        result = subprocess.run(["dciodvfy", path], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        errors = [line for line in result.stdout.splitlines() if line.startswith("Error")]
        assert not errors, f"dciodvfy on {name} (seed {seed}):\n{result.stdout}"
