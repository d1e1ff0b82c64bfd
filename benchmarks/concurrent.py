"""Issue 12's "AE form POST p95 ≤ 3× a trivial Django view behind the same middleware, at 16 concurrent clients":
a real server (gunicorn with ``scripts/run.sh``'s flags: 2 workers, timeout 120) started on a free local port
against the benchmark database, ``clients`` threads with their own logged-in sessions, each POSTing new AEs
through the form for a phase, then GETting the trivial view (``benchmarks/urls.py``) for a phase of the same
length, twice, so that a load change shifts both sides. Used by ``python -m benchmarks.run --only concurrent``.

Each POST records a grade 1 Hiccups event on its own cycle (a cycle of the registry without one: a second one on
the same cycle would be a probable duplicate, shown again instead of saved) and must answer 302 (saved); broker
sends are made as in production (``REDIS_URL``; no worker is started, so the runs stay pending). The query count is
that of one such POST in process (``CaptureQueriesContext``).
"""

from __future__ import annotations

import datetime
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(port: int, secret_key: str) -> subprocess.Popen[bytes]:
    """gunicorn serving ``benchmarks.wsgi`` on ``port``, with this process's environment (DATABASE_URL, …) and its
    ``secret_key`` (without SECRET_KEY set, each process draws its own and no session made here would be valid)."""
    command = [sys.executable, "-m", "gunicorn", "benchmarks.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", "2", "--timeout", "120", "--log-level", "warning"]
    env = os.environ.copy() | {"SECRET_KEY": secret_key}
    env.pop("SECRET_KEY_FILE", None)
    return subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 (fixed)


def _wait_ready(base: str, server: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            if requests.get(f"{base}/__benchmarks/trivial/", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer within {timeout_s:.0f} s")


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _form_data(cycle: Any) -> dict[str, Any]:
    day = datetime.timedelta(days=1)
    return {"cycle": cycle.pk, "term": "Hiccups", "grade": 1, "onset_date": (cycle.start_date + day).isoformat(),
            "resolution_date": (cycle.start_date + 2 * day).isoformat(), "relatedness": "unlikely",
            "action_taken": "DOSE NOT CHANGED", "outcome": "RECOVERED/RESOLVED", "grading_scale": "ctcae_v5_0",
            "verbatim_term": "benchmark"}


def measure_concurrent(sites: list[Any], seconds: float, clients: int = 16) -> list[Any]:
    """Lines (``benchmarks.run.Line``) of the AE form POST's p95 against the trivial view's at ``clients``
    concurrent clients, ``seconds`` of each side in all. Raises RuntimeError when the registry has too few cycles
    left or a POST does not save."""
    import requests
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Exists, OuterRef
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from ae.models import AdverseEvent
    from benchmarks.run import Line, _p95
    from patients.models import Membership, TreatmentCycle

    user, _ = get_user_model().objects.get_or_create(username="bench-concurrent")
    for site in sites:
        Membership.objects.update_or_create(user=user, site=site, defaults={"role": Membership.Role.WARD_STAFF})
    hiccups = AdverseEvent.objects.filter(cycle=OuterRef("pk"), term__term="Hiccups")
    cycles = list(TreatmentCycle.objects.filter(patient__site__in=sites).exclude(Exists(hiccups))
                  .order_by("patient__study_id", "number"))
    if len(cycles) < clients * 20:
        raise RuntimeError(f"only {len(cycles)} cycles without a Hiccups event are left: generate a fresh registry")
    client = Client(SERVER_NAME="127.0.0.1")  # the query count, in process (the same path as the server's POSTs)
    client.force_login(user)
    first = cycles.pop()
    with CaptureQueriesContext(connection) as captured:
        response = client.post(f"/patients/{first.patient_id}/events/new/", _form_data(first))
    if response.status_code != 302:
        raise RuntimeError(f"the in-process AE form POST did not save (answered {response.status_code})")
    queries = len(captured)
    saved_before = AdverseEvent.objects.filter(term__term="Hiccups", created_by=user).count() - 1
    pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for cycle in cycles:
        pool.put(cycle)

    sessions = []
    for _ in range(clients):
        login = Client()
        login.force_login(user)
        sessions.append(login.cookies[settings.SESSION_COOKIE_NAME].value)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(port, settings.SECRET_KEY)
    try:
        _wait_ready(base, server)
        browsers = []
        for session_id in sessions:  # each client opens the form once: its CSRF cookie and token
            browser = requests.Session()
            browser.cookies.set(settings.SESSION_COOKIE_NAME, session_id, domain="127.0.0.1")
            form = browser.get(f"{base}/patients/{cycles[0].patient_id}/events/new/", allow_redirects=False,
                               timeout=60)  # 200, not a redirect to the login page
            match = CSRF_FIELD.search(form.text)
            if form.status_code != 200 or match is None:
                raise RuntimeError(f"the AE form did not open for a logged-in client ({form.status_code})")
            browsers.append((browser, match.group(1)))

        posts: list[float] = []
        gets: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def post(browser: requests.Session, token: str) -> tuple[float, str | None]:
            cycle = pool.get_nowait()
            start = time.perf_counter()
            answer = browser.post(f"{base}/patients/{cycle.patient_id}/events/new/",
                                  data=_form_data(cycle) | {"csrfmiddlewaretoken": token}, allow_redirects=False,
                                  timeout=120)
            elapsed = time.perf_counter() - start
            saved = answer.status_code == 302 and "/login/" not in answer.headers.get("Location", "")
            return elapsed, None if saved else f"POST answered {answer.status_code} {answer.headers.get('Location')}"

        def trivial(browser: requests.Session, token: str) -> tuple[float, str | None]:
            start = time.perf_counter()
            answer = browser.get(f"{base}/__benchmarks/trivial/", timeout=120)
            elapsed = time.perf_counter() - start
            return elapsed, None if answer.status_code == 200 else f"GET answered {answer.status_code}"

        def phase(request: Any, out: list[float], length: float) -> None:
            deadline = time.monotonic() + length

            def loop(browser: requests.Session, token: str) -> None:
                while time.monotonic() < deadline:
                    try:
                        elapsed, error = request(browser, token)
                    except queue.Empty:
                        return
                    with lock:
                        out.append(elapsed)
                        if error:
                            failures.append(error)

            threads = [threading.Thread(target=loop, args=b) for b in browsers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        for _ in range(2):  # POST, trivial, POST, trivial: a load change shifts both sides
            phase(post, posts, seconds / 4)
            phase(trivial, gets, seconds / 4)
    finally:
        _stop_server(server)
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(posts) + len(gets)} requests failed, e.g. {failures[0]}")
    saved = AdverseEvent.objects.filter(term__term="Hiccups", created_by=user).count() - 1 - saved_before
    if saved != len(posts):
        raise RuntimeError(f"{len(posts)} POSTs answered as saved but {saved} events were saved")
    return [Line(f"AE form POST p95 ({queries} queries), {clients} concurrent clients, gunicorn 2 workers",
                 _p95(posts), _p95(gets), f"trivial view, same server, {clients} clients", "<= 3x, <= 15 queries",
                 note=f"{len(posts)} POSTs ({len(posts) / (seconds / 2):.1f}/s) and {len(gets)} GETs "
                      f"({len(gets) / (seconds / 2):.1f}/s) in {seconds / 2:.0f} s each")]
