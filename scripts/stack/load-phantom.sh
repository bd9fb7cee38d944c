#!/usr/bin/env bash
# Generates the demo's synthetic phantom spine CT (once) and sends it to Orthanc with storescu:
# the docker-compose "loader" service and the native demo.
# Usage: load-phantom.sh HOST DICOM_PORT FOLDER   (spinemet-phantom on PATH or in SPINEMET_PHANTOM)
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
host=$1 port=$2 folder=$3
phantom_tool=${SPINEMET_PHANTOM:-spinemet-phantom}

if [ ! -f "$folder/ground_truth.json" ]; then
  echo "Generating a synthetic phantom spine CT (T10-L3, lesions at T11, L1, L2) in $folder"
  "$phantom_tool" --out "$folder" --seed 2026 --levels T10-L3 \
    --labels T11=lytic:bilateral,T12=normal,L1=blastic:unilateral-left,L2=mixed >/dev/null
fi
for _ in $(seq 60); do
  echoscu -aec ORTHANC "$host" "$port" >/dev/null 2>&1 && break
  sleep 1
done
echo "Sending $(ls "$folder"/*.dcm | wc -l) instances to $host:$port with storescu"
storescu -aec ORTHANC "$host" "$port" +sd +sp "*.dcm" "$folder"
