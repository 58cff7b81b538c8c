"""Issue 13 against the real reference PDS: where requests may go, what comes back.

The PDS and PLC live on loopback over plain http. The conftest switches local
development on for this directory; the tests here that are about the safe
default pass ``allow_private_hosts=False`` explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atmosphere import DidResolutionError, ResponseTooLargeError, UnsafeTargetError
from tests.support.dns_server import DnsServer
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


def test_blob_downloads_are_bounded_on_the_real_pds(
    pds: PdsProcess, flavour: Flavour, tmp_path: Path
) -> None:
    alice = pds.account("alice.test")
    data = bytes(range(256)) * 4096  # 1 MiB
    with flavour.client(pds.pds_url) as client:
        client.login(alice.handle, alice.password)
        ref = client.upload_blob(data)
        cid = ref["ref"]["$link"]
        uri = client.create_record(COLL, _record(blob=ref))
        try:
            with flavour.client(plc_url=pds.plc_url) as reader:  # another account's PDS
                assert reader.get_blob(alice.did, cid, max_size=len(data)) == data
                with pytest.raises(ResponseTooLargeError):
                    reader.get_blob(alice.did, cid, max_size=len(data) - 1)
                with pytest.raises(ResponseTooLargeError):
                    reader.download_blob(alice.did, cid, tmp_path / "b", max_size=1000)
                assert list(tmp_path.iterdir()) == []
                assert reader.download_blob(alice.did, cid, tmp_path / "b") == len(data)
        finally:
            client.delete_record(uri)


def test_records_read_from_the_real_pds_pass_the_checks(pds: PdsProcess, flavour: Flavour) -> None:
    alice = pds.account("alice.test")
    bob = pds.account("bob.test")
    with flavour.client(pds.pds_url) as client:
        client.login(alice.handle, alice.password)
        uri = client.create_record(COLL, _record(name="mine"))
        try:
            with flavour.client(plc_url=pds.plc_url) as reader:
                envelope = reader.get_record_envelope(uri)
                assert envelope["uri"] == str(uri)
                records, _ = reader.list_record_page(COLL, repo=alice.did)
                assert str(uri) in {r["uri"] for r in records}
                assert reader.list_record_page(COLL, repo=bob.did)[0] == []
        finally:
            client.delete_record(uri)


def test_login_by_handle_checks_the_session_did(
    pds: PdsProcess, flavour: Flavour, dns_server: DnsServer
) -> None:
    alice = pds.account("alice.test")
    dns_server.set_txt(f"_atproto.{alice.handle}", f"did={alice.did}")
    try:
        resolver = flavour.resolver(dns_resolver=dns_server.make_resolver(), plc_url=pds.plc_url)
        with resolver, flavour.client(resolver=resolver) as client:
            client.login(alice.handle, alice.password)  # resolved DID == session DID
            assert client.did == alice.did
            assert client.export_session().count(":::") == 4
    finally:
        dns_server.remove(f"_atproto.{alice.handle}")
