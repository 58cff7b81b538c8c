"""The pure rules under the atdata faces: lexicon layouts, ``appview=`` values, ``$bytes``."""

from __future__ import annotations

import base64
import json

import pytest

from atmosphere import InvalidArgumentError, InvalidIdentifierError, LexiconLayout
from atmosphere._appview import parse_appview
from atmosphere._lexicons import LAYOUTS, SCIENCE_ALT, SEED, layout_for
from atmosphere._wire import dump_json


def test_the_two_known_layouts() -> None:
    assert (SEED.schema_collection, SEED.dataset_collection, SEED.lens_collection) == (
        "ac.foundation.dataset.sampleSchema",
        "ac.foundation.dataset.record",
        "ac.foundation.dataset.lens",
    )
    with pytest.raises(InvalidArgumentError, match="no label collection"):
        _ = SEED.label_collection
    assert (
        SCIENCE_ALT.schema_collection,
        SCIENCE_ALT.dataset_collection,
        SCIENCE_ALT.lens_collection,
        SCIENCE_ALT.label_collection,
    ) == (
        "science.alt.dataset.schema",
        "science.alt.dataset.entry",
        "science.alt.dataset.lens",
        "science.alt.dataset.label",
    )
    assert set(LAYOUTS) == {"ac.foundation.dataset", "science.alt.dataset"}
    assert SCIENCE_ALT.method("searchDatasets") == "science.alt.dataset.searchDatasets"


@pytest.mark.parametrize("default", [SEED, SCIENCE_ALT])
def test_a_known_namespace_selects_its_whole_layout(default: LexiconLayout) -> None:
    assert layout_for("ac.foundation.dataset", default) is SEED
    assert layout_for("science.alt.dataset", default) is SCIENCE_ALT


def test_another_namespace_keeps_the_default_names() -> None:
    assert layout_for("org.example.data", SEED) == LexiconLayout(
        "org.example.data", "sampleSchema", "record", "lens", None
    )
    assert layout_for("org.example.data", SCIENCE_ALT) == LexiconLayout(
        "org.example.data", "schema", "entry", "lens", "label"
    )


def test_a_layout_is_taken_as_is_and_checked() -> None:
    custom = LexiconLayout("org.example.x", "s", "d", "l")
    assert layout_for(custom, SEED) is custom
    with pytest.raises(InvalidIdentifierError):
        LexiconLayout("org.example.x", "bad name", "d", "l")
    with pytest.raises(InvalidIdentifierError):
        layout_for("no", SEED)
    with pytest.raises(InvalidArgumentError):
        layout_for(42, SEED)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("did:web:datasets.example", ("https://datasets.example", "did:web:datasets.example")),
        ("https://datasets.example/", ("https://datasets.example", "did:web:datasets.example")),
        (
            "https://datasets.example/api",
            ("https://datasets.example/api", "did:web:datasets.example"),
        ),
        ("http://localhost:8443", ("http://localhost:8443", "did:web:localhost%3A8443")),
        ("did:web:localhost%3A8443", ("https://localhost:8443", "did:web:localhost%3A8443")),
    ],
)
def test_appview_values(value: str, expected: tuple[str, str]) -> None:
    assert parse_appview(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "datasets.example",
        "did:plc:abc",
        "did:web:",
        "did:web:a.example:user:alice",
        "did:web:localhost%3Ax",
        "https://",
        "https://host.example:99999",
        "https://user:pw@host.example",
        "https://host.example/?q=1",
        "ftp://host.example",
        42,
    ],
)
def test_bad_appview_values(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="Invalid appview value"):
        parse_appview(value)  # type: ignore[arg-type]


def test_bytes_are_encoded_in_the_data_models_json_form() -> None:
    data = {"a": b"\x00\xffhi", "nested": [bytearray(b"x")], "s": "é"}
    out = json.loads(dump_json(data))
    assert out == {"a": {"$bytes": "AP9oaQ"}, "nested": [{"$bytes": "eA"}], "s": "é"}
    assert base64.b64decode(out["a"]["$bytes"] + "==") == b"\x00\xffhi"
    assert dump_json({"k": 1}) == b'{"k":1}'
    with pytest.raises(TypeError):
        dump_json({"x": object()})
