"""Pydantic models for what crosses the wire.

Input is parsed leniently: servers add fields over time and an unknown field
must never break a login, so every model allows extra fields. Output is exact:
``to_dict()`` / ``model_dump(by_alias=True)`` produce the wire names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DidDocument",
    "Service",
    "Session",
]


class _Wire(BaseModel):
    """Base for wire models: extra fields kept, population by field name or alias."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    def to_dict(self) -> dict[str, Any]:
        """The model as a JSON-ready dict with wire (alias) names, ``None`` fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Session(_Wire):
    """A logged-in session, as answered by ``createSession`` / ``refreshSession``.

    The JWTs are excluded from ``repr``; they are still secrets: do not log
    ``to_dict()``.
    """

    did: str
    handle: str
    access_jwt: str = Field(alias="accessJwt", repr=False)
    refresh_jwt: str = Field(alias="refreshJwt", repr=False)
    email: str | None = Field(default=None, repr=False)
    did_doc: dict[str, Any] | None = Field(default=None, alias="didDoc", repr=False)
    active: bool | None = None
    status: str | None = None


class Service(_Wire):
    """A ``service`` entry of a DID document."""

    id: str
    type: str | list[str] | None = None
    service_endpoint: str | dict[str, Any] | list[Any] | None = Field(
        default=None, alias="serviceEndpoint"
    )


class DidDocument(_Wire):
    """A DID document, read leniently; only the fields atproto uses are typed."""

    id: str
    also_known_as: list[str] = Field(default_factory=list, alias="alsoKnownAs")
    verification_method: list[dict[str, Any]] = Field(
        default_factory=list, alias="verificationMethod"
    )
    service: list[Service] = Field(default_factory=list)

    @property
    def handle(self) -> str | None:
        """The handle the document claims: its first ``at://`` ``alsoKnownAs`` entry.

        The claim is not verified here; see ``IdentityResolver``.
        """
        for aka in self.also_known_as:
            if isinstance(aka, str) and aka.startswith("at://"):
                return aka[len("at://") :]
        return None

    @property
    def pds_endpoint(self) -> str | None:
        """The raw ``serviceEndpoint`` of the atproto PDS service, if declared.

        The service is the first whose id is ``#atproto_pds`` or
        ``<did>#atproto_pds`` and whose type is ``AtprotoPersonalDataServer``.
        The URL is not checked here; ``IdentityResolver`` validates it.
        """
        wanted = {"#atproto_pds", f"{self.id}#atproto_pds"}
        for svc in self.service:
            if svc.id in wanted and svc.type == "AtprotoPersonalDataServer":
                endpoint = svc.service_endpoint
                return endpoint if isinstance(endpoint, str) else None
        return None
