#!/usr/bin/env bash
# Installs what SpineMet builds, runs and tests with, all from Debian bookworm packages.
# Safe to run again: apt is only called when something is missing.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config
  # Orthanc, its plugin SDK, DCMTK
  orthanc orthanc-dev libdcmtk-dev dcmtk
  # LibTorch (CPU) and a fast BLAS for it: Debian's reference BLAS is ~40x slower
  libtorch-dev libopenblas0-pthread
  # the rest of the C++ side
  libboost-dev libjsoncpp-dev libgtest-dev googletest libsqlite3-dev libopenjp2-7-dev
  libfreetype-dev fonts-dejavu-core
  # zlib: the DICOM pre-scan inflates deflated datasets itself
  zlib1g-dev
  # the scale-out queue (libpq) and its tests: a throw-away PostgreSQL, Orthanc on PostgreSQL
  libpq-dev postgresql orthanc-postgresql
  # training and Python-side tests (run with /usr/bin/python3)
  python3-torch python3-torchvision python3-numpy python3-pydicom python3-pytest
  # real checkers and tools the tests use
  dicom3tools pixelmed-apps curl
  # opj_compress: the volume tests encode JPEG 2000 with it (DCMTK has no JPEG 2000 encoder)
  libopenjp2-tools
  # the demo stack and its tests: DICOMweb and GDCM plugins, nginx serving OHIF, a real browser,
  # and docker-compose to check the compose file (no Docker engine is needed for that)
  orthanc-dicomweb orthanc-gdcm nginx-light openssl chromium docker-compose
)
# npm fetches the OHIF viewer; a machine that already has Node.js and npm keeps its own.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
