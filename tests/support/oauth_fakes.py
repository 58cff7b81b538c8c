"""Canned OAuth server documents for unit tests (shaped like the reference PDS's)."""

from __future__ import annotations

from typing import Any


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
