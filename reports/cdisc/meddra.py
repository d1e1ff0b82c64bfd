"""A MedDRA release supplied by the user, read for coding LLT codes to their preferred term (PT) and primary SOC.

pvtrack does not ship MedDRA (it is licensed by the MSSO to subscribers). It holds, for each CTCAE v5.0 term, the
MedDRA LLT code NCI published with CTCAE v5.0; SDTM AEDECOD/AEPTCD and AESOC/AESOCCD need the PT and SOC of that
LLT, which only a MedDRA release gives. A release is the MSSO's ASCII distribution ("MedAscii" folder): ``$``-
separated files, read here as specified in the MedDRA ASCII & Consumer File Documentation:

* ``llt.asc``: llt_code $ llt_name $ pt_code $ …
* ``pt.asc``:  pt_code $ pt_name $ null $ pt_soc_code (the primary SOC) $ …
* ``soc.asc``: soc_code $ soc_name $ soc_abbrev $ …
* ``meddra_release.asc``: version $ language $ … (e.g. ``27.1$English$``)

Pure Python: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class MeddraReleaseError(ValueError):
    """The folder is not a readable MedDRA ASCII release (names the missing or malformed file)."""


@dataclass(frozen=True)
class Coding:
    """The PT and primary SOC of one LLT."""

    llt_code: int
    llt_name: str
    pt_code: int
    pt_name: str
    soc_code: int
    soc_name: str


@dataclass(frozen=True)
class MeddraRelease:
    """A loaded release: its ``version`` (e.g. "27.1") and the coding of every LLT (by LLT code)."""

    version: str
    language: str
    llts: dict[int, Coding]

    def code(self, llt_code: int) -> Coding | None:
        """The PT and primary SOC of ``llt_code``; None when this release has no such LLT."""
        return self.llts.get(llt_code)


def _rows(path: Path, minimum: int) -> list[list[str]]:
    if not path.is_file():
        raise MeddraReleaseError(f"{path.name} is missing from the MedDRA release folder {path.parent}")
    rows = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("$")
            if len(fields) < minimum:
                raise MeddraReleaseError(f"{path.name} line {number}: expected at least {minimum} '$'-separated "
                                         f"fields, found {len(fields)}")
            rows.append(fields)
    return rows


def _int(value: str, path: str, number: int) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise MeddraReleaseError(f"{path} row {number}: {value!r} is not a MedDRA code") from exc


def meddra_release_load(folder: Path) -> MeddraRelease:
    """Read the MedDRA ASCII release in ``folder`` (the ``MedAscii`` folder). Raises MeddraReleaseError."""
    folder = Path(folder)
    release = _rows(folder / "meddra_release.asc", 2)
    if not release or not release[0][0].strip():
        raise MeddraReleaseError("meddra_release.asc does not name the MedDRA version")
    socs = {_int(r[0], "soc.asc", i): r[1] for i, r in enumerate(_rows(folder / "soc.asc", 2), 1)}
    pts = {_int(r[0], "pt.asc", i): (r[1], _int(r[3], "pt.asc", i))
           for i, r in enumerate(_rows(folder / "pt.asc", 4), 1)}
    llts: dict[int, Coding] = {}
    for i, r in enumerate(_rows(folder / "llt.asc", 3), 1):
        llt, pt = _int(r[0], "llt.asc", i), _int(r[2], "llt.asc", i)
        if pt not in pts:
            raise MeddraReleaseError(f"llt.asc row {i}: LLT {llt} names PT {pt}, which pt.asc does not have")
        pt_name, soc = pts[pt]
        if soc not in socs:
            raise MeddraReleaseError(f"pt.asc: PT {pt} names SOC {soc}, which soc.asc does not have")
        llts[llt] = Coding(llt, r[1], pt, pt_name, soc, socs[soc])
    return MeddraRelease(version=release[0][0].strip(), language=release[0][1].strip(), llts=llts)
