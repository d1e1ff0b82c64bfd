"""Whatever the ward typed, each writer renders it (or refuses the case with IcsrError), never an exception from
lxml, pydantic or fpdf2; E2B carries the text back exactly, less the characters XML cannot carry."""

from __future__ import annotations

import dataclasses
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pypdf import PdfReader

from reports.icsr import cioms, e2b, fhir
from reports.icsr.common import clean_text
from tests.reports.icsr.factories import crs_initial

NS = {"hl7": "urn:hl7-org:v3"}
text = st.text(min_size=1, max_size=300)


def _case(narrative: str, verbatim: str, drug: str):
    case = crs_initial()
    return dataclasses.replace(
        case, narrative=narrative,
        reactions=(dataclasses.replace(case.reactions[0], verbatim=verbatim),),
        drugs=(dataclasses.replace(case.drugs[0], name=drug), *case.drugs[1:]))


visible = text.filter(lambda t: clean_text(t).strip())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(narrative=visible, verbatim=text, drug=visible)
def test_e2b_and_fhir_carry_any_text(narrative, verbatim, drug):
    case = _case(narrative, verbatim, drug)
    root = etree.fromstring(e2b.render(case))
    assert root.xpath("string(//hl7:investigationEvent/hl7:text)", namespaces=NS) == clean_text(narrative)
    names = root.xpath("//hl7:kindOfProduct/hl7:name", namespaces=NS)
    assert (names[0].text or "") == clean_text(drug)
    assert fhir.render(case)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(narrative=text, verbatim=text, drug=visible)
def test_cioms_renders_any_text(narrative, verbatim, drug):
    content = cioms.render(_case(narrative, verbatim, drug))
    assert PdfReader(io.BytesIO(content)).pages


def test_a_drug_without_a_name_is_refused():
    import pytest

    from reports.icsr import IcsrError

    with pytest.raises(IcsrError, match="G.k.2.2: a suspect drug has no name"):
        fhir.render(_case("narrative", "CRS", "\x00 "))
