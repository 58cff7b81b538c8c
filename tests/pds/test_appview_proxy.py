"""Service proxying through the real reference PDS to a loopback AppView.

The client sends ``atproto-proxy: did:web:localhost%3A<port>#atdata_appview`` and its
access token to its PDS; the PDS resolves the AppView's ``did:web`` document, finds
the ``#atdata_appview`` service, and forwards the call with an inter-service JWT signed
by the user's key. The AppView (tests/support/appview.py) verifies that JWT against the
user's DID document in the PLC directory. Raw httpx for now; the statuses and bodies
asserted here are what the client's typed errors must map (pinned @atproto/pds 0.5.35).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.appview import FAIL, PROCEDURE, QUERY, AppView, Received, Reply
from tests.support.pds import PdsProcess
from tests.support.service_auth import high_s_variant, split_jwt

pytestmark = pytest.mark.pds

UNREACHABLE = {"error": "UpstreamFailure", "message": "Upstream service unreachable"}
INTERNAL_ERROR = {"error": "InternalServerError", "message": "Internal Server Error"}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """A plain client (no proxy settings from the environment)."""
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(pds: PdsProcess, http: httpx.Client) -> dict[str, str]:
    """Access tokens for alice.test and bob.test, by handle."""
    out = {}
    for handle in ("alice.test", "bob.test"):
        account = pds.account(handle)
        response = http.post(
            f"{pds.pds_url}/xrpc/com.atproto.server.createSession",
            json={"identifier": handle, "password": account.password},
        )
        response.raise_for_status()
        out[handle] = response.json()["accessJwt"]
    return out


def _proxied(
    http: httpx.Client,
    pds: PdsProcess,
    nsid: str,
    *,
    token: str | None,
    proxy: str | None,
    method: str = "GET",
    **kwargs: Any,
) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if proxy is not None:
        headers["atproto-proxy"] = proxy
    return http.request(method, f"{pds.pds_url}/xrpc/{nsid}", headers=headers, **kwargs)


def _only(appview: AppView) -> Received:
    received = appview.received
    assert len(received) == 1, received
    return received[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- (a) proxied calls reach the AppView with a verifiable service JWT ----------------


def test_proxied_query_carries_a_service_jwt_signed_by_the_users_plc_key(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str], appview: AppView
) -> None:
    alice = pds.account("alice.test")
    before = int(time.time())
    response = _proxied(
        http,
        pds,
        QUERY,
        token=tokens["alice.test"],
        proxy=appview.proxy_header,
        params={"uris": ["at://a/b/c", "at://d/e/f"], "limit": "2"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "nsid": QUERY,
        "params": {"uris": ["at://a/b/c", "at://d/e/f"], "limit": ["2"]},
        "viewer": alice.did,
    }

    call = _only(appview)
    assert call.method == "GET"
    assert call.path == f"/xrpc/{QUERY}?uris=at%3A%2F%2Fa%2Fb%2Fc&uris=at%3A%2F%2Fd%2Fe%2Ff&limit=2"
    assert call.auth is not None, call.auth_error
    # The PDS replaced the caller's access token by its own service JWT.
    assert tokens["alice.test"] not in call.headers["authorization"]
    assert dict(call.auth.header) == {"typ": "JWT", "alg": "ES256K"}
    claims = dict(call.auth.claims)
    assert set(claims) == {"iss", "aud", "exp", "iat", "lxm", "jti"}
    assert claims["iss"] == alice.did  # bare DID, no "#..." service fragment
    assert claims["aud"] == appview.did  # bare AppView DID, not "...#atdata_appview"
    assert claims["lxm"] == QUERY
    assert before - 5 <= claims["iat"] <= time.time() + 5
    assert claims["exp"] - claims["iat"] == 60
    assert re.fullmatch(r"[0-9a-f]{32}", claims["jti"])

    # The key that verified it is alice's #atproto key as the PLC directory publishes it,
    # in both of its forms (legacy document and did:key data).
    document = http.get(f"{pds.plc_url}/{alice.did}").json()
    (method,) = [m for m in document["verificationMethod"] if m["id"] == "#atproto"]
    assert call.auth.key_id == "#atproto"
    assert call.auth.key_type == method["type"] == "EcdsaSecp256k1VerificationKey2019"
    assert call.auth.public_key_multibase == method["publicKeyMultibase"]
    data = http.get(f"{pds.plc_url}/{alice.did}/data").json()
    assert call.auth.did_key == data["verificationMethods"]["atproto"]


def test_proxied_procedure_forwards_the_body_and_signs_for_the_caller(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str], appview: AppView
) -> None:
    bob = pds.account("bob.test")
    body = b'{"name":"mnist","tags":["vision"],"size":70000}'
    response = _proxied(
        http,
        pds,
        PROCEDURE,
        method="POST",
        token=tokens["bob.test"],
        proxy=appview.proxy_header,
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "nsid": PROCEDURE,
        "viewer": bob.did,
        "input": {"name": "mnist", "tags": ["vision"], "size": 70000},
        "contentType": "application/json",
    }
    call = _only(appview)
    assert call.method == "POST"
    assert call.body == body
    assert call.headers["content-length"] == str(len(body))
    assert call.auth is not None, call.auth_error
    assert call.auth.claims["iss"] == bob.did
    assert call.auth.claims["aud"] == appview.did
    assert call.auth.claims["lxm"] == PROCEDURE
    data = http.get(f"{pds.plc_url}/{bob.did}/data").json()
    assert call.auth.did_key == data["verificationMethods"]["atproto"]


def test_the_appview_refuses_the_forwarded_jwt_once_altered(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str], appview: AppView
) -> None:
    """The verification above is real: the same token, altered, is refused."""
    response = _proxied(http, pds, QUERY, token=tokens["alice.test"], proxy=appview.proxy_header)
    assert response.status_code == 200
    token = _only(appview).headers["authorization"].removeprefix("Bearer ")
    appview.clear()

    def direct(nsid: str, jwt: str) -> httpx.Response:
        return http.get(f"{appview.url}/xrpc/{nsid}", headers={"authorization": f"Bearer {jwt}"})

    assert direct(QUERY, token).status_code == 200  # still valid for its own method
    wrong_method = direct(FAIL, token)
    assert wrong_method.status_code == 401
    assert wrong_method.json()["error"] == "BadJwtLexiconMethod"
    high_s = direct(QUERY, high_s_variant(token))
    assert high_s.status_code == 401
    assert high_s.json() == {
        "error": "BadJwtSignature",
        "message": "high-S signature (atproto requires low-S)",
    }
    # Claim bob as issuer, keep alice's signature.
    header_part, _, signature_part = token.split(".")
    _, claims, _ = split_jwt(token)
    claims["iss"] = pds.account("bob.test").did
    forged_claims = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = direct(QUERY, f"{header_part}.{forged_claims}.{signature_part}")
    assert forged.status_code == 401
    assert forged.json()["error"] == "BadJwtSignature"
    assert [r.auth_error for r in appview.received] == [
        None,
        "BadJwtLexiconMethod",
        "BadJwtSignature",
        "BadJwtSignature",
    ]


def test_get_service_auth_tokens_work_directly_with_either_audience_form(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str], appview: AppView
) -> None:
    """``com.atproto.server.getServiceAuth`` mints the same kind of token, bare or ``#id`` aud."""
    alice = pds.account("alice.test")
    for aud in (appview.did, appview.service_ref):
        minted = http.get(
            f"{pds.pds_url}/xrpc/com.atproto.server.getServiceAuth",
            params={"aud": aud, "lxm": QUERY},
            headers={"authorization": f"Bearer {tokens['alice.test']}"},
        )
        assert minted.status_code == 200, minted.text
        token = minted.json()["token"]
        response = http.get(
            f"{appview.url}/xrpc/{QUERY}", headers={"authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["viewer"] == alice.did
        assert appview.received[-1].auth is not None
        assert appview.received[-1].auth.claims["aud"] == aud


def test_which_headers_cross_the_proxy(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str], appview: AppView
) -> None:
    appview.on(
        "science.alt.dataset.headerCheck",
        lambda _request: Reply(
            body={"ok": True},
            headers={
                "atproto-content-labelers": "did:plc:labeler",
                "atproto-repo-rev": "3lzzz",
                "retry-after": "5",
                "x-appview-private": "1",
            },
        ),
    )
    response = _proxied(
        http,
        pds,
        "science.alt.dataset.headerCheck",
        token=tokens["alice.test"],
        proxy=appview.proxy_header,
        headers={
            "atproto-accept-labelers": "did:plc:labeler;redact",
            "x-atproto-topics": "science",
            "accept-language": "fr",
            "user-agent": "atmosphere-test/1",
            "x-unrelated": "dropped",
        },
    )
    assert response.status_code == 200
    # Upstream -> caller: content headers and these three atproto/retry headers only.
    assert response.headers["atproto-content-labelers"] == "did:plc:labeler"
    assert response.headers["atproto-repo-rev"] == "3lzzz"
    assert response.headers["retry-after"] == "5"
    assert "x-appview-private" not in response.headers
    # Caller -> upstream: accept-language, atproto-accept-labelers, x-atproto-*,
    # accept-encoding; not user-agent, not atproto-proxy, not other headers.
    forwarded = _only(appview).headers
    assert forwarded["atproto-accept-labelers"] == "did:plc:labeler;redact"
    assert forwarded["x-atproto-topics"] == "science"
    assert forwarded["accept-language"] == "fr"
    assert "accept-encoding" in forwarded
    for absent in ("user-agent", "x-unrelated", "atproto-proxy"):
        assert absent not in forwarded


def test_methods_the_pds_implements_are_not_proxied(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str], appview: AppView
) -> None:
    """With a proxy header, a method the PDS serves itself is still answered locally."""
    alice = pds.account("alice.test")
    response = _proxied(
        http,
        pds,
        "com.atproto.repo.describeRepo",
        token=tokens["alice.test"],
        proxy=appview.proxy_header,
        params={"repo": alice.did},
    )
    assert response.status_code == 200
    assert response.json()["did"] == alice.did
    assert appview.received == []


def test_the_pds_does_not_check_the_http_method_of_unknown_nsids(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str], appview: AppView
) -> None:
    """A GET to a procedure goes through; it is the AppView that says no."""
    response = _proxied(
        http, pds, PROCEDURE, token=tokens["alice.test"], proxy=appview.proxy_header
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "InvalidRequest",
        "message": "Incorrect HTTP method, expected POST",
    }
    assert _only(appview).method == "GET"


# -- (b) straight to the AppView, no PDS ---------------------------------------------


def test_direct_query_without_auth(http: httpx.Client, appview: AppView) -> None:
    response = http.get(f"{appview.url}/xrpc/{QUERY}", params={"uris": "at://x/y/z"})
    assert response.status_code == 200
    assert response.json() == {"nsid": QUERY, "params": {"uris": ["at://x/y/z"]}, "viewer": None}
    call = _only(appview)
    assert call.auth is None
    assert call.auth_error is None
    assert "authorization" not in call.headers


def test_direct_procedure_without_auth_is_refused(http: httpx.Client, appview: AppView) -> None:
    response = http.post(f"{appview.url}/xrpc/{PROCEDURE}", json={"x": 1})
    assert response.status_code == 401
    assert response.json() == {"error": "AuthMissing", "message": "Authentication Required"}


def test_the_did_document_names_the_service(http: httpx.Client, appview: AppView) -> None:
    document = http.get(f"{appview.url}/.well-known/did.json").json()
    assert document["id"] == appview.did == f"did:web:localhost%3A{appview.port}"
    assert document["service"] == [
        {
            "id": "#atdata_appview",
            "type": "AtdataAppView",
            "serviceEndpoint": f"http://localhost:{appview.port}",
        }
    ]


# -- (c) the AppView is down, slow, or says no ---------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unreachable_endpoint_is_a_502_upstream_failure(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str], method: str
) -> None:
    """The DID document resolves but nothing listens at its serviceEndpoint."""
    dead = f"http://localhost:{_closed_port()}"
    with AppView(plc_url=pds.plc_url, endpoint=dead) as appview:
        response = _proxied(
            http,
            pds,
            QUERY if method == "GET" else PROCEDURE,
            method=method,
            token=tokens["alice.test"],
            proxy=appview.proxy_header,
            **({"json": {"a": 1}} if method == "POST" else {}),
        )
        assert appview.did_document_fetches == 1
    assert response.status_code == 502
    assert response.json() == UNREACHABLE


def test_appview_stopped_after_its_did_was_resolved_is_a_502(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str]
) -> None:
    appview = AppView(plc_url=pds.plc_url).start()
    try:
        ok = _proxied(http, pds, QUERY, token=tokens["alice.test"], proxy=appview.proxy_header)
        assert ok.status_code == 200
    finally:
        appview.stop()
    # The PDS kept the DID document (cached for an hour) and now cannot connect.
    response = _proxied(http, pds, QUERY, token=tokens["alice.test"], proxy=appview.proxy_header)
    assert response.status_code == 502
    assert response.json() == UNREACHABLE


def test_appview_whose_did_cannot_be_fetched_is_a_500(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str]
) -> None:
    """Nothing serves the did:web document at all: the resolver throws, a generic 500."""
    appview = AppView(plc_url=pds.plc_url)
    appview.stop()  # bound, never served: its port is closed
    response = _proxied(http, pds, QUERY, token=tokens["alice.test"], proxy=appview.proxy_header)
    assert response.status_code == 500
    assert response.json() == INTERNAL_ERROR


@pytest.mark.parametrize(
    ("options", "status", "body"),
    [
        pytest.param(
            {"did_document": {"id": "did:web:elsewhere.test"}},
            500,
            INTERNAL_ERROR,
            id="did-document-for-another-did-is-a-500",
        ),
        pytest.param(
            {"endpoint": "ftp://localhost:21"},
            400,
            {"error": "InvalidRequest", "message": "could not resolve proxy did service url"},
            id="non-http-service-endpoint-is-a-400",
        ),
    ],
)
def test_unusable_did_document_is_refused(
    pds: PdsProcess,
    http: httpx.Client,
    tokens: dict[str, str],
    options: dict[str, Any],
    status: int,
    body: dict[str, str],
) -> None:
    with AppView(plc_url=pds.plc_url, **options) as appview:
        response = _proxied(
            http, pds, QUERY, token=tokens["alice.test"], proxy=appview.proxy_header
        )
    assert response.status_code == status
    assert response.json() == body
    assert appview.received == []


def test_appview_slower_than_ten_seconds_is_a_502(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str], appview: AppView
) -> None:
    """The PDS waits 10 s for upstream headers (proxyHeadersTimeout), then gives up."""
    appview.on("science.alt.dataset.slow", lambda _request: Reply(body={}, delay=11.0))
    started = time.monotonic()
    response = _proxied(
        http,
        pds,
        "science.alt.dataset.slow",
        token=tokens["alice.test"],
        proxy=appview.proxy_header,
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert response.json() == UNREACHABLE
    assert 9.5 <= elapsed < 11.0


def _says_no(status: int, error: str) -> Any:
    """A case of ``test_appview_error_answers``: an XRPC error the caller gets unchanged."""
    message = "the appview says no"
    return pytest.param(
        FAIL,
        "GET",
        {"status": str(status), "error": error, "message": message},
        (status, status),
        {"error": error, "message": message},
        id=f"{status}-{error}-unchanged",
    )


def _not_json(status: int, expected_status: int, error: str, message: str) -> Any:
    """A case of ``test_appview_error_answers``: a non-JSON error, given a generic body."""
    return pytest.param(
        FAIL,
        "GET",
        {"status": str(status), "error": "-"},
        (status, expected_status),
        {"error": error, "message": message},
        id=f"non-json-{status}-gets-a-generic-body",
    )


@pytest.mark.parametrize(
    ("nsid", "method", "params", "statuses", "expected"),
    [
        _says_no(400, "InvalidThing"),
        _says_no(401, "BadJwtSignature"),
        _says_no(403, "Forbidden"),
        _says_no(404, "RecordNotFound"),
        _says_no(418, "Teapot"),
        _says_no(429, "RateLimitExceeded"),
        _says_no(501, "MethodNotImplemented"),
        _says_no(502, "UpstreamFailure"),
        _says_no(503, "NotEnoughResources"),
        _says_no(504, "UpstreamTimeout"),
        pytest.param(
            FAIL,
            "POST",
            {"status": "500", "error": "DatabaseDown", "message": "try later"},
            (500, 502),
            {"error": "DatabaseDown", "message": "try later"},
            id="500-becomes-502-keeping-its-error-name",
        ),
        pytest.param(
            FAIL,
            "GET",
            {"status": "400", "error": "Nope"},
            (400, 400),
            {"error": "Nope", "message": "Invalid Request"},
            id="no-message-gets-the-pds-default-message",
        ),
        _not_json(404, 404, "XRPCNotSupported", "XRPC Not Supported"),
        _not_json(500, 502, "UpstreamFailure", "Upstream Failure"),
        _not_json(503, 503, "NotEnoughResources", "Not Enough Resources"),
        pytest.param(
            FAIL,
            "GET",
            {"status": "429", "error": "RateLimitExceeded", "retryAfter": "7"},
            (429, 429),
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            id="retry-after-is-dropped",
        ),
        pytest.param(
            "science.alt.dataset.noSuchMethod",
            "GET",
            {},
            (501, 501),
            {"error": "MethodNotImplemented", "message": "Method Not Implemented"},
            id="unknown-method-at-the-appview",
        ),
    ],
)
def test_appview_error_answers(
    pds: PdsProcess,
    http: httpx.Client,
    tokens: dict[str, str],
    appview: AppView,
    nsid: str,
    method: str,
    params: dict[str, str],
    statuses: tuple[int, int],
    expected: dict[str, str],
) -> None:
    """What the caller gets when the AppView answers an error (``statuses``: the AppView's
    status, then the caller's); Retry-After, forwarded on success (see above), never is."""
    upstream, status = statuses
    response = _proxied(
        http,
        pds,
        nsid,
        method=method,
        token=tokens["alice.test"],
        proxy=appview.proxy_header,
        params=params,
        **({"json": {}} if method == "POST" else {}),
    )
    assert response.status_code == status
    assert response.json() == expected
    assert _only(appview).status == upstream
    assert "retry-after" not in response.headers


# -- (d) bad proxy headers and missing auth ------------------------------------------


def _bad_header(header: str, message: str) -> tuple[str, int, dict[str, str]]:
    return header, 400, {"error": "InvalidRequest", "message": message}


@pytest.mark.parametrize(
    ("header", "status", "body"),
    [
        _bad_header("{did}", "no service id specified in proxy header"),
        _bad_header("{did}#", "no service id specified in proxy header"),
        _bad_header("#atdata_appview", "no did specified in proxy header"),
        _bad_header("{did}#atdata_appview#again", "invalid proxy header format"),
        _bad_header("{did} #atdata_appview", "proxy header cannot contain spaces"),
        _bad_header("{did}#other_service", "could not resolve proxy did service url"),
        _bad_header("{did}#ATDATA_APPVIEW", "could not resolve proxy did service url"),
        _bad_header(
            "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#atdata_appview", "could not resolve proxy did"
        ),
        # DID forms the PDS cannot resolve at all: a generic 500.
        ("not-a-did#atdata_appview", 500, INTERNAL_ERROR),
        ("DID:WEB:{host}#atdata_appview", 500, INTERNAL_ERROR),
    ],
)
def test_bad_proxy_header_is_refused(
    pds: PdsProcess,
    http: httpx.Client,
    tokens: dict[str, str],
    appview: AppView,
    header: str,
    status: int,
    body: dict[str, str],
) -> None:
    proxy = header.format(did=appview.did, host=f"LOCALHOST%3A{appview.port}")
    response = _proxied(http, pds, QUERY, token=tokens["alice.test"], proxy=proxy)
    assert response.status_code == status
    assert response.json() == body
    assert appview.received == []


def test_unknown_nsid_without_proxy_header_is_a_400(
    pds: PdsProcess, http: httpx.Client, tokens: dict[str, str]
) -> None:
    """No atproto-proxy and no configured AppView (this PDS has no bsky AppView)."""
    response = _proxied(http, pds, QUERY, token=tokens["alice.test"], proxy=None)
    assert response.status_code == 400
    assert response.json() == {
        "error": "InvalidRequest",
        "message": f"No service configured for {QUERY}",
    }


def test_proxied_call_without_auth_is_a_401_after_the_target_resolves(
    pds: PdsProcess, http: httpx.Client, appview: AppView
) -> None:
    response = _proxied(http, pds, QUERY, token=None, proxy=appview.proxy_header)
    assert response.status_code == 401
    assert response.json() == {"error": "AuthMissing", "message": "Authentication Required"}
    assert appview.received == []
    # The header is checked first: a bad one without auth is the header's 400.
    bad = _proxied(http, pds, QUERY, token=None, proxy=f"{appview.did}#other_service")
    assert bad.status_code == 400


def test_proxied_call_with_a_bad_token_is_a_400_invalid_token(
    pds: PdsProcess, http: httpx.Client, appview: AppView
) -> None:
    response = _proxied(http, pds, QUERY, token="not-a-jwt", proxy=appview.proxy_header)
    assert response.status_code == 400
    assert response.json() == {"error": "InvalidToken", "message": "Token could not be verified"}
    assert appview.received == []
