"""The report's benchmark table, rendered once per content and language in each process (issue 12, registry scale).

The table (``templates/reports/_table.html``: one row per cell, its cohorts and the cohorts left out, ≈ 200 stored
texts shown in the reader's language) was the largest part of the report page's rendering, ≈ 11 ms of a ≈ 90 ms
page on a 200-patient ward, and it is the same for every reader of the site in the same language until the next run.
It depends only on the run's cells, its ward profile and the thresholds it printed, the site (links), whether it
links (``editable``), the active language and the URL prefix: the rendered HTML is kept under exactly those (the run's
stored content by a SHA-256 of its JSON, ≈ 1 ms: a run whose stored results change is rendered again). At most
:data:`TABLES_KEPT` tables per process, the oldest used dropped first; a change of the translation settings (tests)
or of a file under the development server's autoreloader (a template, a catalogue) empties it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.signals import setting_changed
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.autoreload import file_changed
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from core.memo import BoundedMemo
from patients.models import Site
from reports.models import BenchmarkRun

#: Rendered tables kept per process (≈ 50 kB each for a 200-patient ward).
TABLES_KEPT = 16
_RENDERED: BoundedMemo[SafeString] = BoundedMemo(TABLES_KEPT)


def benchmark_table_html(*, site: Site, run: BenchmarkRun, run_inputs: dict[str, Any] | None,
                         cells: list[dict[str, Any]], editable: bool) -> SafeString:
    """``reports/_table.html`` for ``run`` of ``site`` (its ``cells``, ``run_inputs``: the thresholds it printed;
    ``editable``: link the ward counts and plots) in the active language, from the process's memo when the same
    content was rendered in the same language before."""
    content = hashlib.sha256(json.dumps([cells, (run.results or {}).get("ward_profile"), run_inputs],
                                        default=str).encode()).hexdigest()
    key = (content, get_language(), get_script_prefix(), site.slug, editable)
    html = _RENDERED.get(key)
    if html is None:
        html = render_to_string("reports/_table.html", {"site": site, "run": run, "run_inputs": run_inputs,
                                                        "cells": cells, "editable": editable})
        _RENDERED.put(key, html)
    return html


def forget_tables() -> None:
    """Drop every rendered table of this process."""
    _RENDERED.clear()


def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in ("LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "TEMPLATES", "ROOT_URLCONF"):
        forget_tables()


def _file_changed(**kwargs: Any) -> None:
    """The development server's autoreloader: templates and catalogues are read again without a restart when they
    change (``django.template.autoreload``, ``django.utils.translation.reloader``), so the tables go too (returns
    None: the reload decision is Django's)."""
    forget_tables()


setting_changed.connect(_forget, dispatch_uid="reports.report_table._forget")
file_changed.connect(_file_changed, dispatch_uid="reports.report_table._file_changed")
