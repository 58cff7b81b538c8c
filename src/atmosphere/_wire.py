"""XRPC on the wire, the pure part: URLs, query parameters, transport-error mapping.

Specs: https://atproto.com/specs/xrpc (query parameters: arrays repeat the
key, booleans are ``true``/``false``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from .errors import NetworkTimeoutError, TransportError

__all__ = [
    "MAX_ERROR_BODY",
    "ParamValue",
    "QueryPairs",
    "dump_json",
    "encode_params",
    "with_query",
    "wrap_transport_errors",
    "xrpc_url",
]

MAX_ERROR_BODY = 64 * 1024
"""The most of an error answer read: enough for its name and message."""

ParamValue = str | int | bool | None | Iterable[str | int | bool]


def _data_model_json(value: Any) -> Any:
    """The JSON form of what ``json`` cannot encode: bytes become ``{"$bytes": ...}``.

    The atproto data model's JSON encoding of bytes is an object with one
    ``$bytes`` key holding unpadded standard base64
    (https://atproto.com/specs/data-model); atdata 0.3 puts msgpack bytes in
    its records and relies on the client to encode them.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii").rstrip("=")}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dump_json(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON, bytes values in the data model's ``$bytes`` form."""
    return json.dumps(
        data, separators=(",", ":"), ensure_ascii=False, default=_data_model_json
    ).encode()


def xrpc_url(base_url: str, nsid: str) -> str:
    """``<base_url>/xrpc/<nsid>``."""
    return f"{base_url.rstrip('/')}/xrpc/{nsid}"


def with_query(url: str, pairs: QueryPairs) -> str:
    """``url`` with ``pairs`` as its query string, percent-encoded (spaces as ``%20``).

    Encoding here, once, is cheaper than handing httpx the pairs on every
    request (it re-parses and re-encodes them); the server sees the same query.
    """
    if not pairs:
        return url
    return f"{url}?{urlencode(pairs, quote_via=quote)}"


def _scalar(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


QueryPairs = list[tuple[str, str | int | float | bool | None]]


def encode_params(params: Mapping[str, ParamValue] | None) -> QueryPairs:
    """Query parameters as XRPC wants them: ``None`` dropped, arrays repeat the key."""
    out: QueryPairs = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, (str, int, bool)):
            out.append((key, _scalar(value)))
        else:
            out.extend((key, _scalar(v)) for v in value)
    return out


@contextmanager
def wrap_transport_errors(nsid: str) -> Iterator[None]:
    """Turn httpx errors raised inside the block into :class:`TransportError` (chained)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise NetworkTimeoutError(f"{nsid}: timed out ({type(exc).__name__})") from exc
    except httpx.LocalProtocolError as exc:
        # h11's text quotes the offending header, which may hold a token.
        raise TransportError(f"{nsid}: {type(exc).__name__} (request not sent)") from None
    except httpx.TransportError as exc:
        raise TransportError(f"{nsid}: {type(exc).__name__}: {exc}") from exc
    except httpx.TooManyRedirects as exc:
        raise TransportError(f"{nsid}: too many redirects") from exc
    except httpx.RequestError as exc:  # e.g. DecodingError: a body that does not decode
        raise TransportError(f"{nsid}: {type(exc).__name__}: {exc}") from exc
