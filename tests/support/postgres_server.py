# SPDX-License-Identifier: GPL-3.0-or-later
"""A throw-away PostgreSQL for tests, from Debian's `postgresql` package: initdb into a temporary
folder, a server on a free 127.0.0.1 port (and a Unix socket in that folder), stopped and removed
at the end. PostgreSQL refuses to run as root; as root it runs as `nobody` (setpriv, util-linux).

    with PostgresServer() as postgres:
        postgres.create_database("orthanc")
        config = {"PostgreSQL": postgres.orthanc_section("orthanc")}
"""

import glob
import os
import shutil
import subprocess
import tempfile

from orthanc_server import free_port


def postgres_binaries():
    configured = os.environ.get("SPINEMET_POSTGRES_BIN")
    if configured:
        return configured
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin: install Debian's "
                           "postgresql package (scripts/install-deps.sh) or set SPINEMET_POSTGRES_BIN")
    return os.path.dirname(found[-1])


class PostgresServer:
    USER = "spinemet"

    def __init__(self):
        self.bin = postgres_binaries()
        self.folder = tempfile.mkdtemp(prefix="spinemet-postgres-")
        self.data = os.path.join(self.folder, "data")
        self.log_path = os.path.join(self.folder, "server.log")
        self.port = None
        self.as_nobody = os.geteuid() == 0
        self.started = False

    def _run(self, *command):
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] if self.as_nobody else []
        result = subprocess.run(prefix + list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                timeout=120)
        if result.returncode != 0:
            raise RuntimeError("%s failed (%d): %s\n%s" % (" ".join(command), result.returncode, result.stdout,
                                                          self.logs()))
        return result.stdout

    def start(self):
        if self.as_nobody:
            shutil.chown(self.folder, "nobody", "nogroup")
        # Durability settings off: the server lives as long as the test.
        self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.USER, "--auth=trust", "--no-sync",
                  "-E", "UTF8", "--locale=C")
        self.port = free_port()
        options = ("-k %s -c listen_addresses=127.0.0.1 -p %d -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=100" % (self.folder, self.port))
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log_path, "-w", "-t", "60",
                  "-o", options, "start")
        self.started = True
        return self

    def stop(self):
        if self.started:
            self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")
            self.started = False

    def __enter__(self):
        return self.start()

    def __exit__(self, kind, value, traceback):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
        return False

    def logs(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def sql(self, statement, database="postgres"):
        """Runs one statement with psql; returns its unaligned output."""
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.USER, "-d", database,
                               "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement],
                              check=True, stdout=subprocess.PIPE, text=True, timeout=60).stdout

    def create_database(self, name):
        self.sql("CREATE DATABASE %s" % name)
        return name

    def connection(self, database):
        """A libpq connection string."""
        return "host=127.0.0.1 port=%d user=%s dbname=%s" % (self.port, self.USER, database)

    def orthanc_section(self, database):
        """Orthanc's "PostgreSQL" section for the orthanc-postgresql index plugin, which SpineMet's
        queue shares by default. "Lock": false lets several Orthanc nodes use the one index."""
        return {"EnableIndex": True, "EnableStorage": False, "Host": "127.0.0.1", "Port": self.port,
                "Database": database, "Username": self.USER, "Password": "", "Lock": False, "EnableSsl": False}
