#!/usr/bin/env bash
# Install everything and start pvtrack with the CTCAE catalogue, the published cohorts and a demo ward.
# Without DATABASE_URL: an embedded PostgreSQL in .pvtrack/pgdata, started here and stopped when this script
# ends (Ctrl-C, SIGTERM, or gunicorn exiting; scripts/_devdb.sh). Without REDIS_URL: Celery tasks run
# in-process after each save. With both set, a Celery worker and beat are started beside the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
source scripts/_devdb.sh
PORT="${PORT:-8000}"
HOST="${HOST:-127.0.0.1}"

pids=()
alive() { local s; s="$(ps -o stat= -p "$1" 2>/dev/null)" && [[ $s != Z* ]]; }
cleanup() {
  trap - EXIT INT TERM HUP
  # Web server and Celery first (SIGTERM: finish what they are doing, 30 s at most), then the database.
  if [ "${#pids[@]}" -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 150); do
      left=0
      for p in "${pids[@]}"; do if alive "$p"; then left=1; fi; done
      [ "$left" = 0 ] && break
      sleep 0.2
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  devdb_stop
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
devdb_start scripts/run.sh

python manage.py migrate --noinput -v0
python manage.py load_reference_data
# Build the demo ward only once: later runs keep whatever was recorded in it.
python manage.py load_demo_ward --cohort "${PVTRACK_DEMO_COHORT:-xie2023_suzhou}" --site demo-ward --if-missing
python manage.py benchmark --site demo-ward >/dev/null

if [ -n "${REDIS_URL:-}" ] || [ -n "${REDIS_URL_FILE:-}" ]; then
  celery -A pvtrack worker -l warning --concurrency 1 & pids+=($!)
  celery -A pvtrack beat -l warning --schedule .pvtrack/celerybeat-schedule & pids+=($!)
  tasks="Celery worker + beat on ${REDIS_URL:-the broker in $REDIS_URL_FILE}"
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
gunicorn_pid=$!
pids+=("$gunicorn_pid")
status=0
wait "$gunicorn_pid" || status=$?
echo "pvtrack: gunicorn exited (status $status); stopping" >&2
exit "$status"
