"""The forms of the import pages (ae/import_views.py, docs/import.md): the upload, the mapping as text, the sample
file whose columns the mapping page reads, and the column picker built from them.

Both mapping forms give the same four parts of an ``ImportMapping`` — ``columns`` {source column: template column},
``constants`` {template column: value}, ``row_filter`` {source column: value}, ``values`` {template column: {code:
value}} — which the view saves with ``ae.services.imports.import_mapping_save`` (one service, one validation).
"""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ae.import_columns import MAX_SAMPLE_COLUMNS, SampleColumn
from ae.models import ImportMapping
from ae.services.imports import COLUMNS, REQUIRED
from patients.models import Site

#: Largest upload accepted by the pages (larger files: ``manage.py import_aes``, which streams from disk).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Template columns the picker offers "one value for every row" for: what can describe a whole file (a file per
#: cycle, one grading scale, events not present before the cycle). Constants for the other columns stay possible in
#: the text form, and a saved one is shown in the picker.
CONSTANT_COLUMNS = ("cycle", "grading_scale", "present_before_cycle")
#: What each template column holds (the table of docs/import.md, shortened).
COLUMN_HELP: dict[str, Any] = {  # lazy translations
    "study_id": _("The patient's pseudonymous study ID on this ward."),
    "cycle": _("The cycle number."),
    "ctcae_term": _("A CTCAE v5.0 term or a ward synonym."),
    "grade": _("1–5, a grade the term has."),
    "onset_date": _("YYYY-MM-DD."),
    "resolution_date": _("YYYY-MM-DD; empty while not resolved."),
    "verbatim_term": _("The words reported."),
    "grading_scale": _("ctcae_v5_0 (default), ctcae_v4_03, astct_2019 or lee_2014."),
    "serious_criteria": "death; life_threatening; hospitalization; disability; congenital_anomaly; "
                        "medically_important.",
    "relatedness": _("not_related, unlikely, possible, probable, definite (codes: see Coded values)."),
    "action_taken": _("The CDISC ACN term, e.g. DOSE NOT CHANGED."),
    "outcome": _("The CDISC OUT term, e.g. RECOVERED/RESOLVED."),
    "present_before_cycle": _("yes/no (default no)."),
    "grade_at_cycle_start": _("1–5, when present before the cycle."),
}
NOT_IN_FILE = _("— not in this file —")
ONE_VALUE = _("— one value for every row (below) —")
PICK_CONSTANT = "const"
PICK_COLUMN = "col:"


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=_("File"), help_text=_("CSV (UTF-8) or CDISC ODM 1.3 XML."))
    file_source = forms.ChoiceField(label=_("Source"), choices=ImportMapping.Source.choices,
                                    initial=ImportMapping.Source.CSV)
    mapping = forms.ModelChoiceField(queryset=ImportMapping.objects.none(), required=False, to_field_name="name",
                                     label=_("Mapping"), empty_label=_("none (the file uses pvtrack's template)"))

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mapping"].queryset = ImportMapping.objects.filter(site=site).order_by("name")  # type: ignore[attr-defined]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(gettext("The file is larger than %(mb)s MB: import it with manage.py import_aes.")
                                  % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)})
        return upload


class SampleFileForm(ImportUploadForm):
    """A sample of the source (the mapping page's first step, or passed on by the upload page's "Map this file's
    columns"): the same fields as the upload, so the upload form can send itself here. ``mapping``: the saved
    mapping to edit (empty: a new one)."""

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, site=site, **kwargs)
        self.fields["file"].label = _("Sample file")
        self.fields["file"].help_text = _("A file of the source (CSV, REDCap CSV or ODM 1.3 XML): only its header "
                                          "or item OIDs are read.")
        self.fields["mapping"].label = _("Mapping to edit")
        self.fields["mapping"].empty_label = _("a new mapping")  # type: ignore[attr-defined]


def pairs(text: str, field: str) -> dict[str, str]:
    """``left = right`` per line → {left: right}; raises ValidationError naming the line."""
    out = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        left, sep, right = line.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise ValidationError(gettext("line %(number)s: write 'source column = template column'.")
                                  % {"number": number}, code=field)
        out[left.strip()] = right.strip()
    return out


def coded_values(text: str) -> dict[str, dict[str, str]]:
    """The JSON of coded values ({template column: {code: value}}); raises ValidationError saying what is wrong."""
    text = text.strip()
    try:
        values = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        raise ValidationError(gettext("not JSON: %(error)s (line %(line)s)") % {"error": exc.msg, "line": exc.lineno}
                              ) from exc
    if not (isinstance(values, dict) and all(isinstance(v, dict) for v in values.values())):
        raise ValidationError(gettext('write {"template column": {"code": "value", …}, …}'))
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in values.items()}


_VALUES_HELP = _('Coded values as JSON, per template column: {"relatedness": {"1": "not_related", "3": "possible"}}.')
_FILTER_HELP = _("Only rows with these values, one per line: source column = value "
                 "(e.g. redcap_repeat_instrument = adverse_events).")


class ImportMappingForm(forms.Form):
    """The mapping as text (for a source without a sample file at hand, and everything the picker cannot show)."""

    name = forms.CharField(label=_("Name"), max_length=100)
    source = forms.ChoiceField(label=_("Source"), choices=ImportMapping.Source.choices)
    columns = forms.CharField(label=_("Columns"), widget=forms.Textarea(attrs={"rows": 8}), required=False,
                              help_text=format_lazy(_("One per line: source column = template column ({columns})."),
                                                    columns=", ".join(COLUMNS)))
    constants = forms.CharField(label=_("Constants"), widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                help_text=_("Template columns the source lacks, one per line: column = value "
                                            "(e.g. cycle = 1)."))
    row_filter = forms.CharField(label=_("Row filter"), widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                 help_text=_FILTER_HELP)
    values = forms.CharField(label=_("Coded values"), widget=forms.Textarea(attrs={"rows": 4}), required=False,
                             help_text=_VALUES_HELP)

    def clean_columns(self) -> dict[str, str]:
        return pairs(self.cleaned_data["columns"], "columns")

    def clean_constants(self) -> dict[str, str]:
        return pairs(self.cleaned_data["constants"], "constants")

    def clean_row_filter(self) -> dict[str, str]:
        return pairs(self.cleaned_data["row_filter"], "row_filter")

    def clean_values(self) -> dict[str, dict[str, str]]:
        return coded_values(self.cleaned_data["values"])

    def mapping(self) -> dict[str, Any]:
        """The parts of the ImportMapping (after is_valid())."""
        return {k: self.cleaned_data[k] for k in ("columns", "constants", "row_filter", "values")}


def options_json(options: list[tuple[SampleColumn, bool]]) -> str:
    """The picker's options (sample columns, and saved source columns the sample lacks: ``in_file`` False) as the
    hidden field that carries them from one step to the next (the server keeps nothing between steps)."""
    return json.dumps([[c.name, c.label, in_file] for c, in_file in options])


def parse_options(text: str) -> list[tuple[SampleColumn, bool]]:
    """The hidden field back; raises ValidationError when it is not what :func:`options_json` wrote."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(gettext("the sample file's columns were lost: read the file again")) from exc
    if not (isinstance(raw, list) and len(raw) <= 2 * MAX_SAMPLE_COLUMNS and all(
            isinstance(r, list) and len(r) == 3 and isinstance(r[0], str) and isinstance(r[1], str)  # noqa: PLR2004
            and isinstance(r[2], bool) and 0 < len(r[0]) <= 500 and len(r[1]) <= 500 for r in raw)):  # noqa: PLR2004
        raise ValidationError(gettext("the sample file's columns were lost: read the file again"))
    return [(SampleColumn(name, label), in_file) for name, label, in_file in raw]


class ColumnPickerForm(forms.Form):
    """One <select> per template column, of the sample's columns (``options``), "— not in this file —" and, for
    :data:`CONSTANT_COLUMNS` (and ``constant_columns``, those with a saved constant), one value for every row.

    Errors, next to their field: a required template column with nothing picked; "one value for every row" with no
    value, or a value typed while a column is picked; one source column picked for two template columns; a column
    of the file named as a template column but left out (the import reads a column of the template's name as that
    column unless it is mapped to another). ``mapping()`` gives the same parts as :class:`ImportMappingForm`.
    """

    name = forms.CharField(label=_("Name"), max_length=100,
                           help_text=_("Saving under an existing name replaces that mapping."))
    source = forms.ChoiceField(label=_("Source"), choices=ImportMapping.Source.choices)
    options = forms.CharField(widget=forms.HiddenInput)
    sample_file = forms.CharField(widget=forms.HiddenInput, required=False, max_length=255)

    def __init__(self, *args: Any, options: list[tuple[SampleColumn, bool]],
                 constant_columns: AbstractSet[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sample = options
        self.in_file = {c.name for c, in_file in options if in_file}
        columns = [(f"{PICK_COLUMN}{c.name}", c.name + (f" ({c.label})" if c.label else "")
                    + ("" if in_file else gettext(" (saved; not in this file)"))) for c, in_file in options]
        self.constant_columns = [c for c in COLUMNS if c in CONSTANT_COLUMNS or c in constant_columns]
        for column in COLUMNS:
            choices: list[tuple[str, Any]] = [("", NOT_IN_FILE)] + (
                [(PICK_CONSTANT, ONE_VALUE)] if column in self.constant_columns else [])
            self.fields[f"pick_{column}"] = forms.ChoiceField(
                label=column, choices=choices + columns, required=column in REQUIRED, help_text=COLUMN_HELP[column],
                error_messages={"required": gettext("Required: pick the file's column that holds it, or one value "
                                                    "for every row.") if column in self.constant_columns
                                else gettext("Required: pick the file's column that holds it.")})
            if column in self.constant_columns:
                self.fields[f"constant_{column}"] = forms.CharField(
                    label=gettext("%(column)s: the value for every row") % {"column": column}, required=False,
                    max_length=200, help_text=gettext("Used when “one value for every row” is picked above."))
        self.fields["row_filter"] = forms.CharField(label=_("Row filter"), widget=forms.Textarea(attrs={"rows": 2}),
                                                    required=False, help_text=_FILTER_HELP)
        self.fields["values"] = forms.CharField(label=_("Coded values"), widget=forms.Textarea(attrs={"rows": 4}),
                                                required=False, help_text=_VALUES_HELP)

    def clean_row_filter(self) -> dict[str, str]:
        return pairs(self.cleaned_data["row_filter"], "row_filter")

    def clean_values(self) -> dict[str, dict[str, str]]:
        return coded_values(self.cleaned_data["values"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        picked: dict[str, str] = {}  # source column → template column
        constants: dict[str, str] = {}
        for column in COLUMNS:
            pick = data.get(f"pick_{column}")
            if pick is None:  # already an error
                continue
            value = (data.get(f"constant_{column}") or "").strip()
            if pick == PICK_CONSTANT:
                if value:
                    constants[column] = value
                else:
                    self.add_error(f"constant_{column}",
                                   gettext("Write the value for every row, or pick a column above."))
                continue
            if value:
                self.add_error(f"constant_{column}", gettext("Pick “one value for every row” above to use this "
                                                             "value, or clear it."))
            source = pick.removeprefix(PICK_COLUMN)
            if source in picked:
                self.add_error(f"pick_{column}", gettext("%(source)s is already picked for %(column)s.")
                               % {"source": source, "column": picked[source]})
            elif source:
                picked[source] = column
        for column in COLUMNS:
            # A column of the file named as a template column is read as that column unless mapped to another.
            if column in self.in_file and column not in picked \
                    and data.get(f"pick_{column}") not in (None, f"{PICK_COLUMN}{column}"):
                self.add_error(f"pick_{column}", gettext(
                    "The file has a column named %(column)s, which the import reads as %(column)s: pick it here, or "
                    "pick it for another column.") % {"column": column})
        data["columns"] = {source: column for source, column in picked.items() if source != column}
        data["constants"] = constants
        return data

    def mapping(self) -> dict[str, Any]:
        """The parts of the ImportMapping (after is_valid())."""
        return {k: self.cleaned_data[k] for k in ("columns", "constants", "row_filter", "values")}
