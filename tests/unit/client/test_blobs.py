"""Blob sources, verified downloads and the client's blob plumbing, without a real PDS.

Sources and verification are tested directly; the client through the fake PDS
(``httpx.MockTransport``); the timeouts against a real loopback socket that
reads slowly. The client tests run on both flavours (the ``flavour`` fixture).
"""

from __future__ import annotations

import http.server
import io
import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from atmosphere import (
    AtmosphereClient,
    IntegrityError,
    InvalidArgumentError,
    InvalidResponseError,
    PayloadTooLargeError,
    compute_cid,
)
from atmosphere._blobsource import (
    BlobSource,
    blob_upload_limit,
    check_uploaded_blob,
    open_blob_source,
)
from atmosphere._blobverify import VerifiedWriter
from atmosphere._cid import cid_of_file
from atmosphere._defaults import DEFAULT_TIMEOUT
from atmosphere._retry import RetryPolicy
from tests.support.fake_pds import FakePds, blob_cid
from tests.support.flavours import Flavour

PDS_URL = "https://pds.test"
PASSWORD = "hunter2"
UPLOAD = "com.atproto.repo.uploadBlob"
DESCRIBE = "com.atproto.server.describeServer"
GET_BLOB = "com.atproto.sync.getBlob"

Progress = list[tuple[int, "int | None"]]


def data_of(size: int, seed: int = 1) -> bytes:
    block = bytes((i * seed + i // 251) % 256 for i in range(4096))
    return (block * (size // len(block) + 1))[:size]


def recorder() -> tuple[Progress, Any]:
    seen: Progress = []
    return seen, lambda done, total: seen.append((done, total))


def assert_monotonic_to(seen: Progress, size: int) -> None:
    assert seen, "no progress reported"
    dones = [done for done, _ in seen]
    assert dones == sorted(dones)
    assert len(set(dones)) == len(dones)  # never the same figure twice
    assert all(total == size for _, total in seen)
    assert seen[-1] == (size, size)


class OneWayStream(io.RawIOBase):
    """A binary, readable, non-seekable stream (a pipe stand-in) that counts reads."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self.pos = 0
        self.reads = 0
        self.read_after_eof = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.reads += 1
        n = min(len(buffer), len(self._data) - self.pos)
        if n == 0:
            self.read_after_eof += 1
        buffer[:n] = self._data[self.pos : self.pos + n]
        self.pos += n
        return n


# -- sources -------------------------------------------------------------------------


def test_bytes_source_chunks_and_progress() -> None:
    data = data_of(2 * 1024 + 5)
    source = open_blob_source(bytearray(data), chunk_size=1024)
    assert source.size == len(data)
    assert source.cid == compute_cid(data)  # known before sending
    seen, progress = recorder()
    chunks = list(source.chunks(progress))
    assert [len(c) for c in chunks] == [1024, 1024, 5]
    assert b"".join(chunks) == data
    assert seen == [(1024, len(data)), (2048, len(data)), (len(data), len(data))]


def test_empty_sources_report_zero_of_zero(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    for data in (b"", empty, io.BytesIO(), iter([])):
        seen, progress = recorder()
        with open_blob_source(data) as source:
            assert list(source.chunks(progress)) == []
            assert source.size == 0
            assert source.cid == compute_cid(b"")
        assert seen == [(0, 0)]


def test_path_is_streamed_and_hashed_while_sent(tmp_path: Path) -> None:
    data = data_of(10_000)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    with open_blob_source(path, chunk_size=4096) as source:
        assert source.size == len(data)
        assert not source.spooled
        with pytest.raises(RuntimeError):
            _ = source.cid  # not read yet: the CID comes from the send itself
        assert b"".join(source.chunks()) == data
        assert source.cid == compute_cid(data)


def test_resend_starts_over_and_progress_never_goes_back(tmp_path: Path) -> None:
    data = data_of(10_000)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    seen, progress = recorder()
    with open_blob_source(path, chunk_size=1000) as source:
        first = source.chunks(progress)
        for _ in range(6):  # a send that fails part-way
            next(first)
        first.close()
        assert b"".join(source.chunks(progress)) == data  # the resend, from the top
        assert source.cid == compute_cid(data)
    assert_monotonic_to(seen, len(data))
    assert [d for d, _ in seen][:5] == [1000, 2000, 3000, 4000, 5000]


def test_seekable_file_object_from_its_position(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"HEADER" + data_of(5000))
    with path.open("rb") as fh:
        fh.seek(6)
        source = open_blob_source(fh, chunk_size=1024)
        assert source.size == 5000
        for _ in range(2):  # each pass rewinds to offset 6, not 0
            assert b"".join(source.chunks()) == data_of(5000)
        source.close()
        assert not fh.closed  # the caller's file stays open


def test_non_seekable_stream_is_read_once_into_a_spool() -> None:
    data = data_of(50_000)
    stream = OneWayStream(data)
    with open_blob_source(stream, chunk_size=8192) as source:
        assert stream.reads == 0  # nothing read before prepare()
        assert source.size == len(data)  # spools
        assert source.spooled
        reads = stream.reads
        for _ in range(3):
            assert b"".join(source.chunks()) == data
        assert stream.reads == reads  # resends come from the spool
        assert stream.read_after_eof == 1
        assert source.cid == compute_cid(data)


def test_iterable_is_spooled_once_and_checked() -> None:
    pulled: list[int] = []

    def gen() -> Iterator[bytes]:
        for i in range(5):
            pulled.append(i)
            yield bytes([i]) * 1000

    source = open_blob_source(gen())
    assert pulled == [0]  # only the first chunk looked at, to check its type
    source.prepare()
    assert pulled == [0, 1, 2, 3, 4]
    assert source.prepare() is source  # idempotent
    assert b"".join(source.chunks()) == b"".join(bytes([i]) * 1000 for i in range(5))
    source.close()


def test_bad_chunks() -> None:
    with pytest.raises(InvalidArgumentError):
        open_blob_source(["text"])  # first chunk: refused before anything else
    source = open_blob_source([b"ok", 42])
    with pytest.raises(InvalidArgumentError):
        source.prepare()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_path_is_read_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = data_of(300_000)

    def writer() -> None:
        with fifo.open("wb") as out:
            out.write(data)

    thread = threading.Thread(target=writer)
    thread.start()
    with open_blob_source(fifo) as source:
        assert source.size == len(data)
        assert source.spooled
        assert b"".join(source.chunks()) == data
    thread.join()


def test_bad_sources(tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("hello")
    with text.open("r") as fh, pytest.raises(InvalidArgumentError):
        open_blob_source(fh)
    for bad in (tmp_path, tmp_path / "missing", "not a path", 12345, None):
        with pytest.raises(InvalidArgumentError):
            open_blob_source(bad)
    for chunk_size in (0, -1, True, 1.5):
        with pytest.raises(InvalidArgumentError):
            open_blob_source(b"x", chunk_size=chunk_size)


def test_non_blocking_stream_is_refused() -> None:
    class NotReady(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> None:
            return None

    with pytest.raises(InvalidArgumentError):
        open_blob_source(NotReady()).prepare()


def test_file_that_shrinks_after_opening(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(data_of(10_000))
    with open_blob_source(path, chunk_size=4096) as source:
        path.write_bytes(b"short")
        with pytest.raises(OSError, match="ended after"):
            list(source.chunks())


def test_max_size(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(data_of(1001))
    assert open_blob_source(data_of(1000)).prepare(max_size=1000).size == 1000
    for data in (data_of(1001), path, io.BytesIO(data_of(1001))):
        with open_blob_source(data) as source, pytest.raises(PayloadTooLargeError) as info:
            source.prepare(max_size=1000)
        assert (info.value.size, info.value.limit, info.value.status) == (1001, 1000, 413)
        assert "1001" in str(info.value)
        assert "refused before sending" in str(info.value)


def test_stream_over_max_size_is_given_up_on_early() -> None:
    pulled = 0

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 1000

    with open_blob_source(endless()) as source, pytest.raises(PayloadTooLargeError) as info:
        source.prepare(max_size=10_000)
    assert pulled == 11
    assert info.value.size is None  # unknown: the rest was never read
    assert info.value.limit == 10_000
    assert "over 10000 bytes" in str(info.value)


def test_blob_upload_limit_parsing() -> None:
    assert blob_upload_limit({"blobUploadLimit": 5_242_880, "did": "did:web:x"}) == 5_242_880
    for answer in ({}, {"blobUploadLimit": True}, {"blobUploadLimit": -1}, {"blobUploadLimit": 0}):
        assert blob_upload_limit(answer) is None
    for answer in ({"blobUploadLimit": "5mb"}, {"blobUploadLimit": 1.5}, [], None, "x"):
        assert blob_upload_limit(answer) is None


def _answer(cid: str, size: int) -> dict[str, Any]:
    blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": "a/b", "size": size}
    return {"blob": blob}


def test_check_uploaded_blob(tmp_path: Path) -> None:
    data = b"precious"
    source = open_blob_source(data)
    ref = check_uploaded_blob(_answer(compute_cid(data), len(data)), source)
    assert ref == {
        "$type": "blob",
        "ref": {"$link": compute_cid(data)},
        "mimeType": "a/b",
        "size": len(data),
    }
    with pytest.raises(IntegrityError):
        check_uploaded_blob(_answer(compute_cid(b"other"), len(data)), source)
    with pytest.raises(IntegrityError):
        check_uploaded_blob(_answer(compute_cid(data), len(data) + 1), source)
    for bad in ({}, {"blob": {"ref": "x"}}, None):
        with pytest.raises(InvalidResponseError):
            check_uploaded_blob(bad, source)
    path = tmp_path / "f"
    path.write_bytes(data)
    with open_blob_source(path) as unsent, pytest.raises(InvalidResponseError):
        # A 200 before the body was fully read: nothing to compare with.
        check_uploaded_blob(_answer(compute_cid(data), len(data)), unsent)


def test_blob_source_defaults() -> None:
    source = BlobSource(data=b"abc", size=3, precomputed_cid=compute_cid(b"abc"))
    assert b"".join(source.chunks()) == b"abc"
    assert source.cid == compute_cid(b"abc")
    assert not source.spooled


# -- verified downloads (both flavours: flavour.blobs is _sync.blobs or _async.blobs) ----


def counting(chunks: list[bytes], produced: list[int]) -> Iterator[bytes]:
    for i, chunk in enumerate(chunks):
        produced.append(i)
        yield chunk


def test_iter_verified_holds_the_last_chunk_back(flavour: Flavour) -> None:
    chunks = [b"a" * 10, b"b" * 10, b"c" * 10]
    cid = compute_cid(b"".join(chunks))
    produced: list[int] = []
    out = flavour.blobs.iter_verified(flavour.stream(counting(chunks, produced)), cid, total=30)
    assert next(out) == chunks[0]
    assert produced == [0, 1]  # chunk 0 released only once chunk 1 arrived
    assert next(out) == chunks[1]
    assert next(out) == chunks[2]  # released after the whole blob was verified
    with pytest.raises(StopIteration):
        next(out)


def test_iter_verified_never_releases_the_last_chunk_of_a_bad_blob(flavour: Flavour) -> None:
    chunks = [b"a" * 10, b"b" * 10, b"c" * 10]
    cid = compute_cid(b"a" * 10 + b"b" * 10 + b"C" + b"c" * 9)
    released: list[bytes] = []
    with pytest.raises(IntegrityError) as info:
        released.extend(flavour.blobs.iter_verified(flavour.stream(iter(chunks)), cid))
    assert released == chunks[:2]
    assert info.value.expected == cid
    assert info.value.actual == compute_cid(b"".join(chunks))


def test_iter_verified_progress(flavour: Flavour) -> None:
    chunks = [b"x" * 7, b"", b"y" * 3]
    seen, progress = recorder()
    assert b"".join(
        flavour.blobs.iter_verified(
            flavour.stream(chunks), compute_cid(b"x" * 7 + b"y" * 3), progress=progress
        )
    )
    assert seen == [(7, None), (10, None)]
    seen, progress = recorder()
    assert (
        list(
            flavour.blobs.iter_verified(
                flavour.stream([]), compute_cid(b""), total=0, progress=progress
            )
        )
        == []
    )
    assert seen == [(0, 0)]


def test_write_verified_creates_a_normal_file(flavour: Flavour, tmp_path: Path) -> None:
    data = data_of(100_000)
    target = tmp_path / "out.bin"
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    written = flavour.blobs.write_verified(flavour.stream(chunks), compute_cid(data), target)
    assert written == len(data)
    assert target.read_bytes() == data
    assert os.listdir(tmp_path) == ["out.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_write_verified_replaces_an_existing_file(flavour: Flavour, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    flavour.blobs.write_verified(flavour.stream([b"new"]), compute_cid(b"new"), target)
    assert target.read_bytes() == b"new"


@pytest.mark.parametrize("failure", ["tampered", "broken stream", "interrupted"])
def test_write_verified_failure_leaves_nothing(
    flavour: Flavour, tmp_path: Path, failure: str
) -> None:
    data = data_of(50_000)
    target = tmp_path / "out.bin"
    existing = tmp_path / "existing.bin"
    existing.write_bytes(b"keep me")

    def chunks() -> Iterator[bytes]:
        yield data[:20_000]
        if failure == "broken stream":
            raise OSError("connection lost")
        if failure == "interrupted":
            raise KeyboardInterrupt
        yield b"X" + data[20_001:]

    expected: type[BaseException] = {
        "tampered": IntegrityError,
        "broken stream": OSError,
        "interrupted": KeyboardInterrupt,
    }[failure]
    for path in (target, existing):
        with pytest.raises(expected):
            flavour.blobs.write_verified(flavour.stream(chunks()), compute_cid(data), path)
    assert sorted(os.listdir(tmp_path)) == ["existing.bin"]  # no target, no temp file
    assert existing.read_bytes() == b"keep me"


def test_verified_writer_flushes_as_it_goes_and_reports_in_order(tmp_path: Path) -> None:
    data = data_of(100_000)
    seen, progress = recorder()
    path = tmp_path / "out.bin"
    with (
        path.open("wb") as out,
        VerifiedWriter(out, compute_cid(data), len(data), progress, sync_every=10_000) as writer,
    ):
        for i in range(0, len(data), 4096):
            if writer.full():
                writer.wait()
            writer.feed(data[i : i + 4096])
        assert writer.finish() == len(data)
    assert path.read_bytes() == data
    assert_monotonic_to(seen, len(data))


def test_verified_writer_raises_a_failed_write(tmp_path: Path) -> None:
    class Full(io.BytesIO):
        def write(self, chunk: Any) -> int:
            if self.tell() >= 8192:
                raise OSError(28, "No space left on device")
            return super().write(chunk)

    data = data_of(50_000)

    def write_all() -> None:
        with VerifiedWriter(Full(), compute_cid(data), None, None) as writer:
            for i in range(0, len(data), 4096):
                writer.feed(data[i : i + 4096])
            writer.finish()

    with pytest.raises(OSError, match="No space"):
        write_all()


def test_write_verified_into_a_missing_directory(flavour: Flavour, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        flavour.blobs.write_verified(
            flavour.stream([b"x"]), compute_cid(b"x"), tmp_path / "nope" / "out.bin"
        )
    assert os.listdir(tmp_path) == []


# -- the client, against the fake PDS ---------------------------------------------------


@pytest.fixture
def fake() -> FakePds:
    fake = FakePds(PDS_URL)
    fake.add_account("alice.test", PASSWORD)
    return fake


@pytest.fixture
def client(fake: FakePds, flavour: Flavour) -> Iterator[AtmosphereClient]:
    policy = RetryPolicy(backoff_base=0.001, jitter=0.0)
    with flavour.client(PDS_URL, _client=flavour.http(fake), retry=policy) as client:
        client.login("alice.test", PASSWORD)
        fake.requests.clear()
        fake.calls.clear()
        yield client


def test_advertised_limit_refuses_before_sending(client: AtmosphereClient, fake: FakePds) -> None:
    fake.blob_upload_limit = 1000
    with pytest.raises(PayloadTooLargeError) as info:
        client.upload_blob(data_of(1001))
    assert (info.value.size, info.value.limit) == (1001, 1000)
    assert fake.calls[UPLOAD] == 0
    with pytest.raises(PayloadTooLargeError) as info:
        client.upload_blob(iter([b"x" * 600] * 1000))
    assert (info.value.size, info.value.limit) == (None, 1000)
    assert client.upload_blob(data_of(1000))["size"] == 1000
    assert fake.calls[UPLOAD] == 1
    assert fake.calls[DESCRIBE] == 1  # asked once, then remembered


def test_servers_413_names_the_size(client: AtmosphereClient, fake: FakePds) -> None:
    body = {"error": "PayloadTooLarge", "message": "request entity too large"}
    fake.inject(UPLOAD, httpx.Response(413, json=body))
    with pytest.raises(PayloadTooLargeError) as info:
        client.upload_blob(data_of(5000))
    assert (info.value.status, info.value.size, info.value.limit) == (413, 5000, None)
    assert "5000" in str(info.value)
    assert fake.calls[UPLOAD] == 1  # a 4xx is not retried


def test_describe_server_failures(client: AtmosphereClient, fake: FakePds) -> None:
    fake.inject(DESCRIBE, httpx.Response(503, json={"error": "Unavailable"}))
    fake.inject(DESCRIBE, httpx.Response(503, json={"error": "Unavailable"}))
    fake.inject(DESCRIBE, httpx.Response(503, json={"error": "Unavailable"}))
    assert client.upload_blob(b"a")["size"] == 1  # no limit known: sent anyway
    fake.inject(DESCRIBE, httpx.Response(501, json={"error": "MethodNotImplemented"}))
    assert client.upload_blob(b"b")["size"] == 1  # 5xx: asked again
    assert client.upload_blob(b"c")["size"] == 1  # 501: remembered as "no limit"
    assert fake.calls[DESCRIBE] == 4
    assert fake.calls[UPLOAD] == 3


def test_non_seekable_source_resent_after_refresh_from_the_spool(
    client: AtmosphereClient, fake: FakePds
) -> None:
    data = data_of(3 * 1024 * 1024 + 1)
    stream = OneWayStream(data)
    seen, progress = recorder()
    fake.expire_access_tokens()
    ref = client.upload_blob(stream, progress=progress)
    assert ref["ref"]["$link"] == blob_cid(data)
    first, second = fake.sent(UPLOAD)
    assert first.body == second.body == data
    assert first.bearer != second.bearer
    assert stream.read_after_eof == 1  # the caller's stream was read exactly once
    assert_monotonic_to(seen, len(data))


def test_retry_rewinds_a_file_object_to_where_it_started(
    client: AtmosphereClient, fake: FakePds, tmp_path: Path
) -> None:
    data = data_of(2 * 1024 * 1024 + 3)
    path = tmp_path / "shard.tar"
    path.write_bytes(b"HEAD" + data)
    fake.inject(UPLOAD, httpx.Response(503, json={"error": "Unavailable"}))
    seen, progress = recorder()
    with path.open("rb") as fh:
        fh.seek(4)
        ref = client.upload_blob(fh, progress=progress)
    assert ref["size"] == len(data)
    first, second = fake.sent(UPLOAD)
    assert first.body == second.body == data
    assert first.headers["content-length"] == second.headers["content-length"] == str(len(data))
    assert_monotonic_to(seen, len(data))


@pytest.mark.parametrize("kind", ["bytes", "path", "file", "stream", "chunks"])
def test_every_source_sends_an_exact_content_length(
    client: AtmosphereClient, fake: FakePds, tmp_path: Path, kind: str
) -> None:
    data = data_of(1024 * 1024 + 99)
    path = tmp_path / "b.bin"
    path.write_bytes(data)
    sources: dict[str, Any] = {
        "bytes": lambda: data,
        "path": lambda: path,
        "file": lambda: path.open("rb"),
        "stream": lambda: OneWayStream(data),
        "chunks": lambda: (data[i : i + 1000] for i in range(0, len(data), 1000)),
    }
    source = sources[kind]()
    seen, progress = recorder()
    client.upload_blob(source, progress=progress)
    if hasattr(source, "close"):
        source.close()
    (sent,) = fake.sent(UPLOAD)
    assert sent.headers["content-length"] == str(len(data))
    assert "transfer-encoding" not in sent.headers
    assert sent.body == data
    assert_monotonic_to(seen, len(data))
    assert len(seen) >= 2  # reported while sending, not only at the end


def test_downloads_ask_for_the_stored_bytes(client: AtmosphereClient, fake: FakePds) -> None:
    data = data_of(10_000)
    cid = client.upload_blob(data)["ref"]["$link"]
    assert client.get_blob(client.did, cid) == data
    assert fake.sent(GET_BLOB)[0].headers["accept-encoding"] == "identity"
    with pytest.raises(InvalidArgumentError):
        next(client.iter_blob(client.did, cid, chunk_size=0))


# -- timeouts ---------------------------------------------------------------------------


def test_default_timeouts_bound_steps_not_requests() -> None:
    # httpx has no whole-request deadline; each step's own bound must be set.
    steps = DEFAULT_TIMEOUT.as_dict()
    assert set(steps) == {"connect", "read", "write", "pool"}
    assert all(value is not None and 0 < value <= 60 for value in steps.values())


class _SlowPds(http.server.BaseHTTPRequestHandler):
    """Reads an upload slowly (a congested link); answers login and uploadBlob."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, body: dict[str, Any], status: int = 200) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        self._json({"error": "MethodNotImplemented"}, 501)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        if self.path.endswith("createSession"):
            self.rfile.read(length)
            session = {"did": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "handle": "slow.test"}
            self._json({**session, "accessJwt": "a", "refreshJwt": "r"})
            return
        received = bytearray()
        while len(received) < length:
            received += self.rfile.read(min(64 * 1024, length - len(received)))
            time.sleep(0.01)
        cid = compute_cid(bytes(received))
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": "a/b", "size": len(received)}
        self._json({"blob": blob})


class _SmallBufferServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        super().server_bind()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up: the test itself reports it


def test_slow_but_moving_upload_outlasts_every_timeout(tmp_path: Path, flavour: Flavour) -> None:
    server = _SmallBufferServer(("127.0.0.1", 0), _SlowPds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    data = data_of(8 * 1024 * 1024)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        # Small socket buffers on both ends, so the client really waits on
        # every write (rather than handing the whole body to the kernel).
        small = [(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)]
        transport = flavour.transport(socket_options=small)
        http = flavour.http(timeout=0.5, transport=transport)
        with flavour.client(url, _client=http) as client:
            client.login("slow.test", "pw")
            started = time.monotonic()
            ref = client.upload_blob(path)
            elapsed = time.monotonic() - started
        assert ref["ref"]["$link"] == cid_of_file(path)[0]
        # 128 slow reads of 64 KiB: at least 1.28 s, well over any single timeout.
        assert elapsed > 2 * 0.5
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
