# Sourced by scripts/run.sh, scripts/test.sh and scripts/manage.sh (after scripts/_env.sh): the embedded
# PostgreSQL of a development machine, for as long as the script runs (pvtrack/devdb.py).
#
#   devdb_start LABEL   without DATABASE_URL (or DATABASE_URL_FILE): start the embedded server, or reuse the
#                       one already running, register this script ($$) as a holder and export DATABASE_URL.
#                       With DATABASE_URL set nothing is started (a stray embedded server is only reported).
#   devdb_stop          unregister; the server stops when no other script holds it. Call it from the
#                       script's EXIT trap: it runs on success, failure, Ctrl-C and SIGTERM.
#
# A server found running with no live holder was left by a run that was killed (kill -9, crash): devdb_start
# reports it on stderr and reuses it, and this script's devdb_stop stops it.
PVTRACK_DEVDB_HELD=0
PVTRACK_DEVDB_ROOT="$PWD"  # the project: the scripts source this file from there

devdb_start() {
  local pgdata="${PVTRACK_EMBEDDED_PGDATA:-.pvtrack/pgdata}"
  if [ -n "${DATABASE_URL:-}" ] || [ -n "${DATABASE_URL_FILE:-}" ] || [ "${PVTRACK_ENV:-}" = production ]; then
    if [ -f "$pgdata.holders.json" ] || [ -e "$pgdata/postmaster.pid" ]; then
      python -m pvtrack.devdb status 2>/dev/null | grep -q '^held by: nobody' \
        && echo "pvtrack: a stray embedded PostgreSQL is running (DATABASE_URL is set, so it is not used):" \
                "stop it with: .venv/bin/python -m pvtrack.devdb stop" >&2
    fi
    return 0
  fi
  PVTRACK_DEVDB_HELD=1  # before starting: an interrupted start is cleaned up by devdb_stop too
  DATABASE_URL="$(python -m pvtrack.devdb start --holder $$ --label "$1")"
  export DATABASE_URL
}

devdb_stop() {
  if [ "$PVTRACK_DEVDB_HELD" = 1 ]; then
    PVTRACK_DEVDB_HELD=0
    (cd "$PVTRACK_DEVDB_ROOT" && python -m pvtrack.devdb stop --holder $$) \
      || echo "pvtrack: could not stop the embedded PostgreSQL (python -m pvtrack.devdb status)" >&2
  fi
}
