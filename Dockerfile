# SpineMet images for docker-compose.yml, all on Debian bookworm packages.
#   target "orthanc": Orthanc 1.10.1 + SpineMet + DICOMweb + GDCM, with the demo model
#   target "viewer":  nginx serving the OHIF viewer, proxying Orthanc on the same origin
#   target "loader":  generates the phantom study and sends it with storescu (one-shot)
#   target "postgres": PostgreSQL for the "cluster" profile (Orthanc index + SpineMet queue)
# Internal stages: "build" compiles SpineMet (the only stage with compilers and headers), "ohif"
# fetches the viewer with npm, "orthanc-base" and "torch-libs" make the Orthanc runtime.
# Built and run by scripts/test-images.sh (Podman); sizes and build times: docs/compose.md.
# Build argument LIBTORCH: "debian" (default: Debian's libtorch-dev, CPU only) or the path, inside
# the build context, of an unpacked LibTorch distribution you provide (e.g. a CUDA build for the
# "gpu" profile). Its version must load the TorchScript model (see docs/model-contract.md).
# SPDX-License-Identifier: GPL-3.0-or-later

ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
ARG LIBTORCH=debian
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make pkg-config orthanc-dev libdcmtk-dev \
      libboost-dev libjsoncpp-dev libsqlite3-dev libpq-dev libopenjp2-7-dev libfreetype-dev fonts-dejavu-core \
      $( [ "$LIBTORCH" = debian ] && echo libtorch-dev ) \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN set -e; \
    torch_dir=; mkdir -p /out/opt/libtorch; \
    if [ "$LIBTORCH" != debian ]; then \
      torch_dir="-DTorch_DIR=/src/$LIBTORCH/share/cmake/Torch"; cp -a "/src/$LIBTORCH/lib" /out/opt/libtorch/; \
    fi; \
    cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DSPINEMET_BUILD_TESTS=OFF $torch_dir; \
    cmake --build /build -j"$(nproc)" --target SpineMet spinemet-phantom spinemet; \
    install -D -m 644 /build/plugin/libSpineMet.so /out/usr/lib/spinemet/libSpineMet.so; \
    install -D -m 755 /build/tools/phantom/spinemet-phantom /out/usr/bin/spinemet-phantom; \
    install -D -m 755 /build/tools/spinemet/spinemet /out/usr/bin/spinemet; \
    install -D -m 644 /src/Resources/model/spinemet-demo.pt /out/usr/share/spinemet/spinemet-demo.pt; \
    mkdir -p /out/opt/spinemet/scripts; \
    cp -a /src/scripts/stack /out/opt/spinemet/scripts/; cp -a /src/config /out/opt/spinemet/; \
    install -D -m 644 /src/LICENSE /out/usr/share/doc/spinemet/copyright; \
    mkdir -p /torch-libs; \
    if [ "$LIBTORCH" = debian ]; then \
      ldd /out/usr/lib/spinemet/libSpineMet.so /out/usr/bin/spinemet /out/usr/bin/spinemet-phantom \
        | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u | xargs cp -L -t /torch-libs; \
    fi

FROM ${DEBIAN_IMAGE} AS ohif
RUN apt-get update && apt-get install -y --no-install-recommends npm ca-certificates && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY scripts/stack/fetch-ohif.sh /fetch-ohif.sh
# Behind a TLS-intercepting proxy npm needs the proxy's CA: pass a PEM bundle as the build secret
# "ca-certificates" (docker build --secret id=ca-certificates,src=/etc/ssl/certs/ca-certificates.crt).
# A secret stays out of the image's layers; without one npm uses its own roots.
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi; \
    /fetch-ohif.sh /ohif \
 && find /ohif -name '*.map' -delete

# Debian's libtorch1.13 package depends on OpenCV, FFmpeg, GDAL, Mesa and more (about 900 MB
# installed), much of which LibTorch never loads. The runtime takes instead the shared libraries
# that SpineMet's binaries actually link (their ldd closure in the build stage), less those its own
# packages already provide; BLAS and LAPACK stay OpenBLAS's (libopenblas0-pthread), as natively.
FROM ${DEBIAN_IMAGE} AS orthanc-base
RUN apt-get update \
 && apt-get install -y --no-install-recommends orthanc orthanc-dicomweb orthanc-gdcm orthanc-postgresql \
      libopenblas0-pthread libdcmtk17 libjsoncpp25 libsqlite3-0 libpq5 libopenjp2-7 libfreetype6 \
      fonts-dejavu-core python3 curl dcmtk \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

FROM orthanc-base AS torch-libs
COPY --from=build /torch-libs /closure
RUN mkdir /keep; \
    for lib in /closure/*; do \
      [ -e "$lib" ] || continue; \
      ldconfig -p | grep -q "^[[:space:]]$(basename "$lib") " || cp -a "$lib" /keep/; \
    done

FROM orthanc-base AS orthanc
COPY --from=torch-libs /keep /usr/lib/spinemet/lib
RUN echo /usr/lib/spinemet/lib > /etc/ld.so.conf.d/spinemet.conf && ldconfig
COPY --from=build /out/ /
ENV LD_LIBRARY_PATH=/opt/libtorch/lib \
    SPINEMET_STORAGE=/var/lib/orthanc/db \
    SPINEMET_PLUGIN=/usr/lib/spinemet/libSpineMet.so \
    SPINEMET_MODEL=/usr/share/spinemet/spinemet-demo.pt \
    SPINEMET_REMOTE_ACCESS=true
EXPOSE 8042 4242
HEALTHCHECK --interval=10s --timeout=5s --retries=30 \
  CMD curl -fsS -u "$SPINEMET_ORTHANC_USER:$SPINEMET_ORTHANC_PASSWORD" http://127.0.0.1:8042/spinemet/health || exit 1
ENTRYPOINT ["/opt/spinemet/scripts/stack/orthanc-entrypoint.sh"]

FROM orthanc AS loader
ENTRYPOINT ["/opt/spinemet/scripts/stack/load-phantom.sh"]

# The cluster profile's database (docs/scale-out.md): Debian's PostgreSQL, initialised on first start.
FROM ${DEBIAN_IMAGE} AS postgres
RUN apt-get update && apt-get install -y --no-install-recommends postgresql \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY scripts/stack/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=5s --retries=30 CMD pg_isready -h 127.0.0.1 -U orthanc -d orthanc || exit 1
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]

FROM ${DEBIAN_IMAGE} AS viewer
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light openssl curl \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=ohif /ohif /opt/ohif
COPY --from=build /out/opt/spinemet /opt/spinemet
COPY --from=build /out/usr/share/doc/spinemet /usr/share/doc/spinemet
ENV SPINEMET_RUNTIME_DIR=/run/spinemet SPINEMET_OHIF_DIR=/opt/ohif SPINEMET_VIEWER_LISTEN=80
EXPOSE 80
HEALTHCHECK --interval=10s --timeout=5s --retries=30 \
  CMD curl -fsS -o /dev/null -u "$SPINEMET_VIEWER_USER:$SPINEMET_VIEWER_PASSWORD" http://127.0.0.1/ || exit 1
ENTRYPOINT ["/opt/spinemet/scripts/stack/viewer-entrypoint.sh"]
