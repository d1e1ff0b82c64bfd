"""Celery application: configuration comes from Django settings (``CELERY_*``).

In a worker or beat process, ``kill -USR2 <pid>`` writes the Python stack of every thread to that process's
log (stderr), to see where a stuck process waits without stopping it (docs/operations.md §6). Web processes
are left alone (gunicorn's master uses SIGUSR2 itself).
"""

import faulthandler
import os
import signal

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pvtrack.settings")

app = Celery("pvtrack", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _stacks_on_sigusr2(**_kwargs) -> None:
    if hasattr(signal, "SIGUSR2"):
        faulthandler.register(signal.SIGUSR2, all_threads=True, chain=False)
