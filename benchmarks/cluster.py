#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scale-out (docs/scale-out.md): one analysing Orthanc node against two, on one PostgreSQL index,
one storage folder and SpineMet's shared queue, with the same phantom series (benchmarks/cluster.sh
runs it). In each setup an ingest-only node receives every series (storescu) and queues them: a
backlog, as after a burst from the scanners (sending is slower than analysing these small series,
so sending while analysing would measure storescu). Then 1 or 2 analysing nodes (NodeRole analyse,
VolumesInFlight 1, Threads 1) start and share the queue. Printed side by side:

- time to last SR: from starting the analysing nodes (each Orthanc takes a few seconds to start, one
  after the other) to the last series' FinishedAt;
- throughput: series per minute from the first analysis' start to the last one's end;
- how the work was shared: series analysed by each node.

The two setups run one after the other on the same machine, each with its own PostgreSQL.
"""

import argparse
import calendar
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests", "support"), os.path.join(ROOT, "tests", "plugin"),
                os.path.join(ROOT, "tests", "cluster")]

from cluster_nodes import cluster_node  # noqa: E402
from orthanc_server import storescu  # noqa: E402
from phantom_cli import generate_phantom  # noqa: E402
from plugin_fixtures import source_series_id  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402

STUDY = ["--levels", "T12-L2", "--matrix", "256", "--slice-thickness", "2"]


def seconds(iso):
    """Seconds since the epoch of SpineMet's "2026-12-07T06:10:46.123Z"."""
    whole, _, fraction = iso.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + (fraction or "0"))


def run_setup(analysing, studies, model, work):
    with PostgresServer() as postgres:
        postgres.create_database("orthanc")
        storage = os.path.join(work, "storage-%d" % analysing)
        settings = dict(VolumesInFlight=1, Threads=1, LeaseSeconds=30)
        ingest = cluster_node(postgres, "orthanc", storage, model, "ingest", "ingest", **settings)
        workers = [cluster_node(postgres, "orthanc", storage, model, "analyse-%d" % (n + 1), "analyse", **settings)
                   for n in range(analysing)]
        ingest.start()
        try:
            for folder, _truth in studies:
                storescu(ingest, folder)
            ids = [source_series_id(ingest, truth["series"]["series_instance_uid"]) for _f, truth in studies]
            ingest.wait_until(lambda: all(ingest.get("/spinemet/series/%s" % s)["State"] == "queued" for s in ids),
                              timeout=300, interval=0.5, what="every series to be queued")
            started = time.time()
            for node in workers:
                node.start()
            deadline = time.monotonic() + 3600
            while True:
                statuses = [ingest.get("/spinemet/series/%s" % s) for s in ids]
                if all(status.get("State") in ("done", "failed") for status in statuses):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the series were not analysed within an hour")
                time.sleep(0.5)
            failed = [s for s in statuses if s["State"] != "done"]
            if failed:
                raise RuntimeError("failed analyses: %s" % failed)
            first_start = min(seconds(s["StartedAt"]) for s in statuses)
            last_end = max(seconds(s["FinishedAt"]) for s in statuses)
            shares = {}
            for status in statuses:
                shares[status["Node"]] = shares.get(status["Node"], 0) + 1
            return {"to_last_sr": last_end - started,
                    "per_minute": 60.0 * len(statuses) / (last_end - first_start),
                    "mean_seconds": sum(s["Seconds"] for s in statuses) / len(statuses),
                    "shares": shares}
        finally:
            for node in [ingest] + workers:
                node.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--model", default=os.path.join(ROOT, "Resources", "model", "spinemet-demo.pt"))
    parser.add_argument("--series", type=int, default=20)
    args = parser.parse_args()
    os.environ["SPINEMET_PLUGIN"] = os.path.abspath(args.plugin)

    with tempfile.TemporaryDirectory(prefix="spinemet-cluster-bench-") as work:
        studies = []
        for index in range(args.series):
            folder = os.path.join(work, "study%02d" % index)
            studies.append((folder, generate_phantom(folder, *STUDY, "--seed", str(500 + index))))
        slices = sum(len(truth["slices"]) for _f, truth in studies)
        print("%d phantom series (%s, %d slices in all), model %s, %d cores" %
              (args.series, " ".join(STUDY), slices, os.path.basename(args.model), os.cpu_count()))
        results = {n: run_setup(n, studies, args.model, work) for n in (1, 2)}

    print("%-34s %14s %14s" % ("", "1 analysing", "2 analysing"))
    print("%-34s %14.1f %14.1f" % ("time to last SR (s)", results[1]["to_last_sr"], results[2]["to_last_sr"]))
    print("%-34s %14.2f %14.2f" % ("throughput (series per minute)", results[1]["per_minute"],
                                   results[2]["per_minute"]))
    print("%-34s %14.2f %14.2f" % ("mean analysis (s per series)", results[1]["mean_seconds"],
                                   results[2]["mean_seconds"]))
    print("%-34s %14s %14s" % ("series per node", " ".join("%s:%d" % kv for kv in sorted(results[1]["shares"].items())),
                               " ".join("%s:%d" % kv for kv in sorted(results[2]["shares"].items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
