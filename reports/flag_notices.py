"""Telling a site's safety officers that a benchmark run raised a new flag or changed a flag's level (issue 15).

Called by :func:`reports.runs._store` in the transaction that stores the run's flags, through the one
notifications entry point :func:`patients.services.notifications.notify_many` (docs/notifications.md). A flag is
*new* when the site's previous finished run had no flag of the same kind (literature, network, CUSUM) on the same
cell (category, grade band, cycle scope); it *changed level* when that flag had another level (e.g. WATCH →
ALERT). The idempotency key is ``flag:<run id>:<category>:<band>:<scope>`` (``flag:<run id>:<kind>:…`` for network
and CUSUM flags): a run is stored once, and a notice is never written twice for it. Each notice links to the
cell's drill-down (the ward's events behind the number).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from patients.models import NotificationKind
from patients.notification_texts import message
from patients.services.notifications import Notice, notify_many
from reports.cells import CYCLE_SCOPES, GRADE_BAND_LABELS, KIND_LABELS, flag_label, flag_short
from reports.computed_text import category_name
from reports.flag_text import reason_for_reader
from reports.models import BenchmarkRun, Flag

# Notices written before 1 Dec 2026 (the level as its code, "New flag WATCH: …") were rewritten in words by the
# migration reports 0011.


def _previous_levels(run: BenchmarkRun) -> dict[tuple[str, int, str, str], str]:
    previous = (BenchmarkRun.objects.filter(site_id=run.site_id, status=BenchmarkRun.Status.DONE,
                                            finished_at__isnull=False)
                .exclude(pk=run.pk).order_by("-finished_at", "-id").values_list("pk", flat=True).first())
    if previous is None:
        return {}
    return {(kind, category_id, band, scope): level for kind, category_id, band, scope, level in
            Flag.objects.filter(run_id=previous).values_list("kind", "category_id", "grade_band", "cycle_scope",
                                                             "level")}


def _reasons(run: BenchmarkRun) -> Any:
    """A function giving a flag's reason in each interface language, ``{"languages": {code: text}}``: rebuilt from
    the run's results as the report does (``reports.flag_text``: only when the English rebuild is the stored
    message, else the stored English)."""
    reason = reason_for_reader(run.results)

    def in_each_language(flag: Flag) -> dict[str, dict[str, str]]:
        texts = {}
        for code, _ in settings.LANGUAGES:
            with translation.override(code):
                texts[code] = reason(flag)
        texts["en-gb"] = flag.message  # the English is the stored message, whatever the rebuild
        return {"languages": texts}

    return in_each_language


def _category_in(language: str, flag: Flag) -> str:
    """The flag's category in ``language`` (``reports.category_names``: a name that is a CTCAE term stays as
    named), with its kind for a network or CUSUM flag: "Neurotoksyczność (inne oddziały sieci)", and after a
    comma where the kind has its own brackets: "Neurotoksyczność, w czasie (CUSUM)"."""
    with translation.override(language):
        name = category_name(flag.category.name)
        if flag.kind == Flag.Kind.LITERATURE:
            return name
        kind = gettext(KIND_LABELS[flag.kind])
        return f"{name}, {kind}" if "(" in kind else f"{name} ({kind})"


def flag_changes_notify(*, run: BenchmarkRun, flags: list[Flag]) -> int:
    """Notify the safety officers and administrators of ``run.site`` of each flag of ``run`` that is new or
    changed level since the site's previous finished run (2 queries to compare, plus ``notify_many``'s constant
    few). ``flags``: the run's flags with ``category`` loaded. Returns the number of notices written."""
    before = _previous_levels(run)
    reason = _reasons(run)
    notices = []
    for flag in flags:
        cell = (flag.kind, flag.category_id, flag.grade_band, flag.cycle_scope)
        was = before.get(cell)
        if was == flag.level:
            continue
        kind = NotificationKind.NEW_FLAG if was is None else NotificationKind.FLAG_LEVEL
        with translation.override("en-gb"):  # level and direction as the report names them in English
            level_label, direction = flag_label(flag.level, flag.kind), str(flag.get_direction_display())
        category = {"languages": {code: _category_in(code, flag) for code, _ in settings.LANGUAGES}}
        text = message(
            gettext_noop("[pvtrack] New flag (%(level)s): %(category)s, %(band)s, %(scope)s") if was is None else
            gettext_noop("[pvtrack] Flag %(was)s → %(level)s: %(category)s, %(band)s, %(scope)s"),
            [gettext_noop("Benchmark run %(run)s of %(site)s (%(finished)s): a new flag.") if was is None else
             gettext_noop("Benchmark run %(run)s of %(site)s (%(finished)s): the flag changed level from %(was)s to "
                          "%(level)s."),
             gettext_noop("%(level_label)s; %(direction)s; one-sided p = %(p)s.") if flag.p_value is not None
             else gettext_noop("%(level_label)s; %(direction)s."),  # a CUSUM signal has no p-value
             "%(reason)s",
             gettext_noop("A safety officer reviews and signs each flag on the benchmark report.")],
            level={"text": flag_short(flag.level)}, was={"text": flag_short(was)} if was else "", category=category,
            band={"text": GRADE_BAND_LABELS.get(flag.grade_band, flag.grade_band)},
            scope={"text": CYCLE_SCOPES.get(flag.cycle_scope, flag.cycle_scope)}, run=run.pk, site=run.site.name,
            finished=run.finished_at, level_label=level_label, direction=direction,
            p="" if flag.p_value is None else f"{flag.p_value:.4g}",
            reason=reason(flag))  # the flag's reason in each language (English: as stored)
        notices.append(Notice(
            site=run.site, kind=kind, subject="", body="", message=text,
            link=reverse("drilldown", args=[run.site.slug, flag.category.slug, flag.grade_band, flag.cycle_scope]),
            key=f"flag:{run.pk}:" + ("" if flag.kind == Flag.Kind.LITERATURE else f"{flag.kind}:")
            + f"{flag.category.slug}:{flag.grade_band}:{flag.cycle_scope}"))
    return notify_many(notices)
