"""``AtmosphereClient``: sessions, records, listing and blobs over XRPC.

A drop-in for the atdata project's ``AtmosphereClient``: same methods,
parameters and return shapes. Bad input is rejected with a ``ValueError``
subclass before any request is made.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import httpx

from .auth import SessionAuth
from .blobdownload import iter_verified, write_verified
from .blobsource import DEFAULT_CHUNK_SIZE, ProgressCallback, open_blob_source
from .cid import parse_cid
from .errors import (
    AtmosphereError,
    ExpiredTokenError,
    IntegrityError,
    InvalidArgumentError,
    InvalidRecordError,
    InvalidResponseError,
    PartialWriteError,
    ResolutionError,
)
from .models import BlobRef, ListRecordsPage, Session, WriteResult
from .resolver import IdentityResolver
from .session import (
    DEFAULT_ENTRYWAY,
    SessionCallback,
    SessionState,
    SessionStore,
    pds_from_session,
)
from .syntax import (
    AtUri,
    is_valid_did,
    is_valid_handle,
    validate_at_identifier,
    validate_did,
    validate_nsid,
    validate_record_key,
)
from .writes import (
    MAX_WRITES_PER_BATCH,
    Create,
    Write,
    batch_writes,
    build_apply_writes,
    parse_apply_writes,
)
from .xrpc import XrpcClient, encode_params, xrpc_url

__all__ = ["DEFAULT_NAMESPACE", "DEFAULT_PLC_URL", "AtmosphereClient"]

log = logging.getLogger("atmosphere.client")

DEFAULT_NAMESPACE = "ac.foundation.dataset"
DEFAULT_PLC_URL = "https://plc.directory"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_PAGE_MAX = 100


def _check_record(collection: str, record: Any) -> dict[str, Any]:
    validate_nsid(collection)
    if not isinstance(record, dict):
        raise InvalidRecordError(f"record must be a dict, got {type(record).__name__}")
    rtype = record.get("$type")
    if rtype is None:
        raise InvalidRecordError("record has no '$type' field")
    if rtype != collection:
        raise InvalidRecordError(
            f"record '$type' {rtype!r} does not match the collection {collection!r}"
        )
    return record


def _check_limit(limit: int, *, upper: int | None = _PAGE_MAX) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidArgumentError(f"limit must be an int, got {type(limit).__name__}")
    if limit < 1 or (upper is not None and limit > upper):
        bound = f"1..{upper}" if upper is not None else ">= 1"
        raise InvalidArgumentError(f"limit must be in {bound}, got {limit}")
    return limit


def _check_secret(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{name} must be a non-empty str")
    return value


class AtmosphereClient:
    """ATProto client for atdata operations: records, listings and blobs.

    Args:
        base_url: the PDS (or entryway) to log in to. With ``None``, ``login()``
            resolves the account's PDS from its handle or DID, falling back to
            ``https://bsky.social``.
        _client: an ``httpx.Client`` to send every request through (not closed
            by this client). Without it the client owns one.
        plc_url: the PLC directory used to resolve ``did:plc`` identities.
        resolver: an ``IdentityResolver`` to use instead of a default one.
        timeout: timeouts for the owned ``httpx.Client`` (per operation: a slow
            but healthy large upload is not cut off by a whole-request deadline).
        on_session_change: called with the new session string after every login
            and token refresh, so callers can persist rotated tokens.
        namespace: the atdata lexicon namespace for ``list_schemas`` & co.

    Examples:
        >>> client = AtmosphereClient()
        >>> client.login("alice.bsky.social", "app-password")
        >>> print(client.did)
        'did:plc:...'
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        _client: httpx.Client | None = None,
        plc_url: str = DEFAULT_PLC_URL,
        resolver: IdentityResolver | None = None,
        timeout: float | httpx.Timeout | None = None,
        on_session_change: SessionCallback | None = None,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        if base_url is not None and not (
            isinstance(base_url, str) and base_url.startswith(("https://", "http://"))
        ):
            raise InvalidArgumentError("base_url must be an http(s) URL or None")
        validate_nsid(f"{namespace}.record")
        self._base_url = base_url.rstrip("/") if base_url else None
        self._owns_http = _client is None
        self._http = _client or httpx.Client(
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            headers={"User-Agent": "atmosphere-python"},
        )
        self._owns_resolver = resolver is None
        self._resolver = resolver or IdentityResolver(
            http=self._http,
            plc_url=plc_url,
            timeout=timeout if isinstance(timeout, (int, float)) else 10.0,
        )
        self._store = SessionStore(on_change=on_session_change)
        self._xrpc = XrpcClient(self._http, auth=SessionAuth(self._store))
        self.namespace = namespace

    # -- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client and resolver this client created (injected ones stay open)."""
        if self._owns_resolver:
            self._resolver.close()
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> AtmosphereClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = self._store.state
        who = f"did={state.session.did!r}" if state else "unauthenticated"
        return f"<AtmosphereClient {who} pds={self.pds_url!r}>"

    # -- session -------------------------------------------------------------

    @property
    def is_authenticated(self) -> bool:
        """Whether the client holds a session."""
        return self._store.state is not None

    @property
    def did(self) -> str:
        """The DID of the authenticated user (``NotAuthenticatedError`` otherwise)."""
        return self._store.require().session.did

    @property
    def handle(self) -> str:
        """The handle of the authenticated user (``NotAuthenticatedError`` otherwise)."""
        return self._store.require().session.handle

    @property
    def pds_url(self) -> str | None:
        """The PDS this client talks to for the session (or the login base URL)."""
        state = self._store.state
        return state.pds_url if state else self._base_url

    @property
    def resolver(self) -> IdentityResolver:
        """The identity resolver used for other accounts and for login without base_url."""
        return self._resolver

    @property
    def rate_limit(self) -> Any:
        """The rate-limit state (``RateLimitInfo``) of the last response that carried one."""
        return self._xrpc.rate_limit

    def _login_base(self, identifier: str) -> str:
        if self._base_url:
            return self._base_url
        if is_valid_did(identifier) or is_valid_handle(identifier):
            try:
                return self._resolver.resolve_pds(identifier)
            except ResolutionError as exc:
                log.info("could not resolve %s (%s); using %s", identifier, exc, DEFAULT_ENTRYWAY)
        return DEFAULT_ENTRYWAY

    def login(self, handle: str, password: str) -> None:
        """Authenticate with the ATProto PDS (``com.atproto.server.createSession``).

        Args:
            handle: a handle, email or DID.
            password: an app password (recommended) or the account password.

        Raises:
            AuthenticationError: the PDS refused the credentials.
        """
        identifier = _check_secret("handle", handle).strip()
        secret = _check_secret("password", password)
        base = self._login_base(identifier)
        data = self._xrpc.procedure(
            base,
            "com.atproto.server.createSession",
            {"identifier": identifier, "password": secret},
            auth=False,
        )
        session = self._parse_session(data, "com.atproto.server.createSession")
        self._store.set(SessionState(session=session, pds_url=pds_from_session(session) or base))
        log.info("logged in as %s", session.did)

    @staticmethod
    def _parse_session(data: Any, nsid: str) -> Session:
        try:
            session = Session.model_validate(data)
        except ValueError as exc:
            raise InvalidResponseError(f"{nsid}: answer is not a session") from exc
        if not is_valid_did(session.did):
            raise InvalidResponseError(f"{nsid}: answer holds no valid DID")
        return session

    def login_with_session(self, session_string: str) -> None:
        """Authenticate using an exported session string, without the password.

        The session is checked with ``com.atproto.server.getSession`` (refreshing
        an expired access token on the way). A revoked session raises and leaves
        the client unauthenticated.
        """
        state = SessionState.decode(session_string)
        self._store.set(state, notify=False)
        try:
            info = self._xrpc.query(state.pds_url, "com.atproto.server.getSession", auth=True)
        except BaseException:
            self._store.clear()
            raise
        current = self._store.state
        if (
            current is not None
            and isinstance(info, dict)
            and isinstance(info.get("handle"), str)
            and info["handle"] != current.session.handle
        ):
            updated = current.session.model_copy(update={"handle": info["handle"]})
            self._store.set(SessionState(session=updated, pds_url=current.pds_url), notify=False)

    def export_session(self) -> str:
        """Export the current session for later reuse with ``login_with_session()``.

        The string holds the tokens: store it like a password.
        """
        return self._store.require().encode()

    def logout(self) -> None:
        """Revoke the session on the PDS (``deleteSession``) and forget it locally."""
        state = self._store.require()
        try:
            self._xrpc.procedure(
                state.pds_url,
                "com.atproto.server.deleteSession",
                auth=False,
                headers={"Authorization": f"Bearer {state.session.refresh_jwt}"},
            )
        finally:
            self._store.clear()

    # -- records -------------------------------------------------------------

    def _session(self) -> SessionState:
        return self._store.require()

    def _is_self(self, authority: str) -> bool:
        state = self._store.state
        if state is None:
            return False
        return authority == state.session.did or authority.lower() == state.session.handle.lower()

    def _locate(self, repo: str) -> tuple[str, str, bool]:
        """Where to read ``repo``: (repo id to send, PDS base URL, use auth)."""
        if self._is_self(repo):
            state = self._session()
            return state.session.did, state.pds_url, True
        if is_valid_did(repo):
            return repo, self._resolver.resolve_pds(repo), False
        identity = self._resolver.resolve(repo)
        return identity.did, identity.pds_endpoint, False

    def _write(self, nsid: str, data: dict[str, Any]) -> WriteResult:
        state = self._session()
        answer = self._xrpc.procedure(state.pds_url, nsid, data)
        try:
            return WriteResult.model_validate(answer)
        except ValueError as exc:
            raise InvalidResponseError(f"{nsid}: answer has no uri/cid") from exc

    def create_record(
        self,
        collection: str,
        record: dict[str, Any],
        *,
        rkey: str | None = None,
        validate: bool = False,
    ) -> AtUri:
        """Create a record in the user's repository.

        Args:
            collection: the NSID of the collection, e.g. ``ac.foundation.dataset.record``.
            record: the record; its ``$type`` must equal ``collection``.
            rkey: an explicit record key; the PDS generates a TID when ``None``.
            validate: ask the PDS to validate against the Lexicon schema (off for
                custom lexicons the PDS does not know).

        Returns:
            The AT-URI of the new record.
        """
        _check_record(collection, record)
        if rkey is not None:
            validate_record_key(rkey)
        state = self._session()
        data: dict[str, Any] = {
            "repo": state.session.did,
            "collection": collection,
            "record": record,
            "validate": bool(validate),
        }
        if rkey is not None:
            data["rkey"] = rkey
        return AtUri.parse(self._write("com.atproto.repo.createRecord", data).uri)

    def put_record(
        self,
        collection: str,
        rkey: str,
        record: dict[str, Any],
        *,
        validate: bool = False,
        swap_commit: str | None = None,
        swap_record: str | None = None,
    ) -> AtUri:
        """Create or update a record at a specific key.

        ``swap_commit`` / ``swap_record`` are compare-and-swap CIDs: the write
        fails with ``InvalidSwapError`` if the repo or record moved on.
        """
        _check_record(collection, record)
        validate_record_key(rkey)
        for cid in (swap_commit, swap_record):
            if cid is not None:
                parse_cid(cid)
        state = self._session()
        data: dict[str, Any] = {
            "repo": state.session.did,
            "collection": collection,
            "rkey": rkey,
            "record": record,
            "validate": bool(validate),
        }
        if swap_commit is not None:
            data["swapCommit"] = swap_commit
        if swap_record is not None:
            data["swapRecord"] = swap_record
        return AtUri.parse(self._write("com.atproto.repo.putRecord", data).uri)

    @staticmethod
    def _record_uri(uri: str | AtUri) -> AtUri:
        parsed = uri if isinstance(uri, AtUri) else AtUri.parse(uri)
        if parsed.collection is None or parsed.rkey is None:
            raise InvalidArgumentError(f"{parsed} does not name a record (collection and rkey)")
        return parsed

    def delete_record(self, uri: str | AtUri, *, swap_commit: str | None = None) -> None:
        """Delete a record from the authenticated user's repository.

        A URI that names another account is refused (``InvalidArgumentError``)
        rather than deleting the same collection/rkey from your own repo.
        """
        parsed = self._record_uri(uri)
        if swap_commit is not None:
            parse_cid(swap_commit)
        state = self._session()
        if not self._is_self(parsed.authority):
            raise InvalidArgumentError(
                f"{parsed} is in another account's repo; only {state.session.did} can be written"
            )
        data: dict[str, Any] = {
            "repo": state.session.did,
            "collection": parsed.collection,
            "rkey": parsed.rkey,
        }
        if swap_commit is not None:
            data["swapCommit"] = swap_commit
        self._xrpc.procedure(state.pds_url, "com.atproto.repo.deleteRecord", data)

    def apply_writes(
        self,
        writes: Sequence[Write],
        *,
        validate: bool = False,
        batch_size: int = MAX_WRITES_PER_BATCH,
    ) -> list[AtUri]:
        """Apply creates, updates and deletes in batches (``com.atproto.repo.applyWrites``).

        Args:
            writes: :class:`~atmosphere.writes.Create`, ``Update`` and ``Delete``
                operations, applied in order. Creates without an ``rkey`` get a
                TID chosen here, so a batch is never applied twice.
            validate: ask the PDS to validate records against their Lexicons.
            batch_size: writes per request (at most the PDS's limit of 200).

        Returns:
            The AT-URI of each write, in input order.

        Each batch is atomic; the whole list is not. If the first batch fails
        its error is raised as is; if a later one fails,
        :class:`PartialWriteError` carries the URIs already applied
        (``applied``) and the original error as ``__cause__``.
        """
        batches = list(batch_writes(writes, max_writes=batch_size))
        state = self._session()
        uris: list[AtUri] = []
        for batch in batches:
            try:
                answer = self._xrpc.procedure(
                    state.pds_url,
                    "com.atproto.repo.applyWrites",
                    build_apply_writes(state.session.did, batch, validate=validate),
                )
            except AtmosphereError as exc:
                if not uris:
                    raise
                raise PartialWriteError(uris, len(writes), exc) from exc
            uris.extend(parse_apply_writes(state.session.did, batch, answer))
        return uris

    def create_records(
        self,
        collection: str,
        records: Iterable[dict[str, Any]],
        *,
        validate: bool = False,
    ) -> list[AtUri]:
        """Create many records in one collection, batched; URIs in input order."""
        validate_nsid(collection)
        return self.apply_writes([Create(collection, r) for r in records], validate=validate)

    def get_record(self, uri: str | AtUri) -> dict[str, Any]:
        """Fetch a record's value by AT-URI, from the PDS hosting that account."""
        parsed = self._record_uri(uri)
        repo, base, auth = self._locate(parsed.authority)
        answer = self._xrpc.query(
            base,
            "com.atproto.repo.getRecord",
            {"repo": repo, "collection": parsed.collection, "rkey": parsed.rkey},
            auth=auth,
        )
        value = answer.get("value") if isinstance(answer, dict) else None
        if not isinstance(value, dict):
            raise InvalidResponseError("com.atproto.repo.getRecord: answer has no record value")
        return value

    def _page(
        self, collection: str, repo: str | None, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        if repo is None:
            state = self._session()
            target, base, auth = state.session.did, state.pds_url, True
        else:
            target, base, auth = self._locate(validate_at_identifier(repo))
        answer = self._xrpc.query(
            base,
            "com.atproto.repo.listRecords",
            {"repo": target, "collection": collection, "limit": limit, "cursor": cursor},
            auth=auth,
        )
        try:
            page = ListRecordsPage.model_validate(answer)
        except ValueError as exc:
            raise InvalidResponseError("com.atproto.repo.listRecords: malformed page") from exc
        records = [r.to_dict() for r in page.records]
        next_cursor = page.cursor if page.cursor and len(records) >= limit else None
        return records, next_cursor

    def list_records(
        self,
        collection: str,
        *,
        repo: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """List one page of records in a collection.

        Returns:
            ``(records, next_cursor)``: each record is an envelope dict
            ``{"uri", "cid", "value"}``; ``next_cursor`` is ``None`` when there
            are no more records.
        """
        validate_nsid(collection)
        _check_limit(limit)
        return self._page(collection, repo, limit, cursor)

    def iter_records(
        self, collection: str, *, repo: str | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Yield every record envelope of a collection, following cursors."""
        validate_nsid(collection)
        _check_limit(page_size)
        if repo is not None:
            validate_at_identifier(repo)
        cursor: str | None = None
        while True:
            records, cursor = self._page(collection, repo, page_size, cursor)
            yield from records
            if cursor is None:
                return

    def _collect(self, collection: str, repo: str | None, limit: int) -> list[dict[str, Any]]:
        _check_limit(limit, upper=None)
        if repo is not None:
            validate_at_identifier(repo)
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(out) < limit:
            records, cursor = self._page(collection, repo, min(_PAGE_MAX, limit - len(out)), cursor)
            out.extend(records)
            if cursor is None:
                break
        return out

    def list_schemas(self, repo: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """List ``<namespace>.sampleSchema`` records (envelopes), up to ``limit``."""
        return self._collect(f"{self.namespace}.sampleSchema", repo, limit)

    def list_datasets(self, repo: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """List ``<namespace>.record`` (dataset) records (envelopes), up to ``limit``."""
        return self._collect(f"{self.namespace}.record", repo, limit)

    def list_lenses(self, repo: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """List ``<namespace>.lens`` records (envelopes), up to ``limit``."""
        return self._collect(f"{self.namespace}.lens", repo, limit)

    # -- blobs ---------------------------------------------------------------

    def upload_blob(
        self,
        data: Any,
        mime_type: str = "application/octet-stream",
        *,
        progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Upload a blob to the PDS and return its ref, ready to embed in a record.

        Args:
            data: ``bytes``, a path, a binary file object (read from its current
                position), or an iterable of byte chunks (spooled to a temporary
                file first). Files are streamed; memory stays bounded.
            mime_type: the blob's MIME type.
            progress: ``progress(done_bytes, total_bytes)`` while sending.

        Returns:
            ``{"$type": "blob", "ref": {"$link": cid}, "mimeType": ..., "size": n}``.

        Raises:
            IntegrityError: the PDS's CID differs from the one computed locally.
        """
        if not isinstance(mime_type, str) or "/" not in mime_type:
            raise InvalidArgumentError(
                f"mime_type must look like 'type/subtype', got {mime_type!r}"
            )
        with open_blob_source(data) as source:
            state = self._session()
            for attempt in range(2):
                body = source.in_memory
                try:
                    answer = self._xrpc.procedure(
                        state.pds_url,
                        "com.atproto.repo.uploadBlob",
                        content=body if body is not None else source.chunks(progress),
                        content_type=mime_type,
                        body_size=source.size,
                    )
                    break
                except ExpiredTokenError:
                    # A streamed body is not resent by the auth flow; the session
                    # was refreshed, so send the (rewound) source once more.
                    if attempt or body is not None or not self.is_authenticated:
                        raise
                    state = self._session()
            if body is not None and progress is not None:
                progress(source.size, source.size)
            blob = answer.get("blob") if isinstance(answer, dict) else None
            try:
                ref = BlobRef.model_validate(blob)
            except ValueError as exc:
                raise InvalidResponseError("com.atproto.repo.uploadBlob: no blob ref") from exc
            if ref.cid != source.cid:
                raise IntegrityError(
                    source.cid, ref.cid, f"PDS stored the blob as {ref.cid}, local CID {source.cid}"
                )
            if ref.size != source.size:
                raise IntegrityError(
                    source.cid, ref.cid, f"PDS stored {ref.size} bytes, sent {source.size}"
                )
            return ref.to_dict()

    def _blob_base(self, did: str) -> str:
        validate_did(did)
        if self._is_self(did):
            return self._session().pds_url
        return self._resolver.resolve_pds(did)

    def get_blob_url(self, did: str, cid: str) -> str:
        """The direct ``com.atproto.sync.getBlob`` URL of a blob on its PDS."""
        parse_cid(cid)
        base = self._blob_base(did)
        query = httpx.QueryParams(encode_params({"did": did, "cid": cid}))
        return f"{xrpc_url(base, 'com.atproto.sync.getBlob')}?{query}"

    @contextmanager
    def _blob_response(self, did: str, cid: str) -> Iterator[httpx.Response]:
        parse_cid(cid)
        base = self._blob_base(did)
        nsid = "com.atproto.sync.getBlob"
        request = self._http.build_request(
            "GET", xrpc_url(base, nsid), params=encode_params({"did": did, "cid": cid})
        )
        response = self._xrpc.send(request, nsid, auth=False, stream=True)
        try:
            yield response
        finally:
            response.close()

    @staticmethod
    def _declared_size(response: httpx.Response) -> int | None:
        declared = response.headers.get("content-length", "")
        return int(declared) if declared.isdigit() else None

    def iter_blob(
        self,
        did: str,
        cid: str,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: ProgressCallback | None = None,
    ) -> Iterator[bytes]:
        """Stream a blob in chunks, verified against its CID.

        Every chunk but the last is yielded as soon as the next one arrives;
        the last is yielded only after the whole blob hashed to ``cid``
        (otherwise :class:`IntegrityError` is raised in its place). Treat the
        data as verified only once the iterator is exhausted.
        """
        with self._blob_response(did, cid) as response:
            total = self._declared_size(response)
            with self._xrpc.wrap_errors("com.atproto.sync.getBlob"):
                yield from iter_verified(
                    response.iter_bytes(chunk_size), cid, total=total, progress=progress
                )

    def download_blob(
        self,
        did: str,
        cid: str,
        path: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
    ) -> int:
        """Download a blob to ``path``, verified, with bounded memory.

        The bytes go to a temporary file in the same directory, are checked
        against ``cid``, then renamed into place atomically. A failed or
        tampered download leaves no file behind. Returns the size in bytes.
        """
        target = os.fspath(path)
        if os.path.isdir(target):
            raise InvalidArgumentError(f"{target!r} is a directory")
        with self._blob_response(did, cid) as response:
            total = self._declared_size(response)
            with self._xrpc.wrap_errors("com.atproto.sync.getBlob"):
                return write_verified(
                    response.iter_bytes(DEFAULT_CHUNK_SIZE),
                    cid,
                    target,
                    total=total,
                    progress=progress,
                )

    def get_blob(self, did: str, cid: str) -> bytes:
        """Download a blob from the PDS named in the DID's document, verified against its CID.

        Raises:
            IntegrityError: the bytes do not hash to ``cid``.
            BlobNotFoundError: the PDS has no such (referenced) blob.
        """
        return b"".join(self.iter_blob(did, cid))
