#!/usr/bin/env bash
# The README's second way in, tested for real: builds every image of docker-compose.yml, starts the
# stack with that file, sends the phantom study through the loader service, waits for SpineMet's SR,
# checks it through Orthanc's REST API and with dsrdump, drives headless Chromium through the stack's
# OHIF viewer (tests/demo/browser.mjs), then stops the stack and removes its containers, network and
# volumes (also on failure or Ctrl-C). The images stay, so a second run reuses their layers.
#
# The engine is Podman from Debian, with Debian's docker-compose talking to Podman's Docker-compatible
# socket: that client honours `depends_on: condition: service_healthy` (podman-compose 1.0.3 does
# not), so the compose file stays plain Compose for Docker users. Set-up done here, idempotently:
#   - the packages (podman, buildah, debootstrap, runc, netavark, aardvark-dns, docker-compose, ...);
#   - a containers.conf of its own (CONTAINERS_CONF, nothing under /etc is changed): runc, and
#     ulimits within this machine's hard limits (Podman's defaults exceed them and containers fail);
#   - the debian:bookworm-slim base image, made with debootstrap from this machine's apt mirror and
#     imported, because no image registry is reachable from the machines this project runs on.
# Usage: scripts/test-images.sh
# Settings: SPINEMET_IMAGES_DIR (work and output folder, build/images): screenshots, logs, the SR and
#   timings.txt (build times, image sizes) land there; SPINEMET_REBUILD_BASE=1 remakes the base image.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
out=${SPINEMET_IMAGES_DIR:-$top/build/images}
project=spinemet-imagetest
compose_file=$top/docker-compose.yml
base_image=docker.io/library/debian:bookworm-slim
mkdir -p "$out"
out=$(cd "$out" && pwd)
started=$(date +%s)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[1;31mFAIL: %s\033[0m\n' "$*" >&2; exit 1; }
elapsed() { echo $(( $(date +%s) - $1 )); }
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
# set -e stops on any failing command; say which one, so that no run ends silently.
trap 'echo "test-images.sh: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR

# --- packages -------------------------------------------------------------------------------------
packages=(podman buildah debootstrap runc netavark aardvark-dns catatonit slirp4netns uidmap
          fuse-overlayfs docker-compose python3-yaml dcmtk curl openssl chromium)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi
[ "$(id -u)" -eq 0 ] || fail "run this as root: rootless Podman needs subordinate ids and a user session this script does not set up"

# --- the engine's configuration -------------------------------------------------------------------
export CONTAINERS_CONF=$out/containers.conf
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
cat > "$CONTAINERS_CONF" <<EOF
# Written by scripts/test-images.sh.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF

# --- the base image -------------------------------------------------------------------------------
# The apt mirror this machine uses for Debian, so the base image's packages come from the same place.
debian_mirror() {
  local uri
  uri=$(grep -hsE '^(deb |URIs:)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources |
        grep -v security | grep -oE 'https?://[^ ]+/debian/?' | head -1) || true
  echo "${uri:-http://deb.debian.org/debian}"
}

if [ "${SPINEMET_REBUILD_BASE:-0}" = 1 ] || ! podman image exists "$base_image"; then
  mirror=$(debian_mirror)
  say "Making $base_image with debootstrap from $mirror"
  t0=$(date +%s)
  rootfs=$(mktemp -d "$out/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  nice -n 10 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$out/debootstrap.log" 2>&1 ||
    { tail -20 "$out/debootstrap.log"; fail "debootstrap bookworm from $mirror failed (log: $out/debootstrap.log)"; }
  security=$(grep -hsoE 'https?://[^ ]+/debian-security/?' /etc/apt/sources.list /etc/apt/sources.list.d/* | head -1) || true
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    echo "deb ${security:-http://deb.debian.org/debian-security} bookworm-security main"
  } > "$rootfs/etc/apt/sources.list"
  # As Debian's own -slim images do: no manuals, no documentation but copyrights, no translations,
  # no apt caches; dpkg keeps them out of every later layer too.
  cat > "$rootfs/etc/dpkg/dpkg.cfg.d/spinemet-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$rootfs/etc/apt/apt.conf.d/90spinemet-slim"
  find "$rootfs/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/cache/apt/*.bin \
         "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$base_image" >> "$out/debootstrap.log" 2>&1 ||
    fail "podman import of the base image failed (log: $out/debootstrap.log)"
  podman tag "$base_image" docker.io/library/debian:bookworm
  rm -rf "$rootfs"
  trap - EXIT
  echo "base image: $(elapsed "$t0") s" > "$out/base-time.txt"
fi

# --- the images -----------------------------------------------------------------------------------
# Built as the compose file describes them (target, build arguments, image name), read from
# docker-compose's own rendering of the file. Services behind a profile (the GPU one) are skipped.
SPINEMET_ORTHANC_PASSWORD=$(openssl rand -hex 12)
SPINEMET_VIEWER_PASSWORD=$(openssl rand -hex 8)
export SPINEMET_ORTHANC_PASSWORD SPINEMET_VIEWER_PASSWORD
export SPINEMET_ORTHANC_USER=spinemet SPINEMET_VIEWER_USER=demo
export SPINEMET_BIND=127.0.0.1
compose=(docker-compose -p "$project" -f "$compose_file")

top_dockerfile=$top/Dockerfile
images=$("${compose[@]}" config | /usr/bin/python3 -c '
import sys, yaml
for name, service in yaml.safe_load(sys.stdin)["services"].items():
    if service.get("profiles") or "build" not in service:
        continue
    build = service["build"]
    args = " ".join("%s=%s" % kv for kv in (build.get("args") or {}).items())
    print(name, service["image"], build.get("target", ""), build.get("dockerfile", "Dockerfile"), build["context"], args)
' | while read -r line; do
  # In the Dockerfile's order of stages, so that each build time counts the layers it adds (the
  # loader is the orthanc image with another entry point).
  target=$(echo "$line" | cut -d' ' -f3)
  echo "$(grep -n -i -m1 -E "^FROM .* AS $target\$" "$top_dockerfile" | cut -d: -f1) $line"
done | sort -n | cut -d' ' -f2-)
: > "$out/timings.txt"
# The CA bundle this machine trusts goes to the build as a secret (see the Dockerfile's ohif stage):
# npm in the build then trusts what npm on this machine trusts, a TLS-intercepting proxy included.
ca_bundle=${SPINEMET_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca_bundle" ] || fail "no CA bundle at $ca_bundle (set SPINEMET_CA_BUNDLE to a PEM file)"
while read -r service image target dockerfile context args; do
  build_args=()
  for arg in $args; do build_args+=(--build-arg "$arg"); done
  say "Building $image (service $service, target $target)"
  t0=$(date +%s)
  # Docker's image format keeps the HEALTHCHECK that the compose file's depends_on waits for (the OCI
  # format drops it); --pull=never: the base comes from this machine, never from a registry.
  nice -n 10 podman build --format docker --pull=never --layers -f "$context/$dockerfile" --target "$target" \
      --secret id=ca-certificates,src="$ca_bundle" "${build_args[@]}" -t "$image" "$context" > "$out/build-$service.log" 2>&1 ||
    { tail -30 "$out/build-$service.log"; fail "building $image failed (log: $out/build-$service.log)"; }
  size=$(podman image inspect -f '{{.Size}}' "$image")
  printf '%-28s built in %5d s, %6.0f MB\n' "$image" "$(elapsed "$t0")" "$(awk -v s="$size" 'BEGIN { print s / 1e6 }')" |
    tee -a "$out/timings.txt"
done <<< "$images"

# --- the stack ------------------------------------------------------------------------------------
socket=$out/podman.sock
service_pid=''
health_pid=''
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$service_pid" ]; then
    say "Stopping the stack and removing its containers, network and volumes"
    "${compose[@]}" logs --no-color > "$out/stack.log" 2>&1 || true
    "${compose[@]}" down -v --remove-orphans -t 10 >/dev/null 2>&1 || true
    [ -n "$health_pid" ] && kill "$health_pid" 2>/dev/null
    kill "$service_pid" 2>/dev/null
    wait 2>/dev/null
    rm -f "$socket"
  fi
  echo "total: $(elapsed "$started") s" >> "$out/timings.txt"
  [ $rc -eq 0 ] || echo "stack logs: $out/stack.log; build logs and screenshots: $out" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Starting Podman's Docker-compatible API on $socket"
rm -f "$socket"
podman system service --time=0 "unix://$socket" > "$out/podman-service.log" 2>&1 &
service_pid=$!
export DOCKER_HOST=unix://$socket
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.2; done
[ -S "$socket" ] || fail "podman system service did not open $socket (log: $out/podman-service.log)"
# A stack left by an interrupted run would hold the volumes and names.
"${compose[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true

# Podman runs health checks from systemd timers; with no systemd (containers, CI machines) nothing
# runs them and a service stays "starting" forever. This loop runs them, as Docker's daemon would.
(
  while sleep 5; do
    for id in $(podman ps -q --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
      podman healthcheck run "$id" >/dev/null 2>&1 || true
    done
  done
) &
health_pid=$!

# Free loopback ports, taken just before the stack binds them (not before minutes of builds).
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SPINEMET_HTTP_PORT=$(free_port)
SPINEMET_DICOM_PORT=$(free_port)
SPINEMET_VIEWER_PORT=$(free_port)
export SPINEMET_HTTP_PORT SPINEMET_DICOM_PORT SPINEMET_VIEWER_PORT
say "docker-compose up (Orthanc on 127.0.0.1:$SPINEMET_HTTP_PORT, DICOM $SPINEMET_DICOM_PORT, viewer $SPINEMET_VIEWER_PORT)"
t0=$(date +%s)
# up waits for Orthanc's health check before it starts the viewer and the loader (depends_on).
timeout 600 "${compose[@]}" up -d --no-build 2>&1 | tee "$out/compose-up.log" ||
  fail "docker-compose up failed or timed out (log: $out/compose-up.log)"
for service in orthanc viewer; do
  id=$("${compose[@]}" ps -q "$service")
  [ -n "$id" ] || fail "service $service has no container"
  for _ in $(seq 120); do
    [ "$(podman inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] && break
    sleep 1
  done
  [ "$(podman inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] || fail "service $service is not healthy"
done
echo "stack healthy: $(elapsed "$t0") s after up" | tee -a "$out/timings.txt"

orthanc=http://127.0.0.1:$SPINEMET_HTTP_PORT
auth=(-u "$SPINEMET_ORTHANC_USER:$SPINEMET_ORTHANC_PASSWORD")
get() { curl -fsS "${auth[@]}" "$orthanc$1"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
get /spinemet/health | tee "$out/health.json" | json '"SpineMet %s: %s" % (d["Version"], d["Status"])'
[ "$(get /spinemet/health | json 'd["Enabled"]')" = True ] || fail "SpineMet is not enabled: $(cat "$out/health.json")"

say "Waiting for the loader service to send the phantom"
loader=$("${compose[@]}" ps -q loader)
[ -n "$loader" ] || fail "the loader service has no container"
loader_rc=$(timeout 600 podman wait "$loader") || fail "the loader did not finish in 10 minutes"
"${compose[@]}" logs --no-color loader | grep -v " W: " | tail -5
[ "$loader_rc" = 0 ] || fail "the loader exited with $loader_rc"
podman cp "$loader:/data/phantom/ground_truth.json" "$out/ground_truth.json"
series_uid=$(json 'd["series"]["series_instance_uid"]' < "$out/ground_truth.json")
study_uid=$(json 'd["series"]["study_instance_uid"]' < "$out/ground_truth.json")
series=$(curl -fsS "${auth[@]}" -X POST "$orthanc/tools/lookup" -d "$series_uid" |
         json '[x["ID"] for x in d if x["Type"] == "Series"][0]') || fail "Orthanc does not hold the phantom series"
study=$(get "/series/$series" | json 'd["ParentStudy"]')

say "Waiting for SpineMet's analysis"
t0=$(date +%s)
state=
for _ in $(seq 600); do
  get "/spinemet/series/$series" > "$out/analysis.json"
  state=$(json 'd.get("State", "?")' < "$out/analysis.json")
  case $state in done|failed|skipped|cancelled) break;; esac
  sleep 1
done
[ "$state" = "done" ] || fail "the analysis ended $state: $(json 'd.get("Reason")' < "$out/analysis.json")"
/usr/bin/python3 scripts/stack/print-findings.py < "$out/analysis.json"
echo "analysis: $(elapsed "$t0") s after the loader finished" | tee -a "$out/timings.txt"

say "Checking the SR through the REST API and with dsrdump"
sr_series=$(get "/studies/$study/series" |
            json '"\n".join(s["ID"] for s in d if s["MainDicomTags"].get("Modality") == "SR")')
[ "$(echo "$sr_series" | grep -c .)" = 1 ] || fail "the study holds $(echo "$sr_series" | grep -c .) SR series, not 1"
get "/series/$sr_series" | json 'd["MainDicomTags"].get("SeriesDescription", "")' | grep -q "^SpineMet AI results" ||
  fail "the SR series is not named \"SpineMet AI results ...\""
sr=$(get "/series/$sr_series" | json 'd["Instances"][0]')
get "/instances/$sr/file" > "$out/spinemet-sr.dcm"
[ "$(get "/instances/$sr/simplified-tags" | json 'd.get("CompletionFlag")')" = COMPLETE ] || fail "the SR is not COMPLETE"
# +Pl: the comments in full (dsrdump shortens long values); +Pc: the concept names' codes.
dsrdump +Pl +Pc "$out/spinemet-sr.dcm" > "$out/spinemet-sr.txt" || fail "dsrdump cannot read the SR"
grep -q '^<CONTAINER:(126000,DCM,"Imaging Measurement Report")' "$out/spinemet-sr.txt" ||
  fail "the SR is no TID 1500 Imaging Measurement Report (see $out/spinemet-sr.txt)"
expected=$(/usr/bin/python3 tests/demo/expected_vertebrae.py "$out/ground_truth.json" "$out/analysis.json")
while read -r label; do
  grep -qF "(121106,DCM,\"Comment\")=\"$label\"" "$out/spinemet-sr.txt" ||
    fail "dsrdump does not show the comment \"$label\" in the SR (see $out/spinemet-sr.txt)"
  echo "ok   the SR says \"$label\""
done < <(echo "$expected" | json '"\n".join(v["label"] for v in d)')

say "Opening the stack's OHIF viewer in headless Chromium"
node_dir=$out/node
if [ ! -d "$node_dir/node_modules/playwright-core" ]; then
  mkdir -p "$node_dir"
  cp tests/demo/package.json tests/demo/package-lock.json "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --silent)
fi
cp tests/demo/browser.mjs "$node_dir/"
rm -rf "$out/screenshots"
VIEWER_URL="http://127.0.0.1:$SPINEMET_VIEWER_PORT" \
VIEWER_USER=$SPINEMET_VIEWER_USER VIEWER_PASSWORD=$SPINEMET_VIEWER_PASSWORD \
STUDY_UID=$study_uid PATIENT_TEXT="PHANTOM, SPINE" EXPECTED_VERTEBRAE=$expected \
SCREENSHOT_DIR="$out/screenshots" \
  node "$node_dir/browser.mjs" || fail "the browser checks failed (screenshots: $out/screenshots)"

say "The compose stack works: images, health, loader, SR (REST and dsrdump), OHIF (screenshots in $out/screenshots)"
