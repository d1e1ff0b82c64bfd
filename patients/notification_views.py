"""The notifications pages: the user's list (mark one or all read, open one) and the e-mail preferences.

Every query goes through :func:`patients.selectors.notifications_for`: a user sees only their own notifications of
the sites they hold a role on; another user's notification answers 404 like a missing one.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.types import AuthenticatedRequest
from patients.models import NotificationKind
from patients.notification_texts import render as render_message
from patients.selectors import notifications_for
from patients.services.notifications import email_kinds_for, email_preferences_set, notifications_mark_read

#: At most this many notifications are listed (unread first); the count says how many there are.
LIST_LIMIT = 200


@login_required
def notification_list(request: AuthenticatedRequest) -> HttpResponse:
    """GET: the user's notifications, unread first. POST ``notification=<id>`` marks that one read, an empty POST
    marks all read."""
    notifications = notifications_for(request.user)
    if request.method == "POST":
        chosen = notifications.filter(read_at__isnull=True)
        if request.POST.get("notification"):
            value = request.POST["notification"]
            chosen = chosen.filter(pk=value) if value.isdigit() else chosen.none()
        marked = notifications_mark_read(notifications=chosen)
        messages.success(request, _("%(n)d notification(s) marked as read.") % {"n": marked})
        return redirect("notifications")
    listed = list(notifications[:LIST_LIMIT])
    for n in listed:  # in the reader's language when the notice has its message (else as written, in English)
        n.subject = render_message(n.message, subject=n.subject, body=n.body)[0]
    return render(request, "notifications/list.html", {
        "notifications": listed, "more": len(listed) == LIST_LIMIT, "limit": LIST_LIMIT})


@login_required
def notification_open(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Open a notification: mark it read and go to the thing it is about (its ``link``, a path of this site)."""
    notification = get_object_or_404(notifications_for(request.user), pk=pk)
    notifications_mark_read(notifications=notifications_for(request.user).filter(pk=pk))
    if not url_has_allowed_host_and_scheme(notification.link, allowed_hosts={request.get_host()}):
        return redirect("notifications")  # the database refuses such links; never an open redirect
    return redirect(notification.link)


class EmailPreferencesForm(forms.Form):
    email_kinds = forms.MultipleChoiceField(
        label=gettext_lazy("Also send me an e-mail for"), choices=NotificationKind.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Every notification is listed here; the kinds ticked are also e-mailed to you."))


@login_required
def notification_preferences(request: AuthenticatedRequest) -> HttpResponse:
    """The user's choice of the notification kinds also sent by e-mail (stored per user and kind)."""
    form = EmailPreferencesForm(request.POST or None, initial={"email_kinds": sorted(email_kinds_for(request.user.pk))})
    if request.method == "POST" and form.is_valid():
        email_preferences_set(user_id=request.user.pk, email_kinds=form.cleaned_data["email_kinds"])
        messages.success(request, _("Your e-mail choices are saved."))
        return redirect("notification-preferences")
    return render(request, "notifications/preferences.html", {"form": form, "email": request.user.email})
