"""The ``atmosphere`` command line: log in, read and write records, move blobs.

Run it as ``atmosphere`` (the console script) or ``python -m atmosphere``.
Only the standard library is used on top of the package itself.

Global options (each also read from an environment variable):

- ``--pds URL`` (``ATMOSPHERE_PDS``): the PDS to log in to; without it the
  PDS is found from the handle or DID.
- ``--plc-url URL`` (``ATMOSPHERE_PLC_URL``): the PLC directory for ``did:plc``.
- ``--session-file PATH`` (``ATMOSPHERE_SESSION_FILE``): where ``login``
  keeps the session (default ``$XDG_CONFIG_HOME/atmosphere/session``, or
  ``~/.config/atmosphere/session``). The file holds tokens: it is created
  with mode 0600 (its directory 0700) and rewritten whenever they refresh.
  Processes sharing it refresh under a lock and never bring back a session
  that was logged out; a directory others can write to, or a session file
  others can read, is refused (see :mod:`atmosphere._cli.sessionfile`).
- ``--json``: machine-readable output on stdout.

``login --oauth IDENTIFIER`` (a handle, a DID or a PDS/entryway URL) signs in
with atproto OAuth instead of a password: it listens once on
``http://127.0.0.1:<free port>/`` for the redirect, opens the sign-in page with
:mod:`webbrowser` (``BROWSER`` is honoured) and prints its URL on stderr for a
machine without a browser; it never reads stdin. ``--scope`` narrows what is
asked for (default ``atproto transition:generic``); the session file then holds
the OAuth session (its DPoP private key included), and ``logout`` revokes it.

``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1`` turns on local development: PDS
endpoints and other targets that come from identity data may then be
loopback, private or plain-http hosts (off by default; see the README's
"Security" section).

Exit codes:

====  ===========================================================================
0     success
1     any other error: invalid input content (a record file that is not a JSON
      object or whose ``$type`` does not match), a bad argument value the
      library rejects (``InvalidArgumentError``), a CID mismatch, a server error,
      a local file that cannot be read or written
2     usage: bad options or arguments, including malformed identifiers (NSID,
      AT-URI, DID, handle, record key, CID) on the command line
3     authentication: not logged in (no session file), bad credentials, a
      session that expired or was revoked, an unreadable session file, or an
      unsafe one (readable by others, or in a directory others can write to);
      an OAuth sign-in that failed or was denied, a call outside the OAuth scope
4     not found: record, blob, or an identity that does not resolve
5     network: the server could not be reached or the exchange failed
130   interrupted (Ctrl-C)
143   terminated (SIGTERM); like Ctrl-C, a download in progress leaves no file
====  ===========================================================================

Errors are reported as one line on stderr, ``atmosphere: error: ...``, without
a traceback. Passwords and tokens are never printed. Text from servers cannot
drive the terminal: control characters (ESC, C0, C1) and bidirectional
overrides are printed as visible escapes (``\\x1b``, ``\\u202e``); JSON output
stays JSON, with the same characters as ``\\u`` escapes.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import getpass
import itertools
import json
import mimetypes
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from .. import __version__
from .._cid import parse_cid
from .._defaults import DEFAULT_PLC_URL, DISTRIBUTION
from .._egress import EgressPolicy
from .._identity import (
    HANDLE_INVALID,
    claimed_handle,
    did_document_url,
    dns_txt_name,
    well_known_url,
)
from .._oauth.client_id import DEFAULT_SCOPE
from .._sync.atdata import AtmosphereClient
from .._sync.resolver import IdentityResolver
from .._syntax import AtUri, is_valid_did, is_valid_handle, validate_nsid, validate_record_key
from .._types import Record, StrongRef
from ..errors import (
    AtmosphereError,
    AuthenticationError,
    BlobNotFoundError,
    HandleResolutionError,
    InvalidIdentifierError,
    InvalidSessionError,
    NotAuthenticatedError,
    OAuthError,
    OAuthUnavailableError,
    RecordNotFoundError,
    ResolutionError,
    ScopeMissingError,
    TransportError,
)
from .progress import ProgressBar
from .sessionfile import SessionFile, SessionFileError
from .terminal import printable, safe_json

__all__ = [
    "EXIT_AUTH",
    "EXIT_ERROR",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "default_session_file",
    "exit_code_for",
    "load_session",
    "main",
    "save_session",
]

PROG = "atmosphere"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_NETWORK = 5
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM

ENV_PDS = "ATMOSPHERE_PDS"
ENV_PLC_URL = "ATMOSPHERE_PLC_URL"
ENV_SESSION_FILE = "ATMOSPHERE_SESSION_FILE"


class Terminated(KeyboardInterrupt):
    """Raised by the CLI's SIGTERM handler, so cleanup runs as it does for Ctrl-C.

    Without a handler SIGTERM ends Python at once: no ``finally`` or
    ``except BaseException`` block runs, and a download's hidden ``.part``
    file stays behind. A subclass of ``KeyboardInterrupt``: whatever cleans
    up after Ctrl-C cleans up after SIGTERM too.
    """


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the block runs (main thread only)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class CliError(Exception):
    """A failure the CLI reports as one line, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# -- the session file ---------------------------------------------------------


def default_session_file(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/atmosphere/session``, or ``~/.config/atmosphere/session``."""
    env = os.environ if env is None else env
    config = env.get("XDG_CONFIG_HOME", "")
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    return base / "atmosphere" / "session"


def save_session(path: Path, session: str) -> None:
    """Write the session string to ``path`` atomically, readable by the owner only.

    A missing parent directory is created with mode 0700. The string goes to a
    temporary file created with mode 0600 beside ``path``, then replaces it,
    under the session file's lock (see :mod:`atmosphere._cli.sessionfile`).
    """
    SessionFile(path).save(session)


def load_session(path: Path) -> str:
    """The session string saved at ``path`` (``SessionFileError``, exit 3, if absent or unsafe)."""
    return SessionFile(path).load()


# -- argument types (malformed identifiers are usage errors, exit 2) -----------


def _checked(parse: Callable[[str], object], value: str) -> str:
    try:
        parse(value)
    except InvalidIdentifierError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def arg_nsid(value: str) -> str:
    """A collection NSID."""
    return _checked(validate_nsid, value)


def arg_rkey(value: str) -> str:
    """A record key."""
    return _checked(validate_record_key, value)


def arg_cid(value: str) -> str:
    """A CID."""
    return _checked(parse_cid, value)


def arg_at_uri(value: str) -> AtUri:
    """An AT-URI naming a record (``at://AUTHORITY/COLLECTION/RKEY``)."""
    try:
        uri = AtUri.parse(value)
    except InvalidIdentifierError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if uri.collection is None or uri.rkey is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} does not name a record (at://AUTHORITY/COLLECTION/RKEY)"
        )
    return uri


def arg_did(value: str) -> str:
    """A DID."""
    if not is_valid_did(value):
        raise argparse.ArgumentTypeError(f"invalid DID {value!r}")
    return value


def arg_repo(value: str) -> str:
    """An account: a handle or a DID."""
    if not (is_valid_did(value) or is_valid_handle(value)):
        raise argparse.ArgumentTypeError(f"{value!r} is neither a handle nor a DID")
    return value


def arg_positive_int(value: str) -> int:
    """An integer >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def arg_url(value: str) -> str:
    """An http(s) URL."""
    if not value.startswith(("https://", "http://")):
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value!r}")
    return value


# -- the parser -----------------------------------------------------------------


def _add_global_options(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    # In subcommands the defaults are suppressed, so an option given after the
    # command name overrides the top-level value instead of resetting it.
    def default(value: object) -> object:
        return argparse.SUPPRESS if in_subcommand else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--pds",
        metavar="URL",
        type=arg_url,
        default=default(None),
        help=f"the PDS to log in to (env {ENV_PDS}; default: found from the handle)",
    )
    group.add_argument(
        "--plc-url",
        metavar="URL",
        type=arg_url,
        default=default(None),
        help=f"PLC directory for did:plc (env {ENV_PLC_URL}; default {DEFAULT_PLC_URL})",
    )
    group.add_argument(
        "--session-file",
        metavar="PATH",
        default=default(None),
        help=f"where the login session is kept (env {ENV_SESSION_FILE}; "
        "default $XDG_CONFIG_HOME/atmosphere/session)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="machine-readable JSON output",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``atmosphere`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A small AT Protocol client: records, blobs and identities on a PDS.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage, 3 authentication, 4 not found, 5 network.",
    )
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION} {__version__}")
    _add_global_options(parser, in_subcommand=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _add_global_options(sub, in_subcommand=True)
        sub.set_defaults(handler=handler)
        return sub

    login = command("login", "log in and save the session", cmd_login)
    login.add_argument(
        "handle",
        metavar="HANDLE",
        help="handle, DID or email of the account (with --oauth: a handle, DID or PDS URL)",
    )
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (no prompt)",
    )
    login.add_argument(
        "--oauth",
        action="store_true",
        help="sign in with OAuth in a browser, not a password (needs atmosphere-atproto[oauth])",
    )
    login.add_argument(
        "--scope",
        default=None,
        help=f"with --oauth: the scopes to ask for (default {DEFAULT_SCOPE!r})",
    )
    login.add_argument(
        "--no-browser",
        action="store_true",
        help="with --oauth: only print the sign-in URL, do not open a browser",
    )
    command("logout", "revoke the saved session and delete the session file", cmd_logout)
    command("whoami", "show the logged-in account", cmd_whoami)

    resolve = command("resolve", "resolve a handle or DID: DID, handle, PDS", cmd_resolve)
    resolve.add_argument("identifier", metavar="HANDLE|DID", type=arg_repo)

    ls = command("ls", "list the records of a collection (all pages)", cmd_ls)
    ls.add_argument("collection", metavar="COLLECTION", type=arg_nsid)
    _add_listing_options(ls, default_limit=None)

    get = command("get", "print a record's value", cmd_get)
    get.add_argument("uri", metavar="AT-URI", type=arg_at_uri)

    create = command("create", "create a record from a JSON file", cmd_create)
    create.add_argument("collection", metavar="COLLECTION", type=arg_nsid)
    create.add_argument("file", metavar="FILE.json", help="the record ('-' reads stdin)")
    create.add_argument("--rkey", metavar="K", type=arg_rkey, help="record key (default: a TID)")
    _add_validate_option(create)

    put = command("put", "create or replace the record at a key", cmd_put)
    put.add_argument("collection", metavar="COLLECTION", type=arg_nsid)
    put.add_argument("rkey", metavar="RKEY", type=arg_rkey)
    put.add_argument("file", metavar="FILE.json", help="the record ('-' reads stdin)")
    _add_validate_option(put)

    rm = command("rm", "delete a record of the logged-in account", cmd_rm)
    rm.add_argument("uri", metavar="AT-URI", type=arg_at_uri)

    for name, what in (
        ("schemas", "sample schemas"),
        ("datasets", "datasets"),
        ("lenses", "lenses"),
    ):
        listing = command(name, f"list atdata {what}", cmd_atdata)
        _add_listing_options(listing, default_limit=100)

    blob = commands.add_parser("blob", help="upload or download blobs")
    _add_global_options(blob, in_subcommand=True)
    blobs = blob.add_subparsers(dest="blob_command", metavar="ACTION", required=True)

    def blob_command(name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        sub = blobs.add_parser(name, help=help_text, description=help_text)
        _add_global_options(sub, in_subcommand=True)
        sub.set_defaults(handler=handler)
        return sub

    upload = blob_command("upload", "upload a file; print its blob ref", cmd_blob_upload)
    upload.add_argument("file", metavar="FILE")
    upload.add_argument("--mime", metavar="TYPE", help="MIME type (default: guessed from FILE)")
    download = blob_command("get", "download a blob and verify it against its CID", cmd_blob_get)
    download.add_argument("did", metavar="DID", type=arg_did)
    download.add_argument("cid", metavar="CID", type=arg_cid)
    download.add_argument(
        "-o", "--output", metavar="FILE", required=True, help="where to save it ('-' = stdout)"
    )
    return parser


def _add_listing_options(parser: argparse.ArgumentParser, *, default_limit: int | None) -> None:
    parser.add_argument(
        "--repo", metavar="ID", type=arg_repo, help="handle or DID (default: yourself)"
    )
    shown = "all" if default_limit is None else str(default_limit)
    parser.add_argument(
        "--limit",
        metavar="N",
        type=arg_positive_int,
        default=default_limit,
        help=f"at most N records (default: {shown})",
    )
    parser.add_argument(
        "--array", action="store_true", help="with --json: one JSON array instead of JSON lines"
    )


def _add_validate_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--validate",
        action="store_true",
        help="ask the PDS to validate the record against its Lexicon",
    )


# -- the run context ------------------------------------------------------------


@dataclass
class Context:
    """What a command needs: its arguments, settings and streams."""

    args: argparse.Namespace
    pds: str | None
    plc_url: str | None
    session_file: Path
    json: bool
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    allow_private_hosts: bool = False

    @functools.cached_property
    def sessions(self) -> SessionFile:
        """The session file (one instance per run: its lock is reentrant only within it)."""
        return SessionFile(self.session_file)

    def client(self) -> AtmosphereClient:
        """A client that keeps the session file current, refreshing under its lock."""
        options: dict[str, Any] = {"allow_private_hosts": self.allow_private_hosts}
        if self.plc_url:
            options["plc_url"] = self.plc_url
        return AtmosphereClient(
            self.pds,
            on_session_change=self.sessions.save,
            session_lock=self.sessions.refresh_lock,
            **options,
        )

    @contextlib.contextmanager
    def session(self, *, required: bool = True) -> Iterator[AtmosphereClient]:
        """A client logged in with the saved session.

        With ``required=False`` a missing session file gives an anonymous client.
        """
        if not required and not self.session_file.exists():
            with self.client() as client:
                yield client
            return
        saved = self.sessions.load()
        with self.client() as client:
            try:
                client.login_with_session(saved)
            except InvalidSessionError as exc:
                raise CliError(
                    f"session file {self.session_file} is unusable ({exc}); log in again",
                    EXIT_AUTH,
                ) from None
            yield client

    def emit_json(self, value: Any, *, indent: int | None = None) -> None:
        """Print one JSON document (characters a terminal would obey are escaped)."""
        self.stdout.write(safe_json(json.dumps(value, ensure_ascii=False, indent=indent)) + "\n")

    def say(self, text: str = "") -> None:
        """Print a line of text output (control characters shown, not obeyed)."""
        self.stdout.write(printable(text) + "\n")

    def note(self, text: str) -> None:
        """A line for the human on stderr (never data)."""
        self.stderr.write(f"{PROG}: {printable(text)}\n")


Handler = Callable[[Context], int]


# -- helpers --------------------------------------------------------------------


def _read_password(ctx: Context, handle: str) -> str:
    if ctx.args.password_stdin:
        line = ctx.stdin.readline()
        password = line.rstrip("\r\n")
    else:
        # Without a terminal getpass falls back to reading stdin and says so
        # itself; its GetPassWarning would only add a noisy source line.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            try:
                password = getpass.getpass(f"Password for {printable(handle)}: ", stream=ctx.stderr)
            except EOFError:
                password = ""
    if not password:
        raise CliError("no password given", EXIT_USAGE)
    return password


def _read_record(ctx: Context, source: str) -> dict[str, Any]:
    name = "stdin" if source == "-" else source
    try:
        text = ctx.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{name}: not UTF-8 text") from None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise CliError(f"{name}: the record must be a JSON object, got {type(record).__name__}")
    if "$type" not in record:
        raise CliError(
            f'{name}: the record has no "$type"; it must name the collection, '
            'e.g. {"$type": "ac.foundation.dataset.record", ...}'
        )
    return record


def _summary(value: Any, width: int = 100) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 3] + "..."


def _emit_records(ctx: Context, records: Iterable[Record], *, array: bool) -> None:
    if array:
        ctx.emit_json(list(records))
        return
    count = 0
    for record in records:
        count += 1
        if ctx.json:
            ctx.emit_json(record)
        else:
            ctx.say(f"{record.get('uri')}  {_summary(record.get('value'))}")
    if not ctx.json and count == 0:
        ctx.note("no records")


# -- commands -------------------------------------------------------------------


def _login_oauth(ctx: Context, client: AtmosphereClient, identifier: str) -> dict[str, Any]:
    """The loopback OAuth flow: the browser opens (or the URL is printed); stdin is never read."""

    def show(url: str) -> None:
        ctx.note("opening the sign-in page in your browser; if none opens, visit:")
        ctx.stderr.write(f"  {printable(url)}\n")
        ctx.stderr.flush()

    session = client.login_oauth(
        identifier,
        scope=ctx.args.scope or DEFAULT_SCOPE,
        open_browser=not ctx.args.no_browser,
        show_url=show,
    )  # saves the session (on_session_change)
    return {"scope": session.scope}


def cmd_login(ctx: Context) -> int:
    handle: str = ctx.args.handle
    oauth: bool = ctx.args.oauth
    if not oauth and (ctx.args.scope is not None or ctx.args.no_browser):
        raise CliError("--scope and --no-browser go with --oauth", EXIT_USAGE)
    if oauth and ctx.args.password_stdin:
        raise CliError("--oauth signs in in the browser: no password is read", EXIT_USAGE)
    ctx.sessions.check_directory()  # before the password goes anywhere
    password = None if oauth else _read_password(ctx, handle)
    with ctx.client() as client:
        extra: dict[str, Any] = {}
        if password is None:
            extra = _login_oauth(ctx, client, handle)
        else:
            client.login(handle, password)  # saves the session (on_session_change)
        info = {"did": client.did, "handle": client.handle, "pds": client.pds_url, **extra}
    if ctx.json:
        ctx.emit_json({**info, "session_file": str(ctx.session_file)})
    else:
        ctx.say(f"Logged in as {info['handle']} ({info['did']}) on {info['pds']}")
        if "scope" in info:
            ctx.say(f"Granted scope: {info['scope']}")
        ctx.say(f"Session saved to {ctx.session_file}")
    return EXIT_OK


def cmd_logout(ctx: Context) -> int:
    # Under the lock: no other process refreshes in between, and one that
    # wants to refresh afterwards finds no file and stops.
    with ctx.sessions.locked():
        # A file others could read is exactly what logout is for: revoke it.
        saved = ctx.sessions.load(allow_exposed=True)
        with ctx.client() as client:
            try:
                client.login_with_session(saved)
                client.logout()
                revoked = True
            except OAuthUnavailableError:
                raise
            except (AuthenticationError, InvalidSessionError, NotAuthenticatedError, OAuthError):
                revoked = False  # already dead or unusable: nothing to revoke
        ctx.sessions.remove()
    if ctx.json:
        ctx.emit_json({"revoked": revoked, "session_file": str(ctx.session_file)})
    elif revoked:
        ctx.say("Logged out; session revoked and session file removed")
    else:
        ctx.say("Session was no longer valid; session file removed")
    return EXIT_OK


def cmd_whoami(ctx: Context) -> int:
    with ctx.session() as client:
        info: dict[str, Any] = {"did": client.did, "handle": client.handle, "pds": client.pds_url}
        oauth = client.oauth_session
        if oauth is not None:  # an OAuth session also says what it may do
            info["scope"] = oauth.scope
    if ctx.json:
        ctx.emit_json(info)
    else:
        ctx.say(f"{info['handle']} ({info['did']}) on {info['pds']}")
        if "scope" in info:
            ctx.say(f"OAuth scope: {info['scope']}")
    return EXIT_OK


def describe_identity(resolver: IdentityResolver, identifier: str) -> dict[str, Any]:
    """Resolve ``identifier`` and say how each part was found.

    The identity itself comes from ``IdentityResolver.resolve`` (the library's
    verdict); the explanations come from its lower-level, cached lookups. The
    resolver does not report whether DNS or HTTPS answered for a handle, so
    both places it tries are named.
    """
    identity = resolver.resolve(identifier)
    did, document = identity.did, identity.document
    claimed = claimed_handle(document)
    doc_url = did_document_url(did, resolver.plc_url)

    def handle_lookup(handle: str) -> str:
        return (
            f"{handle} -> DID via DNS TXT {dns_txt_name(handle)} "
            f"or HTTPS {well_known_url(handle)} (DNS is tried first)"
        )

    did_how = "given" if did == identifier else handle_lookup(identifier.lower())
    if identity.handle != HANDLE_INVALID:
        if did == identifier:
            handle_how = (
                f"claimed by the DID document (alsoKnownAs at://{identity.handle}) and "
                f"verified: {handle_lookup(identity.handle)} gave back this DID"
            )
        else:
            handle_how = (
                f"verified: the DID document claims it (alsoKnownAs at://{identity.handle})"
            )
    elif claimed is None:
        handle_how = "not verified: the DID document claims no handle (no at:// alsoKnownAs)"
    elif did != identifier and claimed != identifier.lower():
        handle_how = f"not verified: the DID document claims {claimed}, not {identifier.lower()}"
    else:
        try:
            other = resolver.resolve_handle(claimed)
        except HandleResolutionError as exc:
            handle_how = (
                f"not verified: the DID document claims {claimed},"
                f" which does not resolve ({exc.reason})"
            )
        else:
            handle_how = (
                f"not verified: the DID document claims {claimed}, which resolves to {other}"
            )
    return {
        "did": did,
        "handle": identity.handle,
        "pds": identity.pds_endpoint,
        "claimed_handle": claimed,
        "did_document": doc_url,
        "how": {
            "did": did_how,
            "handle": handle_how,
            "pds": f"service #atproto_pds of the DID document fetched from {doc_url}",
        },
    }


def cmd_resolve(ctx: Context) -> int:
    with ctx.client() as client:
        report = describe_identity(client.resolver, ctx.args.identifier)
    if ctx.json:
        ctx.emit_json(report)
        return EXIT_OK
    how = report["how"]
    for key in ("did", "handle", "pds"):
        ctx.say(f"{key + ':':<8}{report[key]}")
        ctx.say(f"{'':<8}({how[key]})")
    return EXIT_OK


def cmd_ls(ctx: Context) -> int:
    args = ctx.args
    limit: int | None = args.limit
    page_size = min(100, limit) if limit is not None else 100
    with ctx.session(required=args.repo is None) as client:
        records: Iterator[Record] = client.iter_records(
            args.collection, repo=args.repo, page_size=page_size
        )
        if limit is not None:
            records = itertools.islice(records, limit)
        _emit_records(ctx, records, array=ctx.json and args.array)
    return EXIT_OK


def cmd_atdata(ctx: Context) -> int:
    args = ctx.args
    with ctx.session(required=args.repo is None) as client:
        collection = {
            "schemas": client.layout.schema_collection,
            "datasets": client.layout.dataset_collection,
            "lenses": client.layout.lens_collection,
        }[args.command]
        # Envelopes (URI, CID, value), like `ls`: list_schemas & co return values only.
        records = list(
            itertools.islice(
                client.iter_records(collection, repo=args.repo, page_size=min(100, args.limit)),
                args.limit,
            )
        )
    _emit_records(ctx, records, array=ctx.json and args.array)
    return EXIT_OK


def cmd_get(ctx: Context) -> int:
    with ctx.session(required=False) as client:
        value = client.get_record(ctx.args.uri)
    ctx.emit_json(value, indent=None if ctx.json else 2)
    return EXIT_OK


def _report_write(ctx: Context, ref: StrongRef) -> None:
    if ctx.json:
        ctx.emit_json({"uri": ref["uri"], "cid": ref["cid"]})
    else:
        ctx.say(ref["uri"])


def cmd_create(ctx: Context) -> int:
    args = ctx.args
    record = _read_record(ctx, args.file)
    with ctx.session() as client:
        ref = client.create_record_ref(
            args.collection, record, rkey=args.rkey, validate=args.validate
        )
    _report_write(ctx, ref)
    return EXIT_OK


def cmd_put(ctx: Context) -> int:
    args = ctx.args
    record = _read_record(ctx, args.file)
    with ctx.session() as client:
        ref = client.put_record_ref(args.collection, args.rkey, record, validate=args.validate)
    _report_write(ctx, ref)
    return EXIT_OK


def cmd_rm(ctx: Context) -> int:
    uri: AtUri = ctx.args.uri
    with ctx.session() as client:
        client.delete_record(uri)
    if ctx.json:
        ctx.emit_json({"uri": str(uri), "deleted": True})
    else:
        ctx.say(f"Deleted {uri}")
    return EXIT_OK


def cmd_blob_upload(ctx: Context) -> int:
    path = Path(ctx.args.file)
    if not path.is_file():
        raise CliError(f"{path}: not a file")
    mime: str | None = ctx.args.mime
    if mime is None:
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    bar = ProgressBar(ctx.stderr, printable(f"upload {path.name}"))
    with ctx.session() as client:
        try:
            ref = client.upload_blob(path, mime, progress=bar)
        finally:
            bar.close()
    ctx.emit_json(ref, indent=None if ctx.json else 2)
    return EXIT_OK


def cmd_blob_get(ctx: Context) -> int:
    args = ctx.args
    did: str = args.did
    cid: str = args.cid
    output: str = args.output
    bar = ProgressBar(ctx.stderr, f"download {cid[:16]}...")
    with ctx.session(required=False) as client:
        try:
            if output == "-":
                size = _blob_to_stream(client, did, cid, sys.stdout.buffer, bar)
            else:
                size = client.download_blob(did, cid, output, progress=bar)
        finally:
            bar.close()
    if output != "-":
        if ctx.json:
            ctx.emit_json({"did": did, "cid": cid, "path": output, "size": size})
        else:
            ctx.say(f"Saved {size} bytes to {output} (verified against {cid})")
    return EXIT_OK


def _blob_to_stream(
    client: AtmosphereClient, did: str, cid: str, out: IO[bytes], bar: ProgressBar
) -> int:
    # The last chunk is released only after the CID matched, so a tampered
    # blob ends in an error (and a non-zero exit) before its end is written.
    size = 0
    for chunk in client.iter_blob(did, cid, progress=bar):
        out.write(chunk)
        size += len(chunk)
    out.flush()
    return size


# -- errors and the entry point ---------------------------------------------------


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error raised while running a command."""
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, SessionFileError):
        return EXIT_AUTH
    if isinstance(exc, OAuthUnavailableError):
        return EXIT_ERROR
    if isinstance(
        exc,
        (
            AuthenticationError,
            NotAuthenticatedError,
            InvalidSessionError,
            OAuthError,
            ScopeMissingError,
        ),
    ):
        return EXIT_AUTH
    if isinstance(exc, (RecordNotFoundError, BlobNotFoundError, ResolutionError)):
        return EXIT_NOT_FOUND
    if isinstance(exc, TransportError):
        return EXIT_NETWORK
    if isinstance(exc, InvalidIdentifierError):
        return EXIT_USAGE
    return EXIT_ERROR


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, NotAuthenticatedError):
        return f"not logged in; run '{PROG} login HANDLE'"
    if isinstance(exc, TransportError):
        return f"network error: {text}"
    if isinstance(exc, AuthenticationError):
        return f"authentication failed: {text}"
    if isinstance(exc, ScopeMissingError):
        return f"not allowed by the session's OAuth scope ({text}); log in again with --scope"
    if isinstance(exc, OAuthError) and not isinstance(exc, OAuthUnavailableError):
        return f"OAuth sign-in failed: {text}"
    return text


def _fail(stderr: TextIO, message: str) -> None:
    stderr.write(f"{PROG}: error: {printable(message)}\n")
    stderr.flush()


def _settings(
    args: argparse.Namespace, env: Mapping[str, str]
) -> tuple[str | None, str | None, Path]:
    def from_env(name: str) -> str | None:
        value = env.get(name, "").strip()
        if not value:
            return None
        try:
            return arg_url(value)
        except argparse.ArgumentTypeError as exc:
            raise CliError(f"{name}: {exc}", EXIT_USAGE) from None

    pds = args.pds or from_env(ENV_PDS)
    plc_url = args.plc_url or from_env(ENV_PLC_URL)
    session_file = args.session_file or env.get(ENV_SESSION_FILE, "").strip()
    path = Path(session_file).expanduser() if session_file else default_session_file(env)
    return pds, plc_url, path


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; return the exit code."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)  # exits 2 on usage errors
    with _sigterm_raises():
        return _run(args, env, stdin, stdout, stderr)


def _run(
    args: argparse.Namespace,
    env: Mapping[str, str],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    try:
        pds, plc_url, session_file = _settings(args, env)
        ctx = Context(
            args=args,
            pds=pds,
            plc_url=plc_url,
            session_file=session_file,
            json=bool(args.json),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            allow_private_hosts=EgressPolicy.from_option(None, env).allow_private_hosts,
        )
        handler: Handler = args.handler
        code = handler(ctx)
        stdout.flush()
        return code
    except Terminated:
        _fail(stderr, "terminated")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _fail(stderr, "interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as other tools do.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
        return EXIT_ERROR
    except (AtmosphereError, CliError, SessionFileError, OSError) as exc:
        _fail(stderr, _describe(exc))
        return exit_code_for(exc)
    except Exception as exc:  # a bug, not the user's doing: still one line, no traceback
        _fail(stderr, f"internal error ({type(exc).__name__}); please report it")
        return EXIT_ERROR
