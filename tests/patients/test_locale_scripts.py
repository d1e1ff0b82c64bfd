"""The texts the pages' scripts write, in the reader's language (issue 15, item 4): static/*.js call ``gettext`` and
``interpolate`` from Django's JavaScriptCatalog (``/jsi18n/``, the "djangojs" domain), which base.html loads before
the app scripts. The Polish catalogue is complete, current with the scripts and compiled; the catalogue is served to
anonymous and not-yet-verified sessions too, as a same-origin script the Content Security Policy allows. The browser
side (a Polish nurse sees the AE form's notes in Polish) is in tests/test_browser_language.py."""

from __future__ import annotations

import gettext as gnu_gettext
import re
from pathlib import Path

from django.test import Client

from patients.models import UserProfile
from tests.patients.conftest import logged_in
from tests.patients.test_locale_pages import _po_entries

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale/pl/LC_MESSAGES/djangojs.po"
MO = ROOT / "locale/pl/LC_MESSAGES/djangojs.mo"

# gettext("...") or gettext("..." + "..."): the literals the scripts mark, joined as xgettext joins them.
_LITERAL = r'"(?:[^"\\]|\\.)*"'
# ngettext("...", "...", n): its first literal is the entry's msgid (the plural is msgid_plural).
_CALL = re.compile(r'\bn?gettext\(\s*(' + _LITERAL + r'(?:\s*\+\s*' + _LITERAL + r')*)\s*[,)]')


def _marked_in_scripts() -> set[str]:
    found = set()
    for script in (ROOT / "static").glob("*.js"):
        for match in _CALL.finditer(script.read_text(encoding="utf-8")):
            found.add("".join(s[1:-1].replace('\\"', '"') for s in re.findall(_LITERAL, match.group(1))))
    return found


def _unescaped(catalogue: str) -> str:
    """The catalogue's JSON escapes ("stopie\\u0144") read back."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), catalogue)


def _entries() -> list[dict]:
    return _po_entries(PO.read_text(encoding="utf-8"))


def test_the_scripts_catalogue_is_complete_with_no_empty_fuzzy_or_obsolete_entry():
    entries = _entries()
    assert len(entries) >= 20
    assert [e["msgid"] for e in entries if "fuzzy" in e["flags"]] == []
    assert [e["msgid"] for e in entries if not e["msgstr"] or "" in e["msgstr"]] == []
    assert [e["msgid"] for e in entries if e["obsolete"]] == []


def test_every_text_the_scripts_mark_is_in_the_catalogue_and_nothing_else():
    marked = _marked_in_scripts()
    assert "Note: %(note)s" in marked and len(marked) >= 20  # the reader finds concatenated literals too
    po_ids = {str(e["msgid"]).replace('\\"', '"') for e in _entries()}
    assert marked - po_ids == set(), "run makemessages -d djangojs (docs/usability.md)"
    assert po_ids - marked == set()


def test_each_translation_keeps_the_named_placeholders_of_its_english():
    """No python-format flag is set for JavaScript, so msgfmt --check does not compare the placeholders: a lost or
    misspelt %(name)s would show "undefined" in the page."""
    for entry in _entries():
        wanted = sorted(re.findall(r"%\((\w+)\)s", str(entry["msgid"])))
        for translated in entry["msgstr"]:
            assert sorted(re.findall(r"%\((\w+)\)s", translated)) == wanted, entry["msgid"]


def test_the_compiled_scripts_catalogue_is_committed_and_current():
    catalogue = gnu_gettext.GNUTranslations(MO.open("rb"))
    for entry in _entries():
        msgid = str(entry["msgid"]).replace('\\"', '"')
        assert catalogue.gettext(msgid) == entry["msgstr"][0].replace('\\"', '"'), msgid


def test_the_catalogue_follows_the_readers_language(polish_ward, nurse, db):
    polish = logged_in(nurse).get("/jsi18n/")
    assert polish.status_code == 200 and polish["Content-Type"].startswith("text/javascript")
    text = _unescaped(polish.content.decode())
    assert "wybierz stopień ponownie" in text and "zostanie zapisane jako" in text
    UserProfile.objects.update_or_create(user=nurse, defaults={"language": "en-gb"})
    english = _unescaped(logged_in(nurse).get("/jsi18n/").content.decode())
    assert "wybierz stopień ponownie" not in english and "django.gettext" in english


def test_the_catalogue_is_open_to_the_login_page_and_to_a_session_not_yet_verified(settings, polish_ward, officer):
    anonymous = Client().get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="pl")
    assert anonymous.status_code == 200 and "Tabela" in anonymous.content.decode()
    settings.PVTRACK_TWO_FACTOR_ROLES = ["safety_officer", "administrator"]  # the production default
    unverified = logged_in(officer)
    assert unverified.get(f"/sites/{polish_ward.slug}/patients/").status_code == 302  # sent to enrol first
    assert unverified.get("/jsi18n/").status_code == 200


def test_every_page_loads_the_catalogue_first_as_a_same_origin_script(polish_ward, nurse, cycle):
    response = logged_in(nurse).get(f"/patients/{cycle.patient_id}/events/new/")
    page = response.content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', page)
    # first but forms.js (no texts of its own, and the error summary takes the focus without waiting for it)
    assert [s.rsplit("/", 1)[-1] for s in scripts] == ["forms.js", "", "layout.js", "char_count.js",
                                                       "session_timeout.js", "term_picker.js", "ae_form.js"]
    assert re.search(r'<script src="/jsi18n/" defer>', page)  # deferred: runs before the deferred app scripts
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "<script src=\"/jsi18n/\"" in Client().get("/login/").content.decode()
