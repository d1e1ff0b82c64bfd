"""Issue 19 item 3: the restore rehearsal of docs/operations.md §5, command by command, on the fault harness.

The harness's PostgreSQL archives its WAL as docker-compose.yml configures it (tests/faults/harness.py,
``PG_CONF``) and lets only the ``backup`` role connect for replication (``PG_HBA``). This test takes the
documented backups — a logical dump (``pg_dump -Fc``) and a physical base backup (``pg_basebackup -Fp -Xs``,
checked with ``pg_verifybackup``) — writes more after the base backup, restores both on a separate
rehearsal server (its own data directory and port, archiving off), and checks what an operator must check:
every table's checksum equal, triggers and constraints present and enforcing, audit tables append-only, the
benchmark reproducing the last run's results hash, ``health`` green, and the production WAL archive untouched.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
import sys
import time

import psycopg
import pytest
import requests
from psycopg import sql

from reports.cells import canonical_sha256
from tests.faults.conftest import METRICS
from tests.faults.harness import BACKUP_PASSWORD, PASSWORD, ROOT, Harness, ae_payload, free_port, wait_for

pytestmark = pytest.mark.faults

SITE = "faults-ward"


def _conninfo(port: int, dbname: str) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"


def table_checksums(conninfo: str) -> dict[str, tuple[int, str]]:
    """{table: (rows, md5 of its rows as text in a fixed order)} for every table of the public schema."""
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 1")]
        query = sql.SQL("SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) "
                        "FROM {} r")
        return {t: tuple(conn.execute(query.format(sql.Identifier(t))).fetchone()) for t in tables}  # type: ignore


def _normalized(definition: str) -> str:
    """A constraint definition without casts, parentheses and spaces.

    pg_restore re-creates a CHECK on a varchar IN-list with the casts deparsed differently
    (``ANY ((ARRAY['a'::character varying])::text[])`` becomes ``ANY (ARRAY[('a'::character varying)::text])``):
    the same constraint, another text. ``enforcement`` proves they still refuse bad values.
    """
    return re.sub(r"[()\s]", "", re.sub(r"::(character varying|text)(\[\])?", "", definition))


def schema_objects(conninfo: str) -> dict[str, set]:
    """Triggers (name, table) and constraints (table, name, normalized definition) of the public schema."""
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        return {
            "triggers": set(conn.execute("SELECT tgname, tgrelid::regclass::text FROM pg_trigger "
                                         "WHERE NOT tgisinternal").fetchall()),
            "constraints": {(table, name, _normalized(definition)) for table, name, definition in conn.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace = 'public'::regnamespace").fetchall()},
        }


def enforcement(conninfo: str) -> dict[str, str]:
    """Try what the database must refuse; {what: error class name} ("accepted" where it was not refused)."""
    outcome = {}
    with psycopg.connect(conninfo, connect_timeout=5, autocommit=True) as conn:
        audit_tables = [t for (t,) in conn.execute(
            "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE '%%append_only%%' ORDER BY 1")]
        attempts: dict[str, str | sql.Composed] = {
            "grade 9 on an AE (constraint)": "UPDATE ae_adverseevent SET grade = 9 "
                                             "WHERE id = (SELECT min(id) FROM ae_adverseevent)",
            "unknown AE origin (CHECK on a varchar list)": "UPDATE ae_adverseevent SET origin = 'bogus' "
                                                           "WHERE id = (SELECT min(id) FROM ae_adverseevent)",
            "AE onset before its cycle (trigger)": "UPDATE ae_adverseevent SET onset_date = '2000-01-01' "
                                                   "WHERE id = (SELECT min(id) FROM ae_adverseevent)"}
        for table in audit_tables:
            ident = sql.Identifier(table)
            if conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(ident)).fetchone() == (True,):
                column = sql.Identifier("pgh_label" if "pgh_label" in _columns(conn, table) else "id")
                attempts[f"DELETE on audit table {table}"] = sql.SQL("DELETE FROM {}").format(ident)
                attempts[f"UPDATE on audit table {table}"] = sql.SQL("UPDATE {} SET {} = {}").format(
                    ident, column, column)
        for what, statement in attempts.items():
            try:
                with conn.transaction():
                    conn.execute(statement)
                    outcome[what] = "accepted"
                    raise _Rollback
            except _Rollback:
                pass
            except psycopg.Error as exc:
                outcome[what] = type(exc).__name__
    return outcome


class _Rollback(Exception):
    pass


def _columns(conn, table: str) -> set[str]:
    return {c for (c,) in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                                       (table,))}


def _manage(h: Harness, database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=h.env | {"DATABASE_URL": database_url},
                          capture_output=True, text=True, timeout=180)


def _latest_done_hash(conninfo: str) -> str:
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        (results,) = conn.execute("SELECT results FROM reports_benchmarkrun WHERE status = 'done' "
                                  "ORDER BY finished_at DESC, id DESC LIMIT 1").fetchone()
    return canonical_sha256(results)


def _verify_restored(h: Harness, port: int, dbname: str, expected: dict, label: str) -> dict:
    conninfo = _conninfo(port, dbname)
    database_url = f"postgres://postgres@127.0.0.1:{port}/{dbname}"
    checksums = table_checksums(conninfo)
    differing = sorted(t for t in expected["checksums"] if checksums.get(t) != expected["checksums"][t])
    assert differing == [], f"{label}: tables differ: {differing[:10]}"
    objects = schema_objects(conninfo)
    for kind in ("triggers", "constraints"):
        missing, extra = expected["objects"][kind] - objects[kind], objects[kind] - expected["objects"][kind]
        assert not missing and not extra, f"{label}: {kind} missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
    refused = enforcement(conninfo)
    assert "accepted" not in refused.values(), refused
    assert sum(w.startswith("DELETE on audit") for w in refused) >= 3, refused
    last_hash = _latest_done_hash(conninfo)
    assert last_hash == expected["last_run_hash"]
    bench = _manage(h, database_url, "benchmark", "--site", SITE, "--json")
    assert bench.returncode == 0, bench.stderr[-2000:]
    reproduced = canonical_sha256(json.loads(bench.stdout)["results"])
    assert reproduced == last_hash, f"{label}: the benchmark on the restored database gives other results"
    health = _manage(h, database_url, "health", "--json")
    assert health.returncode == 0, health.stdout
    return {"tables": len(checksums), "rows": sum(n for n, _ in checksums.values()),
            "triggers": len(objects["triggers"]), "constraints": len(objects["constraints"]),
            "refused": len(refused), "results_hash": reproduced[:12]}


AUTH_PROBE = """
from django.test import Client
token = Client(SERVER_NAME="localhost").get("/api/v1/adverse-events/", HTTP_AUTHORIZATION="Token {token}")
browser = Client(SERVER_NAME="localhost")
browser.cookies["sessionid"] = "{session}"
print(token.status_code, browser.get("/api/v1/adverse-events/").status_code)
"""


def _auth_probe(h: Harness, database_url: str, token: str, session: str, not_before: str | None) -> tuple[int, int]:
    """(status of an API call with ``token``, with the session cookie ``session``) on the given database."""
    env = h.env | {"DATABASE_URL": database_url}
    env.pop("PVTRACK_AUTH_NOT_BEFORE", None)
    if not_before:
        env["PVTRACK_AUTH_NOT_BEFORE"] = not_before
    probe = AUTH_PROBE.format(token=token, session=session)
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", probe], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    token_status, session_status = result.stdout.split()[-2:]
    return int(token_status), int(session_status)


def _quiet(h: Harness) -> None:
    """Wait until no benchmark run is pending or running (nothing writes while a checksum is taken)."""
    wait_for(lambda: h.query("SELECT count(*) FROM reports_benchmarkrun WHERE status IN ('pending', 'running')")
             == [(0,)], 90, "the benchmark backlog to drain", interval=0.5)
    time.sleep(1.5)  # a run's last writes (flags) commit with its status; leave the sweeper a tick


def test_backup_and_restore_rehearsal_as_documented(harness):
    h = harness
    session = h.login("nurse1")
    patients = h.patients()
    for patient in patients[:3]:
        assert session.post(f"{h.base_url}/api/v1/adverse-events/", json=ae_payload(*patient),
                            timeout=15).status_code == 201
    _quiet(h)
    backups = h.base / "backup"  # production: /backup on its own volume, copied off the host
    for sub in ("", "base", "logical"):
        (backups / sub).mkdir(exist_ok=True)
        if h.as_postgres:
            shutil.chown(backups / sub, "postgres", "postgres")
    stamp = time.strftime("%Y-%m-%d")
    port = str(h.pg_port)
    # A token and a session that exist at the backup and are revoked after it (issue 19 item 5 of "Why").
    token = requests.post(f"{h.base_url}/api/v1/auth/login/", auth=("nurse2", PASSWORD), timeout=15).json()["token"]
    browser = h.login("nurse2")
    sessionid_before_logout = browser.cookies["sessionid"]
    assert browser.get(f"{h.base_url}/api/v1/adverse-events/", timeout=15).status_code == 200

    # --- logical: pg_dump -Fc (docs §5.2) ---------------------------------------------------------------
    before_dump = {"checksums": table_checksums(h.db_url.replace("postgres://", "postgresql://")),
                   "objects": schema_objects(h.db_url.replace("postgres://", "postgresql://")),
                   "last_run_hash": _latest_done_hash(h.db_url.replace("postgres://", "postgresql://"))}
    dump = backups / "logical" / f"pvtrack-{stamp}.dump"
    started = time.monotonic()
    h._pg("pg_dump", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-Fc", "-f", str(dump), "pvtrack_faults")
    h._pg("pg_restore", "--list", str(dump))  # the dump is readable
    dump_s = time.monotonic() - started

    # --- physical: base backup over a replication connection, verified (docs §5.1) -----------------------
    archived_before = set(p.name for p in h.archive.iterdir())
    base = backups / "base" / stamp
    started = time.monotonic()
    h._pg("pg_basebackup", "-h", "127.0.0.1", "-p", port, "-U", "backup", "-D", str(base), "-Fp", "-Xs",
          "--checkpoint=fast", env={"PGPASSWORD": BACKUP_PASSWORD})
    h._pg("pg_verifybackup", str(base))
    basebackup_s = time.monotonic() - started

    # After the backups both are revoked: the token logged out, the session logged out.
    assert requests.post(f"{h.base_url}/api/v1/auth/logout/", headers={"Authorization": f"Token {token}"},
                         timeout=15).status_code == 204
    browser.post(f"{h.base_url}/logout/", timeout=15)
    assert requests.get(f"{h.base_url}/api/v1/adverse-events/", cookies={"sessionid": sessionid_before_logout},
                        timeout=15).status_code == 401
    assert requests.get(f"{h.base_url}/api/v1/adverse-events/", headers={"Authorization": f"Token {token}"},
                        timeout=15).status_code == 401
    # After the base backup the ward keeps working; the WAL archive carries these saves to the restore.
    for patient in patients[3:6]:
        assert session.post(f"{h.base_url}/api/v1/adverse-events/", json=ae_payload(*patient),
                            timeout=15).status_code == 201
    _quiet(h)
    main = h.db_url.replace("postgres://", "postgresql://")
    at_switch = {"checksums": table_checksums(main), "objects": schema_objects(main),
                 "last_run_hash": _latest_done_hash(main)}
    assert at_switch["checksums"] != before_dump["checksums"]
    with psycopg.connect(main, autocommit=True) as conn:
        (segment,) = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
    wait_for(lambda: (h.archive / segment).exists(), 60, f"WAL segment {segment} in the archive")
    archived = set(p.name for p in h.archive.iterdir())
    assert archived > archived_before

    # --- restore both on a rehearsal server: own data directory and port, archiving OFF -------------------
    rehearsal = h.base / "rehearsal"
    rehearsal.mkdir()
    if h.as_postgres:
        shutil.chown(rehearsal, "postgres", "postgres")
    pgdata = rehearsal / "pgdata"
    started = time.monotonic()
    h._pg("cp", "-a", str(base), str(pgdata))
    auto_conf = (f"restore_command = 'cp {h.archive}/%f %p'\n"
                 "archive_mode = off\n")  # a rehearsal server must never write into production's archive
    h._pg("sh", "-c", f"cat >> {pgdata}/postgresql.auto.conf <<'EOF'\n{auto_conf}EOF\ntouch {pgdata}/recovery.signal")
    rehearsal_port = free_port()
    h._pg("pg_ctl", "-D", str(pgdata), "-o", f"-p {rehearsal_port} -k {rehearsal} -c listen_addresses=127.0.0.1",
          "-l", str(rehearsal / "server.log"), "-w", "-t", "120", "start")
    try:
        admin = _conninfo(rehearsal_port, "postgres")

        def promoted() -> bool:
            with psycopg.connect(admin, connect_timeout=5) as conn:
                return conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)

        wait_for(promoted, 120, "the rehearsal server to finish recovery", interval=0.5)
        physical_s = time.monotonic() - started
        with psycopg.connect(admin, connect_timeout=5) as conn:
            assert conn.execute("SHOW archive_mode").fetchone() == ("off",)
        physical = _verify_restored(h, rehearsal_port, "pvtrack_faults", at_switch, "physical")

        started = time.monotonic()
        h._pg("createdb", "-h", "127.0.0.1", "-p", str(rehearsal_port), "-U", "postgres", "-T", "template0",
              "pvtrack_logical")
        h._pg("pg_restore", "-h", "127.0.0.1", "-p", str(rehearsal_port), "-U", "postgres", "-d", "pvtrack_logical",
              "--no-owner", "--exit-on-error", str(dump), timeout=300)
        logical_s = time.monotonic() - started
        logical = _verify_restored(h, rehearsal_port, "pvtrack_logical", before_dump, "logical")

        # The dump still holds the revoked token and session: without the auth epoch they work again; with
        # PVTRACK_AUTH_NOT_BEFORE set to the restore's time (docs §5.4) both are refused.
        logical_url = f"postgres://postgres@127.0.0.1:{rehearsal_port}/pvtrack_logical"
        session_id = sessionid_before_logout
        revived = _auth_probe(h, logical_url, token, session_id, None)
        restored_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        refused = _auth_probe(h, logical_url, token, session_id, restored_at)
        assert revived == (200, 200), revived
        assert refused == (401, 401), refused
    finally:
        h._pg("pg_ctl", "-D", str(pgdata), "-m", "fast", "-w", "-t", "60", "stop")
    # the rehearsal (a new timeline, 00000002.history) left the production archive as it was
    assert set(p.name for p in h.archive.iterdir()) == archived
    METRICS["(r) restore rehearsal"] = {
        "dump_s": round(dump_s, 1), "dump_bytes": dump.stat().st_size,
        "basebackup_and_verify_s": round(basebackup_s, 1),
        "wal_segments_archived": len(archived), "physical_restore_s": round(physical_s, 1),
        "logical_restore_s": round(logical_s, 1), **{f"physical_{k}": v for k, v in physical.items()},
        **{f"logical_{k}": v for k, v in logical.items() if k in ("rows", "triggers", "constraints", "refused")},
        "revoked_token_and_session_without_epoch": revived, "with_epoch": refused}
