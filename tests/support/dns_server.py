"""A loopback DNS server for resolver tests: real UDP and TCP, TXT records only.

Built on dnspython's message API (``dns.message.from_wire`` /
``make_response``) and served from one background thread. Unknown names
answer NXDOMAIN; known names answer their TXT records (other types: an empty
NOERROR answer). Responses too big for UDP come back truncated (TC), so a
resolver retries over TCP as it would against a real server.

Usage::

    with DnsServer() as dns_server:
        dns_server.set_txt("_atproto.alice.test", "did=did:plc:abc")
        resolver = dns_server.make_resolver()
        answer = resolver.resolve("_atproto.alice.test", "TXT")

``set_txt(name, *records)``: each record is one string or a list of strings
(one TXT record may hold several strings; resolvers must join them).
``set_rcode`` and ``set_silent`` simulate failing and unresponsive servers;
``queries`` logs what was asked, to assert on caching.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
from dns.rdtypes.ANY.TXT import TXT

__all__ = ["DnsServer", "Query", "make_resolver"]

TxtRecord = str | bytes | Sequence[str | bytes]
"""One TXT record: a single string, or several strings in one record."""

_UDP_LIMIT_DEFAULT = 512  # without EDNS
_TTL = 60


@dataclass(frozen=True)
class Query:
    """One question the server received."""

    name: str
    """Query name, lowercase, without the trailing dot."""
    rdtype: str
    """Record type, e.g. ``"TXT"``."""
    transport: str
    """``"udp"`` or ``"tcp"``."""


class DnsServer:
    """Authoritative-looking DNS server on ``127.0.0.1``, UDP and TCP, same port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._lock = threading.Lock()
        self._txt: dict[dns.name.Name, list[list[bytes]]] = {}
        self._rcodes: dict[dns.name.Name, dns.rcode.Rcode] = {}
        self._silent: set[dns.name.Name] = set()
        self.queries: list[Query] = []
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._bind_same_port()
        except BaseException:
            self._udp.close()
            self._tcp.close()
            raise
        self.port: int = self._udp.getsockname()[1]
        self._stop_r, self._stop_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="dns-server", daemon=True)
        self._thread.start()

    # -- records -----------------------------------------------------------

    def set_txt(self, name: str, *records: TxtRecord) -> None:
        """Replace the TXT records of ``name`` (no records: name exists, no TXT)."""
        parsed = [_record_strings(r) for r in records]
        with self._lock:
            self._txt[_name(name)] = parsed

    def add_txt(self, name: str, record: TxtRecord) -> None:
        """Add one TXT record to ``name``."""
        with self._lock:
            self._txt.setdefault(_name(name), []).append(_record_strings(record))

    def remove(self, name: str) -> None:
        """Forget ``name`` (records, rcode, silence): it answers NXDOMAIN again."""
        key = _name(name)
        with self._lock:
            self._txt.pop(key, None)
            self._rcodes.pop(key, None)
            self._silent.discard(key)

    def set_rcode(self, name: str, rcode: dns.rcode.Rcode | str) -> None:
        """Answer every query for ``name`` with this rcode (e.g. ``"SERVFAIL"``)."""
        value = dns.rcode.from_text(rcode) if isinstance(rcode, str) else rcode
        with self._lock:
            self._rcodes[_name(name)] = value

    def set_silent(self, name: str) -> None:
        """Never answer queries for ``name`` (the client times out)."""
        with self._lock:
            self._silent.add(_name(name))

    def clear(self) -> None:
        """Forget every name and the query log."""
        with self._lock:
            self._txt.clear()
            self._rcodes.clear()
            self._silent.clear()
            self.queries.clear()

    def make_resolver(self, *, timeout: float = 2.0) -> dns.resolver.Resolver:
        """A fresh ``dns.resolver.Resolver`` that asks this server only."""
        return make_resolver(self, timeout=timeout)

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Stop the thread and close the sockets; idempotent."""
        if self._stop_w.fileno() != -1:
            self._stop_w.send(b"x")
            self._thread.join(timeout=5)
            self._stop_w.close()
        for sock in (self._stop_r, self._udp, self._tcp):
            sock.close()

    def __enter__(self) -> DnsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving -----------------------------------------------------------

    def _bind_same_port(self) -> None:
        for _ in range(50):
            self._udp.bind((self.host, 0))
            port = self._udp.getsockname()[1]
            try:
                self._tcp.bind((self.host, port))
            except OSError:
                self._udp.close()
                self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                continue
            self._tcp.listen(16)
            return
        raise OSError("no loopback port free for both UDP and TCP")

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._udp, selectors.EVENT_READ, "udp")
            sel.register(self._tcp, selectors.EVENT_READ, "tcp")
            sel.register(self._stop_r, selectors.EVENT_READ, "stop")
            while True:
                for key, _ in sel.select():
                    if key.data == "stop":
                        return
                    try:
                        if key.data == "udp":
                            self._serve_udp()
                        else:
                            self._serve_tcp()
                    except OSError:
                        continue

    def _serve_udp(self) -> None:
        wire, addr = self._udp.recvfrom(65535)
        response = self._answer(wire, "udp")
        if response is None:
            return
        limit = _UDP_LIMIT_DEFAULT
        if response.edns >= 0:
            limit = max(_UDP_LIMIT_DEFAULT, response.payload)
        try:
            out = response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            response.answer = []
            response.flags |= dns.flags.TC
            out = response.to_wire()
        self._udp.sendto(out, addr)

    def _serve_tcp(self) -> None:
        conn, _ = self._tcp.accept()
        with conn:
            conn.settimeout(2.0)
            while True:
                header = _recv_exact(conn, 2)
                if header is None:
                    return
                wire = _recv_exact(conn, struct.unpack("!H", header)[0])
                if wire is None:
                    return
                response = self._answer(wire, "tcp")
                if response is None:
                    return
                out = response.to_wire()
                conn.sendall(struct.pack("!H", len(out)) + out)

    def _answer(self, wire: bytes, transport: str) -> dns.message.Message | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname = question.name
        with self._lock:
            self.queries.append(
                Query(
                    name=qname.to_text(omit_final_dot=True).lower(),
                    rdtype=dns.rdatatype.to_text(question.rdtype),
                    transport=transport,
                )
            )
            if qname in self._silent:
                return None
            rcode = self._rcodes.get(qname)
            records = self._txt.get(qname)
            records = None if records is None else [list(r) for r in records]
        if rcode is not None:
            response.set_rcode(rcode)
        elif records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif records and question.rdtype in (dns.rdatatype.TXT, dns.rdatatype.ANY):
            rdatas = [TXT(dns.rdataclass.IN, dns.rdatatype.TXT, record) for record in records]
            response.answer.append(dns.rrset.from_rdata_list(qname, _TTL, rdatas))
        return response


def make_resolver(server: DnsServer, *, timeout: float = 2.0) -> dns.resolver.Resolver:
    """A ``dns.resolver.Resolver(configure=False)`` pointed at ``server``."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


def _name(name: str) -> dns.name.Name:
    """Absolute, case-insensitive key (dnspython compares names case-insensitively)."""
    return dns.name.from_text(name.rstrip(".") + ".")


def _record_strings(record: TxtRecord) -> list[bytes]:
    items: Sequence[str | bytes] = [record] if isinstance(record, (str, bytes)) else record
    out = [s.encode() if isinstance(s, str) else bytes(s) for s in items]
    for s in out:
        if len(s) > 255:
            raise ValueError(f"a TXT string holds at most 255 bytes, got {len(s)}")
    return out


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
