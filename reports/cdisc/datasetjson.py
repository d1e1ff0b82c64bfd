"""CDISC Dataset-JSON v1.1 files through odmlib's Dataset-JSON model (``odmlib.dataset_json_1_1``).

Column types (Dataset-JSON v1.1 specification, "dataType"): character variables are ``string`` (with their
``length``, the longest value, at least 1), whole numbers ``integer``, other numbers ``double``, ADaM dates
``date`` with ISO 8601 values and the SAS display format. Missing numbers and dates are ``null``; missing text is
``""``, as in the XPORT file. ``itemOID`` is ``IT.<dataset>.<variable>`` and ``itemGroupOID`` ``IG.<dataset>``,
the OIDs of the Define-XML written with them (:mod:`reports.cdisc.define`).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from odmlib.dataset_json_1_1.model import Column, DatasetJSON, SourceSystem

from reports.cdisc.model import Dataset, Value, Variable

VERSION = "1.1.0"
DATA_TYPES = {"text": "string", "integer": "integer", "float": "double", "date": "date"}


def _length(var: Variable, dataset: Dataset) -> int:
    return max([len(v) for v in dataset.column(var.name) if isinstance(v, str)] + [1])


def _cell(value: Value) -> object:
    return value.isoformat() if isinstance(value, datetime.date) else value


def dataset_json(dataset: Dataset, *, study_oid: str, created: datetime.datetime, software_version: str) -> dict:
    """The Dataset-JSON v1.1 document of ``dataset`` as a dict (what :func:`datasetjson_write` writes)."""
    columns = []
    for var in dataset.variables:
        column = Column(itemOID=f"IT.{dataset.name}.{var.name}", name=var.name, label=var.label,
                        dataType=DATA_TYPES[var.type])
        if var.type == "text":
            column.length = _length(var, dataset)
        if var.display_format:
            column.displayFormat = var.display_format
        if var.name in dataset.keys:
            column.keySequence = dataset.keys.index(var.name) + 1
        columns.append(column)
    document = DatasetJSON(
        datasetJSONCreationDateTime=created.isoformat(timespec="seconds"), datasetJSONVersion=VERSION,
        fileOID=f"{study_oid}.{dataset.name}", originator="pvtrack",
        sourceSystem=SourceSystem(name="pvtrack", version=software_version), studyOID=study_oid,
        metaDataVersionOID="MDV.1", metaDataRef="define.xml", itemGroupOID=f"IG.{dataset.name}",
        records=len(dataset.rows), name=dataset.name, label=dataset.label, columns=columns,
        rows=[[_cell(row.get(var.name)) for var in dataset.variables] for row in dataset.rows])
    return document.to_dict()


def datasetjson_write(dataset: Dataset, path: Path, *, study_oid: str, created: datetime.datetime,
                      software_version: str = "1") -> None:
    """Write ``dataset`` to ``path`` as Dataset-JSON v1.1 (UTF-8)."""
    document = dataset_json(dataset, study_oid=study_oid, created=created, software_version=software_version)
    Path(path).write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")


def _value(var: Variable, raw: object) -> Value:
    if raw is None:
        return "" if var.type == "text" else None
    if var.type == "date":
        assert isinstance(raw, str)
        return datetime.date.fromisoformat(raw)
    if var.type == "integer":
        assert isinstance(raw, int)
        return raw
    if var.type == "float":
        assert isinstance(raw, int | float)
        return float(raw)
    assert isinstance(raw, str)
    return raw


def datasetjson_read(path: Path, like: Dataset) -> Dataset:
    """Read a Dataset-JSON v1.1 file back into a Dataset (types from ``like``'s variables of the same names)."""
    document = DatasetJSON.from_dict(json.loads(Path(path).read_text(encoding="utf-8"))).to_dict()
    types = {var.name: var for var in like.variables}
    variables = tuple(Variable(c["name"], c["label"], types[c["name"]].type, types[c["name"]].source,
                               types[c["name"]].empty_reason, c.get("displayFormat", ""))
                      for c in document["columns"])
    rows = [{var.name: _value(var, raw) for var, raw in zip(variables, values, strict=True)}
            for values in document.get("rows", [])]
    return Dataset(document["name"], document["label"], like.standard, variables, rows, like.keys)
