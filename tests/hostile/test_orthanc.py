# SPDX-License-Identifier: GPL-3.0-or-later
"""The hostile corpus (corpus.py) through one real Orthanc with the SpineMet plugin (label
hostile-orthanc). Each kind is written from a phantom of its own (so that every kind is a study
and series of its own in Orthanc), stored through the REST API, and must end, within a bound, in
a named reason (the queue row failed or skipped with a code docs/errors.md or docs/plugin.md
lists; never `internal`) or a valid result (done, with its SR and overlays), or be refused by
Orthanc itself at the upload. Orthanc must answer all along, no stored instance may change (the
bytes read back equal the bytes sent, and Orthanc's MD5 check of its files passes), and Orthanc's
peak memory stays within the series' memory budget plus a margin. Orthanc's own parse of a file it
then refuses is not the plugin's: Orthanc 1.10 allocates an element's declared length (2 GB in
length-beyond-file, 4 GB in length-pixel-data-beyond-file) before it finds the file too short; that
peak is printed and then the count starts afresh (docs/errors.md).

Left out: the kinds that only exist on a file system or a command line (corpus.py cli_only), and
the deeply nested sequences (nesting-deep*): Orthanc 1.10 itself crashes when such a file is
uploaded to it, in its own parse before any plugin sees it (docs/errors.md)."""

import hashlib
import os
import re
import subprocess
import sys
import time
import urllib.error

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
from plugin_fixtures import spinemet_orthanc  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# At least one kind of each family of corpus.py: truncation, transfer syntax, lying lengths,
# geometry, mixed series, duplicates, sizes, codecs, pixel format, rescale, private tags,
# modality and SOP class, slice counts, localizers; the controls (clean, jpeg2000-clean) too.
KINDS = [
    "clean", "truncated-in-header", "truncated-in-pixel-data", "truncated-all", "garbage-after-prefix",
    "syntax-unknown", "syntax-htj2k", "syntax-says-big-endian", "syntax-says-native-encapsulated-data",
    "syntax-jpeg-is-jpeg-ls", "syntax-mixed", "length-beyond-file", "length-pixel-data-beyond-file",
    "length-pixel-data-short", "length-odd", "length-sequence-beyond-file", "position-missing",
    "position-not-a-number", "position-nan", "position-huge", "position-huge-spread", "position-all-equal",
    "orientation-zero", "pixel-spacing-zero", "pixel-spacing-huge", "slice-thickness-huge",
    "positions-irregular", "positions-gap", "gantry-tilt", "sagittal", "coronal", "feet-first",
    "mixed-series", "mixed-matrix", "mixed-orientation", "duplicate-uid-two-positions",
    "duplicate-position-other-pixels", "matrix-40000", "matrix-65535-all", "rows-half-of-data", "rows-zero",
    "matrix-8x8", "frames-million", "rle-claims-40000", "jpeg2000-bomb", "jpeg2000-header-disagrees",
    "jpeg-ls-bomb", "rle-truncated", "jpeg-ls-scrambled", "jpeg2000-clean", "jpeg2000-garbage",
    "encapsulated-no-fragment", "photometric-rgb", "bits-allocated-12", "rescale-slope-zero", "rescale-huge",
    "private-tags", "nesting-moderate", "modality-mr", "secondary-capture", "enhanced-ct", "one-slice",
    "localizer-only", "localizer-mixed",
]
ORTHANC_CRASHES_ON = {"nesting-deep", "nesting-deep-defined-lengths", "nesting-deep-implicit"}

ENDED = {"done", "failed", "skipped", "cancelled"}
# Every series has ended this long after the last upload (each takes about a second; the bound
# says "nothing hangs", not how fast).
ALL_ENDED_WITHIN_SECONDS = 600
MEMORY_BUDGET_MIB = 2048          # LoadOptions::memoryBudgetBytes, the plugin's default
MEMORY_MARGIN_MIB = 1024          # Orthanc, LibTorch, the model and the outputs besides the series
ORTHANC_PARSE_NOTED_MIB = 256


def documented_codes():
    codes = set()
    for page in ("errors.md", "plugin.md"):
        with open(os.path.join(REPOSITORY, "docs", page)) as f:
            codes |= set(re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)*)`", f.read()))
    return codes


def files_of(paths):
    found = []
    for path in paths:
        if os.path.isfile(path):
            found.append(path)
        else:
            for root, _dirs, names in sorted(os.walk(path)):
                found += [os.path.join(root, name) for name in sorted(names)]
    return [path for path in found if os.path.isfile(path) and not path.endswith(".json")]


def reset_peak_memory(pid):
    """Starts Orthanc's peak resident memory (VmHWM) afresh (Linux: clear_refs 5)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def peak_memory_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def test_hostile_kinds_through_orthanc_end_named_and_change_nothing(tmp_path):
    model = os.environ["SPINEMET_HOSTILE_MODEL"]
    phantom = os.environ["SPINEMET_PHANTOM"]
    assert len(KINDS) >= 30 and not ORTHANC_CRASHES_ON & set(KINDS)
    for name in KINDS:
        assert not corpus.KINDS[name].cli_only, name

    sent = {}          # instance ID -> SHA-256 of the bytes sent
    series_of = {}     # kind -> Orthanc series IDs its accepted instances went to
    refused = {}       # kind -> files Orthanc refused at the upload
    orthanc_parse_peaks = []
    with spinemet_orthanc(model, Selection={"MinimumSlices": 3}, VolumesInFlight=2) as orthanc:
        for index, name in enumerate(KINDS):
            base = tmp_path / "base" / name
            subprocess.run([phantom, "--out", str(base), "--seed", str(100 + index), "--matrix", "256",
                            "--levels", "L1-L2", "--slice-thickness", "5"],
                           check=True, stdout=subprocess.DEVNULL)
            written = corpus.write_kind(name, str(tmp_path / "kinds" / name), str(base))
            assert not written.args, f"{name}: a kind with command-line arguments"
            series_of[name] = set()
            for path in files_of(written.paths):
                with open(path, "rb") as f:
                    data = f.read()
                peak_before = peak_memory_mib(orthanc.process.pid)
                try:
                    answer = orthanc.post("/instances", data, content_type="application/dicom")
                except urllib.error.HTTPError as refusal:
                    refused.setdefault(name, []).append(f"{os.path.basename(path)}: HTTP {refusal.code}")
                    # A file Orthanc refuses never reaches the plugin: memory taken meanwhile is
                    # Orthanc's own parse (a 2 GB element length is allocated before it is read).
                    growth = peak_memory_mib(orthanc.process.pid) - peak_before
                    if growth > ORTHANC_PARSE_NOTED_MIB:
                        orthanc_parse_peaks.append(f"{name}/{os.path.basename(path)}: +{growth:.0f} MiB")
                        reset_peak_memory(orthanc.process.pid)
                    continue
                for stored in answer if isinstance(answer, list) else [answer]:
                    if stored.get("Status") == "AlreadyStored":
                        continue       # a duplicate file: the first copy is the stored one
                    sent[stored["ID"]] = hashlib.sha256(data).hexdigest()
                    series_of[name].add(stored["ParentSeries"])
            assert orthanc.get("/system")["Name"], f"Orthanc stopped answering after kind {name}"

        codes = documented_codes()
        outcomes = {}

        def all_ended():
            for name, series_ids in series_of.items():
                for series_id in series_ids:
                    if (name, series_id) in outcomes:
                        continue
                    try:
                        status = orthanc.get(f"/spinemet/series/{series_id}")
                    except urllib.error.HTTPError:
                        return False
                    if status.get("State") not in ENDED:
                        return False
                    outcomes[(name, series_id)] = status
            return True
        orthanc.wait_until(all_ended, timeout=ALL_ENDED_WITHIN_SECONDS, interval=1,
                           what="every hostile series to end")

        problems = []
        table = []
        for (name, series_id), status in sorted(outcomes.items()):
            state = status["State"]
            code = (status.get("Reason") or {}).get("Code", "")
            message = (status.get("Reason") or {}).get("Message", "")
            table.append(f"{name:40s} {state:8s} {code} (CLI: {corpus.KINDS[name].expected})")
            if state == "done":
                result = status.get("Result") or {}
                if result.get("schema") != "spinemet-result/2" or "vertebrae" not in result or not status["Outputs"]:
                    problems.append(f"{name}: done without a valid result and outputs: {status}")
            elif state in {"failed", "skipped"}:
                if not code or code == "internal" or code not in codes:
                    problems.append(f"{name}: {state} without a documented, named reason: [{code}] {message}")
                elif len(message) < 15:
                    problems.append(f"{name}: the message does not say what is wrong: {message!r}")
            else:
                problems.append(f"{name}: ended {state}, which nobody asked for")
        for name in KINDS:
            if not series_of[name] and name not in refused:
                problems.append(f"{name}: nothing stored and nothing refused")
            if name in refused:
                table.append(f"{name:40s} refused by Orthanc at the upload: {', '.join(refused[name][:3])}")
        print("\n".join(table))

        # Nothing that was sent has changed: the bytes read back and Orthanc's own MD5 check.
        for instance_id, digest in sent.items():
            stored = orthanc.get(f"/instances/{instance_id}/file", raw=True)
            if hashlib.sha256(stored).hexdigest() != digest:
                problems.append(f"instance {instance_id} changed in storage")
            try:
                orthanc.post(f"/instances/{instance_id}/attachments/dicom/verify-md5", {})
            except urllib.error.HTTPError as error:
                problems.append(f"instance {instance_id}: Orthanc's MD5 check of its file failed ({error.code})")

        assert orthanc.get("/system")["Name"]
        health = orthanc.get("/spinemet/health")
        assert health["Problems"] == [], health
        peak = peak_memory_mib(orthanc.process.pid)
        print(f"{len(KINDS)} kinds, {len(sent)} instances stored, Orthanc's peak resident memory {peak:.0f} MiB "
              f"(besides Orthanc's own parse of refused files: {', '.join(orthanc_parse_peaks) or 'none'})")
        if peak > MEMORY_BUDGET_MIB + MEMORY_MARGIN_MIB:
            problems.append(f"Orthanc's peak resident memory {peak:.0f} MiB exceeds the budget and margin")
        assert not problems, "\n".join(problems)
