"""How much JSON a server may send, per method, and how dense it may be.

Two rules keep the memory a hostile answer can cost in proportion to what a
call returns:

- **A byte cap per method** (:func:`json_cap`): listings (``listRecords``,
  and methods this library does not know, which may be listings) get the
  client's general cap; every other method it calls answers with one small
  object and gets a small cap.
- **A density cap** (:func:`check_density`), checked on the raw bytes before
  ``json.loads``: parsed JSON costs tens of bytes per value, so a body of
  almost nothing but values (``[{},{},…]``: one object per 3 bytes, ~25×
  its size once parsed) is refused. JSON separates every value (and every
  key-value pair) from the next by ``,``; the commas with the opening
  brackets count the values. Real answers (records with URIs, CIDs, names
  and text) hold about one per 25-30 bytes; one per 12 is the limit.
"""

from __future__ import annotations

from typing import Final

from ._nsid import (
    APPLY_WRITES,
    CREATE_RECORD,
    CREATE_SESSION,
    DELETE_RECORD,
    DELETE_SESSION,
    DESCRIBE_SERVER,
    GET_RECORD,
    GET_SESSION,
    PUT_RECORD,
    REFRESH_SESSION,
    UPLOAD_BLOB,
)
from .errors import InvalidResponseError

__all__ = ["DENSITY_FLOOR", "MAX_DENSITY", "check_density", "json_cap"]

KIB: Final = 1024
MIB: Final = 1024 * KIB

SMALL_ANSWERS: Final[dict[str, int]] = {
    CREATE_SESSION: 256 * KIB,  # a session with its didDoc
    GET_SESSION: 256 * KIB,
    REFRESH_SESSION: 256 * KIB,
    DELETE_SESSION: 64 * KIB,
    DESCRIBE_SERVER: 256 * KIB,
    CREATE_RECORD: 64 * KIB,
    PUT_RECORD: 64 * KIB,
    DELETE_RECORD: 64 * KIB,
    UPLOAD_BLOB: 64 * KIB,
    APPLY_WRITES: 1 * MIB,  # up to 200 results
    GET_RECORD: 4 * MIB,  # one record (the PDS caps records well below this)
}
"""The methods this library calls whose answer is one small object, and their caps."""

MAX_DENSITY: Final = 1 / 12
"""The most JSON values (``,`` ``{`` ``[``) per byte accepted in a large answer."""

DENSITY_FLOOR: Final = 64 * KIB
"""Answers up to this size are never refused for density (they cannot cost much)."""


def json_cap(nsid: str, general: int) -> int:
    """The most bytes of JSON accepted from ``nsid``: small for single-object
    answers, ``general`` for listings and unknown methods."""
    cap = SMALL_ANSWERS.get(nsid)
    return general if cap is None else min(cap, general)


def check_density(body: bytes, nsid: str) -> None:
    """Refuse (``InvalidResponseError``) a large body that is nearly all JSON values."""
    if len(body) <= DENSITY_FLOOR:
        return
    values = body.count(b",") + body.count(b"{") + body.count(b"[")
    if values > len(body) * MAX_DENSITY:
        raise InvalidResponseError(
            f"{nsid}: answer of {len(body)} bytes holds {values} JSON values;"
            f" refused (more than one per {int(1 / MAX_DENSITY)} bytes)"
        )
