# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the built spinemet-phantom (path in $SPINEMET_PHANTOM, set by CTest) and reads its
ground truth, for any test that needs a synthetic study on disk."""

import json
import os
import subprocess


def phantom_tool():
    path = os.environ.get("SPINEMET_PHANTOM")
    if not path or not os.path.exists(path):
        raise RuntimeError("SPINEMET_PHANTOM must name the built spinemet-phantom (CTest sets it)")
    return path


def run_phantom(*args, check=True):
    """Runs spinemet-phantom with `args`; returns the CompletedProcess (text output)."""
    result = subprocess.run([phantom_tool(), *[str(a) for a in args]], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, timeout=600)
    if check and result.returncode != 0:
        raise RuntimeError("spinemet-phantom %s failed (%d): %s"
                           % (" ".join(map(str, args)), result.returncode, result.stderr))
    return result


def generate_phantom(out_dir, *args):
    """Writes a study to `out_dir`; returns its ground_truth.json as a dict."""
    run_phantom("--out", out_dir, *args)
    with open(os.path.join(out_dir, "ground_truth.json")) as f:
        return json.load(f)
