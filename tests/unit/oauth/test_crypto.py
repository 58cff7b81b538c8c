"""PKCE, the DPoP key and DPoP proofs (pure functions, no network)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import pickle
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from atmosphere._oauth.dpop import (
    NonceStore,
    access_token_hash,
    build_proof,
    is_use_dpop_nonce,
    normalize_htu,
    origin_of,
    parse_www_authenticate,
)
from atmosphere._oauth.errors import OAuthError
from atmosphere._oauth.keys import DpopKey
from atmosphere._oauth.pkce import Pkce, s256_challenge
from atmosphere.errors import AtmosphereError, InvalidArgumentError


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _verify(proof: str) -> tuple[dict, dict]:
    """Check a proof's ES256 signature with its own embedded key; header and payload."""
    head, body, sig = proof.split(".")
    header, payload = json.loads(_b64d(head)), json.loads(_b64d(body))
    jwk = header["jwk"]
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(_b64d(jwk["x"]), "big"),
        int.from_bytes(_b64d(jwk["y"]), "big"),
        ec.SECP256R1(),
    ).public_key()
    raw = _b64d(sig)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    return header, payload


def test_pkce_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert Pkce(verifier).challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_generate_is_random_long_and_secret_in_repr() -> None:
    a, b = Pkce.generate(), Pkce.generate()
    assert a.verifier != b.verifier
    assert 43 <= len(a.verifier) <= 128
    assert a.method == "S256"
    assert a.verifier not in repr(a)


@pytest.mark.parametrize("bad", ["short", "x" * 129, "a" * 42 + "!", "é" * 50])
def test_pkce_rejects_bad_verifiers(bad: str) -> None:
    with pytest.raises(InvalidArgumentError):
        Pkce(bad)


def test_key_roundtrip_thumbprint_and_secret_safety(caplog: pytest.LogCaptureFixture) -> None:
    key = DpopKey.generate()
    jwk = key.private_jwk()
    assert set(jwk) == {"kty", "crv", "x", "y", "d"}
    assert "d" not in key.public_jwk
    restored = DpopKey.from_private_jwk(jwk)
    assert restored == key
    assert restored.private_jwk() == jwk
    canonical = json.dumps(
        {"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]}, separators=(",", ":")
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    assert key.thumbprint == expected.decode()
    logging.getLogger("t").warning("key %s %r", key, key)
    for text in (repr(key), str(key), f"{key}", caplog.text):
        assert jwk["d"] not in text
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_key_loading_refuses_malformed_or_mismatched_jwks() -> None:
    jwk = DpopKey.generate().private_jwk()
    other = DpopKey.generate().private_jwk()
    bad_cases = [
        None,
        {**jwk, "crv": "P-384"},
        {**jwk, "kty": "RSA"},
        {k: v for k, v in jwk.items() if k != "d"},
        {**jwk, "d": "!!"},
        {**jwk, "d": "AA"},  # zero is not a private key
        {**jwk, "x": other["x"]},
    ]
    for bad in bad_cases:
        with pytest.raises(OAuthError) as caught:
            DpopKey.from_private_jwk(bad)
        assert isinstance(caught.value, AtmosphereError)
        assert jwk["d"] not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "htu"),
    [
        ("HTTPS://PDS.Example.COM:443/xrpc/x?a=1#f", "https://pds.example.com/xrpc/x"),
        ("http://localhost:2583/oauth/par", "http://localhost:2583/oauth/par"),
        ("http://localhost:80", "http://localhost/"),
        ("https://[::1]:8443/a/b?c", "https://[::1]:8443/a/b"),
    ],
)
def test_htu_drops_query_fragment_and_default_port(url: str, htu: str) -> None:
    assert normalize_htu(url) == htu


def test_origin_of_rejects_non_http_and_credentials() -> None:
    assert origin_of("https://A.example:443/x") == "https://a.example"
    for bad in ("ftp://x/", "/relative", "https://user:pw@host/"):
        with pytest.raises(ValueError):
            origin_of(bad)


def test_ath_matches_rfc9449_example() -> None:
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def test_proof_claims_and_signature() -> None:
    key = DpopKey.generate()
    before = int(time.time())
    proof = build_proof(
        key, "post", "https://pds.example/xrpc/a.b?x=1", nonce="n1", access_token="tok"
    )
    header, payload = _verify(proof)
    assert header == {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}
    assert payload["htm"] == "POST"
    assert payload["htu"] == "https://pds.example/xrpc/a.b"
    assert payload["nonce"] == "n1"
    assert payload["ath"] == access_token_hash("tok")
    assert before <= payload["iat"] <= int(time.time())
    assert len(payload["jti"]) >= 16
    bare = _verify(build_proof(key, "GET", "https://as.example/oauth/par"))[1]
    assert "nonce" not in bare
    assert "ath" not in bare
    assert bare["jti"] != payload["jti"]


def test_proof_signature_breaks_when_tampered() -> None:
    proof = build_proof(DpopKey.generate(), "GET", "https://x.example/")
    head, body, sig = proof.split(".")
    claims = json.loads(_b64d(body))
    claims["htu"] = "https://evil.example/"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        _verify(f"{head}.{forged}.{sig}")


def test_nonce_store_is_per_origin() -> None:
    store = NonceStore()
    assert store.get("https://a.example/x") is None
    assert store.update_from("https://a.example/oauth/par", {"DPoP-Nonce": "n1"})
    assert not store.update_from("https://A.example:443/other", {"dpop-nonce": "n1"})
    assert not store.update_from("https://a.example/", {})
    assert store.get("https://a.example/anything?q") == "n1"
    assert store.get("https://b.example/") is None
    store.set("https://b.example/y", "n2")
    assert store.snapshot() == {"https://a.example": "n1", "https://b.example": "n2"}
    assert NonceStore(store.snapshot()).get("https://b.example/") == "n2"


def test_www_authenticate_parsing() -> None:
    value = (
        'Bearer realm="x", DPoP algs="RS256 ES256", error="use_dpop_nonce", '
        'error_description="Resource server requires nonce in DPoP proof"'
    )
    assert parse_www_authenticate(value) == [
        ("bearer", {"realm": "x"}),
        (
            "dpop",
            {
                "algs": "RS256 ES256",
                "error": "use_dpop_nonce",
                "error_description": "Resource server requires nonce in DPoP proof",
            },
        ),
    ]
    assert parse_www_authenticate('DPoP error="a\\"b"') == [("dpop", {"error": 'a"b'})]
    assert parse_www_authenticate("Basic, DPoP") == [("basic", {}), ("dpop", {})]


def test_use_dpop_nonce_in_both_server_forms() -> None:
    challenge = {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"'}
    assert is_use_dpop_nonce(400, {}, {"error": "use_dpop_nonce"})
    assert is_use_dpop_nonce(401, challenge, None)
    assert not is_use_dpop_nonce(401, {"WWW-Authenticate": 'DPoP error="invalid_token"'}, None)
    assert not is_use_dpop_nonce(401, {"WWW-Authenticate": 'Bearer error="use_dpop_nonce"'}, None)
    assert not is_use_dpop_nonce(400, {}, {"error": "invalid_request"})
    assert not is_use_dpop_nonce(500, challenge, {"error": "use_dpop_nonce"})
