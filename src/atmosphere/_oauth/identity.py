"""Just enough identity resolution for OAuth: handle → DID → DID document → PDS.

This is a stand-in until the flows use the library's full resolver: handles
are resolved with ``com.atproto.identity.resolveHandle`` on a service the
caller names; ``did:plc`` documents come from a PLC directory and ``did:web``
documents from ``/.well-known/did.json``. A handle must be claimed back by its
DID document (bidirectional check). Every step is a :data:`~._http.Flow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx

from .._models import DidDocument
from .._syntax import is_valid_did, is_valid_handle
from ..errors import DidResolutionError, HandleResolutionError
from ._http import JSON_ACCEPT, Flow, json_body
from .urls import check_server_url, is_loopback_host

__all__ = ["ResolvedIdentity", "SimpleIdentityLookup"]


@dataclass(frozen=True)
class ResolvedIdentity:
    """An account: its DID, the handle it was found by (if any), and its PDS."""

    did: str
    handle: str | None
    pds_url: str


@dataclass(frozen=True)
class SimpleIdentityLookup:
    """Resolves identities with plain HTTP (no DNS).

    Attributes:
        plc_url: the PLC directory for ``did:plc``.
        handle_service: a service answering ``com.atproto.identity.resolveHandle``
            (e.g. a PDS or an AppView); ``None`` refuses handles.
        allow_private_hosts: accept an ``http`` loopback PDS (local development).
    """

    plc_url: str = "https://plc.directory"
    handle_service: str | None = None
    allow_private_hosts: bool = False

    def resolve_handle(self, handle: str) -> Flow[str]:
        """The DID a handle points to (not yet verified against the document)."""
        if not is_valid_handle(handle):
            raise HandleResolutionError(handle, "not a valid handle")
        if self.handle_service is None:
            raise HandleResolutionError(handle, "no handle resolution service configured")
        url = self.handle_service.rstrip("/") + "/xrpc/com.atproto.identity.resolveHandle"
        response = yield httpx.Request(
            "GET", url, params={"handle": handle.lower()}, headers=JSON_ACCEPT
        )
        body = json_body(response)
        did = body.get("did") if isinstance(body, dict) else None
        if response.status_code != 200 or not is_valid_did(did):
            raise HandleResolutionError(handle, f"resolveHandle answered {response.status_code}")
        return did

    def resolve_did(self, did: str) -> Flow[DidDocument]:
        """The DID document (its ``id`` must be the DID)."""
        if not is_valid_did(did):
            raise DidResolutionError(did, "not a valid DID")
        if did.startswith("did:plc:"):
            url = f"{self.plc_url.rstrip('/')}/{quote(did, safe=':')}"
        elif did.startswith("did:web:"):
            host = did[len("did:web:") :].replace("%3A", ":")
            if ":" in host.split("]")[-1] and not self.allow_private_hosts:
                raise DidResolutionError(did, "did:web with a port is for local development only")
            scheme = "http" if self.allow_private_hosts and _is_local(host) else "https"
            url = f"{scheme}://{host}/.well-known/did.json"
        else:
            raise DidResolutionError(did, "unsupported DID method")
        response = yield httpx.Request("GET", url, headers=JSON_ACCEPT)
        if response.status_code != 200:
            raise DidResolutionError(did, f"DID document fetch answered {response.status_code}")
        try:
            doc = DidDocument.model_validate(json_body(response))
        except ValueError:
            raise DidResolutionError(did, "malformed DID document") from None
        if doc.id != did:
            raise DidResolutionError(did, f"DID document is for {doc.id!r}")
        return doc

    def pds_of(self, did: str, doc: DidDocument) -> str:
        """The document's PDS endpoint, checked like any server URL."""
        endpoint = doc.pds_endpoint
        if endpoint is None:
            raise DidResolutionError(did, "DID document names no atproto PDS")
        problem = check_server_url(endpoint, allow_private_hosts=self.allow_private_hosts)
        if problem:
            raise DidResolutionError(did, f"PDS endpoint {endpoint!r}: {problem}")
        return endpoint.rstrip("/")

    def resolve(self, identifier: str) -> Flow[ResolvedIdentity]:
        """A handle or DID → the account's DID and PDS (handles checked both ways)."""
        if is_valid_did(identifier):
            doc = yield from self.resolve_did(identifier)
            return ResolvedIdentity(identifier, doc.handle, self.pds_of(identifier, doc))
        handle = identifier.lower().removeprefix("@")
        did = yield from self.resolve_handle(handle)
        doc = yield from self.resolve_did(did)
        if (doc.handle or "").lower() != handle:
            raise HandleResolutionError(handle, f"{did}'s document does not claim this handle")
        return ResolvedIdentity(did, handle, self.pds_of(did, doc))


def _is_local(host: str) -> bool:
    """Whether a did:web host (``name`` or ``name:port``) is on loopback."""
    return is_loopback_host(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)
