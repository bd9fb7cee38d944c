#!/usr/bin/env bash
# Starts nginx serving the OHIF viewer and proxying Orthanc on the same origin: the entry point of the
# docker-compose "viewer" service and of the native demo. Settings: see render-nginx-config.sh.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SPINEMET_NGINX_DAEMON=off "$here/render-nginx-config.sh" >/dev/null
exec nginx -c "$SPINEMET_RUNTIME_DIR/nginx.conf" -e "$SPINEMET_RUNTIME_DIR/nginx-error.log"
