"""``Atmosphere`` / ``AsyncAtmosphere`` (atdata 0.7's face) with an OAuth session, on both flavours.

The same reference PDS and authorization server as tests/pds/test_oauth_client.py
(sign-in and consent through the provider's own API); here the face is the
0.7 one: its schema and dataset records, its value listings, blobs, a
procedure proxied to the loopback AppView, ``from_session`` with an exported
OAuth session, and logout (revocation).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from atmosphere import AuthenticationError, NotAuthenticatedError, OAuthGrantError, compute_cid
from tests.support.appview import PROCEDURE, AppView
from tests.support.flavours import Flavour
from tests.support.oauth_provider import consent
from tests.support.pds import PdsProcess

NS = "science.alt.dataset"


def _options(pds: PdsProcess) -> dict[str, Any]:
    return {"plc_url": pds.plc_url, "allow_private_hosts": True}


def _schema(name: str) -> dict[str, Any]:
    return {
        "$type": f"{NS}.schema",
        "name": name,
        "version": "1.0.0",
        "schemaType": "jsonSchema",
        "schema": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "createdAt": "2026-01-01T00:00:00.000Z",
    }


def _entry(name: str, schema_uri: str, blob: dict[str, Any]) -> dict[str, Any]:
    return {
        "$type": f"{NS}.entry",
        "name": name,
        "schemaRef": schema_uri,
        "storage": {"$type": f"{NS}.storageBlobs", "blobs": [{"blob": blob}]},
        "createdAt": "2026-01-01T00:00:00.000Z",
    }


def test_atmosphere_signed_in_with_oauth_publishes_lists_proxies_and_logs_out(
    flavour: Flavour, pds: PdsProcess, appview: AppView
) -> None:
    alice = pds.account("alice.test")
    seen: list[str] = []

    def record(response: httpx.Response) -> None:
        seen.append(f"{response.request.method} {response.request.url.copy_with(query=None)}")

    http = flavour.http(
        timeout=30, trust_env=False, event_hooks={"response": [flavour.callback(record)]}
    )
    atmo = flavour.atmosphere(pds.pds_url, appview=appview.url, _client=http, **_options(pds))
    try:
        session = atmo.login_oauth(alice.handle, open_browser=consent(alice), show_url=None)
        assert session.did == atmo.did == alice.did
        assert atmo.handle == alice.handle
        assert atmo.oauth_session == session
        assert atmo.namespace == NS

        # A schema and a dataset entry (with its shard as a blob), in the 0.7 collections.
        name = f"oauth-{uuid.uuid4().hex[:8]}"
        schema_uri = atmo.create_record(atmo.layout.schema_collection, _schema(name))
        assert schema_uri.authority == alice.did
        shard = b"a shard published from Atmosphere with an OAuth session\n" * 200
        blob = atmo.upload_blob(shard, mime_type="application/x-tar")
        assert blob["ref"] == {"$link": compute_cid(shard)}
        entry_uri = atmo.create_record(
            atmo.layout.dataset_collection, _entry(name, str(schema_uri), blob)
        )

        # The 0.7 listings return the records' values.
        schemas = atmo.list_schemas(limit=1000)
        assert name in [s["name"] for s in schemas]
        assert all("uri" not in s for s in schemas)
        (entry,) = [d for d in atmo.list_datasets(limit=1000) if d["name"] == name]
        assert entry["schemaRef"] == str(schema_uri)
        assert entry["storage"]["blobs"][0]["blob"]["ref"] == {"$link": compute_cid(shard)}
        assert atmo.get_blob(alice.did, compute_cid(shard)) == shard

        # A procedure through the PDS, proxied to the AppView with a service token for alice.
        posted = atmo.xrpc_procedure(PROCEDURE, {"name": name})
        assert posted["viewer"] == alice.did
        assert posted["input"] == {"name": name}
        (call,) = appview.received
        assert call.auth is not None
        assert call.auth.claims["iss"] == alice.did
        assert call.auth.claims["lxm"] == PROCEDURE

        atmo.delete_record(entry_uri)
        atmo.delete_record(schema_uri)
        exported = atmo.export_session()
        atmo.logout()
        assert seen[-1] == f"POST {pds.pds_url}/oauth/revoke"
        assert not atmo.is_authenticated
        with pytest.raises(NotAuthenticatedError):
            atmo.xrpc_procedure(PROCEDURE, {"name": name})
    finally:
        atmo.close()

    # The revoked session cannot be brought back.
    with pytest.raises((AuthenticationError, OAuthGrantError)):
        flavour.atmosphere_class.from_session(exported, **_options(pds))


def test_atmosphere_from_session_restores_an_exported_oauth_session(
    flavour: Flavour, pds: PdsProcess
) -> None:
    bob = pds.account("bob.test")
    first = flavour.atmosphere(pds.pds_url, **_options(pds))
    try:
        first.login_oauth(bob.handle, open_browser=consent(bob), show_url=None)
        saved = first.export_session()
    finally:
        first.close()
    assert json.loads(saved)["format"] == "atmosphere.oauth/1"

    # No base_url: the PDS comes from the session itself.
    atmo = flavour.atmosphere_class.from_session(saved, **_options(pds))
    try:
        assert (atmo.did, atmo.handle) == (bob.did, bob.handle)
        assert atmo.oauth_session is not None
        assert atmo.pds_url == pds.pds_url
        name = f"restored-{uuid.uuid4().hex[:8]}"
        uri = atmo.create_record(atmo.layout.schema_collection, _schema(name))
        assert name in [s["name"] for s in atmo.list_schemas(limit=1000)]
        ref = atmo.upload_blob(b"restored\n" * 64, mime_type="text/plain")
        assert ref["size"] == 9 * 64
        atmo.delete_record(uri)
        atmo.logout()
    finally:
        atmo.close()
    with pytest.raises((AuthenticationError, OAuthGrantError)):
        flavour.atmosphere_class.from_session(saved, **_options(pds))
