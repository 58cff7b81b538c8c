"""Wire models: lenient in (extra fields kept), exact out; the hot-path record parsers."""

from __future__ import annotations

from typing import Any

import pytest

from atmosphere._blobsource import parse_blob_ref
from atmosphere._models import DidDocument, Session
from atmosphere._records import record_envelope, record_page, write_result

URI = "at://did:plc:abcdefghijklmnopqrstuvwx/com.example.x/3k"
CID = "bafyreib2rxk3rh6kzwq"


def test_session_tolerates_new_fields_and_hides_tokens() -> None:
    s = Session.model_validate(
        {
            "did": "did:plc:x",
            "handle": "a.test",
            "accessJwt": "A" * 40,
            "refreshJwt": "R" * 40,
            "someNewServerField": {"x": 1},
        }
    )
    assert "A" * 40 not in repr(s)
    assert "R" * 40 not in repr(s)
    assert s.to_dict()["someNewServerField"] == {"x": 1}


def test_blob_ref_round_trip() -> None:
    wire = {"$type": "blob", "ref": {"$link": "bafkreiabc"}, "mimeType": "image/png", "size": 3}
    ref = parse_blob_ref(wire)
    assert ref == wire
    assert ref is not None
    assert ref["ref"]["$link"] == "bafkreiabc"


@pytest.mark.parametrize(
    "wire",
    [
        None,
        [],
        {"ref": {"$link": "bafkreiabc"}, "mimeType": "image/png"},
        {"ref": {"$link": 5}, "mimeType": "image/png", "size": 3},
        {"ref": "bafkreiabc", "mimeType": "image/png", "size": 3},
        {"ref": {"$link": "bafkreiabc"}, "mimeType": "image/png", "size": True},
        {"$type": "other", "ref": {"$link": "bafkreiabc"}, "mimeType": "x/y", "size": 3},
    ],
)
def test_malformed_blob_refs_are_refused(wire: object) -> None:
    assert parse_blob_ref(wire) is None


def test_did_document_pds_and_handle() -> None:
    doc = DidDocument.model_validate(
        {
            "id": "did:plc:x",
            "alsoKnownAs": ["https://elsewhere", "at://alice.test"],
            "service": [
                {"id": "#other", "type": "Foo", "serviceEndpoint": "https://no"},
                {
                    "id": "did:plc:x#atproto_pds",
                    "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": "https://pds.example",
                },
            ],
        }
    )
    assert doc.handle == "alice.test"
    assert doc.pds_endpoint == "https://pds.example"


def test_record_envelope_shapes() -> None:
    assert record_envelope({"uri": URI, "cid": CID, "value": {"a": 1}, "extra": 2}) == {
        "uri": URI,
        "cid": CID,
        "value": {"a": 1},
    }
    assert record_envelope({"uri": URI, "value": {}}) == {"uri": URI, "value": {}}


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {"uri": URI},
        {"value": {}},
        {"uri": 1, "value": {}},
        {"uri": URI, "value": []},
        {"uri": URI, "value": {}, "cid": 5},
    ],
)
def test_record_envelope_rejects(bad: Any) -> None:
    assert record_envelope(bad) is None


def test_record_page() -> None:
    page = {
        "records": [{"uri": URI, "cid": CID, "value": {"n": i}} for i in range(3)],
        "cursor": "c",
    }
    records, cursor = record_page(page) or ([], None)
    assert [r["value"]["n"] for r in records] == [0, 1, 2]
    assert cursor == "c"
    assert record_page({}) == ([], None)
    assert record_page({"records": [{"uri": URI}]}) is None
    assert record_page({"records": {}, "cursor": None}) is None
    assert record_page({"records": [], "cursor": 7}) is None


def test_write_result_shapes() -> None:
    assert write_result({"uri": URI, "cid": CID, "commit": {}}) == {"uri": URI, "cid": CID}
    assert write_result({"uri": URI}) is None
    assert write_result({"uri": URI, "cid": 5}) is None
    assert write_result([URI, CID]) is None
