#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the SpineMet plugin spends its time inside a real Orthanc (issue 18, "Overhead"): a
sampling profile (perf) of the Orthanc process while it analyses the issue's phantom
(benchmarks/profile-plugin.sh runs it; docs/performance.md has the figures).

The phantom (`spinemet-phantom --seed 90101 --levels T9-L3 --slice-thickness 0.625 --matrix 512
--pixel-spacing 0.7`, 322 slices) is stored with storescu; once the C-STORE has ended, `perf record`
attaches to Orthanc (999 Hz, CLOCK_MONOTONIC, so that its samples line up with this script's clock)
until the plugin reports the series done. The plugin's own stage times (GET /spinemet/series/{id},
StageSeconds: read = fetch from Orthanc's storage through the SDK + decode + assemble, spine,
classify = crops + model, write = SR + overlays + storing them + the result attachment), placed
from the first sample of the spine finder (the stages run one after the other), cut the samples
into the stages; each stage is then reported by kind (library and function rules below) and by
function. Not a test: nothing is asserted.
"""

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests", "support"), os.path.join(ROOT, "tests", "plugin")]

from orthanc_server import OrthancServer, storescu  # noqa: E402
from phantom_cli import generate_phantom  # noqa: E402
from plugin_fixtures import source_series_id, spinemet_config  # noqa: E402
from plugin import wait_done  # noqa: E402  (benchmarks/plugin.py: the throughput benchmark)

PHANTOM_ARGS = ["--seed", "90101", "--levels", "T9-L3", "--slice-thickness", "0.625", "--matrix", "512",
                "--pixel-spacing", "0.7"]
STAGES = ("read", "spine", "classify", "write")

# What a sample is, by its library and function (first rule that matches).
KINDS = [
    ("OpenMP waiting (libgomp)", r"libgomp"),
    # perf-PID.map: code generated at run time, here oneDNN's JIT kernels.
    ("model (LibTorch, oneDNN, its JIT kernels)", r"libtorch|libc10|dnnl|mkldnn|pthreadpool|perf-\d+\.map|libblas|openblas|libsleef"),
    ("spine finder", r"SliceAnalyser|labelComponents|findSpine|SpineFinder|findRibs|findPatient|SpineSearch"),
    ("decode (SpineMet's DICOM reading)", r"decodeWithDcmtk|DicomInstance|readInstance|loadSeries|Jpeg2000|openjp2"),
    ("DCMTK (parsing, codecs, writing)", r"libdcm|libofstd|liboflog|libijg|libdcmjpls|libcharls"),
    ("crops", r"makeCrops|Crop"),
    ("input checks (assessability)", r"measureInput"),
    ("SR and overlays (SpineMet's writers)", r"trilinear|Overlay|MeasurementReport|SecondaryCapture|libfreetype"),
    ("Orthanc (storage, index, REST, SDK)", r"Orthanc|libsqlite|libjsoncpp|libcivetweb|libboost"),
    ("C/C++ runtime (memcpy, malloc, libm)", r"libc\.so|libc-|libstdc\+\+|libm\.so|ld-linux"),
    ("kernel (page faults, scheduling, file reads)", r"\[kernel"),
]


def kind_of(dso, symbol):
    text = f"{dso} {symbol}"
    for name, pattern in KINDS:
        if re.search(pattern, text):
            return name
    return "other"


def samples(perf_data):
    """(seconds, thread id, dso, symbol) of every sample."""
    output = subprocess.run(["perf", "script", "-i", perf_data, "-F", "tid,time,ip,sym,dso"],
                            capture_output=True, text=True).stdout
    pattern = re.compile(r"^\s*(\d+)\s+([\d.]+):\s+\S+\s+(.*?)\s+\((.*)\)\s*$")
    for line in output.splitlines():
        match = pattern.match(line)
        if match:
            tid, when, symbol, dso = match.groups()
            yield float(when), int(tid), os.path.basename(dso), symbol


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--phantom", required=True, help="the spinemet-phantom binary")
    parser.add_argument("--model", default=os.path.join(ROOT, "Resources", "model", "spinemet-demo.pt"))
    parser.add_argument("--threads", type=int, default=2, help="the plugin's Threads setting (CPU threads)")
    parser.add_argument("--top", type=int, default=8, help="functions shown per stage")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="spinemet-plugin-profile-")
    os.environ["SPINEMET_PHANTOM"] = os.path.abspath(args.phantom)
    truth = generate_phantom(os.path.join(work, "series"), *PHANTOM_ARGS)
    print(f"series: {len(truth['slices'])} slices (spinemet-phantom {' '.join(PHANTOM_ARGS)}); model {args.model}; "
          f"Threads {args.threads}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; "
          f"load average {open('/proc/loadavg').read().split()[:3]}")
    config = spinemet_config(os.path.abspath(args.model), Device="cpu", Threads=args.threads,
                             Selection={"MinimumSlices": 10, "SliceThickness": [0.5, 5]})
    config["StableAge"] = 2
    perf_data = os.path.join(work, "perf.data")
    with OrthancServer(config=config, plugins=[os.path.abspath(args.plugin)], startup_timeout=180) as orthanc:
        storescu(orthanc, os.path.join(work, "series"))
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "999", "-k", "CLOCK_MONOTONIC", "-o", perf_data,
                                 "-p", str(orthanc.process.pid)], stdout=subprocess.DEVNULL)
        series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
        done, status = wait_done(orthanc, series_id)
        time.sleep(0.1)
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=60)
    if status["State"] != "done":
        sys.exit(f"the analysis ended {status['State']}: {status.get('Reason')}")

    # The stages run one after the other. The result is seen up to ~0.2 s after the analysis
    # ended (polling, the status' own update), so the stages are placed from the first sample of
    # the spine finder, which starts the spine stage, with the plugin's own stage times around it.
    seconds = status["StageSeconds"]
    recorded = list(samples(perf_data))
    earliest = done - status["Seconds"] - 1
    spine_start = min(when for when, _, dso, symbol in recorded
                      if when >= earliest and kind_of(dso, symbol) == "spine finder")
    bounds = {"read": (spine_start - seconds["read"], spine_start)}
    t = spine_start
    for stage in STAGES[1:]:
        bounds[stage] = (t, t + seconds[stage])
        t += seconds[stage]
    print(f"the plugin's analysis: {status['Seconds']:.2f} s, " +
          ", ".join(f"{s} {seconds[s]:.2f} s" for s in STAGES))

    by_stage = {s: collections.Counter() for s in STAGES}
    kinds = {s: collections.Counter() for s in STAGES}
    threads = {s: set() for s in STAGES}
    outside = 0
    for when, tid, dso, symbol in recorded:
        stage = next((s for s in STAGES if bounds[s][0] <= when < bounds[s][1]), None)
        if stage is None:
            outside += 1
            continue
        by_stage[stage][f"{dso}  {symbol}"] += 1
        kinds[stage][kind_of(dso, symbol)] += 1
        threads[stage].add(tid)
    print(f"(samples outside the analysis, the stability wait and the pick-up: {outside}; the result was seen {done - t:.2f} s after the stages' end)")
    for stage in STAGES:
        total = sum(by_stage[stage].values())
        print(f"\n--- {stage}: {seconds[stage]:.2f} s, {total} samples on {len(threads[stage])} threads")
        for kind, count in kinds[stage].most_common():
            print(f"  {100 * count / max(total, 1):5.1f} %  {kind}")
        print("  top functions:")
        for name, count in by_stage[stage].most_common(args.top):
            print(f"    {100 * count / max(total, 1):5.1f} %  {name[:110]}")
    subprocess.run(["rm", "-rf", work])
    return 0


if __name__ == "__main__":
    sys.exit(main())
