#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Repeats the GDCM crash the README warns about: a fresh Orthanc 1.10.1 with the stack's GDCM
configuration, one real JPEG 2000 CT stored, then up to 15 transcodings of it to explicit little
endian. Prints, per run, whether Orthanc survived. Not a test (it is expected to crash now and
then); the stack's own use of GDCM is tested by test_gdcm.py.
Usage: reproduce_gdcm_transcoding_crash.py [RUNS]"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from orthanc_server import OrthancServer  # noqa: E402
from test_gdcm import JPEG2000_CT, PLUGINS, stack_configuration  # noqa: E402


def one_run():
    server = OrthancServer(config={"Gdcm": stack_configuration()["Gdcm"]},
                           plugins=[f"{PLUGINS}/libOrthancGdcm.so"])
    server.start()
    try:
        instance = server.upload(JPEG2000_CT)["ID"]
        for _ in range(15):
            try:
                server.post(f"/instances/{instance}/modify",
                            {"Transcode": "1.2.840.10008.1.2.1", "Force": True}, raw=True)
            except Exception:
                break
        return server.process.poll() is None
    finally:
        server.stop()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    survived = sum(one_run() for _ in range(runs))
    print(f"Orthanc survived {survived} of {runs} runs of JPEG 2000 transcoding through GDCM")
    return 0


if __name__ == "__main__":
    sys.exit(main())
