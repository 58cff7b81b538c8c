"""The hand-written XRPC transport over an ``httpx.Client``.

A query is ``GET /xrpc/<nsid>?params``; a procedure is ``POST /xrpc/<nsid>``
with a JSON body or raw bytes/stream. Non-2xx answers become typed errors
(:mod:`atmosphere.xrpc_errors`); httpx failures become :class:`TransportError`
with the httpx exception chained.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from .errors import (
    InvalidResponseError,
    NetworkTimeoutError,
    ResponseTooLargeError,
    TransportError,
)
from .xrpc_errors import RateLimitInfo, error_from_response, parse_rate_limit

__all__ = ["XrpcClient", "encode_params", "xrpc_url"]

log = logging.getLogger("atmosphere.xrpc")

ParamValue = str | int | bool | None | Iterable[str | int | bool]
Body = bytes | Iterable[bytes] | Any

DEFAULT_MAX_JSON_BYTES = 32 * 1024 * 1024
_MAX_ERROR_BODY = 64 * 1024


def xrpc_url(base_url: str, nsid: str) -> str:
    """``<base_url>/xrpc/<nsid>``."""
    return f"{base_url.rstrip('/')}/xrpc/{nsid}"


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
def _wrap_transport_errors(nsid: str) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise NetworkTimeoutError(f"{nsid}: timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise TransportError(f"{nsid}: {type(exc).__name__}: {exc}") from exc


class XrpcClient:
    """Send XRPC queries and procedures and decode their answers.

    Args:
        http: the ``httpx.Client`` to send through (not closed by this object).
        auth: the auth flow used for calls with ``auth=True``.
        max_json_bytes: the largest JSON body accepted from a server.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        auth: httpx.Auth | None = None,
        max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
    ) -> None:
        self.http = http
        self.auth = auth
        self.max_json_bytes = max_json_bytes
        self.rate_limit: RateLimitInfo | None = None
        """The rate-limit state of the most recent response that carried one."""

    @staticmethod
    def wrap_errors(nsid: str) -> contextlib.AbstractContextManager[None]:
        """Turn httpx errors raised inside the block into :class:`TransportError`."""
        return _wrap_transport_errors(nsid)

    def query(
        self,
        base_url: str,
        nsid: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        auth: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call a query (``GET``) and return its decoded JSON body."""
        request = self.http.build_request(
            "GET",
            xrpc_url(base_url, nsid),
            params=encode_params(params),
            headers={"Accept": "application/json", **(headers or {})},
        )
        return self._json(self.send(request, nsid, auth=auth), nsid)

    def procedure(
        self,
        base_url: str,
        nsid: str,
        data: Any = None,
        *,
        content: bytes | Iterable[bytes] | None = None,
        content_type: str | None = None,
        params: Mapping[str, ParamValue] | None = None,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
        body_size: int | None = None,
    ) -> Any:
        """Call a procedure (``POST``) with a JSON ``data`` or raw ``content`` body.

        Returns the decoded JSON answer (``{}`` for an empty one).
        """
        hdrs = {"Accept": "application/json", **(headers or {})}
        if content is not None:
            if content_type:
                hdrs["Content-Type"] = content_type
            if body_size is not None:
                hdrs["Content-Length"] = str(body_size)
            request = self.http.build_request(
                "POST",
                xrpc_url(base_url, nsid),
                params=encode_params(params),
                headers=hdrs,
                content=content,
            )
        elif data is not None:
            hdrs["Content-Type"] = "application/json"
            request = self.http.build_request(
                "POST",
                xrpc_url(base_url, nsid),
                params=encode_params(params),
                headers=hdrs,
                content=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(),
            )
        else:
            request = self.http.build_request(
                "POST", xrpc_url(base_url, nsid), params=encode_params(params), headers=hdrs
            )
        return self._json(self.send(request, nsid, auth=auth, body_size=body_size), nsid)

    def send(
        self,
        request: httpx.Request,
        nsid: str,
        *,
        auth: bool,
        body_size: int | None = None,
        stream: bool = True,
    ) -> httpx.Response:
        """Send a request; return the (open, streaming) response or raise its error.

        The caller must close the returned response (``_json`` does).
        """
        log.debug("xrpc %s %s", request.method, nsid)
        with _wrap_transport_errors(nsid):
            response = self.http.send(request, auth=self.auth if auth else None, stream=stream)
        info = parse_rate_limit(response.headers)
        if info is not None:
            self.rate_limit = info
        if response.is_success:
            return response
        try:
            with _wrap_transport_errors(nsid):
                body = self._read_capped(response, _MAX_ERROR_BODY, nsid, truncate=True)
        finally:
            response.close()
        size = body_size
        if size is None and request.headers.get("content-length", "").isdigit():
            size = int(request.headers["content-length"])
        error = error_from_response(
            response.status_code, response.headers, body, nsid=nsid, body_size=size
        )
        log.debug("xrpc %s failed: %s %s", nsid, error.status, error.error)
        raise error

    def _read_capped(
        self, response: httpx.Response, cap: int, nsid: str, *, truncate: bool = False
    ) -> bytes:
        if response.is_stream_consumed:
            data = response.content
            return data[:cap] if truncate else self._check_size(data, cap, nsid)
        declared = response.headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > cap:
            raise ResponseTooLargeError(f"{nsid}: response of {declared} bytes exceeds {cap}")
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > cap:
                if truncate:
                    chunks.append(chunk[: cap - (total - len(chunk))])
                    break
                raise ResponseTooLargeError(f"{nsid}: response body exceeds {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _check_size(data: bytes, cap: int, nsid: str) -> bytes:
        if len(data) > cap:
            raise ResponseTooLargeError(f"{nsid}: response body exceeds {cap} bytes")
        return data

    def _json(self, response: httpx.Response, nsid: str) -> Any:
        try:
            with _wrap_transport_errors(nsid):
                body = self._read_capped(response, self.max_json_bytes, nsid)
        finally:
            response.close()
        if not body.strip():
            return {}
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurd nesting
            ctype = response.headers.get("content-type", "?")
            raise InvalidResponseError(
                f"{nsid}: answer is not JSON (status {response.status_code}, {ctype})"
            ) from exc
