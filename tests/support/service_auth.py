"""Verify atproto inter-service JWTs (service auth) the way a receiving service must.

Test support for the loopback AppView (:mod:`tests.support.appview`); written from the
atproto specs (XRPC "Inter-Service Authentication", Cryptography, DID), not from any
implementation:

- the token is a compact JWS ``header.payload.signature``; ``alg`` is ``ES256K``
  (k256 keys) or ``ES256`` (p256 keys); the signature is the raw 64-byte ``r || s``,
  base64url without padding, over the ASCII ``header.payload``, hashed with SHA-256;
- only low-S signatures are valid (atproto requires low-S on both curves; a
  generic ECDSA library accepts either, so this module checks ``s <= n/2`` itself);
- claims: ``iss`` (the account DID, optionally ``#<service id>``; ``#atproto_labeler``
  selects the ``#atproto_label`` key, no fragment the ``#atproto`` key), ``aud`` (the
  receiving service's DID), ``exp``/``iat`` (seconds), ``lxm`` (the method NSID, must
  match when present), ``jti`` (nonce);
- the key comes from the issuer's DID document: a ``Multikey`` verification method
  (multibase base58btc of a multicodec-prefixed compressed point) or the legacy
  ``EcdsaSecp256k1VerificationKey2019``/``EcdsaSecp256r1VerificationKey2019`` form
  (base58btc of the bare point, uncompressed or compressed, no multicodec).

Failures raise :class:`ServiceAuthError` carrying an XRPC error name.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = [
    "ServiceAuthError",
    "VerifiedServiceJwt",
    "base58btc_decode",
    "decode_multikey",
    "did_key_from_point",
    "high_s_variant",
    "public_key_from_did_document",
    "split_jwt",
    "verify_service_jwt",
]

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {ch: i for i, ch in enumerate(_B58_ALPHABET)}

#: multicodec code -> (curve name, JWT alg)
_MULTICODECS: dict[int, tuple[str, str]] = {
    0xE7: ("secp256k1", "ES256K"),
    0x1200: ("p256", "ES256"),
}
_LEGACY_TYPES: dict[str, tuple[str, str]] = {
    "EcdsaSecp256k1VerificationKey2019": ("secp256k1", "ES256K"),
    "EcdsaSecp256r1VerificationKey2019": ("p256", "ES256"),
}
_CURVES: dict[str, ec.EllipticCurve] = {"secp256k1": ec.SECP256K1(), "p256": ec.SECP256R1()}
_ORDERS: dict[str, int] = {
    "secp256k1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    "p256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
}
#: service id in ``iss`` -> verification method id in the issuer's DID document
_SERVICE_KEY_IDS = {"": "atproto", "atproto_labeler": "atproto_label"}


class ServiceAuthError(Exception):
    """A service JWT that must be refused; ``error`` is the XRPC error name to answer."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message


@dataclass(frozen=True)
class VerifiedServiceJwt:
    """A service JWT whose claims and signature checked out.

    ``key_id`` is the verification method used (``#atproto``), ``key_type`` its DID
    document ``type``, ``public_key_multibase`` its value as published, and
    ``did_key`` the same point re-encoded as a compressed ``did:key`` (comparable
    across both DID document formats).
    """

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    issuer_did: str
    key_id: str
    key_type: str
    public_key_multibase: str
    did_key: str
    token: str = field(repr=False)


def base58btc_decode(text: str) -> bytes:
    """Decode base58btc (Bitcoin alphabet), keeping leading zero bytes."""
    number = 0
    for ch in text:
        try:
            number = number * 58 + _B58_INDEX[ch]
        except KeyError:
            raise ValueError(f"not base58btc: {ch!r}") from None
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + body


def _base58btc_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_B58_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(out))


def _read_varint(data: bytes) -> tuple[int, int]:
    value = 0
    for i, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    raise ValueError("unterminated varint")


def decode_multikey(value: str) -> tuple[str, str, bytes]:
    """``z``-multibase, multicodec-prefixed key -> ``(curve, jwt alg, point bytes)``."""
    if not value.startswith("z"):
        raise ValueError("multikey is not base58btc multibase (no 'z' prefix)")
    raw = base58btc_decode(value[1:])
    code, used = _read_varint(raw)
    if code not in _MULTICODECS:
        raise ValueError(f"unsupported key multicodec 0x{code:x}")
    curve, alg = _MULTICODECS[code]
    return curve, alg, raw[used:]


def did_key_from_point(curve: str, point: bytes) -> str:
    """A ``did:key`` for a public point (any encoding), in the compressed multikey form."""
    key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[curve], point)
    compressed = key.public_bytes(
        encoding=serialization.Encoding.X962,
        format=serialization.PublicFormat.CompressedPoint,
    )
    prefix = bytes([0xE7, 0x01]) if curve == "secp256k1" else bytes([0x80, 0x24])
    return "did:key:z" + _base58btc_encode(prefix + compressed)


@dataclass(frozen=True)
class _PublicKey:
    curve: str
    alg: str
    key: ec.EllipticCurvePublicKey
    key_id: str
    key_type: str
    multibase: str
    did_key: str


def public_key_from_did_document(document: Mapping[str, Any], key_id: str) -> _PublicKey:
    """The verification method ``#<key_id>`` of a DID document, as a usable public key."""
    did = document.get("id")
    methods = document.get("verificationMethod")
    if not isinstance(did, str) or not isinstance(methods, list):
        raise ServiceAuthError("BadJwtSignature", "issuer DID document has no verification methods")
    for method in methods:
        if not isinstance(method, Mapping):
            continue
        if method.get("id") not in (f"#{key_id}", f"{did}#{key_id}"):
            continue
        kind = method.get("type")
        multibase = method.get("publicKeyMultibase")
        if not isinstance(kind, str) or not isinstance(multibase, str):
            break
        try:
            if kind == "Multikey":
                curve, alg, point = decode_multikey(multibase)
            elif kind in _LEGACY_TYPES and multibase.startswith("z"):
                curve, alg = _LEGACY_TYPES[kind]
                point = base58btc_decode(multibase[1:])
            else:
                break
            key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[curve], point)
        except ValueError as exc:
            raise ServiceAuthError("BadJwtSignature", f"unusable signing key: {exc}") from None
        return _PublicKey(
            curve=curve,
            alg=alg,
            key=key,
            key_id=f"#{key_id}",
            key_type=kind,
            multibase=multibase,
            did_key=did_key_from_point(curve, point),
        )
    raise ServiceAuthError("BadJwtSignature", f"issuer DID document has no usable #{key_id} key")


def _b64url_decode(part: str) -> bytes:
    if "=" in part:
        raise ValueError("padding in base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def split_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """Header, claims and raw signature of a compact JWS (no verification)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ServiceAuthError("BadJwt", "poorly formatted jwt")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ServiceAuthError("BadJwt", "poorly formatted jwt") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ServiceAuthError("BadJwt", "poorly formatted jwt")
    return header, claims, signature


def verify_service_jwt(
    token: str,
    *,
    audiences: Collection[str],
    lxm: str,
    resolve_did_document: Callable[[str], Mapping[str, Any]],
    now: float | None = None,
) -> VerifiedServiceJwt:
    """Check a service JWT addressed to one of ``audiences`` for method ``lxm``.

    ``resolve_did_document`` maps the issuer's bare DID to its DID document (and
    raises :class:`ServiceAuthError` when it cannot).
    """
    header, claims, signature = split_jwt(token)
    if header.get("typ") in ("at+jwt", "refresh+jwt", "dpop+jwt"):
        raise ServiceAuthError("BadJwtType", f"invalid jwt type {header.get('typ')!r}")
    current = time.time() if now is None else now
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise ServiceAuthError("BadJwt", "exp is missing or not an integer")
    if current > exp:
        raise ServiceAuthError("JwtExpired", "jwt expired")
    if claims.get("aud") not in audiences:
        raise ServiceAuthError("BadJwtAudience", "jwt audience does not match service did")
    if "lxm" in claims and claims["lxm"] != lxm:
        raise ServiceAuthError("BadJwtLexiconMethod", f"bad jwt lexicon method; must match {lxm}")
    if "lxm" not in claims:
        raise ServiceAuthError("BadJwtLexiconMethod", f"missing jwt lexicon method; need {lxm}")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss.startswith("did:"):
        raise ServiceAuthError("BadJwt", "iss is not a DID")
    issuer_did, _, service_id = iss.partition("#")
    if service_id not in _SERVICE_KEY_IDS:
        raise ServiceAuthError("BadJwt", f"unknown issuer service id {service_id!r}")
    document = resolve_did_document(issuer_did)
    if document.get("id") != issuer_did:
        raise ServiceAuthError("BadJwtSignature", "issuer DID document is for another DID")
    public = public_key_from_did_document(document, _SERVICE_KEY_IDS[service_id])
    if header.get("alg") != public.alg:
        raise ServiceAuthError("BadJwtSignature", f"alg {header.get('alg')!r} != {public.alg}")
    if len(signature) != 64:
        raise ServiceAuthError("BadJwtSignature", "signature is not 64 raw bytes")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not 0 < s <= _ORDERS[public.curve] // 2:
        raise ServiceAuthError("BadJwtSignature", "high-S signature (atproto requires low-S)")
    signed = token.rsplit(".", 1)[0].encode("ascii")
    try:
        public.key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ServiceAuthError("BadJwtSignature", "jwt signature does not match") from None
    return VerifiedServiceJwt(
        header=header,
        claims=claims,
        issuer_did=issuer_did,
        key_id=public.key_id,
        key_type=public.key_type,
        public_key_multibase=public.multibase,
        did_key=public.did_key,
        token=token,
    )


def high_s_variant(token: str, curve: str = "secp256k1") -> str:
    """The same JWT with its signature's ``s`` replaced by ``n - s`` (still valid ECDSA)."""
    head, _, sig_part = token.rpartition(".")
    signature = _b64url_decode(sig_part)
    r = int.from_bytes(signature[:32], "big")
    s = _ORDERS[curve] - int.from_bytes(signature[32:], "big")
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return head + "." + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
