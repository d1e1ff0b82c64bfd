"""Serialising ElementTree documents that have a default namespace (SVG plots, define.xml).

ElementTree keeps namespace prefixes in one process-wide registry, and registering a default namespace ("" prefix)
for one document type drops it for another: once define.xml registered ODM as the default, every plot came out as
``<ns0:svg>``. ``tostring(..., default_namespace=...)`` is no way out, as it refuses unqualified attributes, which
both SVG and ODM use. So each serialisation registers its own default namespace under one lock, immediately before
writing.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from typing import Any

_REGISTRY = threading.Lock()


def tostring(root: ET.Element, *, default_namespace: str, **kwargs: Any) -> Any:
    """``ET.tostring(root, **kwargs)`` with ``default_namespace`` (a namespace URI) written without a prefix.

    Returns what ``ET.tostring`` returns (``str`` for ``encoding="unicode"``, else ``bytes``)."""
    with _REGISTRY:
        ET.register_namespace("", default_namespace)
        return ET.tostring(root, **kwargs)
