"""Issue 13 against the real reference PDS: where requests may go, what comes back.

The PDS and PLC live on loopback over plain http. The conftest switches local
development on for this directory; the tests here that are about the safe
default pass ``allow_private_hosts=False`` explicitly.
"""

from __future__ import annotations

from typing import Any

import pytest

from atmosphere import DidResolutionError, UnsafeTargetError
from tests.support.flavours import Flavour
from tests.support.pds import PdsProcess

COLL = "com.example.atmosphere.hardening"


def _record(**fields: Any) -> dict[str, Any]:
    return {"$type": COLL, "createdAt": "2026-12-01T00:00:00.000Z", **fields}


def test_a_loopback_pds_from_a_did_document_needs_the_switch(
    pds: PdsProcess, flavour: Flavour
) -> None:
    alice = pds.account("alice.test")
    with flavour.client(pds.pds_url) as writer:
        writer.login(alice.handle, alice.password)
        uri = writer.create_record(COLL, _record(name="egress"))
    try:
        # A stranger reading alice's record: the PDS comes from her DID document.
        with flavour.client(plc_url=pds.plc_url, allow_private_hosts=False) as safe:
            with pytest.raises(DidResolutionError, match="refused"):
                safe.get_record(uri)
            with pytest.raises(DidResolutionError, match="refused"):
                safe.list_records(COLL, repo=alice.did)
        with flavour.client(plc_url=pds.plc_url, allow_private_hosts=True) as local:
            assert local.get_record(uri)["name"] == "egress"
        with flavour.client(plc_url=pds.plc_url) as from_env:  # the conftest's env switch
            assert from_env.get_record(uri)["name"] == "egress"
    finally:
        with flavour.client(pds.pds_url) as writer:
            writer.login(alice.handle, alice.password)
            writer.delete_record(uri)


def test_a_saved_loopback_session_needs_the_switch_or_its_base_url(
    pds: PdsProcess, flavour: Flavour
) -> None:
    alice = pds.account("alice.test")
    with flavour.client(pds.pds_url) as client:
        client.login(alice.handle, alice.password)
        saved = client.export_session()
    with flavour.client(allow_private_hosts=False) as safe, pytest.raises(UnsafeTargetError):
        safe.login_with_session(saved)
    with flavour.client(pds.pds_url, allow_private_hosts=False) as named:
        named.login_with_session(saved)  # the PDS is the URL the user named
        assert named.did == alice.did
