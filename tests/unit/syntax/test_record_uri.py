"""RecordUri: the AT-URI of one record, as create_record / put_record / apply_writes return it."""

from __future__ import annotations

import pickle

import pytest

from atmosphere import AtUri, InvalidIdentifierError, RecordUri

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
TEXT = f"at://{DID}/ac.foundation.dataset.record/3jzfcijpj2z2a"


def test_parse_has_both_parts_and_is_an_aturi() -> None:
    uri = RecordUri.parse(TEXT)
    assert isinstance(uri, AtUri)
    assert (uri.authority, uri.collection, uri.rkey) == (
        DID,
        "ac.foundation.dataset.record",
        "3jzfcijpj2z2a",
    )
    assert str(uri) == TEXT
    assert repr(uri) == f"RecordUri({TEXT!r})"


def test_equal_and_hash_like_aturi_and_str() -> None:
    uri = RecordUri.parse(TEXT)
    assert uri == AtUri.parse(TEXT) == TEXT
    assert hash(uri) == hash(AtUri.parse(TEXT)) == hash(TEXT)
    assert {uri: 1}[AtUri.parse(TEXT)] == 1


@pytest.mark.parametrize("text", [f"at://{DID}", f"at://{DID}/ac.foundation.dataset.record"])
def test_a_uri_without_collection_and_rkey_is_refused(text: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        RecordUri.parse(text)
    with pytest.raises(InvalidIdentifierError):
        RecordUri.from_uri(AtUri.parse(text))


def test_constructors_validate_like_aturi() -> None:
    assert (
        RecordUri(DID, "ac.foundation.dataset.record", "k")
        == f"at://{DID}/ac.foundation.dataset.record/k"
    )
    assert RecordUri.from_uri(TEXT) == TEXT
    same = RecordUri.parse(TEXT)
    assert RecordUri.from_uri(same) is same
    with pytest.raises(InvalidIdentifierError):
        RecordUri(DID, "not an nsid", "k")


def test_immutable_and_pickles_as_itself() -> None:
    uri = RecordUri.parse(TEXT)
    with pytest.raises(AttributeError):
        uri._rkey = "other"  # type: ignore[misc]
    again = pickle.loads(pickle.dumps(uri))
    assert type(again) is RecordUri
    assert again == uri
