"""pvtrack's WSGI application with the benchmarks' URLs (pvtrack's plus the trivial view, ``benchmarks/urls.py``):
what ``benchmarks.concurrent`` starts under gunicorn, so that both sides of its ratio pass the same middleware in
the same server."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pvtrack.settings")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
settings.ROOT_URLCONF = "benchmarks.urls"  # read by the handler on every request
