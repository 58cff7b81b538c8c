"""Flows that read the same on both faces of atdata.

Not collected on its own (scripts/test_atdata.py runs ``test_<face>_*.py``):
each face's test module imports these functions, and pytest runs the test
functions a module holds, so they run once per face.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from atdata.atmosphere import DatasetLoader

from atmosphere import compute_cid
from tests.atdata.samples import Reading, pairs, publish_blobs, publish_urls


def test_to_dataset_over_http_urls(
    alice: Any, schema_uri: str, url_storage_type: str, tmp_path: Path
) -> None:
    # A URL-stored dataset read back end to end: the shard is served by the
    # PDS (a blob kept alive by a blob-stored record), its URL from our client.
    _, samples, data = publish_blobs(alice, schema_uri, tmp_path, 3, tag="http")
    url = alice.get_blob_url(alice.did, compute_cid(data))
    uri, _ = publish_urls(alice, schema_uri, [url], tag="http")
    loader = DatasetLoader(alice)
    assert loader.get_storage_type(uri) == url_storage_type
    assert pairs(loader.to_dataset(uri, Reading).ordered()) == pairs(samples)


def test_network_beyond_loopback_is_refused() -> None:
    # The session's guard: atdata's hard-coded plc.directory / bsky.social
    # paths must fail at once, never reach the network.
    with pytest.raises(OSError):
        socket.getaddrinfo("plc.directory", 443)
    with pytest.raises(OSError):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
