"""Which URLs the OAuth profile accepts for servers, and how they are compared.

The atproto profile wants every server URL to be ``https``. Local development
(the reference PDS on ``http://localhost:<port>``) needs the explicit
``allow_private_hosts`` switch, which then also accepts ``http`` on a loopback
host (``localhost``, ``127.0.0.0/8``, ``[::1]``) and nowhere else.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["check_origin", "check_server_url", "is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """``localhost`` (or a name under it) or a loopback IP literal."""
    host = host.lower().strip("[]").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_server_url(url: object, *, allow_private_hosts: bool) -> str | None:
    """Why ``url`` is unacceptable as an OAuth server URL, or ``None`` when it is fine."""
    if not isinstance(url, str) or not url:
        return "not a URL string"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    if parts.username is not None or parts.password is not None:
        return "URL carries credentials"
    if not parts.hostname:
        return "URL has no host"
    if parts.fragment or "#" in url:
        return "URL has a fragment"
    if parts.scheme == "https":
        if port == 443:
            return "URL names the default port 443"
        return None
    if parts.scheme == "http" and allow_private_hosts and is_loopback_host(parts.hostname):
        if port == 80:
            return "URL names the default port 80"
        return None
    if parts.scheme == "http":
        return "URL is not https (http is only allowed on loopback with allow_private_hosts)"
    return f"URL scheme {parts.scheme!r} is not https"


def check_origin(url: object, *, allow_private_hosts: bool) -> str | None:
    """Like :func:`check_server_url`, and the URL must be a bare origin (no path or query)."""
    problem = check_server_url(url, allow_private_hosts=allow_private_hosts)
    if problem is not None:
        return problem
    assert isinstance(url, str)
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or url.endswith("?"):
        return "not a bare origin (it has a path or a query)"
    return None
