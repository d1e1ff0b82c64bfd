"""Publishing a Celery task after commit without letting a slow broker hold the user's request.

Each outbox row (a pending benchmark run, an unsent notification e-mail) is written in the transaction of the
change that needs it; :func:`publish` sends its task once the transaction commits. With a real broker the send
runs on a small thread pool and the caller waits for it at most ``PVTRACK_OUTBOX["PUBLISH_WAIT_S"]``: a refused
connection fails in milliseconds, but a stalled broker (accepts the connection, never answers) holds a send for
the broker socket timeouts plus the publish retry (about 4 s with the settings' values), which must not become
the nurse's wait. A send still running after the bound finishes (or fails) in the background; at most
``PUBLISH_THREADS`` sends are in flight, further ones are skipped. Whatever is not sent stays in its outbox
table and that outbox's sweeper (beat) publishes it later. In-process mode (no broker) runs the task directly.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)


class _Task(Protocol):
    name: str
    app: Any

    def delay(self, *args: Any) -> Any: ...


_pool = concurrent.futures.ThreadPoolExecutor(
    max_workers=settings.PVTRACK_OUTBOX["PUBLISH_THREADS"], thread_name_prefix="pvtrack-publish")
_slots = threading.BoundedSemaphore(settings.PVTRACK_OUTBOX["PUBLISH_THREADS"])


def publish(task: _Task, *args: Any, what: str) -> None:
    """Send ``task.delay(*args)``, waiting at most ``PVTRACK_OUTBOX["PUBLISH_WAIT_S"]`` (never raises).

    ``what`` names the outbox row in log lines (e.g. "benchmark run 12"); logs carry ids only, never data.
    """
    if task.app.conf.task_always_eager:
        task.delay(*args)
        return
    if not _slots.acquire(blocking=False):
        logger.warning("%s not published: broker sends are stuck; the sweeper will retry", what)
        return
    try:
        future = _pool.submit(_send, task, args)
    except RuntimeError:  # the interpreter is shutting down
        _slots.release()
        return
    try:
        future.result(timeout=settings.PVTRACK_OUTBOX["PUBLISH_WAIT_S"])
    except concurrent.futures.TimeoutError:
        logger.warning("%s: broker slow, publish left to finish in the background", what)
    except Exception as exc:  # broker down: the row stays in its outbox for the sweeper
        logger.warning("%s not published (%s); the sweeper will retry", what, type(exc).__name__)


def _send(task: _Task, args: tuple[Any, ...]) -> None:
    try:
        task.delay(*args)
    finally:
        _slots.release()
