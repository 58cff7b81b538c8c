"""The OAuth flows over httpx.MockTransport: nonce retries, binding checks, shells, DPoP auth."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl

import httpx
import pytest

from atmosphere._oauth import flow
from atmosphere._oauth.authorization import PendingAuthorization
from atmosphere._oauth.client_id import loopback_client
from atmosphere._oauth.dpop import NonceStore, access_token_hash
from atmosphere._oauth.drive import run_async, run_sync
from atmosphere._oauth.errors import (
    OAuthIdentityError,
    OAuthMetadataError,
    OAuthServerError,
    ScopeMissingError,
)
from atmosphere._oauth.identity import SimpleIdentityLookup
from atmosphere._oauth.keys import DpopKey
from atmosphere._oauth.resource import DpopAuth, resource_error
from atmosphere._oauth.session import OAuthSession
from atmosphere.errors import (
    HandleResolutionError,
    InvalidTokenError,
    ResponseTooLargeError,
    TransportError,
)
from tests.support.oauth_fakes import (
    ALICE,
    ISSUER,
    LIAR,
    MALLORY,
    OTHER_PDS,
    PDS,
    PLC,
    World,
    as_metadata,
    claims,
    pr_metadata,
)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def client(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(world.handler)) as c:
        yield c


LOOKUP = SimpleIdentityLookup(plc_url=PLC, handle_service=PDS)


def _start(client: httpx.Client, nonces: NonceStore, identifier: str = "alice.example"):
    return run_sync(
        flow.start_from_identifier(
            identifier, loopback_client(5000), identity=LOOKUP, nonces=nonces
        ),
        client,
    )


def _callback(pending: PendingAuthorization, code: str = "cod-1") -> dict[str, str]:
    return {"state": pending.state, "iss": pending.issuer, "code": code}


def test_par_retries_once_with_the_nonce(world: World, client: httpx.Client) -> None:
    nonces = NonceStore()
    pending = _start(client, nonces)
    pars = [r for r in world.requests if r.url.path == "/oauth/par"]
    assert len(pars) == 2
    assert "nonce" not in claims(pars[0].headers["DPoP"])
    assert claims(pars[1].headers["DPoP"])["nonce"] == "nonce-0"
    assert pending.expected_did == ALICE
    assert pending.pds_url == PDS
    assert pending.url.startswith(f"{ISSUER}/oauth/authorize?")
    # The nonce is remembered: the token request needs no retry.
    session = run_sync(
        flow.finish_authorization(pending, _callback(pending), nonces=nonces, identity=LOOKUP),
        client,
    )
    assert len([r for r in world.requests if r.url.path == "/oauth/token"]) == 1
    assert session.did == ALICE
    assert session.pds_url == PDS
    token_form = dict(parse_qsl(world.requests[-4].content.decode()))
    assert token_form["code_verifier"] == pending.pkce.verifier
    assert token_form["redirect_uri"] == "http://127.0.0.1:5000/"


def test_a_server_that_keeps_changing_its_nonce_gets_two_tries(
    world: World, client: httpx.Client
) -> None:
    world.always_new_nonce = True
    with pytest.raises(OAuthServerError) as caught:
        _start(client, NonceStore())
    assert caught.value.error == "use_dpop_nonce"
    assert len([r for r in world.requests if r.url.path == "/oauth/par"]) == 2


def test_no_retry_without_a_new_nonce() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"error": "use_dpop_nonce"})

    key, nonces = DpopKey.generate(), NonceStore()
    with httpx.Client(transport=httpx.MockTransport(handler)) as c:
        response = run_sync(flow.dpop_request(key, nonces, "POST", f"{ISSUER}/oauth/par"), c)
    assert response.status_code == 400
    assert len(calls) == 1


def test_a_lying_authorization_server_cannot_claim_someone_elses_account() -> None:
    # The server at LIAR issues a token saying sub=ALICE, but ALICE's PDS uses ISSUER.
    world = World(sub=ALICE)
    nonces = NonceStore()
    with httpx.Client(transport=httpx.MockTransport(world.handler)) as c:
        info = run_sync(flow.discover_from_pds(OTHER_PDS), c)
        assert info.server.issuer == LIAR
        pending = run_sync(flow.start_authorization(loopback_client(5000), info, nonces=nonces), c)
        with pytest.raises(OAuthIdentityError) as caught:
            run_sync(
                flow.finish_authorization(
                    pending, _callback(pending), nonces=nonces, identity=LOOKUP
                ),
                c,
            )
    assert caught.value.did == ALICE
    assert caught.value.issuer == LIAR
    assert ISSUER in str(caught.value)
    assert world.paths()[-1] == f"POST {LIAR}/oauth/revoke"


def test_the_account_must_be_the_one_the_flow_started_with() -> None:
    world = World(sub=MALLORY)
    nonces = NonceStore()
    with httpx.Client(transport=httpx.MockTransport(world.handler)) as c:
        pending = _start(c, nonces)
        with pytest.raises(OAuthIdentityError):
            run_sync(
                flow.finish_authorization(
                    pending, _callback(pending), nonces=nonces, identity=LOOKUP
                ),
                c,
            )
    assert world.paths()[-1] == f"POST {ISSUER}/oauth/revoke"


def test_server_errors_are_typed(world: World, client: httpx.Client) -> None:
    nonces = NonceStore()
    pending = _start(client, nonces)
    with pytest.raises(OAuthServerError) as caught:
        run_sync(
            flow.finish_authorization(
                pending, _callback(pending, "bad"), nonces=nonces, identity=LOOKUP
            ),
            client,
        )
    assert caught.value.error == "invalid_grant"
    assert caught.value.description == "Invalid code"
    assert type(caught.value).__name__ == "OAuthGrantError"


def test_handle_must_be_claimed_back_by_the_document() -> None:
    world = World()
    client = httpx.Client(transport=httpx.MockTransport(world.handler))
    with client as c, pytest.raises(HandleResolutionError) as caught:
        run_sync(LOOKUP.resolve("bob.example"), c)  # resolveHandle says ALICE
    assert "does not claim" in str(caught.value)


def _serving(routes: dict[str, httpx.Response]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return routes.get(str(request.url), httpx.Response(404))

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_metadata_fetch_rules() -> None:
    url = f"{PDS}/.well-known/oauth-protected-resource"
    for bad in (
        httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
        httpx.Response(200, text="{}", headers={"Content-Type": "text/html"}),
        httpx.Response(200, content=b"[]", headers={"Content-Type": "application/json"}),
    ):
        with _serving({url: bad}) as c, pytest.raises(OAuthMetadataError):
            run_sync(flow.discover_from_pds(PDS), c)


def test_protected_resources_list_must_name_the_pds() -> None:
    meta = {**as_metadata(ISSUER), "protected_resources": ["https://another.example"]}
    routes = {
        f"{PDS}/.well-known/oauth-protected-resource": httpx.Response(
            200, json=pr_metadata(PDS, ISSUER)
        ),
        f"{ISSUER}/.well-known/oauth-authorization-server": httpx.Response(200, json=meta),
    }
    with _serving(routes) as c, pytest.raises(OAuthMetadataError):
        run_sync(flow.discover_from_pds(PDS), c)


def test_an_entryway_url_is_discovered_as_an_authorization_server() -> None:
    routes = {
        f"{ISSUER}/.well-known/oauth-authorization-server": httpx.Response(
            200, json=as_metadata(ISSUER)
        )
    }
    with _serving(routes) as c:
        info = run_sync(flow.discover_from_server(ISSUER), c)
    assert info.pds_url is None
    assert info.server.issuer == ISSUER


def test_shells_cap_bodies_and_wrap_transport_errors() -> None:
    big = httpx.Response(200, content=b"x" * 2048, headers={"Content-Type": "application/json"})
    url = f"{ISSUER}/.well-known/oauth-authorization-server"
    with _serving({url: big}) as c, pytest.raises(ResponseTooLargeError):
        run_sync(flow.discover_from_issuer(ISSUER), c, max_body=1024)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    refusing = httpx.Client(transport=httpx.MockTransport(refuse))
    with refusing as c, pytest.raises(TransportError):
        run_sync(flow.discover_from_issuer(ISSUER), c)


def test_async_shell(world: World) -> None:
    async def main() -> PendingAuthorization:
        async with httpx.AsyncClient(transport=httpx.MockTransport(world.handler)) as c:
            return await run_async(
                flow.start_from_identifier(
                    "alice.example", loopback_client(5000), identity=LOOKUP, nonces=NonceStore()
                ),
                c,
            )

    pending = asyncio.run(main())
    assert pending.expected_did == ALICE


def _session() -> OAuthSession:
    return OAuthSession(
        did=ALICE,
        pds_url=PDS,
        issuer=ISSUER,
        client_id="http://localhost",
        scope="atproto",
        token_endpoint=f"{ISSUER}/oauth/token",
        revocation_endpoint=None,
        access_token="at-1",
        refresh_token="ref-1",
        expires_at=None,
        dpop_key=DpopKey.generate(),
    )


def _pds(requests: list[httpx.Request], answer: Callable[[httpx.Request], httpx.Response]):
    def handler(request: httpx.Request) -> httpx.Response:
        # A copy: the auth flow re-signs the same Request object for the retry.
        requests.append(
            httpx.Request(
                request.method, request.url, headers=request.headers, content=request.content
            )
        )
        return answer(request)

    return httpx.MockTransport(handler)


def test_dpop_auth_signs_and_retries_on_the_401_nonce_challenge() -> None:
    session, requests = _session(), []
    challenge = {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": "pds-n"}

    def answer(request: httpx.Request) -> httpx.Response:
        if claims(request.headers["DPoP"]).get("nonce") != "pds-n":
            return httpx.Response(401, json={"error": "use_dpop_nonce"}, headers=challenge)
        return httpx.Response(200, json={"ok": True}, headers={"DPoP-Nonce": "pds-n"})

    nonces = NonceStore()
    with httpx.Client(
        auth=DpopAuth(lambda: session, nonces), transport=_pds(requests, answer)
    ) as c:
        assert c.post(f"{PDS}/xrpc/a.b.c?x=1", json={"a": 1}).status_code == 200
        assert c.get(f"{PDS}/xrpc/a.b.d").status_code == 200
    assert len(requests) == 3
    first, retry, later = (claims(r.headers["DPoP"]) for r in requests)
    assert "nonce" not in first
    assert retry["nonce"] == "pds-n"
    assert later["nonce"] == "pds-n"
    assert retry["htu"] == f"{PDS}/xrpc/a.b.c"
    assert retry["ath"] == access_token_hash("at-1")
    assert requests[1].headers["Authorization"] == "DPoP at-1"
    assert requests[1].content == requests[0].content


def test_dpop_auth_gives_up_when_the_nonce_does_not_change() -> None:
    session, requests = _session(), []
    challenge = {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": "same"}
    nonces = NonceStore({PDS: "same"})
    answer = lambda request: httpx.Response(401, headers=challenge)  # noqa: E731
    with httpx.Client(
        auth=DpopAuth(lambda: session, nonces), transport=_pds(requests, answer)
    ) as c:
        assert c.get(f"{PDS}/xrpc/a.b.c").status_code == 401
    assert len(requests) == 1


def test_resource_errors() -> None:
    scope = httpx.Response(
        403,
        json={
            "error": "ScopeMissingError",
            "message": 'Missing required scope "repo:app.bsky.feed.like?action=create"',
        },
    )
    error = resource_error(scope, "com.atproto.repo.createRecord")
    assert isinstance(error, ScopeMissingError)
    assert error.required_scope == "repo:app.bsky.feed.like?action=create"
    assert error.nsid == "com.atproto.repo.createRecord"
    expired = httpx.Response(
        401,
        json={"error": "invalid_token", "message": '"exp" claim timestamp check failed'},
        headers={"WWW-Authenticate": 'DPoP error="invalid_token", error_description="x"'},
    )
    assert isinstance(resource_error(expired), InvalidTokenError)
    assert resource_error(httpx.Response(404, json={"error": "RecordNotFound"})) is None
