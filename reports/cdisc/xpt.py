"""SAS Transport (XPORT) version 5 files, the format FDA accepts for study data, through pyreadstat.

The version 5 limits (SAS TS-140; FDA Study Data Technical Conformance Guide §3.3.1) are checked before anything
is written, with an error naming the dataset, the variable and — for a value — the record:

* dataset and variable names: at most 8 characters, a letter then letters, digits or underscores;
* dataset and variable labels: at most 40 characters;
* character values: at most 200 characters, ASCII only (the Guide asks for ASCII text in transport files).
"""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path

import pandas as pd
import pyreadstat

from reports.cdisc.model import Dataset, Value, Variable

NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
MAX_LABEL = 40
MAX_VALUE = 200


class XptLimitError(ValueError):
    """A dataset breaks an XPORT v5 limit; the message names the variable (and the record for a value)."""


def xpt_check(dataset: Dataset) -> None:
    """Raise XptLimitError at the first name, label or value XPORT v5 cannot hold."""
    if not NAME.match(dataset.name):
        raise XptLimitError(f"dataset name {dataset.name!r}: at most 8 characters, a letter then letters, digits "
                            "or _")
    if len(dataset.label) > MAX_LABEL:
        raise XptLimitError(f"dataset {dataset.name} label is {len(dataset.label)} characters; XPORT v5 allows "
                            f"{MAX_LABEL}")
    for var in dataset.variables:
        if not NAME.match(var.name):
            raise XptLimitError(f"{dataset.name}: variable name {var.name!r} is not a SAS v5 name (at most 8 "
                                "characters, a letter then letters, digits or _)")
        if len(var.label) > MAX_LABEL:
            raise XptLimitError(f"{dataset.name}.{var.name}: label {var.label!r} is {len(var.label)} characters; "
                                f"XPORT v5 allows {MAX_LABEL}")
    for number, row in enumerate(dataset.rows, start=1):
        for var in dataset.variables:
            value = row.get(var.name)
            if var.type != "text" or not isinstance(value, str):
                continue
            if len(value) > MAX_VALUE:
                raise XptLimitError(f"{dataset.name}.{var.name} record {number}: value is {len(value)} characters; "
                                    f"XPORT v5 allows {MAX_VALUE}")
            if not value.isascii():
                raise XptLimitError(f"{dataset.name}.{var.name} record {number}: {value!r} has characters outside "
                                    "ASCII, which transport files cannot carry")


def _column(var: Variable, values: list[Value]) -> pd.Series:
    if var.type == "text":
        return pd.Series([v if isinstance(v, str) else "" for v in values], dtype=object)
    if var.type == "date":
        return pd.Series(values, dtype=object)
    return pd.Series([float(v) if isinstance(v, int | float) else math.nan for v in values], dtype="float64")


def xpt_write(dataset: Dataset, path: Path) -> None:
    """Write ``dataset`` to ``path`` as XPORT v5 (dates as SAS dates with their display format, e.g. DATE9.).
    Raises XptLimitError before writing anything."""
    xpt_check(dataset)
    frame = pd.DataFrame({var.name: _column(var, dataset.column(var.name)) for var in dataset.variables})
    formats = {var.name: var.display_format for var in dataset.variables if var.display_format}
    pyreadstat.write_xport(frame, str(path), file_label=dataset.label,
                           column_labels=[var.label for var in dataset.variables], table_name=dataset.name,
                           file_format_version=5, variable_format=formats or None)


def _value(var: Variable, raw: object) -> Value:
    if var.type == "text":
        return raw if isinstance(raw, str) else ""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or raw is pd.NaT:
        return None
    if var.type == "date":
        if isinstance(raw, datetime.datetime):
            return raw.date()
        assert isinstance(raw, datetime.date)
        return raw
    assert isinstance(raw, int | float)
    return int(raw) if var.type == "integer" else float(raw)


def xpt_read(path: Path, like: Dataset) -> Dataset:
    """Read an XPORT file back into a Dataset with ``like``'s variables (types restored); the file's own name,
    label and variable labels replace ``like``'s."""
    frame, meta = pyreadstat.read_xport(str(path))
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    variables = tuple(Variable(v.name, labels.get(v.name) or "", v.type, v.source, v.empty_reason, v.display_format)
                      for v in like.variables if v.name in labels)
    rows = [{var.name: _value(var, record[var.name]) for var in variables}
            for record in frame.to_dict(orient="records")]
    return Dataset(meta.table_name or "", meta.file_label or "", like.standard, variables, rows, like.keys)
