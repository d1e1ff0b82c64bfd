# Sourced by scripts/run.sh, scripts/test.sh and scripts/manage.sh: a virtualenv in .venv with the locked
# dependencies, and a secret key for this checkout. Usage: source scripts/_env.sh [dev]
set -euo pipefail
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "pvtrack needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "pvtrack: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
locks=(requirements.lock)
if [ "${1:-}" = "dev" ]; then locks+=(requirements-dev.lock); fi
stamp=".venv/.installed-$(cat "${locks[@]}" | sha256sum | cut -c1-16)"
# The runtime dependencies are a subset of the dev set: a .venv set up by scripts/test.sh serves run.sh too.
dev_stamp=".venv/.installed-$(cat requirements.lock requirements-dev.lock | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] && [ ! -f "$dev_stamp" ]; then
  echo "pvtrack: installing locked dependencies (${locks[*]})" >&2
  args=()
  for l in "${locks[@]}"; do args+=(-r "$l"); done
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes "${args[@]}"
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"

# A secret key for this checkout, created once, shared by every process of every run (sessions survive a
# restart). Settings never write it: they read SECRET_KEY or SECRET_KEY_FILE. Not in production, which must
# be given its own key.
if [ -z "${SECRET_KEY:-}" ] && [ -z "${SECRET_KEY_FILE:-}" ] && [ "${PVTRACK_ENV:-development}" != production ]; then
  if [ ! -s .pvtrack/secret_key ]; then
    mkdir -p .pvtrack
    (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(50))' >.pvtrack/secret_key.tmp \
      && mv .pvtrack/secret_key.tmp .pvtrack/secret_key)
  fi
  export SECRET_KEY_FILE="$PWD/.pvtrack/secret_key"
fi
