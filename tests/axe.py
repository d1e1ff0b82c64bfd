"""axe-core for the browser tests (issue 15 item 1): Deque's accessibility engine, from the npm registry.

Decision (docs/usability.md): not vendored. The first browser test that needs it runs ``npm pack`` for the pinned
version into ``tests/.axe-core/`` (gitignored), checks the tarball against the registry's published sha512
integrity below, and unpacks ``axe.min.js`` (MPL-2.0; its LICENSE is in the same package). To upgrade: change
both constants (``npm view axe-core@<version> dist.integrity``).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

AXE_VERSION = "4.14.1"
AXE_INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
AXE_DIR = Path(__file__).resolve().parent / ".axe-core" / AXE_VERSION
# WCAG 2.2 level A and AA (axe's tags; "wcag22aa" holds 2.5.8 target size)
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("serious", "critical")


def axe_source() -> str:
    """The text of axe.min.js, fetched once with npm and checked against ``AXE_INTEGRITY``."""
    script = AXE_DIR / "package" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed once to fetch axe-core for the accessibility tests (apt-get install npm)")
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--silent"], cwd=AXE_DIR, check=True,
                       capture_output=True, timeout=300)
        tarball = AXE_DIR / f"axe-core-{AXE_VERSION}.tgz"
        digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if digest != AXE_INTEGRITY:
            tarball.unlink()
            pytest.fail(f"axe-core {AXE_VERSION} from npm does not match its pinned integrity: {digest}")
        with tarfile.open(tarball) as archive:
            archive.extractall(AXE_DIR, members=[m for m in archive.getmembers()
                                                 if m.name in ("package/axe.min.js", "package/LICENSE")],
                               filter="data")
    return script.read_text(encoding="utf-8")


def axe_violations(page) -> list[dict]:
    """The WCAG 2.2 A/AA violations axe finds on ``page`` now: [{"id", "impact", "nodes": [selector, ...]}].

    axe is evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern, so
    the pages keep their policy (no inline script) while they are checked."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source() + "\n;undefined")
    return page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
            return result.violations.map(v => ({id: v.id, impact: v.impact,
                                               nodes: v.nodes.map(n => n.target.join(" "))}));
        }""",
        WCAG_22_AA,
    )


def blocking(violations: list[dict]) -> list[dict]:
    """The serious and critical ones."""
    return [v for v in violations if v["impact"] in BLOCKING]
