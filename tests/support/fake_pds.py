"""A small in-memory fake PDS, served through ``httpx.MockTransport``.

It speaks just enough XRPC for unit tests of the transport, auth and client
layers: sessions with real-looking JWTs (base64url JSON payload with ``exp``,
junk signature), record CRUD with compare-and-swap, ``listRecords`` paging,
and blobs. It mirrors the reference PDS where tests depend on it (error names
and statuses, newest-first pages of at most 100 with a cursor on every
non-empty page, ``deleteRecord`` of a missing record answering ``{}``).

Everything a test wants to observe or steer is a plain attribute:

- ``calls``: a ``Counter`` of calls by NSID; ``requests``: every request seen.
- ``access_ttl``: lifetime of new access tokens (seconds, may be negative);
  ``expire_access_tokens()`` makes the server treat every access token
  issued so far as expired, whatever its ``exp`` says.
- ``revoke_refresh_tokens()``, ``refresh_did``: make ``refreshSession`` fail,
  or answer for another DID.
- ``corrupt_blobs``, ``lie_about_cid``: tamper with ``getBlob`` / ``uploadBlob``.
- ``blob_upload_limit``: bytes; advertised by ``describeServer`` and enforced
  by ``uploadBlob`` (413 ``PayloadTooLarge``) when set.
- ``inject(nsid, response)``: answer the next call of ``nsid`` with a canned response.

Usage::

    pds = FakePds("https://pds.test")
    alice = pds.add_account("alice.test", "hunter2")
    with httpx.Client(transport=httpx.MockTransport(pds)) as http:
        ...
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

__all__ = [
    "Account",
    "FakePds",
    "FakePlc",
    "LoggedRequest",
    "blob_cid",
    "did_document",
    "make_jwt",
    "record_cid",
    "route_by_host",
]

_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"  # sorts like the numbers it encodes


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped token: real header and payload, junk signature."""
    header = {"typ": "at+jwt", "alg": "HS256"}
    return ".".join(
        (
            _b64url(json.dumps(header).encode()),
            _b64url(json.dumps(claims).encode()),
            _b64url(b"not-a-real-signature"),
        )
    )


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a token made by :func:`make_jwt` (``{}`` if unreadable)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _cid(codec: int, data: bytes) -> str:
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def blob_cid(data: bytes) -> str:
    """CIDv1, raw codec, sha2-256, base32 lower: what a PDS names a blob."""
    return _cid(0x55, data)


def record_cid(value: Any) -> str:
    """A well-formed dag-cbor CID for a JSON value (hash of its JSON, not its CBOR)."""
    return _cid(0x71, json.dumps(value, sort_keys=True).encode())


def _plc_did(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "did:plc:" + "".join(_B32[b % 32] for b in digest[:24])


def did_document(did: str, handle: str, pds_url: str) -> dict[str, Any]:
    """A did:plc document naming ``handle`` and the PDS at ``pds_url``."""
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "alsoKnownAs": [f"at://{handle}"],
        "verificationMethod": [
            {
                "id": f"{did}#atproto",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": "zQ3shunBKsXixLxKtC5qeSG9E4J5RkGN57im31pcTzbNQnm5w",
            }
        ],
        "service": [
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds_url}
        ],
    }


@dataclass
class Account:
    """An account on the fake PDS and its repository."""

    did: str
    handle: str
    email: str
    password: str
    # collection -> rkey -> (cid, value)
    records: dict[str, dict[str, tuple[str, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    head: str = ""
    rev: int = 0


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    nsid: str
    params: dict[str, list[str]]
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)

    @property
    def bearer(self) -> str | None:
        """The bearer token sent, if any."""
        auth = self.headers.get("authorization", "")
        return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None


class _Reject(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.response = httpx.Response(status, json={"error": error, "message": message})


class FakePds:
    """An in-memory PDS; call it with an ``httpx.Request`` to get its answer."""

    def __init__(
        self,
        url: str = "https://pds.test",
        *,
        access_ttl: float = 7200,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url.rstrip("/")
        self.host = urlsplit(self.url).netloc
        self.access_ttl = access_ttl
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.blobs: dict[str, tuple[bytes, str]] = {}
        self.calls: Counter[str] = Counter()
        self.requests: list[LoggedRequest] = []
        self.refresh_did: str | None = None
        self.corrupt_blobs = False
        self.lie_about_cid = False
        self.blob_upload_limit: int | None = None
        self._access: dict[str, str] = {}  # access token -> did
        self._refresh: dict[str, str] = {}  # live refresh token -> did
        self._expired: set[str] = set()
        self._injected: dict[str, list[httpx.Response]] = defaultdict(list)
        self._serial = itertools.count(1)
        self._tid = itertools.count(int(time.time() * 1_000_000) << 10, 1 << 10)
        self._lock = threading.RLock()

    # -- test controls ----------------------------------------------------

    def add_account(
        self, handle: str, password: str, *, email: str | None = None, did: str | None = None
    ) -> Account:
        account = Account(
            did=did or _plc_did(handle),
            handle=handle,
            email=email or f"{handle.split('.')[0]}@mail.test",
            password=password,
        )
        account.head = record_cid({"commit": account.did, "rev": 0})
        self.accounts[account.did] = account
        return account

    def issue_tokens(self, did: str, *, access_exp: float | None = None) -> tuple[str, str]:
        """Mint a live (access, refresh) pair, e.g. to build a session string."""
        with self._lock:
            now = self.clock()
            exp = access_exp if access_exp is not None else now + self.access_ttl
            serial = next(self._serial)
            access = make_jwt(
                {
                    "scope": "com.atproto.access",
                    "sub": did,
                    "iat": int(now),
                    "exp": int(exp),
                    "jti": f"a{serial}",
                }
            )
            refresh = make_jwt(
                {
                    "scope": "com.atproto.refresh",
                    "sub": did,
                    "iat": int(now),
                    "exp": int(now + 90 * 86400),
                    "jti": f"r{serial}",
                }
            )
            self._access[access] = did
            self._refresh[refresh] = did
            return access, refresh

    def expire_access_tokens(self) -> None:
        """Answer ``ExpiredToken`` for every access token issued so far."""
        with self._lock:
            self._expired.update(self._access)

    def revoke_refresh_tokens(self) -> None:
        """Revoke every live refresh token (``refreshSession`` then fails)."""
        with self._lock:
            self._refresh.clear()

    def inject(self, nsid: str, response: httpx.Response) -> None:
        """Answer the next call of ``nsid`` with ``response`` instead of handling it."""
        self._injected[nsid].append(response)

    def add_record(
        self, account: Account, collection: str, value: dict[str, Any], rkey: str | None = None
    ) -> str:
        """Store a record directly (no request); return its AT-URI."""
        with self._lock:
            rkey = rkey or self._next_tid()
            account.records[collection][rkey] = (record_cid(value), value)
            self._commit(account, None)
            return f"at://{account.did}/{collection}/{rkey}"

    def sent(self, nsid: str) -> list[LoggedRequest]:
        """The logged requests for one NSID."""
        return [r for r in self.requests if r.nsid == nsid]

    def session_string(self, account: Account, *, access_exp: float | None = None) -> str:
        """A five-field session string with freshly minted tokens."""
        access, refresh = self.issue_tokens(account.did, access_exp=access_exp)
        return ":::".join((account.handle, account.did, access, refresh, self.url))

    # -- the handler ----------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        nsid = path[len("/xrpc/") :] if path.startswith("/xrpc/") else ""
        params: dict[str, list[str]] = defaultdict(list)
        for key, value in request.url.params.multi_items():
            params[key].append(value)
        with self._lock:
            self.requests.append(
                # Copy the headers: an auth flow re-signs the same Request object.
                LoggedRequest(
                    request.method,
                    path,
                    nsid,
                    dict(params),
                    httpx.Headers(request.headers),
                    request.content,
                )
            )
            self.calls[nsid] += 1
            if path == "/.well-known/atproto-did":
                return self._well_known(request.url.host)
            if self._injected.get(nsid):
                return self._injected[nsid].pop(0)
            handler = self._ROUTES.get(nsid)
            if handler is None:
                return httpx.Response(
                    501, json={"error": "MethodNotImplemented", "message": "Method Not Implemented"}
                )
            method, fn = handler
            if request.method != method:
                return httpx.Response(
                    405, json={"error": "InvalidRequest", "message": "Incorrect HTTP method"}
                )
            try:
                return fn(self, request, {k: v[0] for k, v in params.items()})
            except _Reject as rejected:
                return rejected.response

    # -- helpers ----------------------------------------------------------------

    @staticmethod
    def _bearer(request: httpx.Request) -> str:
        auth = request.headers.get("authorization")
        if not auth or not auth.startswith("Bearer "):
            raise _Reject(401, "AuthMissing", "Authentication Required")
        return auth[len("Bearer ") :]

    def _auth_access(self, request: httpx.Request) -> Account:
        token = self._bearer(request)
        if token in self._refresh or jwt_claims(token).get("scope") == "com.atproto.refresh":
            raise _Reject(400, "InvalidToken", "Bad token scope")
        did = self._access.get(token)
        if did is None:
            raise _Reject(400, "InvalidToken", "Token could not be verified")
        if token in self._expired or jwt_claims(token).get("exp", 0) <= self.clock():
            raise _Reject(400, "ExpiredToken", "Token has expired")
        return self.accounts[did]

    def _auth_refresh(self, request: httpx.Request) -> tuple[str, Account]:
        token = self._bearer(request)
        if token in self._access:
            raise _Reject(400, "InvalidToken", "Invalid token type")
        did = self._refresh.get(token)
        if did is None:
            raise _Reject(400, "ExpiredToken", "Token has been revoked")
        return token, self.accounts[did]

    def _find(self, repo: str | None) -> Account:
        for account in self.accounts.values():
            if repo in (account.did, account.handle):
                return account
        raise _Reject(400, "InvalidRequest", f"Could not find repo: {repo}")

    @staticmethod
    def _body(request: httpx.Request) -> dict[str, Any]:
        try:
            body = json.loads(request.content)
        except ValueError:
            raise _Reject(400, "InvalidRequest", "Request body is not JSON") from None
        if not isinstance(body, dict):
            raise _Reject(400, "InvalidRequest", "Request body must be an object")
        return body

    def _own_repo(self, request: httpx.Request, body: dict[str, Any]) -> Account:
        account = self._auth_access(request)
        if body.get("repo") not in (account.did, account.handle):
            raise _Reject(401, "AuthenticationRequired", "Invalid repo for this account")
        return account

    def _session_body(self, account: Account, access: str, refresh: str) -> dict[str, Any]:
        return {
            "did": account.did,
            "handle": account.handle,
            "email": account.email,
            "emailConfirmed": False,
            "accessJwt": access,
            "refreshJwt": refresh,
            "didDoc": did_document(account.did, account.handle, self.url),
            "active": True,
        }

    def _commit(self, account: Account, swap_commit: str | None) -> dict[str, Any]:
        if swap_commit is not None and swap_commit != account.head:
            raise _Reject(400, "InvalidSwap", f"Commit was at {account.head}")
        account.rev += 1
        account.head = record_cid({"commit": account.did, "rev": account.rev})
        return {"cid": account.head, "rev": str(account.rev)}

    def _next_tid(self) -> str:
        """A TID (microseconds << 10), increasing with every call."""
        n = next(self._tid)
        return "".join(_TID_CHARS[(n >> shift) & 31] for shift in range(60, -1, -5))

    def _well_known(self, host: str) -> httpx.Response:
        """Like the reference PDS: answer a handle's DID by the ``Host`` it was asked as."""
        for account in self.accounts.values():
            if account.handle == host.lower():
                return httpx.Response(200, text=account.did)
        return httpx.Response(404, text="User not found")

    # -- sessions ------------------------------------------------------------------

    def _create_session(self, request: httpx.Request, _: dict[str, str]) -> httpx.Response:
        body = self._body(request)
        ident = str(body.get("identifier", "")).lower()
        for account in self.accounts.values():
            names = (account.did.lower(), account.handle.lower(), account.email.lower())
            if ident in names and body.get("password") == account.password:
                access, refresh = self.issue_tokens(account.did)
                return httpx.Response(200, json=self._session_body(account, access, refresh))
        raise _Reject(401, "AuthenticationRequired", "Invalid identifier or password")

    def _refresh_session(self, request: httpx.Request, _: dict[str, str]) -> httpx.Response:
        old, account = self._auth_refresh(request)
        del self._refresh[old]  # rotation: the old refresh token is spent
        if self.refresh_did is not None:
            other = Account(self.refresh_did, "mallory.test", "m@mail.test", "")
            access, refresh = self.issue_tokens(other.did)
            return httpx.Response(200, json=self._session_body(other, access, refresh))
        access, refresh = self.issue_tokens(account.did)
        return httpx.Response(200, json=self._session_body(account, access, refresh))

    def _get_session(self, request: httpx.Request, _: dict[str, str]) -> httpx.Response:
        account = self._auth_access(request)
        body = self._session_body(account, "", "")
        del body["accessJwt"], body["refreshJwt"]
        return httpx.Response(200, json=body)

    def _delete_session(self, request: httpx.Request, _: dict[str, str]) -> httpx.Response:
        token, _account = self._auth_refresh(request)
        del self._refresh[token]
        return httpx.Response(200)

    # -- records ----------------------------------------------------------------------

    def _create_record(self, request: httpx.Request, _: dict[str, str]) -> httpx.Response:
        body = self._body(request)
        account = self._own_repo(request, body)
        collection, value = body["collection"], body["record"]
        rkey = body.get("rkey") or self._next_tid()
        if rkey in account.records[collection]:
            raise _Reject(500, "InternalServerError", "Internal Server Error")
        return self._store(account, body, collection, rkey, value)

    def _put_record(self, request: httpx.Request, _: dict[str, str]) -> httpx.Response:
        body = self._body(request)
        account = self._own_repo(request, body)
        collection, rkey, value = body["collection"], body["rkey"], body["record"]
        if "swapRecord" in body:
            current = account.records[collection].get(rkey, (None, None))[0]
            if body["swapRecord"] != current:
                raise _Reject(400, "InvalidSwap", f"Record was at {current}")
        return self._store(account, body, collection, rkey, value)

    def _store(
        self, account: Account, body: dict[str, Any], collection: str, rkey: str, value: Any
    ) -> httpx.Response:
        """Write one record (after ``swapCommit``'s check) and answer as the PDS does."""
        commit = self._commit(account, body.get("swapCommit"))
        cid = record_cid(value)
        account.records[collection][rkey] = (cid, value)
        uri = f"at://{account.did}/{collection}/{rkey}"
        return httpx.Response(
            200, json={"uri": uri, "cid": cid, "commit": commit, "validationStatus": "unknown"}
        )

    def _delete_record(self, request: httpx.Request, _: dict[str, str]) -> httpx.Response:
        body = self._body(request)
        account = self._own_repo(request, body)
        records = account.records[body["collection"]]
        if body["rkey"] not in records:
            return httpx.Response(200, json={})
        commit = self._commit(account, body.get("swapCommit"))
        del records[body["rkey"]]
        return httpx.Response(200, json={"commit": commit})

    def _get_record(self, _: httpx.Request, params: dict[str, str]) -> httpx.Response:
        account = self._find(params.get("repo"))
        collection, rkey = params.get("collection", ""), params.get("rkey", "")
        uri = f"at://{account.did}/{collection}/{rkey}"
        if rkey not in account.records[collection]:
            raise _Reject(400, "RecordNotFound", f"Could not locate record: {uri}")
        cid, value = account.records[collection][rkey]
        return httpx.Response(200, json={"uri": uri, "cid": cid, "value": value})

    def _list_records(self, _: httpx.Request, params: dict[str, str]) -> httpx.Response:
        account = self._find(params.get("repo"))
        collection = params.get("collection", "")
        limit = int(params.get("limit", "50"))
        if not 1 <= limit <= 100:
            raise _Reject(400, "InvalidRequest", "limit must be in 1..100")
        rkeys = sorted(account.records[collection], reverse=True)  # newest TID first
        if "cursor" in params:
            rkeys = [k for k in rkeys if k < params["cursor"]]
        page = rkeys[:limit]
        records = [
            {
                "uri": f"at://{account.did}/{collection}/{k}",
                "cid": account.records[collection][k][0],
                "value": account.records[collection][k][1],
            }
            for k in page
        ]
        answer: dict[str, Any] = {"records": records}
        if page:  # like the reference PDS: a cursor on every non-empty page
            answer["cursor"] = page[-1]
        return httpx.Response(200, json=answer)

    # -- blobs -----------------------------------------------------------------------

    def _upload_blob(self, request: httpx.Request, _: dict[str, str]) -> httpx.Response:
        self._auth_access(request)
        data = request.content
        if self.blob_upload_limit is not None and len(data) > self.blob_upload_limit:
            raise _Reject(413, "PayloadTooLarge", "request entity too large")
        mime = request.headers.get("content-type", "application/octet-stream")
        cid = blob_cid(data)
        self.blobs[cid] = (data, mime)
        told = blob_cid(data + b"lie") if self.lie_about_cid else cid
        blob = {"$type": "blob", "ref": {"$link": told}, "mimeType": mime, "size": len(data)}
        return httpx.Response(200, json={"blob": blob})

    def _describe_server(self, _: httpx.Request, __: dict[str, str]) -> httpx.Response:
        answer: dict[str, Any] = {"did": "did:web:pds.test", "availableUserDomains": [".test"]}
        if self.blob_upload_limit is not None:
            answer["blobUploadLimit"] = self.blob_upload_limit
        return httpx.Response(200, json=answer)

    def _get_blob(self, _: httpx.Request, params: dict[str, str]) -> httpx.Response:
        self._find(params.get("did"))
        if params.get("cid") not in self.blobs:
            raise _Reject(400, "InvalidRequest", "Blob not found")
        data, mime = self.blobs[params["cid"]]
        if self.corrupt_blobs and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        return httpx.Response(200, content=data, headers={"content-type": mime})

    _ROUTES: ClassVar[dict[str, tuple[str, Callable[..., httpx.Response]]]] = {
        "com.atproto.server.createSession": ("POST", _create_session),
        "com.atproto.server.refreshSession": ("POST", _refresh_session),
        "com.atproto.server.getSession": ("GET", _get_session),
        "com.atproto.server.deleteSession": ("POST", _delete_session),
        "com.atproto.repo.createRecord": ("POST", _create_record),
        "com.atproto.repo.putRecord": ("POST", _put_record),
        "com.atproto.repo.deleteRecord": ("POST", _delete_record),
        "com.atproto.repo.getRecord": ("GET", _get_record),
        "com.atproto.repo.listRecords": ("GET", _list_records),
        "com.atproto.repo.uploadBlob": ("POST", _upload_blob),
        "com.atproto.sync.getBlob": ("GET", _get_blob),
        "com.atproto.server.describeServer": ("GET", _describe_server),
    }


class FakePlc:
    """A PLC directory serving the DID documents of accounts on fake PDSes."""

    def __init__(self, url: str = "https://plc.test") -> None:
        self.url = url.rstrip("/")
        self.host = urlsplit(self.url).netloc
        self.documents: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []

    def register(self, pds: FakePds, account: Account) -> None:
        self.documents[account.did] = did_document(account.did, account.handle, pds.url)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        did = request.url.path.lstrip("/")
        self.requests.append(did)
        if did not in self.documents:
            return httpx.Response(404, json={"message": f"DID not registered: {did}"})
        return httpx.Response(200, json=self.documents[did])


def route_by_host(
    *servers: FakePds | FakePlc,
) -> Callable[[httpx.Request], httpx.Response]:
    """One handler for several fake hosts; unknown hosts fail to connect.

    A fake PDS also answers for the handles of its accounts (``https://<handle>``),
    so ``/.well-known/atproto-did`` handle resolution reaches it.
    """

    def find(netloc: str, host: str) -> FakePds | FakePlc | None:
        for server in servers:
            if server.host == netloc:
                return server
        for server in servers:
            if isinstance(server, FakePds) and any(
                account.handle == host for account in server.accounts.values()
            ):
                return server
        return None

    def handler(request: httpx.Request) -> httpx.Response:
        server = find(request.url.netloc.decode(), request.url.host)
        if server is None:
            raise httpx.ConnectError(f"no fake host {request.url.host}", request=request)
        return server(request)

    return handler
