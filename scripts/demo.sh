#!/usr/bin/env bash
# The SpineMet demo, natively on this machine and on loopback only: Orthanc with the SpineMet,
# DICOMweb and GDCM plugins, nginx serving the OHIF viewer; a synthetic phantom spine CT is sent
# with storescu, analysed, and its findings printed with the viewer's URL.
#   scripts/demo.sh          install, build, start (or reuse) the stack, send the phantom, show the result
#   scripts/demo.sh stop     stop everything this script started
# Ports: SPINEMET_HTTP_PORT (Orthanc, 8042), SPINEMET_DICOM_PORT (4242), SPINEMET_VIEWER_PORT (8080).
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
state="$top/.demo"
http_port=${SPINEMET_HTTP_PORT:-8042}
dicom_port=${SPINEMET_DICOM_PORT:-4242}
viewer_port=${SPINEMET_VIEWER_PORT:-8080}
build=${SPINEMET_BUILD_DIR:-build}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_stack() {
  if running "$state/runtime/nginx.pid"; then
    nginx -c "$state/runtime/nginx.conf" -s quit 2>/dev/null || kill "$(cat "$state/runtime/nginx.pid")"
    say "nginx stopped"
  fi
  if running "$state/orthanc.pid"; then
    kill "$(cat "$state/orthanc.pid")"
    for _ in $(seq 50); do running "$state/orthanc.pid" || break; sleep 0.2; done
    say "Orthanc stopped"
  fi
  rm -f "$state/orthanc.pid"
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
orthanc_url="http://127.0.0.1:$http_port"
curl_orthanc() { curl -fsS -u "$ORTHANC_USER:$ORTHANC_PASSWORD" "$@"; }

trap 'echo; stop_stack; exit 130' INT

if running "$state/orthanc.pid"; then
  say "Orthanc is already running ($orthanc_url)"
else
  say "Starting Orthanc with SpineMet on $orthanc_url (DICOM port $dicom_port)"
  scripts/stack/render-orthanc-config.py --out "$state/orthanc.json" --storage "$state/storage" \
    --http-port "$http_port" --dicom-port "$dicom_port" \
    --plugin "$build/plugin/libSpineMet.so" \
    --plugin /usr/share/orthanc/plugins/libOrthancDicomWeb.so \
    --plugin /usr/share/orthanc/plugins/libOrthancGdcm.so \
    --model Resources/model/spinemet-demo.pt \
    --user "$ORTHANC_USER" --password "$ORTHANC_PASSWORD"
  setsid /usr/sbin/Orthanc "$state/orthanc.json" >"$state/orthanc.log" 2>&1 < /dev/null &
  echo $! > "$state/orthanc.pid"
  for _ in $(seq 120); do
    curl_orthanc "$orthanc_url/system" >/dev/null 2>&1 && break
    running "$state/orthanc.pid" || { tail -20 "$state/orthanc.log"; exit 1; }
    sleep 0.5
  done
fi
curl_orthanc "$orthanc_url/spinemet/health" | /usr/bin/python3 -c \
  'import json,sys; h=json.load(sys.stdin); print("    SpineMet", h["Version"], h["Status"], h.get("Device",""), "; ".join(h["Problems"]))'

if running "$state/runtime/nginx.pid"; then
  say "The viewer is already running"
else
  say "Starting the OHIF viewer behind nginx on http://127.0.0.1:$viewer_port"
  SPINEMET_RUNTIME_DIR="$state/runtime" SPINEMET_VIEWER_LISTEN="127.0.0.1:$viewer_port" \
  SPINEMET_OHIF_DIR="$state/ohif" SPINEMET_ORTHANC_HTTP="127.0.0.1:$http_port" \
  SPINEMET_ORTHANC_USER="$ORTHANC_USER" SPINEMET_ORTHANC_PASSWORD="$ORTHANC_PASSWORD" \
  SPINEMET_VIEWER_USER="$VIEWER_USER" SPINEMET_VIEWER_PASSWORD="$VIEWER_PASSWORD" \
  SPINEMET_NGINX_DAEMON=on scripts/stack/render-nginx-config.sh >/dev/null
  nginx -c "$state/runtime/nginx.conf" -e "$state/runtime/nginx-error.log"
fi

phantom="$state/phantom"
if [ ! -f "$phantom/ground_truth.json" ]; then
  say "Generating a synthetic phantom spine CT (T10-L3, with lesions)"
  "$build/tools/phantom/spinemet-phantom" --out "$phantom" --seed 2026 --levels T10-L3 \
    --labels T11=lytic:bilateral,T12=normal,L1=blastic:unilateral-left,L2=mixed >/dev/null
fi
say "Sending it to Orthanc with storescu"
storescu -aec ORTHANC 127.0.0.1 "$dicom_port" +sd "$phantom" 2>&1 | grep -v "^W:" || true

series_uid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["series"]["series_instance_uid"])' "$phantom/ground_truth.json")
series=$(curl_orthanc -X POST "$orthanc_url/tools/lookup" -d "$series_uid" |
         /usr/bin/python3 -c 'import json,sys; print([x["ID"] for x in json.load(sys.stdin) if x["Type"]=="Series"][0])')

say "Waiting for SpineMet's analysis (Orthanc waits for the series to be stable first)"
while true; do
  status=$(curl_orthanc "$orthanc_url/spinemet/series/$series")
  line=$(printf '%s' "$status" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
progress = s.get("Progress")
print(s.get("State", "?"), s.get("Stage", ""), "" if progress is None else "%3.0f%%" % (100 * progress))')
  printf '\r    %-60s' "$line"
  case $line in done*|failed*|skipped*|cancelled*) echo; break;; esac
  sleep 1
done
printf '%s' "$status" | /usr/bin/python3 "$top/scripts/stack/print-findings.py"

study_uid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["series"]["study_instance_uid"])' "$phantom/ground_truth.json")
study=$(curl_orthanc "$orthanc_url/series/$series" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ParentStudy"])')
echo
say "Open the study"
echo "    OHIF viewer:       http://127.0.0.1:$viewer_port/viewer?StudyInstanceUIDs=$study_uid"
echo "                       (login $VIEWER_USER / $VIEWER_PASSWORD, from $state/credentials)"
echo "    Orthanc Explorer:  $orthanc_url/app/explorer.html#study?uuid=$study"
echo "                       (login $ORTHANC_USER / $ORTHANC_PASSWORD)"
echo "    SpineMet result:   $orthanc_url/spinemet/studies/$study"
echo "    Stop everything:   scripts/demo.sh stop"
