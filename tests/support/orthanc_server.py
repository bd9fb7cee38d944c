# SPDX-License-Identifier: GPL-3.0-or-later
"""A real Orthanc for tests: the Debian `orthanc` package, started on free loopback ports with a
temporary storage folder and a temporary JSON configuration, optionally with plugins.

    with OrthancServer(config={"StableAge": 1}, plugins=[plugin_path]) as orthanc:
        storescu(orthanc, folder)
        studies = orthanc.get("/studies")

On a failed `with` block, or when asked (`orthanc.logs()`), Orthanc's log is printed so that the
test output says what the server did. Nothing here listens on anything but 127.0.0.1 for HTTP;
Orthanc 1.10 has no bind address for DICOM, so its DICOM port is a free port on all interfaces for
the lifetime of the test.
"""

import base64
import fnmatch
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ORTHANC = os.environ.get("SPINEMET_ORTHANC", "/usr/sbin/Orthanc")
STORESCU = os.environ.get("SPINEMET_STORESCU", "storescu")


def free_port():
    """A TCP port that nothing listens on right now (127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OrthancError(RuntimeError):
    pass


class OrthancServer:
    """One Orthanc process. `config` entries override the defaults below; `plugins` are paths of
    shared libraries (or folders) put in "Plugins"."""

    def __init__(self, config=None, plugins=(), aet="ORTHANC", user=None, password=None,
                 startup_timeout=60, keep_folder=False):
        self.aet = aet
        self.user = user
        self.password = password
        self.startup_timeout = startup_timeout
        self.keep_folder = keep_folder
        self.folder = tempfile.mkdtemp(prefix="spinemet-orthanc-")
        self.storage = os.path.join(self.folder, "storage")
        self.config_path = os.path.join(self.folder, "orthanc.json")
        self.log_path = os.path.join(self.folder, "orthanc.log")
        self.http_port = None
        self.dicom_port = None
        self.process = None
        self._extra_config = dict(config or {})
        self._plugins = [str(p) for p in plugins]

    # --- life cycle -------------------------------------------------------------------------

    def configuration(self):
        config = {
            "Name": "spinemet-test",
            "StorageDirectory": self.storage,
            "IndexDirectory": self.storage,
            "StorageCompression": False,
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": self.user is not None,
            "DicomServerEnabled": True,
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": False,
            "StableAge": 1,
            "SaveJobs": False,
            "ConcurrentJobs": 2,
            "HttpTimeout": 60,
            "DicomModalities": {},
            "OrthancPeers": {},
            "Plugins": self._plugins,
        }
        if self.user is not None:
            config["RegisteredUsers"] = {self.user: self.password}
        config.update(self._extra_config)
        return config

    def start(self):
        os.makedirs(self.storage, exist_ok=True)
        last_error = None
        for _attempt in range(3):   # a port taken between free_port() and Orthanc's bind: retry
            self.http_port = free_port()
            self.dicom_port = free_port()
            with open(self.config_path, "w") as f:
                json.dump(self.configuration(), f, indent=2)
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen([ORTHANC, self.config_path], stdout=log,
                                            stderr=subprocess.STDOUT, cwd=self.folder,
                                            start_new_session=True)
            log.close()
            try:
                self._wait_until_ready()
                return self
            except OrthancError as error:
                last_error = error
                self._terminate()
                if "already in use" not in self.logs() and "bind" not in self.logs().lower():
                    break
        self.print_logs()
        raise last_error

    def _wait_until_ready(self):
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OrthancError(f"Orthanc exited with status {self.process.returncode} while starting")
            try:
                self.get("/system")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise OrthancError(f"Orthanc did not answer /system within {self.startup_timeout} s")

    def _terminate(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self):
        """Stops Orthanc cleanly; returns its exit status."""
        self._terminate()
        return None if self.process is None else self.process.returncode

    def cleanup(self):
        self.stop()
        if not self.keep_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, kind, value, traceback):
        self.stop()
        if kind is not None:
            self.print_logs()
        self.cleanup()
        return False

    def logs(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def print_logs(self, last_lines=200):
        lines = self.logs().splitlines()[-last_lines:]
        sys.stderr.write("---- Orthanc log (%s) ----\n%s\n---- end of Orthanc log ----\n"
                         % (self.log_path, "\n".join(lines)))

    # --- REST -------------------------------------------------------------------------------

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    def request(self, method, path, body=None, content_type="application/json", raw=False,
                timeout=60):
        """Calls the REST API; returns parsed JSON (or bytes with raw=True). Raises
        urllib.error.HTTPError on an HTTP error status, with Orthanc's answer in its body."""
        data = None
        headers = {}
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            elif isinstance(body, str):
                data = body.encode()
                headers["Content-Type"] = content_type
            else:
                data = bytes(body)
                headers["Content-Type"] = content_type
        if self.user is not None:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            payload = answer.read()
        if raw:
            return payload
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            return payload

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body=body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def upload(self, dicom_path):
        """Stores one file through REST (POST /instances)."""
        with open(dicom_path, "rb") as f:
            return self.post("/instances", f.read(), content_type="application/dicom")

    def wait_until(self, condition, timeout=60, interval=0.25, what="condition"):
        """Polls `condition()` until it returns something truthy; returns that."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(interval)
        raise OrthancError(f"timed out after {timeout} s waiting for {what}")

    def wait_until_stable(self, series_id, timeout=60):
        return self.wait_until(lambda: self.get(f"/series/{series_id}").get("IsStable"), timeout,
                               what=f"series {series_id} to become stable")


# storescu proposes uncompressed syntaxes unless told otherwise; these make it propose the files' own.
_PROPOSE_OPTION = {
    "1.2.840.10008.1.2.5": "-xr",        # RLE lossless
    "1.2.840.10008.1.2.4.70": "-xs",     # JPEG lossless, process 14 SV1
    "1.2.840.10008.1.2.4.80": "-xt",     # JPEG-LS lossless
    "1.2.840.10008.1.2.4.90": "-xv",     # JPEG 2000 lossless
}


def _first_dicom_file(paths, pattern):
    for path in paths:
        path = str(path)
        if os.path.isfile(path):
            return path
        for root, _dirs, files in sorted(os.walk(path)):
            for name in sorted(files):
                if fnmatch.fnmatch(name, pattern):
                    return os.path.join(root, name)
    return None


def _transfer_syntax(path):
    import pydicom   # Debian python3-pydicom
    return str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)


def storescu(orthanc, *paths, calling_aet="SPINEMETTEST", pattern="*.dcm", extra_args=(),
             timeout=300):
    """Sends DICOM files (or folders, scanned recursively for `pattern`) to `orthanc` with DCMTK's
    storescu over 127.0.0.1, proposing the transfer syntax of the (first) file so that compressed
    files travel as they are; raises with storescu's output when it fails."""
    propose = []
    first = _first_dicom_file(paths, pattern)
    if first is not None:
        option = _PROPOSE_OPTION.get(_transfer_syntax(first))
        if option is not None:
            propose = [option]
    command = [STORESCU, "-aet", calling_aet, "-aec", orthanc.aet, "+sd", "+r", "+sp", pattern,
               *propose, *extra_args, "127.0.0.1", str(orthanc.dicom_port), *[str(p) for p in paths]]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        orthanc.print_logs()
        raise OrthancError("storescu failed (%d): %s\n%s"
                           % (result.returncode, " ".join(command), result.stdout))
    return result.stdout
