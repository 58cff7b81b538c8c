"""The DPoP key: an ES256 (P-256) key pair, one per OAuth session.

``cryptography`` is imported only when a key is made or loaded, so importing
this module (and ``atmosphere``) works without the ``oauth`` extra; using a key
without it raises :class:`~atmosphere._oauth.errors.OAuthUnavailableError`.

The private key is a secret like a token: it never appears in ``repr``/``str``;
:meth:`DpopKey.private_jwk` is the only way out, for session storage.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ._b64 import b64url_decode, b64url_encode, compact_json
from .errors import OAuthError, OAuthUnavailableError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

__all__ = ["DpopKey", "require_cryptography"]

_COORD = 32  # bytes per P-256 coordinate and per signature half


def require_cryptography() -> None:
    """Raise :class:`OAuthUnavailableError` unless ``cryptography`` can be imported."""
    try:
        import cryptography.hazmat.primitives.asymmetric.ec  # noqa: F401
    except ImportError as exc:
        raise OAuthUnavailableError() from exc


class DpopKey:
    """An ES256 key pair for DPoP proofs (RFC 9449).

    Make one with :meth:`generate`; restore one with :meth:`from_private_jwk`.
    """

    __slots__ = ("_key", "_public_jwk", "_thumbprint")

    def __init__(self, key: EllipticCurvePrivateKey) -> None:
        """Wrap a ``cryptography`` P-256 private key (use :meth:`generate` instead)."""
        from cryptography.hazmat.primitives.asymmetric import ec

        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise OAuthError("a DPoP key must be an EC P-256 private key")
        self._key = key
        numbers = key.public_key().public_numbers()
        self._public_jwk: dict[str, str] = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(_COORD, "big")),
            "y": b64url_encode(numbers.y.to_bytes(_COORD, "big")),
        }
        # RFC 7638: the required members in lexicographic order, no whitespace.
        canonical = compact_json({k: self._public_jwk[k] for k in ("crv", "kty", "x", "y")})
        self._thumbprint = b64url_encode(hashlib.sha256(canonical).digest())

    @classmethod
    def generate(cls) -> DpopKey:
        """A fresh random P-256 key."""
        require_cryptography()
        from cryptography.hazmat.primitives.asymmetric import ec

        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_private_jwk(cls, jwk: Any) -> DpopKey:
        """Load a key saved with :meth:`private_jwk`; :class:`OAuthError` if malformed.

        The public half is recomputed and must match ``x``/``y`` when present.
        """
        require_cryptography()
        from cryptography.hazmat.primitives.asymmetric import ec

        if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            raise OAuthError("DPoP key: not an EC P-256 JWK")
        try:
            d = int.from_bytes(b64url_decode(jwk["d"]), "big")
            key = ec.derive_private_key(d, ec.SECP256R1())
        except (KeyError, TypeError, ValueError):
            raise OAuthError("DPoP key: unusable private component") from None
        loaded = cls(key)
        for coord in ("x", "y"):
            if coord in jwk and jwk[coord] != loaded._public_jwk[coord]:
                raise OAuthError("DPoP key: public component does not match the private one")
        return loaded

    def private_jwk(self) -> dict[str, str]:
        """The key as a private JWK (``d`` included): a secret, store it like a token."""
        d = self._key.private_numbers().private_value.to_bytes(_COORD, "big")
        return {**self._public_jwk, "d": b64url_encode(d)}

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK (what goes into the proof's header)."""
        return dict(self._public_jwk)

    @property
    def thumbprint(self) -> str:
        """The RFC 7638 JWK thumbprint (base64url SHA-256): the token's ``cnf.jkt``."""
        return self._thumbprint

    def sign(self, signing_input: bytes) -> bytes:
        """An ES256 signature: ``r || s``, 32 bytes each (the JWS form, not DER)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        der = self._key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(_COORD, "big") + s.to_bytes(_COORD, "big")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DpopKey) and other._thumbprint == self._thumbprint

    def __hash__(self) -> int:
        return hash(self._thumbprint)

    def __repr__(self) -> str:
        return f"DpopKey(ES256, jkt={self._thumbprint!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("DpopKey is not picklable; store private_jwk() as a secret instead")
