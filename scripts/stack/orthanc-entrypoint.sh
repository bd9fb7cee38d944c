#!/usr/bin/env bash
# Starts Orthanc with SpineMet, DICOMweb and GDCM: the entry point of the docker-compose "orthanc"
# service and of the native demo (scripts/demo.sh), from the same configuration (config/orthanc.json).
# Settings from the environment:
#   SPINEMET_STORAGE (folder), SPINEMET_HTTP_PORT (8042), SPINEMET_DICOM_PORT (4242),
#   SPINEMET_PLUGIN (libSpineMet.so), SPINEMET_MODEL (TorchScript file),
#   SPINEMET_ORTHANC_USER, SPINEMET_ORTHANC_PASSWORD, SPINEMET_REMOTE_ACCESS (true in a container)
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${SPINEMET_STORAGE:?}" "${SPINEMET_PLUGIN:?}" "${SPINEMET_MODEL:?}"
: "${SPINEMET_ORTHANC_USER:?}" "${SPINEMET_ORTHANC_PASSWORD:?}"
plugins=${SPINEMET_ORTHANC_PLUGINS:-/usr/share/orthanc/plugins}

mkdir -p "$SPINEMET_STORAGE"
config="$SPINEMET_STORAGE/orthanc.json"
remote=()
[ "${SPINEMET_REMOTE_ACCESS:-false}" = true ] && remote=(--remote-access)
/usr/bin/python3 "$here/render-orthanc-config.py" --out "$config" --storage "$SPINEMET_STORAGE" \
  --http-port "${SPINEMET_HTTP_PORT:-8042}" --dicom-port "${SPINEMET_DICOM_PORT:-4242}" "${remote[@]}" \
  --plugin "$SPINEMET_PLUGIN" \
  --plugin "$plugins/libOrthancDicomWeb.so" \
  --plugin "$plugins/libOrthancGdcm.so" \
  --model "$SPINEMET_MODEL" \
  --user "$SPINEMET_ORTHANC_USER" --password "$SPINEMET_ORTHANC_PASSWORD"
exec /usr/sbin/Orthanc "$config"
