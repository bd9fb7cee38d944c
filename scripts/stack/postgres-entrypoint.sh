#!/usr/bin/env bash
# The docker-compose "cluster" profile's database: Debian's PostgreSQL 15, one database "orthanc" for
# Orthanc's index (orthanc-postgresql) and SpineMet's queue beside it (docs/scale-out.md).
# Initialised on the first start into $PGDATA (a volume); password authentication from the stack's
# network. Settings from the environment: SPINEMET_POSTGRES_PASSWORD (required).
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
: "${SPINEMET_POSTGRES_PASSWORD:?put SPINEMET_POSTGRES_PASSWORD in .env}" "${PGDATA:?}"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password_file=$(mktemp)
  printf '%s\n' "$SPINEMET_POSTGRES_PASSWORD" > "$password_file"
  chown postgres "$password_file"
  su postgres -s /bin/sh -c "'$bin/initdb' -D '$PGDATA' -U orthanc --pwfile='$password_file' \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >/dev/null
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$PGDATA' -w -o \"-c listen_addresses=''\" start" >/dev/null
  su postgres -s /bin/sh -c "psql -U orthanc -d postgres -c 'CREATE DATABASE orthanc'" >/dev/null
  su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$PGDATA' -w stop" >/dev/null
fi
exec su postgres -s /bin/sh -c "exec '$bin/postgres' -D '$PGDATA' -c listen_addresses='*'"
