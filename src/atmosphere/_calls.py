"""The open XRPC surface, the pure part: checking a call's NSID, parameters and headers.

``atproto-proxy`` asks the PDS to forward a call to another service named in a
DID document (``<did>#<service id>``, e.g. ``did:web:api.example.com#atdata_appview``);
the PDS signs the forwarded call with an inter-service JWT. ``atproto-accept-labelers``
names the labelers whose labels the caller wants applied (``did[;redact], ...``).
Specs: https://atproto.com/specs/xrpc (service proxying, labelers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._syntax import is_valid_did, validate_nsid
from ._wire import ParamValue
from .errors import InvalidArgumentError

__all__ = ["call_headers", "check_params", "labelers_header", "proxy_header"]

_SERVICE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
_TOKEN_SAFE = re.compile(r"^[\x21-\x7e]+$")


def proxy_header(value: str) -> str:
    """``value`` once it is ``<did>#<service id>`` (``InvalidArgumentError`` otherwise)."""
    if not isinstance(value, str) or value.count("#") != 1:
        raise InvalidArgumentError(f"proxy must be '<did>#<service id>', got {value!r}")
    did, service = value.split("#")
    if not is_valid_did(did):
        raise InvalidArgumentError(f"proxy names no valid DID: {value!r}")
    if not _SERVICE_ID.match(service):
        raise InvalidArgumentError(f"proxy names no valid service id: {value!r}")
    return value


def labelers_header(labelers: Iterable[str]) -> str:
    """The ``atproto-accept-labelers`` value for DIDs, each optionally suffixed ``;redact``."""
    if isinstance(labelers, str):
        raise InvalidArgumentError("accept_labelers must be a sequence of DIDs, not a str")
    items: list[str] = []
    for entry in labelers:
        did, _, flag = entry.partition(";") if isinstance(entry, str) else ("", "", "")
        if not is_valid_did(did) or flag not in ("", "redact"):
            raise InvalidArgumentError(f"not a labeler DID (optionally ';redact'): {entry!r}")
        items.append(entry)
    if not items:
        raise InvalidArgumentError("accept_labelers is empty")
    return ", ".join(items)


def check_params(params: Mapping[str, Any] | None) -> Mapping[str, ParamValue] | None:
    """``params`` once every value is a str, int, bool, ``None`` or a sequence of those.

    XRPC query parameters are scalars or arrays of scalars (arrays repeat the key).
    """
    if params is None:
        return None
    if not isinstance(params, Mapping):
        raise InvalidArgumentError(f"params must be a mapping, got {type(params).__name__}")
    for key, value in params.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError(f"parameter names must be non-empty str, got {key!r}")
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item is not None and not isinstance(item, (str, int, bool)):
                raise InvalidArgumentError(
                    f"parameter {key!r}: {type(item).__name__} is not a str, int or bool"
                )
    return params


def call_headers(
    nsid: str,
    *,
    proxy: str | None,
    accept_labelers: Sequence[str] | None,
    headers: Mapping[str, str] | None,
) -> dict[str, str]:
    """The extra headers of a call, checked: the NSID, proxying, labelers and the caller's own."""
    validate_nsid(nsid)
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not (isinstance(name, str) and isinstance(value, str)):
            raise InvalidArgumentError("headers must map str to str")
        if not _TOKEN_SAFE.match(name) or any(c in value for c in "\r\n\x00"):
            raise InvalidArgumentError(f"header {name!r} has a character a header cannot carry")
        if name.lower() == "authorization":
            raise InvalidArgumentError("the client signs calls itself: do not pass Authorization")
        out[name] = value
    if proxy is not None:
        out["atproto-proxy"] = proxy_header(proxy)
    if accept_labelers is not None:
        out["atproto-accept-labelers"] = labelers_header(accept_labelers)
    return out
