#!/usr/bin/env bash
# The SpineMet demo, natively on this machine and on loopback only: Orthanc with the SpineMet,
# DICOMweb and GDCM plugins, nginx serving the OHIF viewer; a synthetic phantom spine CT is sent
# with storescu, analysed, and its findings printed with the viewer's URL. The services start
# through the same entry points as the docker-compose services (scripts/stack/).
#   scripts/demo.sh          install, build, start (or reuse) the stack, send the phantom, show the result
#   scripts/demo.sh stop     stop everything this script started (Ctrl-C while it runs does too)
# Ports: SPINEMET_HTTP_PORT (Orthanc, 8042), SPINEMET_DICOM_PORT (4242), SPINEMET_VIEWER_PORT (8080);
# state (storage, logs, credentials, OHIF files): SPINEMET_DEMO_DIR (.demo); model: SPINEMET_DEMO_MODEL.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
state=${SPINEMET_DEMO_DIR:-$top/.demo}
http_port=${SPINEMET_HTTP_PORT:-8042}
dicom_port=${SPINEMET_DICOM_PORT:-4242}
viewer_port=${SPINEMET_VIEWER_PORT:-8080}
build=${SPINEMET_BUILD_DIR:-build}
model=${SPINEMET_DEMO_MODEL:-$top/Resources/model/spinemet-demo.pt}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_stack() {
  local service
  for service in viewer orthanc; do
    if running "$state/$service.pid"; then
      kill "$(cat "$state/$service.pid")"
      for _ in $(seq 50); do running "$state/$service.pid" || break; sleep 0.2; done
      say "$service stopped"
    fi
    rm -f "$state/$service.pid"
  done
}

if [ "${1:-start}" = "stop" ]; then
  stop_stack
  exit 0
fi

say "Installing what is missing (Debian packages)"
scripts/install-deps.sh

say "Building SpineMet"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target SpineMet spinemet-phantom
build=$(cd "$build" && pwd)

mkdir -p "$state/runtime" "$state/storage"
scripts/stack/fetch-ohif.sh "$state/ohif"

# Credentials made here once, never the defaults of a public image.
if [ ! -f "$state/credentials" ]; then
  printf 'ORTHANC_USER=spinemet\nORTHANC_PASSWORD=%s\nVIEWER_USER=demo\nVIEWER_PASSWORD=%s\n' \
    "$(openssl rand -hex 12)" "$(openssl rand -hex 8)" > "$state/credentials"
  chmod 600 "$state/credentials"
fi
# shellcheck disable=SC1091
. "$state/credentials"
export SPINEMET_ORTHANC_USER=$ORTHANC_USER SPINEMET_ORTHANC_PASSWORD=$ORTHANC_PASSWORD
orthanc_url="http://127.0.0.1:$http_port"
orthanc_get() { curl -fsS -u "$ORTHANC_USER:$ORTHANC_PASSWORD" "$orthanc_url$1"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

trap 'echo; stop_stack; exit 130' INT

if running "$state/orthanc.pid"; then
  say "Orthanc is already running ($orthanc_url)"
else
  say "Starting Orthanc with SpineMet on $orthanc_url (DICOM port $dicom_port)"
  SPINEMET_STORAGE="$state/storage" SPINEMET_HTTP_PORT=$http_port SPINEMET_DICOM_PORT=$dicom_port \
  SPINEMET_PLUGIN="$build/plugin/libSpineMet.so" SPINEMET_MODEL="$model" \
    setsid scripts/stack/orthanc-entrypoint.sh >"$state/orthanc.log" 2>&1 < /dev/null &
  echo $! > "$state/orthanc.pid"
  for _ in $(seq 120); do
    orthanc_get /system >/dev/null 2>&1 && break
    running "$state/orthanc.pid" || { tail -20 "$state/orthanc.log"; exit 1; }
    sleep 0.5
  done
fi
orthanc_get /spinemet/health |
  json '"    SpineMet %s: %s %s %s" % (d["Version"], d["Status"], d.get("Device", ""), "; ".join(d["Problems"]))'

if running "$state/viewer.pid"; then
  say "The viewer is already running"
else
  say "Starting the OHIF viewer behind nginx on http://127.0.0.1:$viewer_port"
  SPINEMET_RUNTIME_DIR="$state/runtime" SPINEMET_VIEWER_LISTEN="127.0.0.1:$viewer_port" \
  SPINEMET_OHIF_DIR="$state/ohif" SPINEMET_ORTHANC_HTTP="127.0.0.1:$http_port" \
  SPINEMET_VIEWER_USER="$VIEWER_USER" SPINEMET_VIEWER_PASSWORD="$VIEWER_PASSWORD" \
    setsid scripts/stack/viewer-entrypoint.sh >"$state/viewer.log" 2>&1 < /dev/null &
  echo $! > "$state/viewer.pid"
fi

say "Sending the phantom study"
phantom="$state/phantom"
SPINEMET_PHANTOM="$build/tools/phantom/spinemet-phantom" \
  scripts/stack/load-phantom.sh 127.0.0.1 "$dicom_port" "$phantom" 2>&1 | grep -v "^W:" || true

series_uid=$(json 'd["series"]["series_instance_uid"]' < "$phantom/ground_truth.json")
study_uid=$(json 'd["series"]["study_instance_uid"]' < "$phantom/ground_truth.json")
series=$(curl -fsS -u "$ORTHANC_USER:$ORTHANC_PASSWORD" -X POST "$orthanc_url/tools/lookup" -d "$series_uid" |
         json '[x["ID"] for x in d if x["Type"] == "Series"][0]')
study=$(orthanc_get "/series/$series" | json 'd["ParentStudy"]')

say "Waiting for SpineMet's analysis (Orthanc first waits for the series to be stable)"
shown=
while true; do
  status=$(orthanc_get "/spinemet/series/$series")
  line=$(printf '%s' "$status" |
         json 'd.get("State", "?") + " " + d.get("Stage", "") + ("" if d.get("Progress") is None else " %3.0f%%" % (100 * d["Progress"]))')
  [ "$line" != "$shown" ] && echo "    $line" && shown=$line
  case $line in done*|failed*|skipped*|cancelled*) break;; esac
  sleep 1
done
printf '%s' "$status" | /usr/bin/python3 scripts/stack/print-findings.py || true

echo
say "Open the study"
echo "    OHIF viewer:       http://127.0.0.1:$viewer_port/viewer?StudyInstanceUIDs=$study_uid"
echo "                       (login $VIEWER_USER / $VIEWER_PASSWORD, kept in $state/credentials)"
echo "    Orthanc Explorer:  $orthanc_url/app/explorer.html#study?uuid=$study"
echo "                       (login $ORTHANC_USER / $ORTHANC_PASSWORD)"
echo "    SpineMet result:   $orthanc_url/spinemet/studies/$study"
echo "    Stop everything:   scripts/demo.sh stop"
