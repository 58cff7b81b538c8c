"""Canned OAuth server documents for unit tests (shaped like the reference PDS's),
and :class:`World`, fake PDS/PLC/authorization servers behind one MockTransport handler."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qsl

import httpx


def as_metadata(issuer: str = "https://auth.example") -> dict[str, Any]:
    """Authorization-server metadata that satisfies the atproto profile."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "pushed_authorization_request_endpoint": f"{issuer}/oauth/par",
        "require_pushed_authorization_requests": True,
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "ES256K"],
        "scopes_supported": ["atproto", "transition:generic"],
        "authorization_response_iss_parameter_supported": True,
        "dpop_signing_alg_values_supported": ["ES256"],
        "require_request_uri_registration": True,
        "client_id_metadata_document_supported": True,
    }


def pr_metadata(resource: str, server: str) -> dict[str, Any]:
    """Protected-resource metadata naming one authorization server."""
    return {"resource": resource, "authorization_servers": [server]}


def did_doc(did: str, pds_url: str, handle: str | None = None) -> dict[str, Any]:
    """A DID document with an atproto PDS service."""
    return {
        "id": did,
        "alsoKnownAs": [f"at://{handle}"] if handle else [],
        "service": [
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds_url}
        ],
    }


PDS = "https://pds.example"
ISSUER = "https://auth.example"
LIAR = "https://liar.example"
PLC = "https://plc.example"
ALICE = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
MALLORY = "did:plc:mmmmmmmmmmmmmmmmmmmmmmmm"
OTHER_PDS = "https://other-pds.example"


def claims(proof: str) -> dict[str, Any]:
    """The claims of a JWT (a DPoP proof), unverified."""
    seg = proof.split(".")[1]
    answer: dict[str, Any] = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
    return answer


def refresh_grant(
    server: Any, request: httpx.Request, sub: str, headers: dict[str, str], *, refuse: bool = False
) -> httpx.Response:
    """A token endpoint's refresh grant with rotation, as the reference server answers it.

    ``server`` holds ``generation``, ``refreshes`` and ``lock``: only the
    newest refresh token (``ref-<generation>``) is accepted; a replayed one
    (or any, with ``refuse``) is ``invalid_grant``.
    """
    form = dict(parse_qsl(request.content.decode()))
    with server.lock:
        if refuse or form["refresh_token"] != f"ref-{server.generation}":
            body = {"error": "invalid_grant", "error_description": "Refresh token replayed"}
            return httpx.Response(400, json=body, headers=headers)
        server.generation += 1
        server.refreshes += 1
        gen = server.generation
    answer = {
        "access_token": f"at-{gen}",
        "refresh_token": f"ref-{gen}",
        "token_type": "DPoP",
        "scope": "atproto transition:generic",
        "sub": sub,
        "expires_in": 3600,
    }
    return httpx.Response(200, json=answer, headers=headers)


class World:
    """Fake PDS, PLC and authorization servers; ``sub`` says whom the token is for.

    ``alice.example`` (on ``PDS``, authorized by ``ISSUER``) and
    ``mallory.example`` (on ``OTHER_PDS``, authorized by ``LIAR``); the
    authorization servers ask for a DPoP nonce first and answer PAR, token and
    revocation requests; ``requests`` keeps every request.
    """

    def __init__(self, *, sub: str = ALICE, token_issuer: str = ISSUER) -> None:
        self.sub = sub
        self.token_issuer = token_issuer
        self.requests: list[httpx.Request] = []
        self.nonce_counter = 0
        self.always_new_nonce = False

    def _nonce(self) -> str:
        if self.always_new_nonce:
            self.nonce_counter += 1
        return f"nonce-{self.nonce_counter}"

    def handler(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler."""
        self.requests.append(request)
        url = str(request.url.copy_with(query=None))
        docs = {
            f"{PDS}/.well-known/oauth-protected-resource": pr_metadata(PDS, ISSUER),
            f"{OTHER_PDS}/.well-known/oauth-protected-resource": pr_metadata(OTHER_PDS, LIAR),
            f"{ISSUER}/.well-known/oauth-authorization-server": as_metadata(ISSUER),
            f"{LIAR}/.well-known/oauth-authorization-server": as_metadata(LIAR),
            f"{PLC}/{ALICE}": did_doc(ALICE, PDS, "alice.example"),
            f"{PLC}/{MALLORY}": did_doc(MALLORY, OTHER_PDS, "mallory.example"),
            f"{PDS}/xrpc/com.atproto.identity.resolveHandle": {"did": ALICE},
        }
        if url in docs:
            return httpx.Response(200, json=docs[url])
        if request.method == "POST" and url.startswith((ISSUER, LIAR)):
            proof = claims(request.headers["DPoP"])
            headers = {"DPoP-Nonce": self._nonce()}
            if proof.get("nonce") != f"nonce-{self.nonce_counter}" or self.always_new_nonce:
                return httpx.Response(400, json={"error": "use_dpop_nonce"}, headers=headers)
            form = dict(parse_qsl(request.content.decode()))
            if url.endswith("/oauth/par"):
                return httpx.Response(
                    201, json={"request_uri": "urn:req:1", "expires_in": 300}, headers=headers
                )
            if url.endswith("/oauth/token"):
                if form.get("code") == "bad":
                    return httpx.Response(
                        400,
                        json={"error": "invalid_grant", "error_description": "Invalid code"},
                        headers=headers,
                    )
                answer = {
                    "access_token": "at-1",
                    "token_type": "DPoP",
                    "refresh_token": "ref-1",
                    "scope": "atproto transition:generic",
                    "sub": self.sub,
                    "expires_in": 60,
                }
                return httpx.Response(200, json=answer, headers=headers)
            if url.endswith("/oauth/revoke"):
                return httpx.Response(200, json={}, headers=headers)
        return httpx.Response(404, json={"error": "NotFound"})

    def paths(self) -> list[str]:
        """``METHOD url`` (without the query) of each request, in order."""
        return [f"{r.method} {r.url.copy_with(query=None)}" for r in self.requests]
