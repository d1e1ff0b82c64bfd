#!/usr/bin/env bash
# Install everything and start pvtrack with the CTCAE catalogue, the published cohorts and a demo ward.
# Without DATABASE_URL: an embedded PostgreSQL in .pvtrack/pgdata. Without REDIS_URL: Celery tasks run
# in-process after each save. With both set, a Celery worker and beat are started beside the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
PORT="${PORT:-8000}"
HOST="${HOST:-127.0.0.1}"

python manage.py migrate --noinput -v0
python manage.py load_reference_data
# Build the demo ward only once: later runs keep whatever was recorded in it.
python manage.py load_demo_ward --cohort "${PVTRACK_DEMO_COHORT:-xie2023_suzhou}" --site demo-ward --if-missing
python manage.py benchmark --site demo-ward >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
if [ -n "${REDIS_URL:-}" ]; then
  celery -A pvtrack worker -l warning --concurrency 1 & pids+=($!)
  celery -A pvtrack beat -l warning --schedule .pvtrack/celerybeat-schedule & pids+=($!)
  tasks="Celery worker + beat on $REDIS_URL"
else
  tasks="benchmark jobs in-process (no REDIS_URL)"
fi

cat <<MSG

  pvtrack is running at http://$HOST:$PORT/   ($tasks)

  Demo logins (ward "Demo ward", rebuilt from Xie et al. 2023):
    demo-nurse        / nurse-demo-2026    ward staff: record adverse events
    demo-safety       / safety-demo-2026   safety officer: benchmark report and flags
    demo-other-nurse  / other-demo-2026    ward staff of another ward (sees none of the demo ward)

  Stop with Ctrl-C.
MSG
gunicorn pvtrack.wsgi:application --bind "$HOST:$PORT" --workers 2 --timeout 120 --log-level warning &
pids+=($!)
wait "${pids[-1]}"
