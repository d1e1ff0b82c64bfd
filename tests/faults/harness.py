"""Fault-injection harness: its OWN PostgreSQL, Redis, gunicorn, Celery worker and beat, on loopback ports.

It never touches the machine's shared services (5432, 6379): every server is started here, on a free
loopback port, with a data directory under a fresh temporary directory, and stopped at the end.
Every wait is bounded in time (``wait_for``) and every request loop in count.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
SHARED_PORTS = {5432, 6379}
PASSWORD = "faults-harness-pw-2026"


class HarnessError(RuntimeError):
    pass


def binaries() -> tuple[Path | None, str | None]:
    """(directory holding initdb/pg_ctl/postgres, redis-server path); None where absent."""
    pg_bin = None
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all((Path(candidate) / b).exists() for b in ("initdb", "pg_ctl", "postgres")):
            pg_bin = Path(candidate)
            break
    if pg_bin is None and shutil.which("pg_ctl") and shutil.which("initdb"):
        pg_bin = Path(shutil.which("pg_ctl")).resolve().parent
    return pg_bin, shutil.which("redis-server")


def free_port() -> int:
    for _ in range(20):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in SHARED_PORTS:
            return port
    raise HarnessError("no free loopback port")


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise HarnessError(f"timed out after {timeout:g} s waiting for {what}")


class Harness:
    """Start with ``start()``, stop with ``stop()``; fault methods: redis_stop/start/pause/resume, worker_kill..."""

    def __init__(self, pg_bin: Path, redis_server: str):
        self.pg_bin, self.redis_server = pg_bin, redis_server
        self.base = Path(tempfile.mkdtemp(prefix="pvtrack-faults-"))
        self.pg_port, self.redis_port, self.web_port = free_port(), free_port(), free_port()
        self.pgdata = self.base / "pgdata"
        self.archive = self.base / "wal-archive"  # archive_command's target (docs/operations.md §5.1)
        self.procs: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, tuple[list[str], dict | None]] = {}
        self.restarts: list[tuple[str, int | None, str]] = []  # (process, exit status, time) by _supervise
        self._stopping = threading.Event()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        self.db_url = f"postgres://postgres@127.0.0.1:{self.pg_port}/pvtrack_faults"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))} | {
            "DATABASE_URL": self.db_url, "REDIS_URL": self.redis_url, "PVTRACK_ENV": "test", "DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "pvtrack.settings", "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Short sweeper/reclaim periods so that a test sees recovery within seconds (production: minutes).
            "PVTRACK_SWEEP_EVERY_S": "1", "PVTRACK_SWEEP_AFTER_S": "1", "PVTRACK_RECLAIM_AFTER_S": "2",
            "PVTRACK_BEAT_MAX_LOOP_INTERVAL": "1", "PVTRACK_HEARTBEAT_EVERY_S": "1",
            "PVTRACK_HEARTBEAT_GRACE_S": "2", "PVTRACK_WORKER_DEAD_AFTER_S": "5", "LOG_LEVEL": "WARNING",
            "PVTRACK_BEAT_STALL_EXIT_S": "15",
            "PYTHONUNBUFFERED": "1",
            # One key for every process of the harness (gunicorn's workers must share sessions).
            "SECRET_KEY": "faults-harness-secret-key-not-for-production-0123456789",
        }
        for name in ("PVTRACK_TEST_JOB_DELAY_S", "DATABASE_URL_FILE", "REDIS_URL_FILE",
                     "SECRET_KEY_FILE"):  # *_FILE: set above
            self.env.pop(name, None)
        self.base_url = f"http://127.0.0.1:{self.web_port}"

    # --- processes -------------------------------------------------------------------------------------
    def _pg(self, *args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run a PostgreSQL program (``args[0]``: initdb, pg_ctl, pg_basebackup, ...; or cp, tar) as postgres."""
        program = self.pg_bin / args[0]
        cmd = [str(program) if program.exists() else args[0], *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                env=None if env is None else os.environ | env)
        if result.returncode != 0:
            raise HarnessError(f"{args[0]} failed: {result.stdout[-2000:]} {result.stderr[-2000:]}")
        return result

    def _spawn(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        log = (self.base / f"{name}.log").open("a")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        self.commands[name] = (cmd, env)
        return proc

    def _supervise(self) -> None:
        """What ``restart: unless-stopped`` does in docker-compose.yml: a worker or beat that exits without
        being stopped by a test (beat's stall watchdog, a crash) is started again; ``restarts`` records it."""
        while not self._stopping.wait(0.5):
            for name, proc in list(self.procs.items()):
                if not (name.startswith("worker") or name == "beat") or proc.poll() is None:
                    continue
                if self.procs.get(name) is not proc:  # stopped by a test meanwhile
                    continue
                self.restarts.append((name, proc.returncode, time.strftime("%H:%M:%S")))
                cmd, env = self.commands[name]
                self._spawn(name, cmd, env)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.base / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def manage(self, *args: str, timeout: float = 180) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=timeout)
        if result.returncode != 0:
            raise HarnessError(f"manage.py {' '.join(args)}: {result.stdout[-2000:]}{result.stderr[-3000:]}")
        return result.stdout

    def start(self) -> None:
        self.base.chmod(0o755)
        self.pgdata.mkdir()
        if self.as_postgres:
            shutil.chown(self.pgdata, "postgres", "postgres")
        self._pg("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.archive.mkdir()
        if self.as_postgres:
            shutil.chown(self.archive, "postgres", "postgres")
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(PG_CONF.format(archive=self.archive))
        # As docs/operations.md §5.1: the backup role may connect for replication, nobody else.
        (self.pgdata / "pg_hba.conf").write_text(PG_HBA)
        self.pg_start()
        self._psql_admin("CREATE DATABASE pvtrack_faults")
        self._psql_admin(f"CREATE ROLE backup REPLICATION LOGIN PASSWORD '{BACKUP_PASSWORD}'")
        self.redis_start()
        self.manage("migrate", "--noinput")
        self.manage("load_reference_data")
        self.manage("shell", "-c", SETUP_SCRIPT.format(password=PASSWORD))
        self.web_start()
        self.worker_start()
        self.beat_start()
        threading.Thread(target=self._supervise, name="harness-supervisor", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        for name in [n for n in self.procs if n != "redis"]:
            self._stop_proc(name)
        if "redis" in self.procs:
            self.redis_resume()
            self._stop_proc("redis")
        try:
            self._pg("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "-w", "-t", "30", "stop")
        except (HarnessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.base, ignore_errors=True)

    def _stop_proc(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    # --- PostgreSQL ------------------------------------------------------------------------------------
    def pg_start(self) -> None:
        opts = f"-p {self.pg_port} -k {self.base} -c listen_addresses=127.0.0.1"
        if self.as_postgres:
            shutil.chown(self.base, "postgres", "postgres")
        self._pg("pg_ctl", "-D", str(self.pgdata), "-o", opts, "-l", str(self.pgdata / "server.log"), "-w",
                 "-t", "60", "start")

    def pg_restart(self) -> None:
        # -l: the new postmaster must not inherit (and hold open) this process's output pipes.
        self._pg("pg_ctl", "-D", str(self.pgdata), "-l", str(self.pgdata / "server.log"), "-m", "fast", "-w",
                 "-t", "60", "restart")

    def pg_log_size(self) -> int:
        return (self.pgdata / "server.log").stat().st_size

    def pg_log_since(self, offset: int) -> str:
        with (self.pgdata / "server.log").open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def all_logs(self) -> dict[str, str]:
        """Every log the harness's processes wrote (PostgreSQL, gunicorn, workers, beat, Redis): name -> text."""
        paths = [self.pgdata / "server.log", *sorted(self.base.glob("*.log"))]
        return {p.name: p.read_text(errors="replace") for p in paths if p.exists()}

    def _psql_admin(self, sql: str) -> None:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres", autocommit=True,
                             connect_timeout=5) as conn:
            conn.execute(sql)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.db_url.replace("postgres://", "postgresql://"), connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    # --- Redis -----------------------------------------------------------------------------------------
    def redis_start(self) -> None:
        self._spawn("redis", [self.redis_server, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", str(self.base)])
        wait_for(self._redis_up, 20, "the harness Redis")

    def _redis_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def redis_stop(self) -> None:
        self._stop_proc("redis")

    def redis_pause(self) -> None:
        os.kill(self.procs["redis"].pid, signal.SIGSTOP)

    def redis_resume(self) -> None:
        proc = self.procs.get("redis")
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)

    # --- app processes ---------------------------------------------------------------------------------
    def web_start(self, name: str = "web", port: int | None = None) -> str:
        """Start gunicorn (2 sync workers) as process ``name`` on ``port`` (default: the harness's); its base URL."""
        port = port or self.web_port
        self._spawn(name, [sys.executable, "-m", "gunicorn", "pvtrack.wsgi:application", "--bind",
                           f"127.0.0.1:{port}", "--workers", "2", "--timeout", "30",
                           "--graceful-timeout", "5", "--no-control-socket"])
        base_url = f"http://127.0.0.1:{port}"
        wait_for(lambda: self._web_up(name, base_url), 60, f"gunicorn {name}")
        return base_url

    def _web_up(self, name: str = "web", base_url: str | None = None) -> bool:
        if self.procs[name].poll() is not None:
            raise HarnessError(f"gunicorn exited:\n{self.log_tail(name)}")
        try:
            return requests.get(f"{base_url or self.base_url}/login/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def worker_start(self, job_delay_s: float | None = None, name: str = "worker") -> subprocess.Popen:
        env = dict(self.env)
        if job_delay_s is not None:
            env["PVTRACK_TEST_JOB_DELAY_S"] = str(job_delay_s)
        proc = self._spawn(name, [sys.executable, "-m", "celery", "-A", "pvtrack", "worker", "--pool=solo",
                                      "-l", "info", "--without-gossip", "--without-mingle", "--hostname",
                                      f"faults-{name}-{os.getpid()}-{time.monotonic_ns()}@%h"], env=env)
        wait_for(lambda: self._worker_ready(proc, name), 60, f"the Celery worker {name}")
        return proc

    def _worker_ready(self, proc: subprocess.Popen, name: str = "worker") -> bool:
        if proc.poll() is not None:
            raise HarnessError(f"worker exited:\n{self.log_tail(name)}")
        return "ready." in self.log_tail(name, 20000)

    def diagnostics(self) -> str:
        """The Python stacks of the worker(s) and beat (SIGUSR2, pvtrack/celery.py) and every process's log tail."""
        for name, proc in self.procs.items():
            if (name.startswith("worker") or name == "beat") and proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGUSR2)
                except ProcessLookupError:
                    pass
        time.sleep(1.0)
        return f"restarted by the harness: {self.restarts}\n" + "\n".join(
            f"--- {name} (exit {proc.poll()})\n{self.log_tail(name, 6000)}"
            for name, proc in self.procs.items() if name != "redis")

    def worker_kill(self, name: str = "worker") -> None:
        """SIGKILL the worker's whole process group (no chance to ack, requeue or clean up)."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        (self.base / f"{name}.log").rename(self.base / f"{name}-killed-{proc.pid}.log")

    def beat_stop(self, kill: bool = False) -> None:
        self._stop_proc("beat", signal.SIGKILL if kill else signal.SIGTERM)

    def beat_start(self) -> None:
        self._spawn("beat", [sys.executable, "-m", "celery", "-A", "pvtrack", "beat", "-l", "info",
                             "--schedule", str(self.base / "celerybeat-schedule")])

    def health(self) -> dict:
        """GET /health/ of the harness app: {"status": HTTP status, **report}."""
        response = requests.get(f"{self.base_url}/health/", timeout=10)
        return {"status": response.status_code, **response.json()}

    def health_command(self) -> tuple[int, dict]:
        """``manage.py health --json``: (exit status, report)."""
        result = subprocess.run([sys.executable, "manage.py", "health", "--json"], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=60)
        return result.returncode, json.loads(result.stdout)

    # --- the API, as a nurse ---------------------------------------------------------------------------
    def login(self, username: str, base_url: str | None = None) -> requests.Session:
        base_url = base_url or self.base_url
        session = requests.Session()
        page = session.get(f"{base_url}/login/", timeout=10)
        page.raise_for_status()
        response = session.post(f"{base_url}/login/", timeout=10, allow_redirects=False,
                                data={"username": username, "password": PASSWORD,
                                      "csrfmiddlewaretoken": session.cookies["csrftoken"]})
        if response.status_code != 302:
            raise HarnessError(f"login of {username} failed: {response.status_code} {response.text[:500]}")
        session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
        return session

    def patients(self) -> list[tuple[int, int, str]]:
        """(patient id, cycle id, cycle start ISO date) of the harness ward, ordered by study id."""
        return [(p, c, d.isoformat()) for p, c, d in self.query(
            "SELECT p.id, c.id, c.start_date FROM patients_patient p JOIN patients_treatmentcycle c "
            "ON c.patient_id = p.id AND c.number = 1 ORDER BY p.study_id")]


def ae_payload(patient: int, cycle: int, start: str, grade: int = 2) -> dict:
    """A valid CTCAE v5.0 Cytokine release syndrome on cycle day 2."""
    import datetime

    onset = datetime.date.fromisoformat(start) + datetime.timedelta(days=1)
    return {"patient": patient, "cycle": cycle, "term": "Cytokine release syndrome", "grade": grade,
            "onset_date": onset.isoformat(), "grading_scale": "ctcae_v5_0", "relatedness": "probable",
            "action_taken": "DOSE NOT CHANGED", "outcome": "NOT RECOVERED/NOT RESOLVED",
            # a scenario may save on a patient again (its list wraps): each save is meant as a new event
            "confirm_separate": True}


# Appended to the harness server's postgresql.conf: WAL archiving as docker-compose.yml configures it, and
# every ERROR (with its statement) in the server log, so that the log scan sees what an operator would.
PG_CONF = """
wal_level = replica
archive_mode = on
archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'
log_min_messages = warning
log_min_error_statement = error
"""
PG_HBA = """\
local all all trust
host all all 127.0.0.1/32 trust
host replication backup 127.0.0.1/32 scram-sha-256
"""
BACKUP_PASSWORD = "faults-backup-pw-2026"

SETUP_SCRIPT = """
import datetime
from decimal import Decimal
from django.contrib.auth import get_user_model
from patients.models import Membership, Patient, Site, TreatmentCycle
site = Site.objects.create(slug="faults-ward", name="Fault-injection ward")
for name in ("nurse1", "nurse2"):
    user = get_user_model().objects.create_user(username=name, password="{password}")
    Membership.objects.create(user=user, site=site, role=Membership.Role.WARD_STAFF)
for i in range(140):
    p = Patient.objects.create(site=site, study_id=f"F-{{i:03d}}", sex="F", birth_month=datetime.date(2015, 3, 1),
                               disease_status=Patient.DiseaseStatus.FIRST_RELAPSE)
    TreatmentCycle.objects.create(patient=p, number=1, start_date=datetime.date(2026, 1, 5),
                                  schedule=TreatmentCycle.Schedule.STANDARD_28D, weight_kg=Decimal("20"),
                                  marrow_blasts_pct=Decimal("30"))
"""
