"""The site reference ranges page ``/sites/<site>/reference-ranges/`` (issue 10 item 10).

Every member of the site reads the laboratory's ranges (current and past versions, with their source and validity);
only an administrator of the site records a new version (:func:`ae.services.reference_ranges.reference_range_record`,
which closes the version it replaces and is audited). Another site's slug answers 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from ae import selectors
from ae.forms import ReferenceRangeForm
from ae.services.reference_ranges import reference_range_record
from core.forms import add_service_errors
from core.types import AuthenticatedRequest
from patients import access
from patients.models import Membership


@login_required
def reference_ranges(request: AuthenticatedRequest, site: str) -> HttpResponse:
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    can_edit = access.role_on(request.user, site_obj) == Membership.Role.ADMINISTRATOR
    form = ReferenceRangeForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        if form is None:
            messages.error(request, _("Only an administrator of this site records reference ranges."))
            return redirect("reference-ranges", site=site_obj.slug)
        if form.is_valid():
            try:
                saved = reference_range_record(site=site_obj, data=form.cleaned_data, acting_user=request.user)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Reference range recorded: %(range)s.") % {"range": saved})
                return redirect("reference-ranges", site=site_obj.slug)
    ranges = (selectors.reference_ranges_for(request.user).filter(site=site_obj).select_related("created_by")
              .order_by("analyte", "sex", "age_from_months", "-valid_from"))
    return render(request, "ae/reference_ranges.html",
                  {"site": site_obj, "ranges": ranges, "form": form, "can_edit": can_edit})
