"""Where requests may go: the pure rules for targets that came from identity data.

A DID document (from a PLC directory or ``did:web``, i.e. from anyone), a
``/.well-known/atproto-did`` answer or redirect, and a session's ``didDoc``
all name URLs this library then sends requests to. Unchecked, they make it a
confused deputy (SSRF): a document naming ``http://169.254.169.254`` or
``http://10.0.0.7:8080`` would have the client probe its own network. The rule,
as the atproto OAuth stack's "safe fetch" and indigo's public-only transport
apply it:

- a target from identity data is ``https`` on the default port, with a host
  (no userinfo, path, query or fragment for a service origin);
- its host, if an IP literal, is a public unicast address; a host name must
  resolve to one, which the I/O shell (:mod:`atmosphere._async.egress`)
  checks on the address actually connected to;
- numeric host spellings that resolvers read as addresses but that are not
  the canonical dotted quad (``0``, ``2130706433``, ``0x7f000001``,
  ``0177.0.0.1``, ``127.1``, ``256.1.1.1``) are refused outright.

URLs the user names (``base_url``, ``plc_url``, an AppView URL) are the
user's choice and are not checked here. Local development (a PDS and PLC on
loopback over plain http) needs an explicit switch: ``allow_private_hosts=True``
on a client or resolver, or ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1`` in the
environment. With it, any scheme-``http(s)`` host and port are allowed; the
shape rules (no userinfo/path/query/fragment, canonical numbers) still apply.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import UnsafeTargetError

__all__ = [
    "ENV_ALLOW_PRIVATE_HOSTS",
    "EgressPolicy",
    "IPAddress",
    "check_host",
    "check_origin",
    "check_peer",
    "check_url",
    "check_user_url",
    "is_public_address",
    "origin_of",
]

ENV_ALLOW_PRIVATE_HOSTS = "ATMOSPHERE_ALLOW_PRIVATE_HOSTS"
"""The environment variable that turns on local development (``1``, ``true`` or ``yes``)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_TRUE = frozenset({"1", "true", "yes", "on"})
_HOST_NAME = re.compile(
    r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$"
)
_NUMERIC_LABEL = re.compile(r"^(?:0[xX][0-9A-Fa-f]*|[0-9]+)$")
_DOTTED_QUAD = re.compile(
    r"^(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$"
)
_LOCAL_NAMES = ("localhost", "localhost.", "localhost.localdomain")


@dataclass(frozen=True)
class EgressPolicy:
    """Whether targets from identity data may be private hosts or plain http.

    Attributes:
        allow_private_hosts: local development: loopback, private and
            link-local addresses, any port and plain ``http`` are allowed for
            targets that came from identity data. Off by default.
    """

    allow_private_hosts: bool = False

    @classmethod
    def from_option(
        cls, allow_private_hosts: bool | None = None, environ: Mapping[str, str] | None = None
    ) -> EgressPolicy:
        """The policy for a client's ``allow_private_hosts`` keyword.

        ``None`` (the default) reads ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS`` from the
        environment (``1``/``true``/``yes``/``on`` turn it on); a bool wins over it.
        """
        if allow_private_hosts is None:
            env = os.environ if environ is None else environ
            value = env.get(ENV_ALLOW_PRIVATE_HOSTS, "")
            return cls(value.strip().lower() in _TRUE)
        if not isinstance(allow_private_hosts, bool):
            raise TypeError("allow_private_hosts must be a bool or None")
        return cls(allow_private_hosts)


def is_public_address(address: str | IPAddress) -> bool:
    """Whether ``address`` is a public unicast address (not private, loopback,
    link-local, shared, reserved, multicast or unspecified).

    An IPv4-mapped, 6to4 or Teredo IPv6 address is judged by the IPv4 address it carries.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not is_public_address(embedded):
            return False
    return bool(
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not ip.is_unspecified
        and not ip.is_loopback
        and not ip.is_link_local
    )


def _numeric_host(host: str) -> bool:
    """Whether a resolver (``inet_aton``, WHATWG URL) would read ``host`` as an IPv4 address."""
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return bool(_NUMERIC_LABEL.match(last))


def check_host(host: str, policy: EgressPolicy) -> IPAddress | None:
    """Check a target's host; return its address if it is an IP literal.

    Raises :class:`UnsafeTargetError` for a malformed host, a numeric host that
    is not a canonical dotted quad, and (unless the policy allows private
    hosts) a non-public IP literal or ``localhost``.
    """
    if not host:
        raise UnsafeTargetError("the target has no host")
    if host.startswith("[") or ":" in host:  # IPv6 literal (brackets stripped or not)
        text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if "%" in text:
            raise UnsafeTargetError("an IPv6 zone in the target's host is refused")
        try:
            ip: IPAddress = ipaddress.IPv6Address(text)
        except ValueError:
            raise UnsafeTargetError("the target's host is not a valid IPv6 address") from None
    elif _numeric_host(host):
        if not _DOTTED_QUAD.match(host):
            raise UnsafeTargetError(
                "the target's host is a number but not a dotted-quad IPv4 address"
            )
        ip = ipaddress.IPv4Address(host)
    else:
        if not host.isascii() or not _HOST_NAME.match(host):
            raise UnsafeTargetError("the target's host is not a valid host name")
        lowered = host.lower()
        if not policy.allow_private_hosts and (
            lowered in _LOCAL_NAMES or lowered.rstrip(".").endswith(".localhost")
        ):
            raise UnsafeTargetError(f"{host} is a local host name (private hosts are not allowed)")
        return None
    if not policy.allow_private_hosts and not is_public_address(ip):
        raise UnsafeTargetError(f"{ip} is not a public address (private hosts are not allowed)")
    return ip


def check_url(url: str, policy: EgressPolicy) -> str:
    """Check a full URL from identity data (path and query allowed); return it.

    The scheme must be ``https`` on the default port unless the policy allows
    private hosts (then ``http`` and any port too); no userinfo; the host as
    :func:`check_host` wants it. Raises :class:`UnsafeTargetError`.
    """
    if (
        not isinstance(url, str)
        or not url.isascii()
        or any(c.isspace() or ord(c) < 0x20 for c in url)
    ):
        raise UnsafeTargetError("the target is not a plain ASCII URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeTargetError("the target is not an http(s) URL")
    if "@" in parts.netloc or "\\" in url:
        raise UnsafeTargetError("the target carries userinfo")
    try:
        port = parts.port
    except ValueError:
        raise UnsafeTargetError("the target has an invalid port") from None
    if port == 0:
        raise UnsafeTargetError("the target has an invalid port")
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    check_host(host, policy)
    if not policy.allow_private_hosts:
        if scheme != "https":
            raise UnsafeTargetError("the target is plain http (only https is allowed)")
        if port not in (None, 443):
            raise UnsafeTargetError(f"the target's port {port} is not https's default")
    return url


def check_origin(url: str, policy: EgressPolicy) -> str:
    """Check a service origin from identity data (a PDS endpoint); return it normalized.

    As :func:`check_url`, and it must be an origin: no path (but ``/``), query
    or fragment. Returns ``scheme://host[:port]`` in lowercase.
    """
    if not isinstance(url, str) or any(c in url for c in "?#"):
        raise UnsafeTargetError("the endpoint has a query or fragment")
    check_url(url, policy)
    parts = urlsplit(url)
    if parts.path not in ("", "/"):
        raise UnsafeTargetError("the endpoint has a path")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` in lowercase (the key for trusted origins)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def check_peer(address: str, policy: EgressPolicy) -> None:
    """Refuse a connection whose peer ``address`` is not public (unless allowed)."""
    if not policy.allow_private_hosts and not is_public_address(address):
        raise UnsafeTargetError(
            f"the target resolved to {address}, not a public address"
            " (private hosts are not allowed)"
        )


_USER_CHOICE = EgressPolicy(allow_private_hosts=True)


def check_user_url(name: str, url: object) -> str:
    """A URL the user named (``base_url``, ``plc_url``, ``service_url``), once usable.

    Any http(s) host and port is the user's choice; what is refused is what
    no request could be sent to (``http://256.1.1.1``, ``http://0177.0.0.1``,
    spaces, userinfo), with :class:`~atmosphere.errors.InvalidArgumentError`
    rather than an ``httpx.InvalidURL`` at the first request.
    """
    from .errors import InvalidArgumentError

    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise InvalidArgumentError(f"{name} must be an http(s) URL")
    import httpx  # the clients load it anyway; this module stays importable without

    try:
        check_url(url, _USER_CHOICE)
        httpx.URL(url)
    except UnsafeTargetError as exc:
        raise InvalidArgumentError(f"{name} is not a usable URL: {exc}") from None
    except httpx.InvalidURL as exc:
        raise InvalidArgumentError(f"{name} is not a usable URL ({exc})") from None
    return url
