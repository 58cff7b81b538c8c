"""Unit tests for the mapping of XRPC error responses to typed errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from atmosphere import errors
from atmosphere._ratelimit import parse_rate_limit
from atmosphere._xrpc_errors import error_from_response, error_name
from atmosphere.errors import (
    AtmosphereError,
    AuthenticationError,
    BlobNotFoundError,
    ExpiredTokenError,
    InvalidSwapError,
    InvalidTokenError,
    PayloadTooLargeError,
    RateLimitError,
    RecordNotFoundError,
    ServerError,
    XrpcError,
)

NSID = "com.atproto.repo.getRecord"


def body(error: object = None, message: object = None) -> bytes:
    data = {}
    if error is not None:
        data["error"] = error
    if message is not None:
        data["message"] = message
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("name", "status", "cls"),
    [
        ("AuthenticationRequired", 401, AuthenticationError),
        ("AuthMissing", 401, AuthenticationError),
        ("AccountTakedown", 400, AuthenticationError),
        ("ExpiredToken", 400, ExpiredTokenError),
        ("InvalidToken", 400, InvalidTokenError),
        ("RecordNotFound", 400, RecordNotFoundError),
        ("InvalidSwap", 400, InvalidSwapError),
        ("BlobNotFound", 400, BlobNotFoundError),
        ("PayloadTooLarge", 413, PayloadTooLargeError),
        ("RateLimitExceeded", 429, RateLimitError),
    ],
)
def test_error_name_selects_class(name: str, status: int, cls: type[XrpcError]) -> None:
    err = error_from_response(status, {}, body(name, "it went wrong"), nsid=NSID)
    assert type(err) is cls
    assert err.status == status
    assert err.error == name
    assert err.message == "it went wrong"
    assert err.nsid == NSID
    assert str(err) == f"{name} ({status}) from {NSID}: it went wrong"


def test_error_name_wins_over_status() -> None:
    # The reference PDS answers ExpiredToken with 400, but a 401 must not hide it.
    assert type(error_from_response(401, {}, body("ExpiredToken"))) is ExpiredTokenError
    assert type(error_from_response(500, {}, body("RecordNotFound"))) is RecordNotFoundError


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (413, PayloadTooLargeError),
        (429, RateLimitError),
        (500, ServerError),
        (501, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (400, XrpcError),
        (403, XrpcError),
        (404, XrpcError),
        (418, XrpcError),
    ],
)
def test_status_fallback_for_unknown_or_missing_names(status: int, cls: type[XrpcError]) -> None:
    for raw in (b"", body("SomethingNew", "new server error")):
        err = error_from_response(status, {}, raw, nsid=NSID)
        assert type(err) is cls, raw
        assert err.status == status


def test_unknown_name_is_kept_on_a_plain_xrpc_error() -> None:
    err = error_from_response(400, {}, body("InvalidRequest", "Input/repo must be a string"))
    assert type(err) is XrpcError
    assert err.error == "InvalidRequest"
    assert err.message == "Input/repo must be a string"


def test_html_error_page() -> None:
    page = b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>"
    err = error_from_response(502, {"content-type": "text/html"}, page, nsid=NSID)
    assert type(err) is ServerError
    assert err.error is None
    assert err.message is not None
    assert "<html>" in err.message
    assert "nginx" not in err.message  # only the first line is kept
    assert str(err).startswith(f"HTTP error (502) from {NSID}")


@pytest.mark.parametrize("raw", [b"", b"   \r\n  "])
def test_empty_body(raw: bytes) -> None:
    err = error_from_response(503, {}, raw, nsid=NSID)
    assert type(err) is ServerError
    assert err.error is None
    assert err.message is None
    assert str(err) == f"HTTP error (503) from {NSID}"


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"oops"', b"null", b"42"])
def test_json_that_is_not_an_object(raw: bytes) -> None:
    err = error_from_response(400, {}, raw, nsid=NSID)
    assert type(err) is XrpcError
    assert err.error is None
    assert err.message == f"non-XRPC error body: {raw.decode()!r}"


def test_object_with_non_string_fields() -> None:
    err = error_from_response(400, {}, body(42, ["not", "a", "string"]))
    assert type(err) is XrpcError
    assert err.error is None
    assert err.message is None


def test_invalid_utf8_body_does_not_break_mapping() -> None:
    err = error_from_response(500, {}, b"\xff\xfe\xfa broken")
    assert type(err) is ServerError
    assert err.message is not None
    assert "broken" in err.message


def test_absurdly_nested_json_body_is_still_mapped() -> None:
    err = error_from_response(500, {}, b"[" * 60_000)
    assert type(err) is ServerError
    assert err.error is None


def test_huge_message_is_truncated() -> None:
    err = error_from_response(400, {}, body("InvalidRequest", "x" * 100_000))
    assert err.message is not None
    assert 0 < len(err.message) <= 300
    assert len(str(err)) < 400


def test_huge_html_page_is_truncated() -> None:
    err = error_from_response(500, {}, b"<p>" + b"y" * 100_000)
    assert err.message is not None
    assert len(err.message) < 400


@pytest.mark.parametrize("message", ["Blob not found", "blob NOT FOUND: bafkrei..."])
def test_invalid_request_blob_not_found_is_blob_not_found(message: str) -> None:
    err = error_from_response(400, {}, body("InvalidRequest", message), nsid="x.y.z")
    assert type(err) is BlobNotFoundError
    assert err.error == "InvalidRequest"
    assert err.message == message


def test_other_invalid_request_is_not_blob_not_found() -> None:
    err = error_from_response(400, {}, body("InvalidRequest", "Could not find repo"))
    assert type(err) is XrpcError


def test_headers_are_kept_with_lower_case_keys() -> None:
    headers = httpx.Headers({"X-Request-Id": "abc", "Content-Type": "application/json"})
    err = error_from_response(400, headers, body("InvalidRequest"))
    assert err.headers["x-request-id"] == "abc"
    assert err.headers["content-type"] == "application/json"
    assert isinstance(err.headers, dict)


def test_payload_too_large_reports_the_request_size() -> None:
    err = error_from_response(
        413, {}, body("PayloadTooLarge", "request entity too large"), body_size=5_000_000
    )
    assert isinstance(err, PayloadTooLargeError)
    assert err.size == 5_000_000
    assert "5000000 bytes" in str(err)
    plain = error_from_response(413, {}, b"")
    assert isinstance(plain, PayloadTooLargeError)
    assert plain.size is None


# -- rate limits -----------------------------------------------------------------------


def test_rate_limit_headers_of_the_reference_pds() -> None:
    reset = int(datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp())
    headers = httpx.Headers(
        {
            "RateLimit-Limit": "3000",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": "3000;w=300",
        }
    )
    err = error_from_response(429, headers, body("RateLimitExceeded", "Rate Limit Exceeded"))
    assert isinstance(err, RateLimitError)
    assert err.limit == 3000
    assert err.remaining == 0
    assert err.policy == "3000;w=300"
    assert err.reset_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert err.retry_after is not None
    assert err.retry_after > 0
    assert "2030-01-02T03:04:05+00:00" in str(err)


def test_rate_limit_without_headers() -> None:
    err = error_from_response(429, {}, b"")
    assert isinstance(err, RateLimitError)
    assert (err.limit, err.remaining, err.reset_at, err.policy) == (None, None, None, None)
    assert err.retry_after is None


def test_rate_limit_reset_in_the_past_means_no_wait() -> None:
    err = error_from_response(429, {"ratelimit-reset": "1000"}, b"")
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 0.0


def test_retry_after_seconds() -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
    info = parse_rate_limit({"Retry-After": "30"}, now=now)
    assert info is not None
    assert info.reset_at == now + timedelta(seconds=30)


def test_retry_after_http_date() -> None:
    info = parse_rate_limit({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert info is not None
    assert info.reset_at == datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc)
    assert info.reset_at.tzinfo is not None


def test_retry_after_wins_over_ratelimit_reset() -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
    info = parse_rate_limit({"RateLimit-Reset": "2000000000", "Retry-After": "5"}, now=now)
    assert info is not None
    assert info.reset_at == now + timedelta(seconds=5)


def test_unparseable_headers_are_ignored() -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
    info = parse_rate_limit(
        {"RateLimit-Limit": "lots", "RateLimit-Reset": "1750000000", "Retry-After": "soon"},
        now=now,
    )
    assert info is not None
    assert info.limit is None
    assert info.reset_at == datetime.fromtimestamp(1750000000, tz=timezone.utc)


def test_negative_retry_after_means_now() -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
    info = parse_rate_limit({"Retry-After": "-5"}, now=now)
    assert info is not None
    assert info.reset_at == now


def test_no_rate_limit_headers() -> None:
    assert parse_rate_limit({"content-type": "application/json"}) is None
    assert parse_rate_limit({}) is None


def test_rate_limit_info_on_a_non_429_is_only_parsed_not_raised() -> None:
    info = parse_rate_limit({"ratelimit-remaining": "12", "ratelimit-limit": "30"})
    assert info is not None
    assert (info.limit, info.remaining) == (30, 12)
    assert "remaining=12" in repr(info)


# -- error_name and the hierarchy ------------------------------------------------------


def test_error_name() -> None:
    assert error_name(body("ExpiredToken", "Token has expired")) == (
        "ExpiredToken",
        "Token has expired",
    )
    assert error_name(b"") == (None, None)
    assert error_name(b"{}") == (None, None)


def test_every_error_is_an_atmosphere_error() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, AtmosphereError), name


@pytest.mark.parametrize(
    "cls",
    [
        errors.InvalidIdentifierError,
        errors.InvalidRecordError,
        errors.InvalidArgumentError,
        errors.InvalidSessionError,
        errors.NotAuthenticatedError,
        errors.ResolutionError,
        errors.HandleResolutionError,
        errors.DidResolutionError,
    ],
)
def test_input_errors_are_value_errors(cls: type[Exception]) -> None:
    assert issubclass(cls, ValueError)


@pytest.mark.parametrize(
    "cls",
    [
        errors.XrpcError,
        errors.TransportError,
        errors.IntegrityError,
        errors.InvalidResponseError,
        errors.AuthenticationError,
        errors.ServerError,
    ],
)
def test_server_and_transport_errors_are_not_value_errors(cls: type[Exception]) -> None:
    assert not issubclass(cls, ValueError)


def test_every_mapped_error_is_an_xrpc_and_atmosphere_error() -> None:
    for status in (400, 401, 404, 413, 429, 500):
        err = error_from_response(status, {}, b"")
        assert isinstance(err, XrpcError)
        assert isinstance(err, AtmosphereError)
        with pytest.raises(AtmosphereError):
            raise err
