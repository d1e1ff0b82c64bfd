#!/usr/bin/env bash
# `python manage.py <command> [args]` on a machine without a database server: installs the locked
# dependencies, and without DATABASE_URL starts the embedded PostgreSQL (or reuses the one a running
# scripts/run.sh holds) for the command and stops it afterwards unless someone else still uses it.
# Relative paths in the arguments are relative to the directory you run it from.
#
#   bash scripts/manage.sh cohorts
#   bash scripts/manage.sh benchmark --site demo-ward
#   bash scripts/manage.sh createsuperuser
set -euo pipefail
caller_dir="$PWD"
cd "$(dirname "$0")/.."
root="$PWD"
source scripts/_env.sh
source scripts/_devdb.sh

trap devdb_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
devdb_start scripts/manage.sh
cd "$caller_dir"
python "$root/manage.py" "$@"
