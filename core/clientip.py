"""The client's network address behind a configured number of trusted reverse proxies.

Every proxy in front of the web server appends the address it received the request from to
``X-Forwarded-For`` (nginx ``$proxy_add_x_forwarded_for``, HAProxy ``option forwardfor``, Traefik, Caddy). With
``PVTRACK_TRUSTED_PROXIES = n`` proxies, the last ``n`` entries were written by our own proxies and the ``n``-th
from the right is the address our outermost proxy saw: the client. Anything to its left came from the client and
is ignored (a forged ``X-Forwarded-For: 1.2.3.4`` only adds an entry on the left). Source: RFC 7239 §5.2 and
MDN "X-Forwarded-For", section "Selecting an IP address" (the trusted-proxy-count method).

With ``n = 0`` (no proxy: the default) the header is ignored and the address is ``REMOTE_ADDR``. When the header has
fewer than ``n`` entries, or the chosen entry is not an IP address, the request did not come the way the operator
said, so ``REMOTE_ADDR`` (which nobody can forge) is used.

Why not django-ipware: python-ipware counts proxies listed *in* the header (one fewer than those in front of the
server) and answers no address at all when a client prepends entries, which would put every such client on one
lockout key.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client address (text form of an IPv4/IPv6 address), ``REMOTE_ADDR`` without trusted proxies.

    ``AXES_CLIENT_IP_CALLABLE``: the login throttle keys on it (``core.lockout``).
    """
    remote: str | None = request.META.get("REMOTE_ADDR")
    proxies = int(getattr(settings, "PVTRACK_TRUSTED_PROXIES", 0))
    if proxies <= 0:
        return remote
    entries = [e.strip() for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
    if len(entries) < proxies:
        return remote
    candidate = entries[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
