"""What a form's inputs show and read back.

Dates: ``<input type="date">`` reads only ISO dates, so every date input writes them so (an edit form came back with
empty dates). Decimals (found in Chromium, 1 Dec 2026): the forms' number inputs were ``<input type="number">``,
where Chromium drops a typed comma — a Polish nurse's potassium "3,2" was sent as 32 and a creatinine "0,5" as 5, a
plausible and wrong value. The forms now take decimals as text: in Polish "3,2" or "3.2", in English "3.2"; an
English "1,500" (1500 or 1.5?) is refused with a message, never guessed."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from ae.models import LabResult
from core.decimals import TypedDecimalError, decimal_for_input, typed_decimal
from core.forms import DecimalTextField, DecimalTextInput
from patients.models import TreatmentCycle
from tests.conftest import make_cycle
from tests.patients.conftest import logged_in, polish_ward  # noqa: F401 (fixture)


@pytest.mark.parametrize(("typed", "separator", "read"), [
    ("3,2", ",", "3.2"), ("3.2", ",", "3.2"), (" 0,5 ", ",", "0.5"), (",5", ",", ".5"), ("-1,25", ",", "-1.25"),
    ("3.2", ".", "3.2"), ("150000", ".", "150000"), ("7", ".", "7"), ("0,125", ",", "0.125")])
def test_a_typed_number_is_read_in_the_readers_convention(typed, separator, read):
    assert typed_decimal(typed, separator) == read


@pytest.mark.parametrize(("typed", "separator", "comma"), [
    ("3,2", ".", True), ("150,000", ".", True), ("1,500", ".", True),
    ("1 500", ",", False), ("1.500,5", ",", False), ("3.2.1", ".", False), ("3,2,1", ",", False),
    ("12 mmol/L", ".", False), ("abc", ",", False), ("1e3", ".", False), ("1'500", ".", False)])
def test_anything_else_is_refused_and_a_comma_in_english_is_named(typed, separator, comma):
    with pytest.raises(TypedDecimalError) as refused:
        typed_decimal(typed, separator)
    assert refused.value.comma is comma


def test_a_recorded_value_is_written_back_without_padding_or_grouping():
    assert decimal_for_input(Decimal("3.5000"), ",") == "3,5"
    assert decimal_for_input(Decimal("150000.0000"), ".") == "150000"
    assert decimal_for_input(Decimal("20.00"), ",") == "20"
    assert decimal_for_input(0.015, ".") == "0.015"


def test_the_field_reads_polish_refuses_an_english_comma_and_keeps_its_limits():
    field = DecimalTextField(max_digits=3, decimal_places=1, min_value=30, max_value=45)
    with translation.override("pl"):
        assert field.clean("38,6") == Decimal("38.6")
        assert field.clean("38.6") == Decimal("38.6")
        assert DecimalTextInput().format_value(Decimal("38.6")) == "38,6"
    with translation.override("en-gb"):
        with pytest.raises(Exception, match="decimal with a point"):
            field.clean("38,6")
        with pytest.raises(Exception, match="Enter a number such as 3.2"):
            field.clean("38 6")
        with pytest.raises(Exception, match="less than or equal to 45"):
            field.clean("386")
    assert 'inputmode="decimal"' in DecimalTextInput().render("t", None) and 'type="text"' in DecimalTextInput().render(
        "t", None)


@pytest.mark.django_db
def test_a_polish_nurse_saves_a_potassium_of_3_2_written_with_a_comma(polish_ward, nurse, patient, cycle):  # noqa: F811
    client = logged_in(nurse)
    form = client.get(f"/patients/{patient.pk}/labs/new/").content.decode()
    assert 'name="value"' in form and 'type="number"' not in form.split('name="value"')[0][-200:]
    response = client.post(f"/patients/{patient.pk}/labs/new/", {
        "analyte": "potassium", "value": "3,2", "unit": "mmol/L", "lln": "3,5", "uln": "5,1",
        "collected_at": "2026-01-08T07:00", "cycle": ""})
    assert response.status_code == 302, response.context["form"].errors
    result = LabResult.objects.get()
    assert (result.value, result.lln, result.uln, result.grade) == (Decimal("3.2"), Decimal("3.5"), Decimal("5.1"), 1)


@pytest.mark.django_db
def test_an_english_reader_is_told_how_to_write_it_and_nothing_is_saved(nurse, patient, cycle):
    response = logged_in(nurse).post(f"/patients/{patient.pk}/labs/new/", {
        "analyte": "platelets", "value": "150,000", "unit": "/mm3", "lln": "", "uln": "",
        "collected_at": "2026-01-08T07:00", "cycle": ""})
    assert response.status_code == 200
    assert "Write the decimal with a point" in " ".join(response.context["form"].errors["value"])
    assert 'value="150,000"' in response.content.decode()  # what was typed stays in the field
    assert not LabResult.objects.exists()


@pytest.mark.django_db
def test_the_cycle_form_shows_and_reads_polish_decimals(polish_ward, nurse, patient):  # noqa: F811
    cycle = make_cycle(patient, weight_kg=Decimal("20.50"), marrow_blasts_pct=Decimal("7.40"))
    client = logged_in(nurse)
    url = f"/patients/{patient.pk}/cycles/{cycle.pk}/edit/"
    page = client.get(url).content.decode()
    assert 'value="20,5"' in page and 'value="7,4"' in page
    form = client.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items() if not isinstance(v, list)}
    data |= {"weight_kg": "21,25", "reason": "weighed again", "start_date": cycle.start_date.isoformat(),
             "end_date": (cycle.start_date + datetime.timedelta(days=27)).isoformat()}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    assert TreatmentCycle.objects.get(pk=cycle.pk).weight_kg == Decimal("21.25")


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["pl", "en-gb"])
def test_the_cycle_edit_form_shows_its_dates_as_a_date_input_reads_them(ward, nurse, patient, language):
    """Found editing a cycle in the Polish ward: the start and end dates were written "26.02.2023" ("26/02/2023" in
    English), which ``<input type="date">`` drops, so the form came back with empty dates and Save was refused until
    the nurse typed them again. Every date input of the forms now writes ISO dates."""
    ward.language = language
    ward.save()
    cycle = make_cycle(patient, start=datetime.date(2026, 1, 5), end_date=datetime.date(2026, 2, 1))
    page = logged_in(nurse).get(f"/patients/{patient.pk}/cycles/{cycle.pk}/edit/").content.decode()
    assert 'name="start_date" value="2026-01-05"' in page and 'name="end_date" value="2026-02-01"' in page


def test_every_date_input_of_the_forms_writes_iso_dates():
    from django import forms

    from ae import forms as ae_forms
    from ae import treatment_views
    from patients import forms as patient_forms

    wrong = []
    for module in (ae_forms, patient_forms, treatment_views):
        for name, form in vars(module).items():
            if isinstance(form, type) and issubclass(form, forms.BaseForm):
                for field_name, field in form.base_fields.items():
                    widget = field.widget
                    if isinstance(widget, forms.DateInput) and widget.input_type == "date" \
                            and widget.format != "%Y-%m-%d":
                        wrong.append(f"{name}.{field_name}")
    assert wrong == []
