"""I/O-free HTTP helpers for the flows: a flow yields requests and gets responses back.

A *flow* is a generator that yields :class:`httpx.Request` objects and receives
the matching :class:`httpx.Response` (body already read) via ``send``; its
return value is the step's result. The same flow runs under a sync or an async
shell (see :mod:`.drive`) or inside an ``httpx.Auth`` flow.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any, TypeVar

import httpx

from .errors import OAuthGrantError, OAuthServerError

__all__ = ["Flow", "buffered", "json_body", "oauth_error"]

T = TypeVar("T")
Flow = Generator[httpx.Request, httpx.Response, T]
"""A step that yields requests, receives their responses, and returns ``T``."""

JSON_ACCEPT = {"Accept": "application/json"}


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON body, or ``None`` when the body is not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def oauth_error(response: httpx.Response, endpoint: str) -> OAuthServerError:
    """The error an authorization server's non-success answer stands for."""
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    description = body.get("error_description") if isinstance(body, dict) else None
    error = error if isinstance(error, str) else None
    description = description[:500] if isinstance(description, str) else None
    cls = OAuthGrantError if error == "invalid_grant" else OAuthServerError
    return cls(response.status_code, error, description, endpoint=endpoint)


def buffered(request: httpx.Request, response: httpx.Response, body: bytes) -> httpx.Response:
    """A copy of ``response`` holding ``body`` (already decoded) in memory."""
    # The body is already decoded: drop the encoding so it is not decoded twice.
    headers = [
        (k, v)
        for k, v in response.headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length")
    ]
    return httpx.Response(response.status_code, headers=headers, content=body, request=request)
