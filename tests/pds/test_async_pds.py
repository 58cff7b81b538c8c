"""AsyncAtmosphereClient under concurrency against the real reference PDS."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from atmosphere import AsyncAtmosphereClient, AtmosphereClient, Delete
from tests.support.pds import PdsProcess, mint_expired_access_token

pytestmark = pytest.mark.pds

C = "com.example.atmosphere.async"
REFRESH = "/xrpc/com.atproto.server.refreshSession"


def test_fifty_coroutines_with_an_expired_token_refresh_once(pds: PdsProcess) -> None:
    acct = pds.account("alice.test")
    with AtmosphereClient(pds.pds_url) as sync:
        sync.login(acct.handle, acct.password)
        handle, did, _access, refresh, pds_url = sync.export_session().split(":::")
    expired = mint_expired_access_token(pds.jwt_secret, did)
    saved = ":::".join([handle, did, expired, refresh, pds_url])
    paths: list[str] = []
    changes: list[str] = []

    async def count(request: httpx.Request) -> None:
        paths.append(request.url.path)

    async def main() -> list[str]:
        async with (
            httpx.AsyncClient(event_hooks={"request": [count]}) as http,
            AsyncAtmosphereClient(pds.pds_url, _client=http, on_session_change=changes.append) as c,
        ):
            await c.login_with_session(saved, verify=False)
            uris = await asyncio.gather(
                *(c.create_record(C, {"$type": C, "n": n}) for n in range(50))
            )
            values = await asyncio.gather(*(c.get_record(u) for u in uris))
            assert sorted(v["n"] for v in values) == list(range(50))
            await c.apply_writes([Delete(C, str(u.rkey)) for u in uris])
            return [str(u) for u in uris]

    uris = asyncio.run(main())  # a loop shut down properly (async generators, executor)
    assert len(set(uris)) == 50
    assert paths.count(REFRESH) == 1
    assert len(changes) == 1
