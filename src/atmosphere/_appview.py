"""AppView configuration, the pure part: ``appview=`` to a base URL and a ``did:web``.

atdata 0.7 takes its AppView as an https URL or a ``did:web``; queries go to
the URL, procedures to the user's PDS with ``atproto-proxy: <did>#atdata_appview``
(the PDS resolves the DID and forwards the call with service auth).
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from ._syntax import is_valid_did
from .errors import InvalidArgumentError

__all__ = ["APPVIEW_SERVICE_ID", "MAX_ENTRIES_PER_CALL", "parse_appview"]

APPVIEW_SERVICE_ID = "atdata_appview"
"""The service id of the atdata AppView in its DID document."""

MAX_ENTRIES_PER_CALL = 25
"""The most URIs one ``getEntries`` call may name."""


def _invalid(value: object) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"Invalid appview value: {value!r}. Expected an HTTPS URL or did:web: DID."
    )


def parse_appview(value: str) -> tuple[str, str]:
    """``(base URL, did:web)`` of an ``appview=`` value (``InvalidArgumentError`` otherwise).

    - ``did:web:host`` (``%3A`` before a port) → ``https://host[:port]``;
    - ``https://host[:port][/path]`` (or ``http://`` for local development)
      → the URL without its trailing slash, and ``did:web:host[%3Aport]``.
    """
    if not isinstance(value, str):
        raise _invalid(value)
    if value.startswith("did:web:"):
        host = unquote(value[len("did:web:") :])
        if not is_valid_did(value):
            raise _invalid(value)
        name, _, port_text = host.partition(":")
        if not name or "/" in host or (port_text and not port_text.isdigit()):
            raise _invalid(value)
        return f"https://{host}", value
    if value.startswith(("https://", "http://")):
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            raise _invalid(value) from None
        hostname = parts.hostname
        if not hostname or parts.query or parts.fragment or parts.username or parts.password:
            raise _invalid(value)
        did = f"did:web:{quote(hostname, safe='.-')}" + (f"%3A{port}" if port else "")
        if not is_valid_did(did):
            raise _invalid(value)
        return value.rstrip("/"), did
    raise _invalid(value)
