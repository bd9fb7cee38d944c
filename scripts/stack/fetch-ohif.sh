#!/usr/bin/env bash
# Puts the OHIF viewer's prebuilt static files (the npm package @ohif/app ships dist/) into DIR.
# Usage: fetch-ohif.sh DIR. Does nothing when DIR already holds this version.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
OHIF_VERSION=${OHIF_VERSION:-3.13.2}
target=$1
[ -f "$target/.ohif-version" ] && [ "$(cat "$target/.ohif-version")" = "$OHIF_VERSION" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "Fetching the OHIF viewer @ohif/app@$OHIF_VERSION from the npm registry..."
(cd "$work" && npm pack --silent "@ohif/app@$OHIF_VERSION" >/dev/null)
tar -xzf "$work"/ohif-app-*.tgz -C "$work"
rm -rf "$target"
mkdir -p "$(dirname "$target")"
mv "$work/package/dist" "$target"
echo "$OHIF_VERSION" > "$target/.ohif-version"
