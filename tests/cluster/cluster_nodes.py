# SPDX-License-Identifier: GPL-3.0-or-later
"""Orthanc nodes of one SpineMet cluster for tests and benchmarks: each an Orthanc with the
orthanc-postgresql index plugin and SpineMet, all on one PostgreSQL database (the index, and
SpineMet's queue beside it) and one storage folder (docs/scale-out.md)."""

import os
import re

from plugin_fixtures import plugin_path, spinemet_config
from orthanc_server import OrthancServer

POSTGRES_INDEX_PLUGIN = os.environ.get("SPINEMET_POSTGRES_INDEX_PLUGIN",
                                       "/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so")


def cluster_node(postgres, database, storage, model_path, name, role, environment=None, **settings):
    """An OrthancServer (not started) of the cluster: NodeName `name`, NodeRole `role`; `environment`:
    variables set for this node's Orthanc only (a test hook, plugin/TestHooks.h)."""
    if not os.path.exists(POSTGRES_INDEX_PLUGIN):
        raise RuntimeError("no Orthanc PostgreSQL index plugin at %s: install Debian's orthanc-postgresql "
                           "(scripts/install-deps.sh) or set SPINEMET_POSTGRES_INDEX_PLUGIN" % POSTGRES_INDEX_PLUGIN)
    section = {"QueueBackend": "PostgreSQL", "NodeName": name, "NodeRole": role}
    section.update(settings)
    config = spinemet_config(model_path, **section)
    config.update({"PostgreSQL": postgres.orthanc_section(database), "StorageDirectory": str(storage),
                   "IndexDirectory": str(storage), "Name": name})
    return VerboseOrthanc(config=config, plugins=[plugin_path(), POSTGRES_INDEX_PLUGIN], startup_timeout=120,
                          environment=environment)


class VerboseOrthanc(OrthancServer):
    """Logs at Orthanc's verbose level once started: the tests count SpineMet's informational lines
    ("analysing series ...", "series ... analysed in ...") in each node's log."""

    def __init__(self, *args, environment=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.environment = dict(environment or {})

    def start(self):
        # Orthanc inherits the test process' environment when it starts: set around the start only.
        saved = {name: os.environ.get(name) for name in self.environment}
        os.environ.update(self.environment)
        try:
            super().start()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        self.put("/tools/log-level", "verbose", content_type="text/plain")
        return self


def metric(orthanc, name):
    """One value of the node's Prometheus endpoint; None when the node does not publish it."""
    text = orthanc.get("/tools/metrics-prometheus", raw=True).decode()
    found = re.search(r"^%s (\S+)" % re.escape(name), text, re.MULTILINE)
    return float(found.group(1)) if found else None
