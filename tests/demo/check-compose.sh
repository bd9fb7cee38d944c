#!/usr/bin/env bash
# docker-compose (Debian's) reads the compose file: the services, their entry points and health
# checks are what the native stack runs. No Docker engine is needed for this check.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
compose_file=$1
export SPINEMET_ORTHANC_PASSWORD=check SPINEMET_VIEWER_PASSWORD=check
config=$(docker-compose -f "$compose_file" --profile gpu config)
fail() { echo "FAIL: $*"; exit 1; }
for service in orthanc viewer loader orthanc-gpu; do
  grep -q "^  $service:" <<<"$config" || fail "service $service is missing"
done
grep -q "condition: service_healthy" <<<"$config" || fail "services do not wait for a healthy Orthanc"
grep -q "driver: nvidia" <<<"$config" || fail "the gpu profile reserves no NVIDIA device"
grep -q "127.0.0.1:8080" <<<"$config" || fail "the viewer is not published on loopback"
# Without passwords the stack refuses to start: no default credentials.
if env -u SPINEMET_ORTHANC_PASSWORD docker-compose -f "$compose_file" config -q 2>/dev/null; then
  fail "the compose file accepts a missing Orthanc password"
fi
# The entry points the Dockerfile names are the ones the native demo runs.
dockerfile="$(dirname "$compose_file")/Dockerfile"
for entry in orthanc-entrypoint.sh viewer-entrypoint.sh load-phantom.sh; do
  grep -q "scripts/stack/$entry" "$dockerfile" || fail "Dockerfile does not start $entry"
  grep -q "scripts/stack/$entry" "$(dirname "$compose_file")/scripts/demo.sh" || fail "demo.sh does not start $entry"
done
echo "docker-compose.yml: 4 services, health-ordered, loopback ports, GPU profile, no default credentials"
