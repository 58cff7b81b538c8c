"""Protected-resource and authorization-server metadata, validated as atproto requires.

The PDS publishes ``/.well-known/oauth-protected-resource`` (RFC 9728), which
names its one authorization server; that server publishes
``/.well-known/oauth-authorization-server`` (RFC 8414). The parsers here check
every requirement the atproto OAuth profile puts on them, so a server that
cannot do PAR, PKCE S256, ES256 DPoP or the ``atproto`` scope is refused before
any user is sent to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .dpop import origin_of
from .errors import OAuthMetadataError
from .urls import check_origin, check_server_url

__all__ = [
    "AUTHORIZATION_SERVER_PATH",
    "PROTECTED_RESOURCE_PATH",
    "AuthorizationServerMetadata",
    "ProtectedResourceMetadata",
    "authorization_server_metadata_url",
    "parse_authorization_server_metadata",
    "parse_protected_resource_metadata",
    "protected_resource_metadata_url",
]

PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource"
AUTHORIZATION_SERVER_PATH = "/.well-known/oauth-authorization-server"


def protected_resource_metadata_url(resource: str) -> str:
    """Where a PDS publishes its protected-resource metadata."""
    return origin_of(resource) + PROTECTED_RESOURCE_PATH


def authorization_server_metadata_url(issuer: str) -> str:
    """Where an authorization server publishes its metadata."""
    return origin_of(issuer) + AUTHORIZATION_SERVER_PATH


@dataclass(frozen=True)
class ProtectedResourceMetadata:
    """What a PDS says about itself: its URL and its one authorization server."""

    resource: str
    authorization_server: str


@dataclass(frozen=True)
class AuthorizationServerMetadata:
    """The endpoints and capabilities of an authorization server (checked for atproto)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    pushed_authorization_request_endpoint: str
    revocation_endpoint: str | None
    scopes_supported: tuple[str, ...]
    protected_resources: tuple[str, ...] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def parse_protected_resource_metadata(
    data: object, *, resource_url: str, allow_private_hosts: bool = False
) -> ProtectedResourceMetadata:
    """Validate a PDS's protected-resource metadata fetched for ``resource_url``.

    Requires ``resource`` to name the same origin and ``authorization_servers`` to
    hold exactly one bare https origin. Raises :class:`OAuthMetadataError`.
    """
    where = protected_resource_metadata_url(resource_url)
    if not isinstance(data, dict):
        raise OAuthMetadataError(where, "not a JSON object")
    resource = data.get("resource")
    if not isinstance(resource, str) or _origin_or_none(resource) != origin_of(resource_url):
        raise OAuthMetadataError(where, f"'resource' {resource!r} is not {origin_of(resource_url)}")
    servers = data.get("authorization_servers")
    if not isinstance(servers, list) or len(servers) != 1 or not isinstance(servers[0], str):
        raise OAuthMetadataError(where, "'authorization_servers' must list exactly one URL")
    problem = check_origin(servers[0], allow_private_hosts=allow_private_hosts)
    if problem:
        raise OAuthMetadataError(where, f"authorization server {servers[0]!r}: {problem}")
    return ProtectedResourceMetadata(
        resource=resource.rstrip("/"), authorization_server=servers[0].rstrip("/")
    )


def _origin_or_none(url: str) -> str | None:
    try:
        return origin_of(url)
    except ValueError:
        return None


def _string_list(data: Mapping[str, Any], name: str, where: str) -> list[str]:
    value = data.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OAuthMetadataError(where, f"'{name}' must be a list of strings")
    return value


def _require_in(data: Mapping[str, Any], name: str, wanted: tuple[str, ...], where: str) -> None:
    values = _string_list(data, name, where)
    missing = [w for w in wanted if w not in values]
    if missing:
        raise OAuthMetadataError(where, f"'{name}' lacks {', '.join(missing)}")


def parse_authorization_server_metadata(
    data: object, *, issuer: str, allow_private_hosts: bool = False
) -> AuthorizationServerMetadata:
    """Validate authorization-server metadata fetched from ``issuer``'s well-known URL.

    Checks, as the atproto profile says: ``issuer`` equals the origin fetched
    from (a bare https origin); the authorization, token and PAR endpoints are
    URLs; ``code`` responses; the ``authorization_code`` and ``refresh_token``
    grants; PKCE ``S256``; client auth ``none`` and ``private_key_jwt`` with
    ``ES256`` (and never ``none`` as a signing algorithm); the ``atproto`` scope;
    the ``iss`` callback parameter; PAR required; ES256 DPoP; request URIs not
    unregistered; client-metadata documents. Raises :class:`OAuthMetadataError`.
    """
    where = authorization_server_metadata_url(issuer)
    if not isinstance(data, dict):
        raise OAuthMetadataError(where, "not a JSON object")
    claimed = data.get("issuer")
    problem = check_origin(claimed, allow_private_hosts=allow_private_hosts)
    if problem:
        raise OAuthMetadataError(where, f"'issuer' {claimed!r}: {problem}")
    assert isinstance(claimed, str)
    if claimed.rstrip("/") != issuer.rstrip("/") or origin_of(claimed) != origin_of(issuer):
        raise OAuthMetadataError(where, f"'issuer' {claimed!r} does not match {issuer!r}")

    endpoints: dict[str, str | None] = {}
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "pushed_authorization_request_endpoint",
        "revocation_endpoint",
    ):
        value = data.get(name)
        if value is None and name == "revocation_endpoint":
            endpoints[name] = None
            continue
        problem = check_server_url(value, allow_private_hosts=allow_private_hosts)
        if problem:
            raise OAuthMetadataError(where, f"'{name}' {value!r}: {problem}")
        endpoints[name] = value

    _require_in(data, "response_types_supported", ("code",), where)
    _require_in(data, "grant_types_supported", ("authorization_code", "refresh_token"), where)
    _require_in(data, "code_challenge_methods_supported", ("S256",), where)
    _require_in(data, "token_endpoint_auth_methods_supported", ("none", "private_key_jwt"), where)
    _require_in(data, "token_endpoint_auth_signing_alg_values_supported", ("ES256",), where)
    if "none" in data["token_endpoint_auth_signing_alg_values_supported"]:
        raise OAuthMetadataError(
            where, "'token_endpoint_auth_signing_alg_values_supported' must not include none"
        )
    _require_in(data, "scopes_supported", ("atproto",), where)
    _require_in(data, "dpop_signing_alg_values_supported", ("ES256",), where)
    for flag in (
        "authorization_response_iss_parameter_supported",
        "require_pushed_authorization_requests",
        "client_id_metadata_document_supported",
    ):
        if data.get(flag) is not True:
            raise OAuthMetadataError(where, f"'{flag}' must be true")
    if data.get("require_request_uri_registration", True) is not True:
        raise OAuthMetadataError(where, "'require_request_uri_registration' must not be false")

    protected: tuple[str, ...] | None = None
    if "protected_resources" in data:
        protected = tuple(_string_list(data, "protected_resources", where))

    token = endpoints["token_endpoint"]
    authorize = endpoints["authorization_endpoint"]
    par = endpoints["pushed_authorization_request_endpoint"]
    assert token is not None
    assert authorize is not None
    assert par is not None
    return AuthorizationServerMetadata(
        issuer=claimed.rstrip("/"),
        authorization_endpoint=authorize,
        token_endpoint=token,
        pushed_authorization_request_endpoint=par,
        revocation_endpoint=endpoints["revocation_endpoint"],
        scopes_supported=tuple(data["scopes_supported"]),
        protected_resources=protected,
        raw=dict(data),
    )
