#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the Orthanc configuration of a SpineMet stack: the documented example config/orthanc.json
with the settings that differ between a native run and a container (storage, ports, plugin paths,
model, credentials) filled in. The native demo, the docker-compose service and the browser test
all start Orthanc through this one script, so they run the same configuration."""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BASE = os.path.join(HERE, "..", "..", "config", "orthanc.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="configuration to start from")
    parser.add_argument("--out", required=True, help="file to write")
    parser.add_argument("--storage", required=True, help="Orthanc's storage and index folder")
    parser.add_argument("--http-port", type=int, default=8042)
    parser.add_argument("--dicom-port", type=int, default=4242)
    parser.add_argument("--remote-access", action="store_true",
                        help="accept HTTP from other hosts (in a container); default loopback only")
    parser.add_argument("--plugin", action="append", default=[], help="plugin file or folder")
    parser.add_argument("--model", help="SpineMet.ModelPath")
    parser.add_argument("--postgres", metavar="HOST:PORT",
                        help="a cluster node (docs/scale-out.md): Orthanc's index and SpineMet's queue in the "
                             "PostgreSQL database \"orthanc\" there (orthanc-postgresql, user orthanc)")
    parser.add_argument("--postgres-password", default="")
    parser.add_argument("--node-name", help="SpineMet.NodeName")
    parser.add_argument("--node-role", choices=["both", "ingest", "analyse"], help="SpineMet.NodeRole")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()

    with open(args.base) as f:
        config = json.load(f)

    config["StorageDirectory"] = args.storage
    config["IndexDirectory"] = args.storage
    config["HttpPort"] = args.http_port
    config["DicomPort"] = args.dicom_port
    config["RemoteAccessAllowed"] = args.remote_access
    config["AuthenticationEnabled"] = True
    config["RegisteredUsers"] = {args.user: args.password}
    config["Plugins"] = [os.path.abspath(p) for p in args.plugin]
    if args.model:
        config.setdefault("SpineMet", {})["ModelPath"] = os.path.abspath(args.model)

    if args.postgres:
        host, _, port = args.postgres.rpartition(":")
        # "Lock": false lets several Orthanc nodes share the one index.
        config["PostgreSQL"] = {"EnableIndex": True, "EnableStorage": False, "Host": host, "Port": int(port),
                                "Database": "orthanc", "Username": "orthanc", "Password": args.postgres_password,
                                "Lock": False, "EnableSsl": False}
        config.setdefault("SpineMet", {})["QueueBackend"] = "PostgreSQL"
    if args.node_name:
        config.setdefault("SpineMet", {})["NodeName"] = args.node_name
    if args.node_role:
        config.setdefault("SpineMet", {})["NodeRole"] = args.node_role

    with open(args.out, "w") as f:
        json.dump(config, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
