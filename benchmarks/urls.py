"""pvtrack's URLs plus one trivial view: the baseline of the web measurements (same middleware, no work)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from pvtrack.urls import urlpatterns as pvtrack_urlpatterns


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("__benchmarks/trivial/", trivial, name="benchmarks-trivial"), *pvtrack_urlpatterns]
