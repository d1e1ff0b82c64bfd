"""Write a site's SDTM or ADaM export to a folder: one file per dataset plus ``define.xml``."""

from __future__ import annotations

import datetime
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from django.utils import timezone

from patients.models import Site
from reports.cdisc.adam import adae_dataset
from reports.cdisc.datasetjson import datasetjson_write
from reports.cdisc.define import define_xml
from reports.cdisc.meddra import MeddraRelease
from reports.cdisc.model import Dataset
from reports.cdisc.sdtm import meddra_note, sdtm_datasets, study_id
from reports.cdisc.xpt import xpt_check, xpt_write

Kind = Literal["sdtm", "adam"]
Format = Literal["xpt", "json"]


@dataclass(frozen=True)
class Export:
    """What was written: the files (datasets, then define.xml) and what the reader must know (MedDRA version)."""

    files: list[Path]
    datasets: list[Dataset]
    notes: list[str]


def datasets_for(site: Site, kind: Kind, meddra: MeddraRelease | None) -> list[Dataset]:
    """SDTM (DM, AE, EX, LB) or ADaM (ADAE) datasets of ``site``."""
    return sdtm_datasets(site, meddra) if kind == "sdtm" else [adae_dataset(site, meddra)]


def cdisc_export(site: Site, *, kind: Kind, file_format: Format, folder: Path,
                 meddra: MeddraRelease | None = None, created: datetime.datetime | None = None) -> Export:
    """Write ``site``'s ``kind`` datasets as ``<name>.xpt`` (XPORT v5) or ``<name>.json`` (Dataset-JSON v1.1) into
    ``folder``, with ``define.xml`` (Define-XML 2.1). Raises XptLimitError (naming the variable) before writing an
    XPORT file that breaks a v5 limit."""
    created = created or timezone.now()
    datasets = datasets_for(site, kind, meddra)
    if file_format == "xpt":
        for dataset in datasets:
            xpt_check(dataset)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    sid = study_id(site)
    for dataset in datasets:
        path = folder / f"{dataset.name.lower()}.{file_format}"
        if file_format == "xpt":
            xpt_write(dataset, path)
        else:
            datasetjson_write(dataset, path, study_oid=f"STUDY.{sid}", created=created)
        files.append(path)
    define = folder / "define.xml"
    define.write_bytes(define_xml(datasets, study_oid=f"STUDY.{sid}", study_name=sid, created=created,
                                  file_format=file_format, meddra=meddra))
    files.append(define)
    return Export(files, datasets, [meddra_note(meddra)])


def cdisc_zip(site: Site, *, kind: Kind, file_format: Format, meddra: MeddraRelease | None = None) -> bytes:
    """The export as a ZIP archive (for a download)."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        export = cdisc_export(site, kind=kind, file_format=file_format, folder=Path(tmp), meddra=meddra)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in export.files:
                archive.write(path, path.name)
            archive.writestr("README.txt", "\n".join(export.notes) + "\n")
    return buffer.getvalue()
