"""Unpadded base64url (RFC 7515 section 2) and compact JSON for JOSE objects."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

__all__ = ["b64url_decode", "b64url_encode", "compact_json"]


def b64url_encode(data: bytes) -> str:
    """``data`` as base64url without ``=`` padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; ``ValueError`` on anything else."""
    if not isinstance(text, str) or "=" in text:
        raise ValueError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not unpadded base64url") from exc


def compact_json(obj: Any) -> bytes:
    """UTF-8 JSON without insignificant whitespace (what goes into a JWS)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
