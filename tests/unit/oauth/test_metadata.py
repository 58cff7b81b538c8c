"""Server metadata validation and the URL rules behind it."""

from __future__ import annotations

from typing import Any

import pytest

from atmosphere._oauth.errors import OAuthMetadataError
from atmosphere._oauth.metadata import (
    parse_authorization_server_metadata,
    parse_protected_resource_metadata,
)
from atmosphere._oauth.urls import check_origin, check_server_url, is_loopback_host
from tests.support.oauth_fakes import as_metadata, pr_metadata

ISSUER = "https://auth.example"


def test_valid_authorization_server_metadata() -> None:
    meta = parse_authorization_server_metadata(as_metadata(), issuer=ISSUER)
    assert meta.issuer == ISSUER
    assert meta.pushed_authorization_request_endpoint == f"{ISSUER}/oauth/par"
    assert meta.revocation_endpoint == f"{ISSUER}/oauth/revoke"
    assert "atproto" in meta.scopes_supported


def _without(name: str) -> dict[str, Any]:
    data = as_metadata()
    del data[name]
    return data


def _with(**changes: Any) -> dict[str, Any]:
    return {**as_metadata(), **changes}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_with(issuer="https://other.example"), "does not match"),
        (_with(issuer="https://auth.example/path"), "bare origin"),
        (_with(issuer="http://auth.example"), "not https"),
        (_without("issuer"), "issuer"),
        (_without("token_endpoint"), "token_endpoint"),
        (_without("authorization_endpoint"), "authorization_endpoint"),
        (_without("pushed_authorization_request_endpoint"), "pushed_authorization_request"),
        (_with(token_endpoint="http://auth.example/t"), "token_endpoint"),
        (_with(require_pushed_authorization_requests=False), "require_pushed"),
        (_without("require_pushed_authorization_requests"), "require_pushed"),
        (_with(code_challenge_methods_supported=["plain"]), "S256"),
        (_with(dpop_signing_alg_values_supported=["RS256"]), "ES256"),
        (_without("dpop_signing_alg_values_supported"), "dpop_signing_alg"),
        (_with(scopes_supported=["transition:generic"]), "atproto"),
        (_with(response_types_supported=["token"]), "code"),
        (_with(grant_types_supported=["authorization_code"]), "refresh_token"),
        (_with(token_endpoint_auth_methods_supported=["private_key_jwt"]), "none"),
        (_with(token_endpoint_auth_signing_alg_values_supported=["ES256", "none"]), "none"),
        (_with(token_endpoint_auth_signing_alg_values_supported=["RS256"]), "ES256"),
        (_with(authorization_response_iss_parameter_supported=False), "iss_parameter"),
        (_with(client_id_metadata_document_supported=False), "client_id_metadata"),
        (_with(require_request_uri_registration=False), "request_uri_registration"),
        (_with(scopes_supported="atproto"), "list of strings"),
        ([], "JSON object"),
    ],
)
def test_authorization_server_metadata_violations(data: Any, reason: str) -> None:
    with pytest.raises(OAuthMetadataError) as caught:
        parse_authorization_server_metadata(data, issuer=ISSUER)
    assert reason in str(caught.value)
    assert caught.value.url == f"{ISSUER}/.well-known/oauth-authorization-server"


def test_loopback_http_needs_the_switch() -> None:
    issuer = "http://localhost:2583"
    data = as_metadata(issuer)
    with pytest.raises(OAuthMetadataError):
        parse_authorization_server_metadata(data, issuer=issuer)
    meta = parse_authorization_server_metadata(data, issuer=issuer, allow_private_hosts=True)
    assert meta.token_endpoint == f"{issuer}/oauth/token"
    # The switch is for loopback only.
    remote = as_metadata("http://auth.example")
    with pytest.raises(OAuthMetadataError):
        parse_authorization_server_metadata(
            remote, issuer="http://auth.example", allow_private_hosts=True
        )


def test_protected_resource_metadata() -> None:
    meta = parse_protected_resource_metadata(
        pr_metadata("https://pds.example", ISSUER), resource_url="https://pds.example/"
    )
    assert meta.authorization_server == ISSUER
    assert meta.resource == "https://pds.example"


@pytest.mark.parametrize(
    "data",
    [
        pr_metadata("https://other.example", ISSUER),
        {"resource": "https://pds.example", "authorization_servers": []},
        {"resource": "https://pds.example", "authorization_servers": [ISSUER, ISSUER]},
        {"resource": "https://pds.example"},
        pr_metadata("https://pds.example", "https://auth.example/sub"),
        pr_metadata("https://pds.example", "https://auth.example?x=1"),
        pr_metadata("https://pds.example", "https://u:p@auth.example"),
        pr_metadata("https://pds.example", "http://auth.example"),
        pr_metadata("https://pds.example", "https://auth.example:443"),
        "not an object",
    ],
)
def test_protected_resource_metadata_violations(data: Any) -> None:
    with pytest.raises(OAuthMetadataError):
        parse_protected_resource_metadata(data, resource_url="https://pds.example")


def test_url_rules() -> None:
    assert check_server_url("https://a.example/x?y", allow_private_hosts=False) is None
    assert check_server_url("https://a.example:8443", allow_private_hosts=False) is None
    assert "443" in (check_server_url("https://a.example:443", allow_private_hosts=False) or "")
    assert check_server_url("https://a.example/#f", allow_private_hosts=False)
    assert check_server_url("javascript:alert(1)", allow_private_hosts=True)
    assert check_server_url(None, allow_private_hosts=True)
    assert check_server_url("http://127.0.0.1:1/", allow_private_hosts=True) is None
    assert check_server_url("http://10.0.0.1/", allow_private_hosts=True)
    assert check_origin("https://a.example/", allow_private_hosts=False) is None
    assert check_origin("https://a.example/p", allow_private_hosts=False)
    assert is_loopback_host("LOCALHOST")
    assert is_loopback_host("[::1]")
    assert is_loopback_host("127.1.2.3")
    assert not is_loopback_host("localhost.example.com")
    assert not is_loopback_host("192.168.1.1")
