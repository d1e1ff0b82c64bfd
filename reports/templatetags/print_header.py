"""The benchmark run named in the printed header of pages that are not the report (patient, timeline, AE page)."""

from __future__ import annotations

from django import template
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from patients.models import Site
from reports.models import BenchmarkRun

register = template.Library()


@register.simple_tag
def latest_run_line(site: Site | None) -> str:
    """"benchmark run 12, finished 03 Aug 2025 14:30" for the site's latest finished run (one query), or
    "no benchmark run yet"; "" without a site."""
    if site is None or site.pk is None:
        return ""
    run = (BenchmarkRun.objects.filter(site=site, status=BenchmarkRun.Status.DONE)
           .order_by("-finished_at", "-id").only("pk", "finished_at").first())
    if run is None:
        return _("no benchmark run yet")
    return _("latest benchmark run %(pk)s, finished %(finished)s") % {
        "pk": run.pk, "finished": date_format(localtime(run.finished_at), "d M Y H:i")}
