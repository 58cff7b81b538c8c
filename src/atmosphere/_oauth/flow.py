"""The atproto OAuth profile as I/O-free steps (generators; see :mod:`._http`).

Each step yields ``httpx.Request`` objects and returns its result; run it with
:func:`.drive.run_sync` or :func:`.drive.run_async`, or ``yield from`` it in
another flow. The whole login::

    server = yield from discover_from_pds(pds_url)          # or discover_from_server(url)
    pending = yield from start_authorization(client, server, nonces=nonces, ...)
    # ... the user opens pending.url; the callback brings back its query parameters
    session = yield from finish_authorization(pending, params, nonces=nonces, identity=lookup)

then :func:`refresh_session` (rotates the refresh token) and
:func:`revoke_session`. Requests to the authorization server carry a DPoP
proof and are retried once when the server asks for a nonce.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .._syntax import is_valid_did
from ..errors import AtmosphereError
from ._http import JSON_ACCEPT, Flow, json_body, oauth_error
from .authorization import PendingAuthorization, authorization_url, new_state, par_body
from .client_id import ClientIdentity
from .dpop import NonceStore, build_proof, origin_of, retry_with_new_nonce
from .errors import OAuthError, OAuthIdentityError, OAuthMetadataError
from .identity import ResolvedIdentity, SimpleIdentityLookup
from .keys import DpopKey, require_cryptography
from .metadata import (
    AuthorizationServerMetadata,
    authorization_server_metadata_url,
    parse_authorization_server_metadata,
    parse_protected_resource_metadata,
    protected_resource_metadata_url,
)
from .pkce import Pkce
from .session import OAuthSession
from .tokens import TokenSet, parse_token_response
from .urls import check_origin

__all__ = [
    "ServerInfo",
    "discover_from_issuer",
    "discover_from_pds",
    "discover_from_server",
    "dpop_request",
    "exchange_code",
    "finish_authorization",
    "refresh_session",
    "revoke_session",
    "start_authorization",
    "start_from_identifier",
    "verify_issuer_for_did",
]


@dataclass(frozen=True)
class ServerInfo:
    """Where a login goes: the PDS (if known) and its authorization server's metadata."""

    pds_url: str | None
    server: AuthorizationServerMetadata


def _fetch_metadata(url: str) -> Flow[Any]:
    """GET a metadata document: must be a 200 JSON object (no redirects followed)."""
    response = yield httpx.Request("GET", url, headers=JSON_ACCEPT)
    if response.status_code != 200:
        raise OAuthMetadataError(url, f"answered HTTP {response.status_code}, not 200")
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise OAuthMetadataError(url, f"content type {ctype!r} is not application/json")
    body = json_body(response)
    if not isinstance(body, dict):
        raise OAuthMetadataError(url, "body is not a JSON object")
    return body


def discover_from_issuer(
    issuer: str, *, allow_private_hosts: bool = False
) -> Flow[AuthorizationServerMetadata]:
    """Fetch and validate an authorization server's metadata."""
    problem = check_origin(issuer, allow_private_hosts=allow_private_hosts)
    if problem:
        raise OAuthMetadataError(issuer, f"not a usable issuer: {problem}")
    data = yield from _fetch_metadata(authorization_server_metadata_url(issuer))
    return parse_authorization_server_metadata(
        data, issuer=issuer, allow_private_hosts=allow_private_hosts
    )


def discover_from_pds(pds_url: str, *, allow_private_hosts: bool = False) -> Flow[ServerInfo]:
    """PDS → its protected-resource metadata → its authorization server's metadata.

    When the authorization server lists ``protected_resources``, the PDS must be one.
    """
    data = yield from _fetch_metadata(protected_resource_metadata_url(pds_url))
    resource = parse_protected_resource_metadata(
        data, resource_url=pds_url, allow_private_hosts=allow_private_hosts
    )
    server = yield from discover_from_issuer(
        resource.authorization_server, allow_private_hosts=allow_private_hosts
    )
    if server.protected_resources is not None and origin_of(pds_url) not in {
        _origin_or_none(r) for r in server.protected_resources
    }:
        raise OAuthMetadataError(
            authorization_server_metadata_url(server.issuer),
            f"{pds_url} is not among the server's protected_resources",
        )
    return ServerInfo(pds_url=origin_of(pds_url), server=server)


def _origin_or_none(url: str) -> str | None:
    try:
        return origin_of(url)
    except ValueError:
        return None


def discover_from_server(url: str, *, allow_private_hosts: bool = False) -> Flow[ServerInfo]:
    """A PDS or entryway URL the user named: try it as a PDS, else as an authorization server."""
    problem = check_origin(url.rstrip("/"), allow_private_hosts=allow_private_hosts)
    if problem:
        raise OAuthMetadataError(url, f"not a usable server URL: {problem}")
    try:
        return (yield from discover_from_pds(url, allow_private_hosts=allow_private_hosts))
    except OAuthMetadataError as first:
        try:
            server = yield from discover_from_issuer(
                origin_of(url), allow_private_hosts=allow_private_hosts
            )
        except OAuthMetadataError:
            raise first from None
        return ServerInfo(pds_url=None, server=server)


def dpop_request(
    key: DpopKey,
    nonces: NonceStore,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Flow[httpx.Response]:
    """Send one DPoP-signed request; retry once if the server asks for a new nonce.

    Every answer's ``DPoP-Nonce`` is stored for the URL's origin. ``access_token``
    adds ``Authorization: DPoP`` and the proof's ``ath``.
    """
    response: httpx.Response | None = None
    for _attempt in range(2):
        nonce = nonces.get(url)
        proof = build_proof(key, method, url, nonce=nonce, access_token=access_token)
        all_headers = {**JSON_ACCEPT, **(headers or {}), "DPoP": proof}
        if access_token is not None:
            all_headers["Authorization"] = f"DPoP {access_token}"
        response = yield httpx.Request(method, url, data=data, headers=all_headers)
        nonces.update_from(url, response.headers)
        body = json_body(response)
        if not retry_with_new_nonce(nonce, response.status_code, response.headers, body):
            return response
    assert response is not None
    return response


def start_authorization(
    client: ClientIdentity,
    info: ServerInfo,
    *,
    nonces: NonceStore,
    login_hint: str | None = None,
    expected_did: str | None = None,
    dpop_key: DpopKey | None = None,
) -> Flow[PendingAuthorization]:
    """Push the authorization request (PKCE S256, DPoP from the first request).

    Returns what to keep until the callback, with the browser URL in ``url``.
    """
    require_cryptography()
    server = info.server
    key = dpop_key or DpopKey.generate()
    pkce = Pkce.generate()
    state = new_state()
    body = par_body(client, state=state, pkce=pkce, login_hint=login_hint)
    endpoint = server.pushed_authorization_request_endpoint
    response = yield from dpop_request(key, nonces, "POST", endpoint, data=body)
    if response.status_code not in (200, 201):
        raise oauth_error(response, "PAR")
    answer = json_body(response)
    request_uri = answer.get("request_uri") if isinstance(answer, dict) else None
    if not isinstance(request_uri, str) or not request_uri:
        raise OAuthError("the PAR answer has no request_uri")
    return PendingAuthorization(
        state=state,
        issuer=server.issuer,
        client=client,
        server=server,
        pds_url=info.pds_url,
        expected_did=expected_did,
        login_hint=login_hint,
        url=authorization_url(server.authorization_endpoint, client.client_id, request_uri),
        pkce=pkce,
        dpop_key=key,
    )


def start_from_identifier(
    identifier: str,
    client: ClientIdentity,
    *,
    identity: SimpleIdentityLookup,
    nonces: NonceStore,
    dpop_key: DpopKey | None = None,
) -> Flow[PendingAuthorization]:
    """Start from a handle, a DID, or a PDS/entryway URL.

    An account identifier is resolved to its PDS (and sent as ``login_hint``,
    as typed); a URL is discovered as a server and no account is expected.
    Without the ``oauth`` extra it fails before sending anything.
    """
    require_cryptography()
    allow = identity.allow_private_hosts
    if identifier.startswith(("https://", "http://")):
        info = yield from discover_from_server(identifier, allow_private_hosts=allow)
        return (yield from start_authorization(client, info, nonces=nonces, dpop_key=dpop_key))
    account: ResolvedIdentity = yield from identity.resolve(identifier)
    info = yield from discover_from_pds(account.pds_url, allow_private_hosts=allow)
    return (
        yield from start_authorization(
            client,
            info,
            nonces=nonces,
            login_hint=identifier,
            expected_did=account.did,
            dpop_key=dpop_key,
        )
    )


def _token_request(
    server_endpoint: str, key: DpopKey, nonces: NonceStore, body: Mapping[str, str], what: str
) -> Flow[Any]:
    response = yield from dpop_request(key, nonces, "POST", server_endpoint, data=body)
    if response.status_code != 200:
        raise oauth_error(response, what)
    return json_body(response)


def exchange_code(
    pending: PendingAuthorization, params: Mapping[str, str], *, nonces: NonceStore
) -> Flow[TokenSet]:
    """Check the callback parameters and trade the code for tokens (no binding check yet)."""
    from .authorization import validate_callback

    code = validate_callback(params, pending)
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.client.redirect_uri,
        "code_verifier": pending.pkce.verifier,
        "client_id": pending.client.client_id,
    }
    data = yield from _token_request(
        pending.server.token_endpoint, pending.dpop_key, nonces, body, "token endpoint"
    )
    return parse_token_response(data, expected_sub=None)


def verify_issuer_for_did(did: str, issuer: str, *, identity: SimpleIdentityLookup) -> Flow[str]:
    """The binding check: ``did``'s PDS must name ``issuer`` as its authorization server.

    Returns the PDS URL. Raises :class:`OAuthIdentityError` otherwise.
    """
    if not is_valid_did(did):
        raise OAuthIdentityError(str(did), issuer, "not a DID")
    try:
        doc = yield from identity.resolve_did(did)
        pds_url = identity.pds_of(did, doc)
        info = yield from discover_from_pds(
            pds_url, allow_private_hosts=identity.allow_private_hosts
        )
    except AtmosphereError as exc:
        raise OAuthIdentityError(
            did, issuer, f"cannot confirm the account's server: {exc}"
        ) from exc
    if origin_of(info.server.issuer) != origin_of(issuer):
        raise OAuthIdentityError(
            did, issuer, f"the account's PDS {pds_url} uses {info.server.issuer} instead"
        )
    return pds_url


def finish_authorization(
    pending: PendingAuthorization,
    params: Mapping[str, str],
    *,
    nonces: NonceStore,
    identity: SimpleIdentityLookup,
) -> Flow[OAuthSession]:
    """Callback → token exchange → binding check → the session.

    The tokens are refused (and revoked, best effort) when ``sub`` is not the
    expected account or its PDS does not use this issuer.
    """
    tokens = yield from exchange_code(pending, params, nonces=nonces)
    try:
        if pending.expected_did is not None and tokens.sub != pending.expected_did:
            raise OAuthIdentityError(
                tokens.sub,
                pending.issuer,
                f"signed in as another account than {pending.expected_did}",
            )
        pds_url = yield from verify_issuer_for_did(tokens.sub, pending.issuer, identity=identity)
    except OAuthIdentityError:
        if pending.server.revocation_endpoint is not None:
            body = {"token": tokens.access_token, "client_id": pending.client.client_id}
            with contextlib.suppress(AtmosphereError):  # best effort: the tokens are unused
                yield from dpop_request(
                    pending.dpop_key, nonces, "POST", pending.server.revocation_endpoint, data=body
                )
        raise
    return OAuthSession(
        did=tokens.sub,
        pds_url=pds_url,
        issuer=pending.issuer,
        client_id=pending.client.client_id,
        scope=tokens.scope,
        token_endpoint=pending.server.token_endpoint,
        revocation_endpoint=pending.server.revocation_endpoint,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        dpop_key=pending.dpop_key,
    )


def refresh_session(session: OAuthSession, *, nonces: NonceStore) -> Flow[OAuthSession]:
    """Trade the refresh token for new tokens (the old refresh token stops working).

    Raises :class:`~.errors.OAuthGrantError` when the refresh token is expired,
    revoked or replayed (the server then ends the whole session).
    """
    if not session.refresh_token:
        raise OAuthError("this OAuth session has no refresh token")
    body = {
        "grant_type": "refresh_token",
        "refresh_token": session.refresh_token,
        "client_id": session.client_id,
    }
    data = yield from _token_request(
        session.token_endpoint, session.dpop_key, nonces, body, "token endpoint (refresh)"
    )
    return session.with_tokens(parse_token_response(data, expected_sub=session.did))


def revoke_session(session: OAuthSession, *, nonces: NonceStore) -> Flow[None]:
    """Revoke the session at the authorization server (refresh token, else access token)."""
    if session.revocation_endpoint is None:
        raise OAuthError(f"{session.issuer} has no revocation endpoint")
    token = session.refresh_token or session.access_token
    body = {"token": token, "client_id": session.client_id}
    response = yield from dpop_request(
        session.dpop_key, nonces, "POST", session.revocation_endpoint, data=body
    )
    if response.status_code != 200:
        raise oauth_error(response, "revocation endpoint")
