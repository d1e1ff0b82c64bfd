"""Start Django for the command-line harness (same settings as ``manage.py``)."""

from __future__ import annotations

import os


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pvtrack.settings")
    import django

    django.setup()
