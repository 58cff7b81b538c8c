"""The test AppView's service-JWT verifier refuses what a receiving service must refuse.

Keys are made here with ``cryptography``; DID documents in both forms the network
uses (``Multikey`` and the legacy ``EcdsaSecp256k1VerificationKey2019``).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.support.service_auth import (
    ServiceAuthError,
    base58btc_decode,
    decode_multikey,
    did_key_from_point,
    high_s_variant,
    verify_service_jwt,
)

ISS = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
AUD = "did:web:localhost%3A1234"
LXM = "science.alt.dataset.getEntries"
_ORDER = {
    "secp256k1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    "p256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
}
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _B58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + out


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _point(key: ec.EllipticCurvePrivateKey, compressed: bool) -> bytes:
    fmt = (
        serialization.PublicFormat.CompressedPoint
        if compressed
        else serialization.PublicFormat.UncompressedPoint
    )
    return key.public_key().public_bytes(serialization.Encoding.X962, fmt)


def _sign(key: ec.EllipticCurvePrivateKey, curve: str, claims: Mapping[str, Any]) -> str:
    alg = "ES256K" if curve == "secp256k1" else "ES256"
    head = _b64(json.dumps({"typ": "JWT", "alg": alg}).encode())
    body = _b64(json.dumps(dict(claims)).encode())
    der = key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    s = min(s, _ORDER[curve] - s)  # low-S, as atproto requires
    return f"{head}.{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 60, "lxm": LXM, "jti": "ab" * 8}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _doc(methods: list[dict[str, Any]], did: str = ISS) -> dict[str, Any]:
    return {"id": did, "verificationMethod": methods}


def _multikey_doc(key: ec.EllipticCurvePrivateKey, curve: str, key_id: str = "atproto") -> Any:
    prefix = b"\xe7\x01" if curve == "secp256k1" else b"\x80\x24"
    value = "z" + _b58(prefix + _point(key, compressed=True))
    return _doc([{"id": f"{ISS}#{key_id}", "type": "Multikey", "publicKeyMultibase": value}])


def _legacy_doc(key: ec.EllipticCurvePrivateKey) -> Any:
    value = "z" + _b58(_point(key, compressed=False))
    return _doc(
        [
            {
                "id": "#atproto",
                "type": "EcdsaSecp256k1VerificationKey2019",
                "publicKeyMultibase": value,
            }
        ]
    )


def _verify(token: str, document: Mapping[str, Any], lxm: str = LXM) -> Any:
    return verify_service_jwt(
        token,
        audiences=(AUD, f"{AUD}#atdata_appview"),
        lxm=lxm,
        resolve_did_document=lambda _: document,
    )


@pytest.fixture
def k256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256K1())


def test_spec_example_multikeys_decode() -> None:
    """The Cryptography spec's example keys: curve and a 33-byte compressed point."""
    curve, alg, point = decode_multikey("zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc")
    assert (curve, alg, len(point), point[0] in (2, 3)) == ("secp256k1", "ES256K", 33, True)
    curve, alg, point = decode_multikey("zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo")
    assert (curve, alg, len(point)) == ("p256", "ES256", 33)
    assert did_key_from_point("p256", point) == (
        "did:key:zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo"
    )
    assert base58btc_decode("1112") == b"\x00\x00\x00\x01"


@pytest.mark.parametrize("form", ["multikey", "legacy"])
def test_valid_k256_token_verifies_in_both_document_forms(
    k256: ec.EllipticCurvePrivateKey, form: str
) -> None:
    document = _multikey_doc(k256, "secp256k1") if form == "multikey" else _legacy_doc(k256)
    verified = _verify(_sign(k256, "secp256k1", _claims()), document)
    assert verified.issuer_did == ISS
    assert verified.key_id == "#atproto"
    assert verified.did_key == did_key_from_point("secp256k1", _point(k256, compressed=True))


def test_valid_p256_token_verifies() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    verified = _verify(
        _sign(key, "p256", _claims(aud=f"{AUD}#atdata_appview")), _multikey_doc(key, "p256")
    )
    assert verified.header["alg"] == "ES256"


def test_labeler_issuer_fragment_uses_the_label_key(k256: ec.EllipticCurvePrivateKey) -> None:
    token = _sign(k256, "secp256k1", _claims(iss=f"{ISS}#atproto_labeler"))
    verified = _verify(token, _multikey_doc(k256, "secp256k1", key_id="atproto_label"))
    assert verified.key_id == "#atproto_label"
    with pytest.raises(ServiceAuthError) as caught:
        _verify(token, _multikey_doc(k256, "secp256k1"))  # only an #atproto key
    assert caught.value.error == "BadJwtSignature"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"exp": -1}, "JwtExpired"),  # -1: one second ago (claims are built when the test runs)
        ({"aud": "did:web:other.test"}, "BadJwtAudience"),
        ({"lxm": "science.alt.dataset.other"}, "BadJwtLexiconMethod"),
        ({"lxm": None}, "BadJwtLexiconMethod"),
        ({"iss": f"{ISS}#unknown_service"}, "BadJwt"),
        ({"exp": "soon"}, "BadJwt"),
    ],
)
def test_bad_claims_are_refused(
    k256: ec.EllipticCurvePrivateKey, overrides: dict[str, Any], error: str
) -> None:
    if overrides.get("exp") == -1:
        overrides = {"exp": int(time.time()) - 1}
    claims = _claims(**overrides)
    with pytest.raises(ServiceAuthError) as caught:
        _verify(_sign(k256, "secp256k1", claims), _multikey_doc(k256, "secp256k1"))
    assert caught.value.error == error


def test_bad_signatures_are_refused(k256: ec.EllipticCurvePrivateKey) -> None:
    document = _multikey_doc(k256, "secp256k1")
    token = _sign(k256, "secp256k1", _claims())
    other = ec.generate_private_key(ec.SECP256K1())
    cases = {
        "other key": _sign(other, "secp256k1", _claims()),
        "high-S": high_s_variant(token),
        "claims swapped": token.split(".")[0]
        + "."
        + _b64(json.dumps(_claims(jti="cd" * 8)).encode())
        + "."
        + token.split(".")[2],
    }
    for name, bad in cases.items():
        with pytest.raises(ServiceAuthError) as caught:
            _verify(bad, document)
        assert caught.value.error == "BadJwtSignature", name
    _verify(token, document)  # the original still verifies


def test_malformed_tokens_and_wrong_types(k256: ec.EllipticCurvePrivateKey) -> None:
    document = _multikey_doc(k256, "secp256k1")
    for bad in ("", "a.b", "a.b.c.d", "!!.??.**"):
        with pytest.raises(ServiceAuthError) as caught:
            _verify(bad, document)
        assert caught.value.error == "BadJwt"
    head = _b64(json.dumps({"typ": "at+jwt", "alg": "ES256K"}).encode())
    token = _sign(k256, "secp256k1", _claims())
    with pytest.raises(ServiceAuthError) as caught:
        _verify(head + token[token.index(".") :], document)
    assert caught.value.error == "BadJwtType"


def test_document_for_another_did_is_refused(k256: ec.EllipticCurvePrivateKey) -> None:
    document = dict(_multikey_doc(k256, "secp256k1"), id="did:plc:someoneelse")
    with pytest.raises(ServiceAuthError) as caught:
        _verify(_sign(k256, "secp256k1", _claims()), document)
    assert caught.value.error == "BadJwtSignature"
