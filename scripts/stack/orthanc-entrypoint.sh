#!/usr/bin/env bash
# Starts Orthanc with SpineMet, DICOMweb and GDCM: the entry point of the docker-compose "orthanc"
# service and of the native demo (scripts/demo.sh), from the same configuration (config/orthanc.json).
# Settings from the environment:
#   SPINEMET_STORAGE (folder), SPINEMET_HTTP_PORT (8042), SPINEMET_DICOM_PORT (4242),
#   SPINEMET_PLUGIN (libSpineMet.so), SPINEMET_MODEL (TorchScript file),
#   SPINEMET_ORTHANC_USER, SPINEMET_ORTHANC_PASSWORD, SPINEMET_REMOTE_ACCESS (true in a container);
#   a node of the "cluster" profile (docs/scale-out.md): SPINEMET_POSTGRES (host:port),
#   SPINEMET_POSTGRES_PASSWORD, SPINEMET_NODE_NAME, SPINEMET_NODE_ROLE, and SPINEMET_CONFIG (where
#   the configuration is written: the shared storage folder is no place for one node's own)
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${SPINEMET_STORAGE:?}" "${SPINEMET_PLUGIN:?}" "${SPINEMET_MODEL:?}"
: "${SPINEMET_ORTHANC_USER:?}" "${SPINEMET_ORTHANC_PASSWORD:?}"
plugins=${SPINEMET_ORTHANC_PLUGINS:-/usr/share/orthanc/plugins}

mkdir -p "$SPINEMET_STORAGE"
config=${SPINEMET_CONFIG:-$SPINEMET_STORAGE/orthanc.json}
mkdir -p "$(dirname "$config")"
remote=()
[ "${SPINEMET_REMOTE_ACCESS:-false}" = true ] && remote=(--remote-access)
cluster=()
if [ -n "${SPINEMET_POSTGRES:-}" ]; then
  cluster=(--postgres "$SPINEMET_POSTGRES" --postgres-password "${SPINEMET_POSTGRES_PASSWORD:?put SPINEMET_POSTGRES_PASSWORD in .env}"
           --plugin "$plugins/libOrthancPostgreSQLIndex.so")
  if [ -n "${SPINEMET_NODE_NAME:-}" ]; then cluster+=(--node-name "$SPINEMET_NODE_NAME"); fi
  if [ -n "${SPINEMET_NODE_ROLE:-}" ]; then cluster+=(--node-role "$SPINEMET_NODE_ROLE"); fi
fi
/usr/bin/python3 "$here/render-orthanc-config.py" --out "$config" --storage "$SPINEMET_STORAGE" \
  --http-port "${SPINEMET_HTTP_PORT:-8042}" --dicom-port "${SPINEMET_DICOM_PORT:-4242}" "${remote[@]}" \
  --plugin "$SPINEMET_PLUGIN" \
  --plugin "$plugins/libOrthancDicomWeb.so" \
  --plugin "$plugins/libOrthancGdcm.so" \
  --model "$SPINEMET_MODEL" "${cluster[@]}" \
  --user "$SPINEMET_ORTHANC_USER" --password "$SPINEMET_ORTHANC_PASSWORD"
exec /usr/sbin/Orthanc "$config"
