"""Groups of checkboxes on the ward forms (CRS and ICANS assessments, lab values) are fieldsets named by a legend.

Found in a browser walk (1 Dec 2026): a multiple-choice field ("Antipyretic or anticytokine therapy given",
"Vasopressors", "Findings attributable to another cause", "Clinical criteria") was drawn as its checkboxes followed
by `<label for="">` with the group's name: the name came after the options, read as the label of the next field,
and named nothing for a screen reader; its help text was tied to no input. WCAG 2.2 1.3.1 (info and
relationships): a group of controls is a fieldset whose legend names it (the radio groups already were).
"""

from __future__ import annotations

import pytest
from lxml import html

from tests.ae.test_assessment_views import crs_post

pytestmark = pytest.mark.django_db

GROUPS = {  # form page -> the multiple-choice fields it is known to have (the test checks every one it has)
    "crs": {"fever_masking_therapies", "vasopressors", "other_cause_findings"},
    "icans": {"other_cause_domains"},
    "labs": {"clinical_criteria"},
}


def _multiple_choice(form) -> set[str]:
    return {name for name, field in form.fields.items() if getattr(field.widget, "allow_multiple_selected", False)}


def _groups_are_fieldsets(doc, form) -> None:
    assert not doc.xpath("//main//label[@for='']"), "a label naming nothing"
    for name in _multiple_choice(form):
        field = form[name]
        container = doc.get_element_by_id(f"field-{name}")
        fieldsets = container.xpath("./fieldset")
        assert len(fieldsets) == 1, name
        fieldset = fieldsets[0]
        legend = fieldset.xpath("./legend")
        assert legend and legend[0].text_content().strip() == str(field.label)
        # the legend comes before every option of the group
        assert fieldset.index(legend[0]) == 0
        boxes = fieldset.xpath(".//input[@type='checkbox']")
        assert len(boxes) == len(field.field.choices) > 0
        assert f"id_{name}_helptext" in fieldset.get("aria-describedby", "").split()
        assert doc.get_element_by_id(f"id_{name}_helptext") is not None


@pytest.mark.parametrize("kind", sorted(GROUPS))
def test_each_checkbox_group_is_a_fieldset_with_its_name_first(nurse_client, patient, cycle, kind):
    response = nurse_client.get(f"/patients/{patient.pk}/{kind}/new/")
    assert response.status_code == 200
    assert _multiple_choice(response.context["form"]) == GROUPS[kind]
    _groups_are_fieldsets(html.fromstring(response.content.decode()), response.context["form"])


def test_an_error_on_a_checkbox_group_is_linked_to_its_first_box_and_tied_to_the_group(nurse_client, patient, cycle):
    # A vasopressor the list does not have (a hand-made post): the error belongs to the group.
    response = nurse_client.post(f"/patients/{patient.pk}/crs/new/",
                                 crs_post(cycle, 6, temperature_c="38.5", vasopressors=["no-such-agent"]))
    assert response.status_code == 200
    assert "vasopressors" in response.context["form"].errors
    doc = html.fromstring(response.content.decode())
    links = [a.get("href") for a in doc.xpath("//div[@id='error-summary']//a")]
    assert "#id_vasopressors_0" in links
    assert doc.get_element_by_id("id_vasopressors_0").get("type") == "checkbox"
    fieldset = doc.get_element_by_id("field-vasopressors").xpath("./fieldset")[0]
    assert fieldset.get("aria-invalid") == "true"
    assert "id_vasopressors_error" in fieldset.get("aria-describedby").split()
    _groups_are_fieldsets(doc, response.context["form"])
