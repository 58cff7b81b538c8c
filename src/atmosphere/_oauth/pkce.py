"""PKCE (RFC 7636) with the ``S256`` method, the only one atproto allows."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field

from ..errors import InvalidArgumentError
from ._b64 import b64url_encode

__all__ = ["Pkce", "s256_challenge"]

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(verifier)))``."""
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True)
class Pkce:
    """A code verifier (secret, kept by the client) and its S256 challenge (sent in the PAR)."""

    verifier: str = field(repr=False)
    method: str = "S256"

    def __post_init__(self) -> None:
        if not _VERIFIER.match(self.verifier):
            raise InvalidArgumentError("a PKCE verifier is 43-128 characters of [A-Za-z0-9-._~]")

    @classmethod
    def generate(cls) -> Pkce:
        """A fresh verifier of 64 characters (48 random bytes)."""
        return cls(verifier=secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        """The ``code_challenge`` for the authorization request."""
        return s256_challenge(self.verifier)
