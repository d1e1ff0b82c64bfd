"""The user's profile page: the interface language (issue 15, item 4); links to the notification e-mails and
two-factor pages."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from core.types import AuthenticatedRequest
from patients.locale import locale_remember
from patients.models import UserProfile


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=gettext_lazy("Language of the pages"), required=False,
        choices=[("", gettext_lazy("The site's default"))] + list(settings.LANGUAGES),
        help_text=gettext_lazy("CTCAE terms and grade definitions stay in NCI's English, as NCI publishes them."))


@login_required
def profile(request: AuthenticatedRequest) -> HttpResponse:
    """GET: the user's language choice; POST: store it (blank = the site's default) and apply it at once."""
    current = UserProfile.objects.filter(user=request.user).values_list("language", flat=True).first() or ""
    form = LanguageForm(request.POST or None, initial={"language": current})
    if request.method == "POST" and form.is_valid():
        UserProfile.objects.update_or_create(user=request.user, defaults={"language": form.cleaned_data["language"]})
        language, _zone = locale_remember(request, request.user)
        translation.activate(language)
        messages.success(request, _("Your language is saved."))
        return redirect("profile")
    return render(request, "patients/profile.html", {"form": form})


@never_cache
def session_keepalive(request: HttpRequest) -> HttpResponse:
    """``GET /account/session/``: keep the logged-in user's session going (each request restarts its
    ``SESSION_COOKIE_AGE`` idle time: ``SESSION_SAVE_EVERY_REQUEST``). 204 No Content; 401 when the session has ended
    (no redirect to the login page: the caller is static/session_timeout.js, which then says so). Not cached."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    return HttpResponse(status=204)
