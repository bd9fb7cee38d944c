# SPDX-License-Identifier: GPL-3.0-or-later
"""Scale-out: one PostgreSQL, three Orthanc nodes with SpineMet on one index and one storage folder
(node-a and node-b analyse, node-c only queues: NodeRole analyse, analyse, ingest), on loopback ports. Twenty
phantom series are sent spread over the three nodes; node-b is killed (SIGKILL) while it analyses
one. Its claim is taken over by node-a once the lease ran out, and every series ends analysed
exactly once, with one SR and one set of overlays, whichever node answers."""

import re
import signal
import threading

from cluster_nodes import cluster_node, metric
from orthanc_server import storescu
from phantom_cli import generate_phantom
from plugin_fixtures import series_of_study, source_series_id, wait_for_state
from postgres_server import PostgresServer

SERIES_COUNT = 20
LEASE_SECONDS = 4          # short, so that the take-over comes within seconds of the kill


def analyses_logged(logs, series_id):
    """How many analyses of the series a node's log says it finished."""
    return len(re.findall(r"series %s analysed in" % series_id, logs))


class Sender(threading.Thread):
    """Sends studies to one node with storescu, one after the other, on a thread of its own."""

    def __init__(self, node, studies):
        super().__init__()
        self.node = node
        self.folders = [folder for folder, _truth in studies]
        self.error = None
        self.start()

    def run(self):
        try:
            for folder in self.folders:
                storescu(self.node, folder)
        except Exception as error:      # re-raised by join() on the test's thread
            self.error = error

    def join(self, timeout=None):
        super().join(timeout)
        if self.error is not None:
            raise self.error


def test_three_nodes_analyse_each_series_once_and_take_over_the_claims_of_a_killed_node(tmp_path, tiny_model):
    studies = []
    for index in range(SERIES_COUNT):
        folder = tmp_path / ("study%02d" % index)
        truth = generate_phantom(folder, "--levels", "T11-L2", "--matrix", "256", "--slice-thickness", "2",
                                 "--seed", str(300 + index))
        studies.append((folder, truth))

    with PostgresServer() as postgres:
        postgres.create_database("orthanc")
        storage = tmp_path / "storage"
        settings = dict(LeaseSeconds=LEASE_SECONDS, VolumesInFlight=1)
        node_a = cluster_node(postgres, "orthanc", storage, tiny_model, "node-a", "analyse", **settings)
        # node-b holds its first analysis (plugin/TestHooks.h) until it is killed: with analyses
        # faster than the series become stable, the queue could drain before node-b's own series
        # were queued, leaving no analysis on node-b to kill (seen once in 3 CI runs).
        node_b = cluster_node(postgres, "orthanc", storage, tiny_model, "node-b", "analyse",
                              environment={"SPINEMET_TEST_HOLD_AT": "analysing"}, **settings)
        node_c = cluster_node(postgres, "orthanc", storage, tiny_model, "node-c", "ingest", **settings)
        with node_a, node_b, node_c:
            for node, name, role in ((node_a, "node-a", "analyse"), (node_b, "node-b", "analyse"),
                                     (node_c, "node-c", "ingest")):
                health = node.get("/spinemet/health")
                assert health["Enabled"], health
                assert (health["QueueBackend"], health["Node"], health["NodeRole"]) == ("PostgreSQL", name, role)

            # The series over the three nodes, each receiving at the same time as the others (as
            # behind one address), so that series become stable faster than one node analyses them.
            # node-b is killed while it analyses one. Orthanc calls a series stable on the node
            # that received it, from its memory: a series still arriving on node-b when it dies
            # would wait for a restart (docs/scale-out.md), so node-b gets the first few only and
            # dies once they are queued; node-a and node-c go on receiving meanwhile.
            to_b = [studies[i] for i in range(0, SERIES_COUNT, 5)]
            to_a = [study for i, study in enumerate(studies) if i % 5 != 0 and i % 2 == 0]
            to_c = [study for i, study in enumerate(studies) if i % 5 != 0 and i % 2 == 1]
            senders = [Sender(node_b, to_b), Sender(node_a, to_a), Sender(node_c, to_c)]
            senders[0].join()
            ids_on_b = [source_series_id(node_a, truth["series"]["series_instance_uid"]) for _f, truth in to_b]

            def node_b_analyses_and_its_series_are_queued():
                try:
                    states = [node_a.get("/spinemet/series/%s" % series_id)["State"] for series_id in ids_on_b]
                except Exception:
                    return None             # not in the queue yet
                if "receiving" in states:
                    return None
                return [a["Series"] for a in node_a.get("/spinemet/queue")["Analyses"]
                        if a["State"] == "running" and a["Node"] == "node-b"]
            # Frozen first (SIGSTOP), so that an analysis node-b was just finishing cannot end
            # between the look and the kill: the kill must leave a claim behind.
            while True:
                killed = node_a.wait_until(node_b_analyses_and_its_series_are_queued, timeout=300, interval=0.05,
                                           what="node-b to analyse a series")[0]
                node_b.process.send_signal(signal.SIGSTOP)
                row = node_a.get("/spinemet/series/%s" % killed)
                if row["State"] == "running" and row["Node"] == "node-b":
                    break
                node_b.process.send_signal(signal.SIGCONT)
            node_b.process.kill()
            node_b.process.wait(timeout=30)
            logs_b = node_b.logs()
            assert "test hook: holding at analysing (series %s)" % killed in logs_b, "node-b was not held"
            for sender in senders:
                sender.join()

            series_ids = []
            for folder, truth in studies:
                series_id = source_series_id(node_c, truth["series"]["series_instance_uid"])
                series_ids.append(series_id)
                status = wait_for_state(node_c, series_id, timeout=600)
                assert status["State"] == "done", status
                assert status["Node"] in ("node-a", "node-b"), status
                assert status["Slices"] == len(truth["slices"])
                by_modality = series_of_study(node_a, status["Study"])
                assert len(by_modality["SR"]) == 1 and len(by_modality["SR"][0]["Instances"]) == 1, by_modality
                assert len(by_modality["OT"]) == 1, by_modality
                assert sorted(status["Outputs"]) == sorted(by_modality["SR"][0]["Instances"] +
                                                           by_modality["OT"][0]["Instances"])
                # The same answer from every node still running: they read the one queue.
                same = node_a.get("/spinemet/series/%s" % series_id)
                assert (same["State"], same["Node"], same["Outputs"]) == \
                    (status["State"], status["Node"], status["Outputs"])

            # The killed node's claim: taken over by node-a after the lease, as a second attempt.
            taken_over = node_a.get("/spinemet/series/%s" % killed)
            assert taken_over["Node"] == "node-a", taken_over
            logs_a = node_a.logs()
            assert re.search(r"analysing series %s \(attempt 2\)" % killed, logs_a), \
                "node-a did not take over series %s" % killed

            # Each series analysed exactly once: one finished analysis in the logs of the two
            # analysing nodes together (the killed one never finished on node-b); none on node-c.
            logs_c = node_c.logs()
            for series_id in series_ids:
                assert analyses_logged(logs_a, series_id) + analyses_logged(logs_b, series_id) == 1, series_id
            assert "analysing series" not in logs_c
            assert analyses_logged(logs_b, killed) == 0

            # Both nodes still running agree on the queue; each says what it did itself.
            queue = node_c.get("/spinemet/queue")
            assert queue["Analyses"] == [] and queue["Counts"]["done"] == SERIES_COUNT, queue
            assert queue == node_a.get("/spinemet/queue")
            node_a.wait_until(lambda: metric(node_a, "spinemet_queue_depth") == 0, timeout=30,
                              what="node-a's queue depth metric to say 0")
            done_on_a = sum(1 for s in series_ids if node_a.get("/spinemet/series/%s" % s)["Node"] == "node-a")
            assert metric(node_a, "spinemet_node_analysed") == done_on_a
            assert metric(node_c, "spinemet_node_analysed") in (None, 0)
            jobs_a = [job for job in node_a.get("/jobs?expand") if job["Type"] == "SpineMetAnalysis"]
            jobs_c = [job for job in node_c.get("/jobs?expand") if job["Type"] == "SpineMetAnalysis"]
            # Orthanc keeps the last JobsHistorySize (10) finished jobs: some of node-a's, none on node-c.
            assert jobs_a and jobs_c == []
