# Sourced by scripts/run.sh and scripts/test.sh: a virtualenv in .venv with the locked dependencies.
# Usage: source scripts/_env.sh [dev]
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
if [ ! -f "$stamp" ]; then
  echo "pvtrack: installing locked dependencies (${locks[*]})" >&2
  args=()
  for l in "${locks[@]}"; do args+=(-r "$l"); done
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes "${args[@]}"
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
