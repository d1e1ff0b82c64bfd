"""A service's refusal keyed by a field the form does not show is shown on the form, never a 500.

Django's ``form.add_error(None, exc)`` raises ValueError for a key the form lacks; the views used it for every
service refusal (``core.forms.add_service_errors`` now).
"""

from __future__ import annotations

from unittest import mock

import pytest
from django import forms
from django.core.exceptions import ValidationError

from ae.models import AdverseEvent
from core.forms import add_service_errors
from tests.conftest import event_form_data, make_event

pytestmark = pytest.mark.django_db


class _EventForm(forms.ModelForm):
    class Meta:
        model = AdverseEvent
        fields = ["grade", "onset_date"]


def test_each_message_goes_next_to_its_field_or_to_the_top_with_the_field_named():
    form = _EventForm(data={})
    form.is_valid()
    form._errors = {}
    add_service_errors(form, ValidationError({"grade": ["Grade 5 needs Fatal."],
                                              "cycle": ["The cycle belongs to another patient."],
                                              "__all__": ["Refused."]}))
    assert form.errors["grade"] == ["Grade 5 needs Fatal."]
    assert form.non_field_errors() == ["Cycle: The cycle belongs to another patient.", "Refused."]


def test_a_message_without_a_field_goes_to_the_top():
    form = _EventForm(data={})
    form.is_valid()
    form._errors = {}
    add_service_errors(form, ValidationError("Refused."))
    assert form.non_field_errors() == ["Refused."]


def test_the_edit_page_shows_a_refusal_for_a_field_it_does_not_show(nurse_client, cycle, nurse):
    event = make_event(cycle, "Cytokine release syndrome", grade=2, user=nurse)
    refusal = ValidationError({"patient": ["This patient left the ward's care."]})
    with mock.patch("ae.views.adverse_event_update", side_effect=refusal):
        response = nurse_client.post(f"/events/{event.pk}/edit/",
                                     event_form_data(cycle, version=1, reason="Reassessed", grade=3))
    assert response.status_code == 200
    assert "This patient left the ward" in response.content.decode()
