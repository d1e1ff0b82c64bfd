"""Flag reviews carried over to later runs while the flagged cell is unchanged.

Every save of ward data starts a new benchmark run with new flags. A flag of the new run *carries* the
review of the same kind and cell (literature / network / CUSUM × category × grade band × cycle scope) in the
site's previous finished run when its values (``reports.cells.flag_values``: ward x/n, what it was compared with,
level) are unchanged — and only
along an unbroken chain of runs: a cell that changed, or was not flagged, in between needs a new signature.
A carried review is ``Flag.carried_review``, a reference to the original *signed* flag (never a copy of the
signature); the database checks it (trigger ``flag_carried_review_valid``).

Two writers meet here, and both take row locks on the flags they read so that neither misses the other:
``carry_into`` (storing a new run's flags: locks the previous run's flags) and ``carry_forward`` (after a
review is signed: walks the later runs' flags, locking each), e.g. an officer signing on a page opened before
a nurse's save started a newer run.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from reports.models import BenchmarkRun, Flag


def _key(flag: Flag) -> tuple[str, int, str, str]:
    return flag.kind, flag.category_id, flag.grade_band, flag.cycle_scope


def _finished_runs(run: BenchmarkRun):
    return BenchmarkRun.objects.filter(site_id=run.site_id, status=BenchmarkRun.Status.DONE).exclude(pk=run.pk)


def previous_run(run: BenchmarkRun) -> BenchmarkRun | None:
    """The site's finished run just before ``run`` (by finish time, then id), or None."""
    runs = _finished_runs(run)
    if run.finished_at is not None:
        runs = runs.filter(Q(finished_at__lt=run.finished_at) | Q(finished_at=run.finished_at, pk__lt=run.pk))
    return runs.order_by("-finished_at", "-id").only("pk").first()


def next_run(run: BenchmarkRun) -> BenchmarkRun | None:
    """The site's finished run just after ``run`` (by finish time, then id), or None."""
    return (_finished_runs(run).filter(Q(finished_at__gt=run.finished_at) | Q(finished_at=run.finished_at,
                                                                                pk__gt=run.pk))
            .order_by("finished_at", "id").only("pk", "site_id", "finished_at").first())


def carry_into(run: BenchmarkRun, flags: Iterable[Flag]) -> None:
    """Set ``carried_review`` on the new, unsaved ``flags`` of ``run`` (finished, saved) whose cell is unchanged
    since the previous run's flag of that cell, if that flag is reviewed (signed itself or carrying).

    Call inside the transaction that stores the flags: the previous run's flags are locked (SELECT ... FOR
    UPDATE), so a review being signed on one of them right now is either seen here or sees these flags
    (``carry_forward``). One or two queries.
    """
    before = previous_run(run)
    if before is None:
        return
    previous = {_key(f): f for f in Flag.objects.select_for_update().filter(run=before).order_by("pk")}
    for flag in flags:
        earlier = previous.get(_key(flag))
        if earlier is None or not flag.cell_fingerprint or earlier.cell_fingerprint != flag.cell_fingerprint:
            continue
        flag.carried_review_id = earlier.carried_review_id or (earlier.pk if earlier.reviewed_at else None)


def carry_forward(signed: Flag) -> list[Flag]:
    """After ``signed`` was signed: let the later runs' flags of the same cell carry its review, run after run,
    while the cell stays unchanged and the flag is open; returns the flags that now carry it (oldest first).

    Call inside the signing transaction, with ``signed`` locked. Each later flag is locked before it is
    changed; a run being stored right now waits for this transaction and then carries the review itself.
    """
    carried: list[Flag] = []
    current = signed.run
    while signed.cell_fingerprint and (later := next_run(current)) is not None:
        flag = (Flag.objects.select_for_update().filter(run=later, kind=signed.kind, category_id=signed.category_id,
                                                        grade_band=signed.grade_band,
                                                        cycle_scope=signed.cycle_scope).first())
        if (flag is None or flag.cell_fingerprint != signed.cell_fingerprint or flag.reviewed_at is not None
                or flag.carried_review_id is not None):
            break
        flag.carried_review = signed
        flag.save(update_fields=["carried_review"])
        carried.append(flag)
        current = later
    return carried
