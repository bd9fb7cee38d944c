#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plugin inside a real Orthanc, fed with storescu (benchmarks/plugin.sh runs it):

1. Triage latency for a ~300-slice phantom series: from the end of the C-STORE of its last instance
   to SpineMet's result being stored (polled every 50 ms), minus Orthanc's StableAge wait, and how
   the plugin's own time splits (read = fetch from Orthanc's storage + decode + assemble,
   spine search, classify = crops + model, write = SR + overlays + storing + result attachment).
2. C-STORE ingest throughput of the same series into Orthanc without the plugin and into Orthanc
   with the plugin loaded and analysing the series sent just before (so that ingest and analysis
   compete for the same cores), in the same run.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests", "support"), os.path.join(ROOT, "tests", "plugin")]

from orthanc_server import OrthancServer, storescu  # noqa: E402
from phantom_cli import generate_phantom  # noqa: E402
from plugin_fixtures import export_tiny_model, source_series_id, spinemet_config  # noqa: E402

STUDY = ["--levels", "T8-L5", "--matrix", "512", "--pixel-spacing", "0.7", "--slice-thickness", "1.25",
         "--slice-spacing", "0.95"]
STABLE_AGE = 2


def wait_done(orthanc, series_id, timeout=900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = orthanc.get(f"/spinemet/series/{series_id}")
        except Exception:
            status = {}
        if status.get("State") in ("done", "failed", "skipped", "cancelled"):
            return time.monotonic(), status
        time.sleep(0.05)
    raise RuntimeError(f"series {series_id} not analysed within {timeout} s")


def folder_megabytes(folder):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--model", help="TorchScript model (default: Resources/model/spinemet-demo.pt, "
                                        "else the random-weight test model)")
    parser.add_argument("--runs", type=int, default=3, help="latency runs (one new series each)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    args.plugin = os.path.abspath(args.plugin)

    work = tempfile.mkdtemp(prefix="spinemet-plugin-bench-")
    model = args.model or os.path.join(ROOT, "Resources", "model", "spinemet-demo.pt")
    if not os.path.exists(model):
        model = export_tiny_model(os.path.join(work, "tiny.pt"), input_size=96)
        print("model: random-weight test model (96 px crops), the demo model is not there yet")
    else:
        print(f"model: {model}")

    studies = []
    for seed in range(1, args.runs + 2):
        folder = os.path.join(work, f"study{seed}")
        truth = generate_phantom(folder, *STUDY, "--seed", str(100 + seed))
        studies.append((folder, truth))
    slices = len(studies[0][1]["slices"])
    megabytes = folder_megabytes(studies[0][0])
    print(f"series: {slices} slices, 512 x 512, {megabytes:.0f} MB per series ({' '.join(STUDY)})")

    config = spinemet_config(model, Device=args.device, Threads=0,
                             Selection={"MinimumSlices": 10, "SliceThickness": [0.5, 5]})
    config["StableAge"] = STABLE_AGE

    # 1. latency, one series at a time
    latencies, splits = [], []
    with OrthancServer(config=config, plugins=[args.plugin], startup_timeout=180) as orthanc:
        print(f"device: {orthanc.get('/spinemet/health')['Device']}")
        for folder, truth in studies[:args.runs]:
            storescu(orthanc, folder)
            stored = time.monotonic()
            series_id = source_series_id(orthanc, truth["series"]["series_instance_uid"])
            done, status = wait_done(orthanc, series_id)
            if status["State"] != "done":
                raise RuntimeError(f"analysis ended {status['State']}: {status.get('Reason')}")
            latencies.append(done - stored - STABLE_AGE)
            splits.append(dict(status["StageSeconds"], total=status["Seconds"]))

    print()
    print("triage latency, last instance stored -> result stored, minus StableAge "
          f"({STABLE_AGE} s), {args.runs} runs:")
    print("  " + "  ".join(f"{value:.2f} s" for value in latencies) +
          f"   median {statistics.median(latencies):.2f} s")
    print("  of which the plugin's analysis (claim -> result stored), median of runs:")
    for stage in ("read", "spine", "classify", "write", "total"):
        print(f"    {stage:<9} {statistics.median(s[stage] for s in splits):7.2f} s")
    print("  the rest: Orthanc's stability check (1 s granularity) and the dispatcher's pick-up")

    # 2. ingest throughput with and without the plugin, same files
    def ingest(server_config, plugins, folders):
        with OrthancServer(config=server_config, plugins=plugins, startup_timeout=180) as orthanc:
            timings = []
            for index, folder in enumerate(folders):
                start = time.monotonic()
                storescu(orthanc, folder)
                timings.append(time.monotonic() - start)
                if plugins and index == 0:
                    # the next series arrives while this one is analysed
                    orthanc.wait_until(lambda: orthanc.get("/spinemet/queue")["Counts"]["running"] > 0,
                                       timeout=120, interval=0.05, what="the analysis to start")
            analysing = None
            if plugins:
                analysing = orthanc.get("/spinemet/queue")["Counts"]
            return timings[1:], analysing

    folders = [studies[-1][0], studies[0][0]]
    plain_config = {"StableAge": STABLE_AGE}
    without, _ = ingest(plain_config, [], folders)
    with_plugin, counts = ingest(config, [args.plugin], folders)
    print()
    print(f"C-STORE ingest of one {slices}-slice series (storescu, one association), same files:")
    for label, timings in (("Orthanc without the plugin", without), ("Orthanc with SpineMet analysing", with_plugin)):
        seconds = timings[0]
        print(f"  {label:<34} {seconds:6.2f} s  {slices / seconds:6.1f} instances/s  {megabytes / seconds:6.1f} MB/s")
    print(f"  (queue when the ingest ended: {counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
