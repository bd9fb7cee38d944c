#!/usr/bin/env bash
# Writes the viewer's nginx configuration, htpasswd and OHIF app-config.js into a runtime folder,
# for the native demo stack and the docker-compose viewer service alike. Settings come from the
# environment:
#   SPINEMET_RUNTIME_DIR    where the rendered files, logs and nginx's temporary files go
#   SPINEMET_VIEWER_LISTEN  nginx's listen address, e.g. 127.0.0.1:8080 or 80
#   SPINEMET_OHIF_DIR       the OHIF dist/ folder (scripts/stack/fetch-ohif.sh)
#   SPINEMET_ORTHANC_HTTP   host:port of Orthanc's HTTP server, as nginx reaches it
#   SPINEMET_ORTHANC_USER, SPINEMET_ORTHANC_PASSWORD   Orthanc's credentials (stay server-side)
#   SPINEMET_VIEWER_USER, SPINEMET_VIEWER_PASSWORD     the viewer's login
#   SPINEMET_NGINX_DAEMON   on (native) or off (in a container, nginx in the foreground)
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
: "${SPINEMET_RUNTIME_DIR:?}" "${SPINEMET_VIEWER_LISTEN:?}" "${SPINEMET_OHIF_DIR:?}" "${SPINEMET_ORTHANC_HTTP:?}"
: "${SPINEMET_ORTHANC_USER:?}" "${SPINEMET_ORTHANC_PASSWORD:?}" "${SPINEMET_VIEWER_USER:?}" "${SPINEMET_VIEWER_PASSWORD:?}"
daemon=${SPINEMET_NGINX_DAEMON:-on}

mkdir -p "$SPINEMET_RUNTIME_DIR"
basic=$(printf '%s:%s' "$SPINEMET_ORTHANC_USER" "$SPINEMET_ORTHANC_PASSWORD" | base64 -w0)
printf '%s:%s\n' "$SPINEMET_VIEWER_USER" "$(openssl passwd -apr1 "$SPINEMET_VIEWER_PASSWORD")" \
  > "$SPINEMET_RUNTIME_DIR/htpasswd"
cp "$here/config/ohif/app-config.js" "$SPINEMET_RUNTIME_DIR/app-config.js"
sed -e "s|@RUNTIME_DIR@|$SPINEMET_RUNTIME_DIR|g" \
    -e "s|@LISTEN@|$SPINEMET_VIEWER_LISTEN|g" \
    -e "s|@OHIF_DIR@|$SPINEMET_OHIF_DIR|g" \
    -e "s|@ORTHANC_HTTP@|$SPINEMET_ORTHANC_HTTP|g" \
    -e "s|@ORTHANC_BASIC_AUTH@|$basic|g" \
    -e "s|@DAEMON@|$daemon|g" \
    "$here/config/nginx/spinemet-ohif.conf.template" > "$SPINEMET_RUNTIME_DIR/nginx.conf"
echo "$SPINEMET_RUNTIME_DIR/nginx.conf"
