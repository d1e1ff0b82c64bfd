"""Rows of an import source, as dicts of the source's own column names, read one at a time (pure Python).

* CSV (pvtrack's template, any spreadsheet, a REDCap "raw" CSV export): ``csv_rows``, separated by commas or — as
  Excel writes "CSV" where the decimal sign is a comma (Poland, Italy) — by semicolons (``csv_delimiter``);
* CDISC ODM 1.3 XML (REDCap and OpenClinica export it; ODM 1.3.2 specification §3.1.4 ClinicalData):
  ``odm_rows`` — one row per ``ItemGroupData`` with ``SubjectKey``, ``StudyEventOID``, ``StudyEventRepeatKey``,
  ``FormOID``, ``ItemGroupOID``, ``ItemGroupRepeatKey`` and each ``ItemData``'s ``ItemOID`` → ``Value``. Parsed
  incrementally with defusedxml (no entity expansion, no external entities), so a large file is never held whole.

``apply_mapping`` turns a source row into a template row with a saved mapping (``ae.models.ImportMapping``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from typing import IO

from defusedxml.ElementTree import iterparse

ODM_NS = "{http://www.cdisc.org/ns/odm/v1.3}"


_QUOTED = re.compile(r'"(?:[^"]|"")*"')


def header_delimiter(line: str) -> str:
    """The separator of a CSV file from its header ``line``: ";" when, outside quoted names, the line has more
    semicolons than commas (Excel's "CSV" with a semicolon list separator, as in Polish and Italian Windows), else
    ",". Pure; a header has no empty names, so its separator is its most frequent unquoted punctuation."""
    bare = _QUOTED.sub("", line)
    return ";" if bare.count(";") > bare.count(",") else ","


def csv_delimiter(text: IO[str]) -> str:
    """:func:`header_delimiter` of ``text``'s first line (then rewinds it)."""
    line = text.readline(1_000_000)
    text.seek(0)
    return header_delimiter(line)


def csv_rows(text: IO[str], delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]]]:
    """(line number of the row in the file, {header: value}) per data row; headers stripped of spaces."""
    reader = csv.reader(text, delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        yield reader.line_num, dict(zip(header, (v for v in values), strict=False))


def csv_header(text: IO[str], delimiter: str = ",") -> list[str]:
    """The header of a CSV file (then rewinds it)."""
    header = [h.strip() for h in next(csv.reader(text, delimiter=delimiter), [])]
    text.seek(0)
    return header


def odm_rows(raw: IO[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
    """(ordinal of the ItemGroupData in the file, its row) per ItemGroupData of the ODM's ClinicalData."""
    context: dict[str, str] = {}
    number = 0
    for event, element in iterparse(raw, events=("start", "end")):
        tag = element.tag.removeprefix(ODM_NS)
        if event == "start":
            if tag == "SubjectData":
                context = {"SubjectKey": element.get("SubjectKey", "")}
            elif tag == "StudyEventData":
                context |= {"StudyEventOID": element.get("StudyEventOID", ""),
                            "StudyEventRepeatKey": element.get("StudyEventRepeatKey", "")}
            elif tag == "FormData":
                context |= {"FormOID": element.get("FormOID", "")}
            continue
        if tag == "ItemGroupData":
            number += 1
            row = dict(context) | {"ItemGroupOID": element.get("ItemGroupOID", ""),
                                   "ItemGroupRepeatKey": element.get("ItemGroupRepeatKey", "")}
            for item in element.iter(f"{ODM_NS}ItemData"):
                row[item.get("ItemOID", "")] = item.get("Value", "")
            yield number, row
            element.clear()
        elif tag == "SubjectData":
            element.clear()


def row_selected(row: Mapping[str, str], row_filter: Mapping[str, str]) -> bool:
    """Whether ``row`` has every value ``row_filter`` asks for."""
    return all((row.get(column) or "").strip() == str(value) for column, value in row_filter.items())


def apply_mapping(row: Mapping[str, str], columns: Mapping[str, str], values: Mapping[str, Mapping[str, str]],
                  constants: Mapping[str, str]) -> dict[str, str]:
    """The template row of a source ``row``: renamed by ``columns``, coded values translated by ``values``,
    ``constants`` filling columns the source lacks. Source columns not in ``columns`` are kept under their own
    name (so a file already in the template needs no mapping)."""
    out: dict[str, str] = {str(k): str(v) for k, v in constants.items()}
    for column, value in row.items():
        target = columns.get(column, column)
        if target in out and not (value or "").strip():
            continue
        out[target] = value or ""
    for column, codes in values.items():
        raw = (out.get(column) or "").strip()
        if raw in codes:
            out[column] = str(codes[raw])
    return out


class RedcapFetchError(ValueError):
    """The REDCap API did not give the records (unreachable, refused the token, answered an error)."""


def redcap_records_csv(url: str, token: str, *, forms: list[str] | None = None, timeout: float = 120.0) -> bytes:
    """The project's records as REDCap's "CSV (raw data)" export, fetched through the REDCap API with PyCap
    (``redcap.Project.export_records``: content=record, format=csv, type=flat, rawOrLabel=raw; REDCap API
    documentation, "Export Records"), limited to the instruments ``forms`` when given.

    ``url``: the project's API address (``https://…/api/``); ``token``: the user's API token for the project (never
    logged nor stored). The body is the same file a user downloads from "Data Exports", so it is imported with the
    ``redcap_csv`` source and a saved mapping. Raises RedcapFetchError with REDCap's own message.
    """
    import requests
    from redcap import Project, RedcapError

    # PyCap checks these with ``assert`` and echoes the token in its message: check first, without the token.
    if not url.endswith("/api/"):
        raise RedcapFetchError(f"{url!r} is not a REDCap API address (it ends with /api/)")
    if len(token) != 32:  # noqa: PLR2004 (REDCap API tokens are 32 hexadecimal characters)
        raise RedcapFetchError("a REDCap API token is 32 characters long")
    try:
        project = Project(url, token, timeout=timeout)
        body = project.export_records(format_type="csv", forms=forms, raw_or_label="raw")
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise RedcapFetchError(f"REDCap at {url} could not be reached: {type(exc).__name__}") from exc
    except (RedcapError, requests.RequestException) as exc:  # RedcapError is a RequestException
        raise RedcapFetchError(f"REDCap refused the export: {exc}") from exc
    text = body if isinstance(body, str) else str(body)
    if text.lstrip().startswith(("{", "<")):  # an error answered in JSON or XML despite format=csv
        raise RedcapFetchError(f"REDCap answered an error instead of records: {text.strip()[:300]}")
    return text.encode("utf-8")
