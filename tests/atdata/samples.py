"""Sample types and shard helpers shared by the atdata flow tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import atdata
from atdata.testing import make_dataset


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
