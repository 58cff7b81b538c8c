"""Sample types, shard helpers and publishing set-ups shared by the atdata flow tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import atdata
from atdata.atmosphere import DatasetPublisher, LensPublisher
from atdata.testing import make_dataset

#: Two shard URLs for records that only name them (nothing fetches them).
SHARD_URLS = ("https://data.example/shard-000000.tar", "https://data.example/shard-000001.tar")

#: The code every test lens points at (atdata requires it; nothing runs it).
LENS_CODE = {
    "code_repository": "https://github.com/example/lenses",
    "code_commit": "0123456789abcdef0123456789abcdef01234567",
    "getter_path": "lenses.celsius:get",
    "putter_path": "lenses.celsius:put",
}


@atdata.packable
class Reading:
    """A small sample: a name and a value."""

    name: str
    value: int


@atdata.packable
class Celsius:
    """A second schema, the target of the test lens."""

    name: str
    celsius: float


def readings(n: int, *, tag: str = "r") -> list[Reading]:
    """``n`` distinct samples."""
    return [Reading(name=f"{tag}-{i}", value=i * 7) for i in range(n)]


def shard(tmp_path: Path, samples: list[Reading], *, name: str = "shard") -> tuple[Any, bytes]:
    """Write ``samples`` to one WebDataset tar; the Dataset over it and its bytes."""
    ds = make_dataset(tmp_path, samples, name=name, sample_type=Reading)
    (path,) = ds.list_shards()
    return ds, Path(path).read_bytes()


def pairs(items: Any) -> list[tuple[str, int]]:
    """``(name, value)`` of each sample, in order (works for dynamic schema types too)."""
    return [(s.name, int(s.value)) for s in items]


def unique(prefix: str) -> str:
    """A record name no earlier test (or run against the same PDS) has used."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def publish_blobs(
    client: Any, schema_uri: str, tmp_path: Path, n: int, *, tag: str
) -> tuple[Any, list[Reading], bytes]:
    """Publish ``n`` samples as one blob-stored dataset named after ``tag``.

    Returns the dataset record's URI, the samples and the shard's bytes (the blob).
    """
    samples = readings(n, tag=tag)
    _, data = shard(tmp_path, samples)
    uri = DatasetPublisher(client).publish_with_blobs([data], schema_uri, name=unique(tag))
    return uri, samples, data


def publish_urls(
    client: Any,
    schema_uri: str,
    urls: Sequence[str] = SHARD_URLS,
    *,
    tag: str = "url-dataset",
    **options: Any,
) -> tuple[Any, str]:
    """Publish a URL-stored dataset of ``urls`` (``options`` go to atdata's publisher).

    Returns the dataset record's URI and its (unique) name.
    """
    name = unique(tag)
    uri = DatasetPublisher(client).publish_with_urls(list(urls), schema_uri, name=name, **options)
    return uri, name


def publish_lens(
    client: Any, source: str, target: str, *, tag: str = "lens", **options: Any
) -> tuple[Any, str]:
    """Publish a lens from schema ``source`` to ``target`` pointing at :data:`LENS_CODE`.

    ``options`` go to atdata's ``LensPublisher.publish``; returns the lens
    record's URI and its (unique) name.
    """
    name = unique(tag)
    uri = LensPublisher(client).publish(
        name=name, source_schema_uri=source, target_schema_uri=target, **LENS_CODE, **options
    )
    return uri, name
