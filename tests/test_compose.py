"""docker-compose.yml and Dockerfile: valid Compose, and consistent with the application they deploy.

There is no Docker engine here, so the compose file is checked against the official Compose Specification
JSON schema (tests/data/compose-spec.json, see tests/data/README.md for its source) and against the code:
settings, Celery tasks, management commands, the WSGI entry point and the locked dependencies.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import environ
import jsonschema
import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"
APP_SERVICES = ("migrate", "web", "worker", "beat")

# Values a deployer would put in .env, used wherever the compose file is interpolated.
DEPLOY_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "POSTGRES_PASSWORD": "s3cret-pw",
    "ALLOWED_HOSTS": "pvtrack.hospital.example",
    "CSRF_TRUSTED_ORIGINS": "https://pvtrack.hospital.example",
}


class MissingVariable(Exception):
    pass


_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:\?|\?|:-|-)(?P<arg>[^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose-style interpolation of ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$``."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("name", "op", "arg")
        current = env.get(name)
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and (current is None or (op == ":-" and current == "")):
            return arg
        return current or ""

    return _VAR.sub(sub, value)


def command_text(service: dict) -> str:
    """The service's command as one shell-like string: the script of ``sh -c``, else the list form joined."""
    command = service.get("command") or ""
    if isinstance(command, str):
        return command
    if command[:2] == ["sh", "-c"]:
        return command[2]
    return shlex.join(command)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def validator(schema: dict):
    cls = jsonschema.validators.validator_for(schema)  # the schema declares its own draft
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


# --- The Compose Specification ----------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(compose, schema):
    errors = sorted(validator(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


@pytest.mark.parametrize("mutate, where", [
    (lambda c: c["services"]["web"].update(dependson=["postgres"]), "unknown service key"),
    (lambda c: c["services"]["web"]["depends_on"]["postgres"].update(condition="healthy"), "bad condition"),
    (lambda c: c.update(extra_top_level={}), "unknown top-level key"),
    (lambda c: c["services"]["beat"]["deploy"].update(replica=1), "misspelt deploy key"),
])
def test_the_schema_rejects_a_broken_compose_file(compose, schema, mutate, where):
    """The schema check can fail: the same file with one typical mistake is refused."""
    broken = copy.deepcopy(compose)
    mutate(broken)
    with pytest.raises(jsonschema.ValidationError):
        validator(schema).validate(broken)


def test_it_defines_the_six_services_with_a_shared_environment_anchor(compose, services):
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    shared = [k for k in compose if k.startswith("x-")]
    assert shared, "the shared settings live in an x- extension field"
    raw = COMPOSE.read_text()
    # The three app services use one anchored mapping (YAML aliases give the identical object).
    assert services["web"]["environment"] is services["worker"]["environment"] is services["beat"]["environment"]
    assert services["migrate"]["environment"] is services["web"]["environment"]
    assert re.search(r"^x-[\w-]+: &[\w-]+\s*$", raw, re.M)


# --- Data services ----------------------------------------------------------------------------------------


def test_postgres_is_version_15_with_a_named_volume_a_healthcheck_and_durable_defaults(compose, services):
    pg = services["postgres"]
    assert pg["image"] == "postgres:15"
    mounts = [v.split(":") for v in pg["volumes"]]
    assert ["postgres-data", "/var/lib/postgresql/data"] in mounts
    assert "postgres-data" in compose["volumes"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    # Durability settings stay at PostgreSQL's defaults (on): nothing turns them off.
    assert not re.search(r"fsync|synchronous_commit|full_page_writes", command_text(pg))


def test_postgres_archives_its_wal_into_the_backup_volume_as_the_operations_guide_says(compose, services):
    pg = services["postgres"]
    command = command_text(pg)
    for setting in ("wal_level=replica", "archive_mode=on", "archive_timeout=300",
                    "archive_command=test ! -f /backup/wal/%f && cp %p /backup/wal/%f"):
        assert setting in command
        assert setting.split("=", 1)[1] in (ROOT / "docs" / "operations.md").read_text()
    assert "exec docker-entrypoint.sh postgres" in command
    assert ["postgres-backup", "/backup"] in [v.split(":") for v in pg["volumes"]]
    assert "postgres-backup" in compose["volumes"]
    init = [v.split(":") for v in pg["volumes"] if v.startswith("./")]
    assert init == [["./scripts/postgres/10-replication.sh", "/docker-entrypoint-initdb.d/10-replication.sh", "ro"]]
    script = (ROOT / "scripts" / "postgres" / "10-replication.sh").read_text()
    assert 'host replication ${POSTGRES_USER} samenet scram-sha-256' in script


def test_redis_is_version_7_persistent_and_never_evicts_queued_tasks(compose, services):
    redis = services["redis"]
    assert redis["image"] == "redis:7"
    command = command_text(redis)
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert ["redis-data", "/data"] in [v.split(":") for v in redis["volumes"]]
    assert "redis-data" in compose["volumes"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


# --- Application services against settings.py ------------------------------------------------------------


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_run_production_settings_from_the_image(services, name):
    service = services[name]
    assert service["build"] == "."
    assert service["environment"]["PVTRACK_ENV"] == "production"
    for dependency in ("postgres", "redis"):
        assert service["depends_on"][dependency]["condition"] == "service_healthy"


def test_secret_key_must_be_supplied_by_the_deployer(services):
    env = services["web"]["environment"]
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", env["SECRET_KEY"])
    with pytest.raises(MissingVariable, match="SECRET_KEY"):
        interpolate(env["SECRET_KEY"], {k: v for k, v in DEPLOY_ENV.items() if k != "SECRET_KEY"})
    with pytest.raises(MissingVariable, match="SECRET_KEY"):
        interpolate(env["SECRET_KEY"], DEPLOY_ENV | {"SECRET_KEY": ""})


def test_every_shared_variable_is_one_that_settings_reads(services):
    """A misspelt variable (DATABASE_URI, REDIS_HOST...) would be silently ignored by the app."""
    source = (ROOT / "pvtrack" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\("([A-Z_]+)"', source)) | set(re.findall(r'"([A-Z_]+)" in env', source))
    secrets_read = set(re.findall(r'\bsecret\("([A-Z_]+)"\)', source))  # NAME, or the file named by NAME_FILE
    read |= secrets_read | {f"{name}_FILE" for name in secrets_read}
    env = services["web"]["environment"]
    assert set(env) <= read, f"not read by settings.py: {set(env) - read}"
    # What production refuses to start without (settings.py raises ImproperlyConfigured) is all there.
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"} <= set(env)
    assert {"CSRF_TRUSTED_ORIGINS", "TIME_ZONE", "LOG_LEVEL", "STATIC_ROOT"} <= set(env)


def test_database_url_points_at_the_postgres_service_and_its_database(services):
    env = services["web"]["environment"]
    url = interpolate(env["DATABASE_URL"], DEPLOY_ENV)
    db = environ.Env.db_url_config(url)
    pg_env = services["postgres"]["environment"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert db["HOST"] == "postgres"
    assert db["PORT"] == 5432
    assert db["NAME"] == pg_env["POSTGRES_DB"]
    assert db["USER"] == pg_env["POSTGRES_USER"]
    # Both sides take the password from the same variable.
    assert db["PASSWORD"] == interpolate(pg_env["POSTGRES_PASSWORD"], DEPLOY_ENV) == DEPLOY_ENV["POSTGRES_PASSWORD"]


def test_redis_url_points_at_the_redis_service(services):
    url = urlsplit(interpolate(services["web"]["environment"]["REDIS_URL"], DEPLOY_ENV))
    assert url.scheme == "redis"
    assert url.hostname == "redis"
    assert (url.port or 6379) == 6379


def test_static_root_is_the_directory_the_image_lets_the_app_user_write(services):
    static_root = services["web"]["environment"]["STATIC_ROOT"]
    dockerfile = DOCKERFILE.read_text()
    assert re.search(rf"chown\s+\S+\s+.*{re.escape(static_root)}(\s|$)", dockerfile)


def run_with_compose_environment(args: list[str], services: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``python <args>`` with the web service's interpolated environment (as in the container)."""
    env = {k: interpolate(str(v), DEPLOY_ENV) for k, v in services["web"]["environment"].items()}
    env["STATIC_ROOT"] = str(tmp_path / "static")  # not /app/staticfiles of this machine (collectstatic writes)
    # Nothing of this shell's configuration: the scripts export SECRET_KEY_FILE, which beside the compose
    # file's SECRET_KEY would be refused ("set only one of them").
    own = {*settings.SECRET_NAMES, *(f"{name}_FILE" for name in settings.SECRET_NAMES)}
    inherited = {k: v for k, v in os.environ.items() if k not in own and not k.startswith(("DJANGO_", "PVTRACK_"))}
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=inherited | env | {"DJANGO_SETTINGS_MODULE": "pvtrack.settings"})


def test_production_settings_load_from_the_compose_environment(services, tmp_path):
    """Import settings the way the containers do (PVTRACK_ENV=production plus the interpolated environment)."""
    probe = ("import json, django; django.setup(); from django.conf import settings as s; "
             "print(json.dumps({'debug': s.DEBUG, 'db': s.DATABASES['default']['HOST'], 'hosts': s.ALLOWED_HOSTS, "
             "'broker': s.CELERY_BROKER_URL, 'eager': s.CELERY_TASK_ALWAYS_EAGER, 'tz': s.TIME_ZONE, "
             "'key': s.SECRET_KEY, 'ssl': s.SECURE_SSL_REDIRECT}))")
    result = run_with_compose_environment(["-c", probe], services, tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {"debug": False, "db": "postgres", "hosts": ["pvtrack.hospital.example"],
                      "broker": "redis://redis:6379/0", "eager": False, "tz": "Europe/Warsaw",
                      "key": DEPLOY_ENV["SECRET_KEY"], "ssl": True}
    assert not (tmp_path / "static").exists()  # settings only read the environment: collectstatic creates it


def test_django_deployment_checks_pass_with_the_compose_environment(services, tmp_path):
    result = run_with_compose_environment(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                                          services, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Commands against the code ----------------------------------------------------------------------------


def test_migrate_runs_once_before_web_worker_and_beat_then_web_collects_static_files_and_runs_gunicorn(services):
    # Compose does not run a command through a shell by itself: the && chain needs an explicit `sh -c`.
    assert services["migrate"]["command"][:2] == ["sh", "-c"]
    assert [s.strip() for s in command_text(services["migrate"]).split("&&")] == [
        "python manage.py migrate --noinput", "python manage.py load_reference_data"]
    assert services["migrate"]["restart"] == "no" and "deploy" not in services["migrate"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "migrate" not in command_text(services[name])  # never two migrations at once
    assert services["web"]["command"][:2] == ["sh", "-c"]
    steps = [s.strip() for s in command_text(services["web"]).split("&&")]
    assert len(steps) == 2
    assert steps[0] == "python manage.py collectstatic --noinput"
    gunicorn = shlex.split(steps[-1].removeprefix("exec "))
    assert gunicorn[:2] == ["gunicorn", "pvtrack.wsgi:application"]
    assert " ".join(gunicorn[2:]) == "--bind 0.0.0.0:8000 --workers 3 --timeout 60"
    assert any(str(p).endswith(":8000") or p == 8000 for p in services["web"]["ports"])


def test_gunicorn_serves_the_projects_wsgi_application(services):
    module, attr = re.search(r"gunicorn (\S+):(\w+)", command_text(services["web"])).groups()
    assert f"{module}.{attr}" == settings.WSGI_APPLICATION
    wsgi = __import__(module, fromlist=[attr])
    assert callable(getattr(wsgi, attr))


def test_every_manage_py_command_in_compose_exists(services):
    from django.core.management import get_commands

    used = {m for s in services.values() for m in re.findall(r"manage\.py\s+([\w-]+)", command_text(s))}
    assert {"migrate", "load_reference_data", "collectstatic"} <= used
    missing = used - set(get_commands())
    assert not missing, f"not management commands: {missing}"


def test_worker_and_beat_run_the_pvtrack_celery_app(services):
    worker = shlex.split(command_text(services["worker"]))
    beat = shlex.split(command_text(services["beat"]))
    assert worker[:4] == ["celery", "-A", "pvtrack", "worker"]
    assert worker[worker.index("-l") + 1] == "info"
    assert worker[worker.index("--concurrency") + 1] == "2"
    assert beat[:4] == ["celery", "-A", "pvtrack", "beat"]
    assert beat[beat.index("-l") + 1] == "info"
    # `celery -A pvtrack` loads the package and finds its app there.
    import pvtrack
    from pvtrack.celery import app

    assert pvtrack.celery_app is app
    assert app.main == "pvtrack"


def test_two_web_and_two_worker_containers_share_one_postgres_and_one_persistent_redis(services):
    """Issue 19 item 5: more than one machine's worth of web and worker processes (docs/operations.md §1)."""
    assert services["web"]["deploy"]["replicas"] == 2 and services["worker"]["deploy"]["replicas"] == 2
    # one host port per web replica: 8000-8001 by default
    (ports,) = services["web"]["ports"]
    host, container = interpolate(ports, DEPLOY_ENV).rsplit(":", 1)
    first, last = map(int, host.split("-"))
    assert container == "8000" and last - first + 1 == 2
    assert "--appendonly yes" in command_text(services["redis"])


def test_beat_runs_exactly_one_replica(services):
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "scale" not in services["beat"]
    assert services["worker"].get("deploy", {}).get("replicas", 1) >= 1


def test_beat_schedule_names_only_registered_tasks():
    from pvtrack.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == {"reports.tasks.benchmark_all_sites_task", "reports.outbox.requeue_pending_runs_task",
                         "patients.tasks.notification_emails_resend_task", "core.tasks.idempotency_records_expire_task",
                         "reports.tasks.worker_heartbeat_task", "ae.tasks.sae_reminders_task"}
    assert scheduled <= set(app.tasks), f"unregistered: {scheduled - set(app.tasks)}"


def test_beat_schedule_file_is_in_a_directory_the_app_user_may_write(services):
    beat = shlex.split(command_text(services["beat"]))
    schedule = beat[beat.index("--schedule") + 1]
    assert re.search(rf"chown\s+\S+\s+.*{re.escape(str(Path(schedule).parent))}(\s|$)", DOCKERFILE.read_text())


# --- Dockerfile -------------------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_builds_a_hash_checked_non_root_production_image():
    instructions = _dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [arg for op, arg in instructions if op == "RUN"]
    assert any(re.search(r"pip install .*--require-hashes.* -r requirements\.lock", r) for r in runs)
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    envs = " ".join(arg for op, arg in instructions if op == "ENV")
    assert re.search(r"\bPVTRACK_ENV=production\b", envs)
    assert ("EXPOSE", "8000") in instructions
    # Every file or directory the image copies exists in the repository.
    for op, arg in instructions:
        if op == "COPY":
            sources = [a for a in shlex.split(arg) if not a.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY source {source} missing"


def test_the_image_installs_every_program_the_compose_commands_run(services):
    """gunicorn and celery come from requirements.lock (the image installs nothing else)."""
    locked = {m.lower() for m in re.findall(r"^([A-Za-z0-9_.-]+)==", (ROOT / "requirements.lock").read_text(), re.M)}
    programs = set()
    for name in APP_SERVICES:
        for step in re.split(r"&&", command_text(services[name])):
            words = [w for w in shlex.split(step) if w != "exec"]
            programs.add(words[0])
    assert programs == {"python", "gunicorn", "celery"}
    assert {"gunicorn", "celery", "redis", "psycopg", "psycopg-binary"} <= locked
