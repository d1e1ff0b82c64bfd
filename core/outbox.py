"""The one entry point through which a writer of ward data requests a benchmark of its site.

Writers of ward data (``patients``: treatment cycles; ``ae``: adverse events, bedside assessments, lab
results) sit below the benchmark (``reports``) in the dependency order (``pvtrack`` → ``reports`` →
``ae`` → ``patients`` → ``core``, enforced by import-linter), so they cannot import it. They call
:func:`benchmark_request` inside their transaction; the composition root binds it to the implementation
named by ``settings.PVTRACK_BENCHMARK_REQUEST`` (``reports.outbox.benchmark_run_queue``: a pending
benchmark run row written in the caller's transaction — the outbox — and published after commit).

This is the only inversion of the dependency order in pvtrack: no signals, and no other import is
resolved at run time.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class _Site(Protocol):
    @property
    def pk(self) -> int: ...


class _Request(Protocol):
    def __call__(self, *, site: _Site, trigger: str) -> object: ...


def benchmark_request(*, site: _Site, trigger: str) -> None:
    """Queue a benchmark run of ``site`` in the caller's transaction (published after commit).

    ``trigger`` is one of ``reports.models.BenchmarkRun.Trigger`` ("ae_change", "cycle_change",
    "nightly", "manual"). Never raises because the broker is down: the run stays queued for the sweeper.
    Raises ImproperlyConfigured-like ImportError only if the setting names no function.
    """
    queue: _Request = import_string(settings.PVTRACK_BENCHMARK_REQUEST)
    queue(site=site, trigger=trigger)
