"""No copies of pages or API answers in browser or proxy caches (issue 11 finding 5).

Ward PCs are shared: a pseudonymous patient list, an AE table or an API answer left in the browser's disk cache
(or the back/forward cache) can be read by the next user of the computer. Every response that passes Django's
middleware stack gets ``Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private`` and an ``Expires``
in the past (``django.utils.cache.add_never_cache_headers``). Static files are answered by WhiteNoise before this
middleware runs and keep their long cache lifetimes. Source: OWASP ASVS 5.0 V14.3.2 (anti-caching headers for
sensitive data), RFC 9111 §5.2.2.5 (``no-store``).

One exception: a response that already says ``immutable`` (RFC 8246) keeps its own header — a content-addressed
resource such as a report's plot image (``reports.views.report_plot``: ``private``, aggregate rates and counts of a
ward, no patient identifier), whose URL changes whenever its content does.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    """Adds the never-cache headers to every response (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if "immutable" not in response.get("Cache-Control", ""):
            add_never_cache_headers(response)
        return response
