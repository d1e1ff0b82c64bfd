#!/usr/bin/env bash
# Install everything and run the whole test suite (pytest arguments pass through).
# Without DATABASE_URL the tests use the embedded PostgreSQL; tests marked `worker` need REDIS_URL
# (a Redis server) and are skipped with a stated reason without it, except when PVTRACK_REQUIRE_SERVICES=1
# (CI), where a missing service fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh dev
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pvtrack: installing Debian's chromium for the browser tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "pvtrack: could not install chromium; browser tests will fail" >&2
  fi
fi
exec python -m pytest "$@"
