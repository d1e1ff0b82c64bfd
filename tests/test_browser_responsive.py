"""Tablet and phone (issue 15 item 2): no horizontal scrolling of the page at 768 and 390 CSS px on the pages a user
reaches (a wide table scrolls inside its own container); a full-page screenshot of each page at each width is kept
under test-artifacts/responsive/ (gitignored)."""

from __future__ import annotations

import os
import re

import pytest

from tests.test_browser_accessibility import ARTIFACTS, _pages

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = (768, 390)  # a portrait ward tablet; a phone


def test_no_horizontal_page_scroll_on_tablet_and_phone(live_server, page, ward):
    overflowing: dict[str, list[str]] = {}
    seen = 0
    for name, _ in _pages(live_server, page, ward):
        seen += 1
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1000})
            page.wait_for_timeout(50)
            scroll, client = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            folder = ARTIFACTS / "responsive" / str(width)
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.png"), full_page=True)
            if scroll > client:
                wide = page.evaluate("""(w) => Array.from(document.querySelectorAll('body *'))
                    .filter(el => el.getBoundingClientRect().right > w + 1 && !el.closest('.table-scroll'))
                    .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                        + (typeof el.className === 'string' && el.className ? '.' + el.className : ''))""",
                                     client)
                overflowing[f"{name} @ {width}px"] = [f"scrollWidth {scroll} > {client}", *wide]
        page.set_viewport_size({"width": 1280, "height": 720})
    assert seen == 14
    assert overflowing == {}
