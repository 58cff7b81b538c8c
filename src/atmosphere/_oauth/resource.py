"""DPoP-signed requests to the resource server (the PDS), as an ``httpx.Auth``.

:class:`DpopAuth` puts ``Authorization: DPoP <access token>`` and a fresh proof
(with ``ath`` and the PDS's current nonce) on every request, keeps the nonces
the PDS sends, and resends a request once when the PDS answers 401
``WWW-Authenticate: DPoP error="use_dpop_nonce"``. Streamed bodies cannot be
resent: get a nonce first (any earlier call does) before streaming uploads.

:func:`resource_error` maps the PDS's OAuth-specific refusals to errors:
403 ``ScopeMissingError`` and 401 ``invalid_token`` (expired or revoked token).
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import httpx

from ..errors import InvalidTokenError, XrpcError
from ._http import json_body
from .dpop import NonceStore, build_proof, parse_www_authenticate, retry_with_new_nonce
from .errors import ScopeMissingError
from .session import OAuthSession

__all__ = ["DpopAuth", "resource_error"]


class DpopAuth(httpx.Auth):
    """Sign requests with the current OAuth session's access token and DPoP key.

    ``get_session`` is called per request, so a refreshed session is picked up.
    """

    requires_response_body = True

    def __init__(self, get_session: Callable[[], OAuthSession], nonces: NonceStore) -> None:
        """Sign with whatever session ``get_session`` returns; share ``nonces`` per client."""
        self._get_session = get_session
        self._nonces = nonces

    def _sign(self, request: httpx.Request, session: OAuthSession) -> str | None:
        url = str(request.url)
        nonce = self._nonces.get(url)
        request.headers["Authorization"] = f"DPoP {session.access_token}"
        request.headers["DPoP"] = build_proof(
            session.dpop_key,
            request.method,
            url,
            nonce=nonce,
            access_token=session.access_token,
        )
        return nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign, send, and resend once with the new nonce if the PDS asks for one."""
        session = self._get_session()
        sent = self._sign(request, session)
        response = yield request
        self._nonces.update_from(str(request.url), response.headers)
        if isinstance(request.stream, httpx.ByteStream) and retry_with_new_nonce(
            sent, response.status_code, response.headers, json_body(response)
        ):
            self._sign(request, session)
            yield request

    def __repr__(self) -> str:
        return "DpopAuth()"


def resource_error(response: httpx.Response, nsid: str = "") -> XrpcError | None:
    """The OAuth-specific error a PDS answer stands for, or ``None`` for the generic mapping."""
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    error = error if isinstance(error, str) else None
    message = message[:500] if isinstance(message, str) else None
    headers = dict(response.headers)
    if response.status_code == 403 and error == "ScopeMissingError":
        return ScopeMissingError(403, error, message, nsid=nsid, headers=headers)
    if response.status_code == 401:
        for scheme, params in parse_www_authenticate(response.headers.get("www-authenticate", "")):
            if scheme == "dpop" and params.get("error") == "invalid_token":
                text = params.get("error_description") or message
                return InvalidTokenError(401, "invalid_token", text, nsid=nsid, headers=headers)
    return None
