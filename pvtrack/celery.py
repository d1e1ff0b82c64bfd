"""Celery application: configuration comes from Django settings (``CELERY_*``).

In a worker or beat process, ``kill -USR2 <pid>`` writes the Python stack of every thread to that process's
log (stderr), to see where a stuck process waits without stopping it (docs/operations.md §6). Web processes
are left alone (gunicorn's master uses SIGUSR2 itself).
"""

import faulthandler
import os
import signal
import sys

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pvtrack.settings")

app = Celery("pvtrack", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _stacks_on_sigusr2(**_kwargs) -> None:
    # sys.__stderr__, the process's real stderr: by the time beat starts, Celery has replaced sys.stderr by a
    # logging proxy without a file descriptor, which faulthandler cannot write to.
    if hasattr(signal, "SIGUSR2") and sys.__stderr__ is not None:
        faulthandler.register(signal.SIGUSR2, file=sys.__stderr__, all_threads=True, chain=False)
