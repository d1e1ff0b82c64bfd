#!/usr/bin/env bash
# Install everything and run the whole test suite (pytest arguments pass through).
# Without DATABASE_URL the tests use an embedded PostgreSQL, started here and stopped when pytest ends (pass,
# fail or Ctrl-C; scripts/_devdb.sh). Tests marked `worker` need REDIS_URL (a Redis server) and are skipped
# with a stated reason without it, except when PVTRACK_REQUIRE_SERVICES=1 (CI), where a missing service fails
# the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh dev
source scripts/_devdb.sh
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pvtrack: installing Debian's chromium for the browser tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "pvtrack: could not install chromium; browser tests will fail" >&2
  fi
fi
# npm fetches axe-core once for the accessibility tests (tests/axe.py, docs/usability.md).
if ! command -v npm >/dev/null 2>&1 && [ ! -d tests/.axe-core ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pvtrack: installing npm to fetch axe-core for the accessibility tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null) \
      || echo "pvtrack: could not install npm; the accessibility tests will fail" >&2
  fi
fi

trap devdb_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
devdb_start scripts/test.sh
# Not exec: this shell stays to stop the embedded server; its exit status is pytest's.
python -m pytest "$@"
