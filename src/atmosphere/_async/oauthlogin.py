"""OAuth sign-in for the clients: the loopback flow and the web app's two steps.

:class:`AsyncOAuthLogin` is a part of :class:`~atmosphere._async.client.AsyncCoreClient`
(and so of every face built on it). Once signed in, every call of the client
goes through :class:`~atmosphere._async.oauth.AsyncOAuthAuth` (DPoP-signed,
refreshed with rotation); ``export_session()`` / ``login_with_session()``
carry the OAuth session as JSON, and ``logout()`` revokes it.

Targets that come from identity data and server metadata (the account's PDS,
its authorization server and endpoints) go through the client's egress policy:
public https servers, checked on the address connected to, unless the client's
``allow_private_hosts`` is on (or ``ATMOSPHERE_ALLOW_PRIVATE_HOSTS=1``): local
development. A server URL the user passes as the identifier is their choice.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .._concurrency import to_thread
from .._oauth.client_id import DEFAULT_SCOPE, ClientIdentity, loopback_client
from .._syntax import is_valid_did, is_valid_handle
from ..errors import AtmosphereError, InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Generator

    import httpx

    from .._oauth.auth import OAuthSessionHolder
    from .._oauth.authorization import PendingAuthorization
    from .._oauth.flow import ServerInfo
    from .._oauth.identity import SimpleIdentityLookup
    from .._oauth.session import OAuthSession
    from .egress import AsyncEgress
    from .resolver import AsyncIdentityResolver

__all__ = ["AsyncOAuthLogin"]

log = logging.getLogger(__name__)

BrowserOpener = Callable[[str], object]
"""Called with the authorization URL (instead of :func:`webbrowser.open`)."""

_T = TypeVar("_T")


async def _run_flow(flow: Generator[httpx.Request, httpx.Response, _T], egress: AsyncEgress) -> _T:
    """``run_flow``, imported on the first OAuth call (not when the client is imported)."""
    from .oauth import run_flow

    return await run_flow(flow, egress)


def _show_url(url: str) -> None:
    print(f"Open this URL to sign in (waiting for the browser):\n  {url}", file=sys.stderr)


def _web_client(redirect_uri: str, client_id: str | None, scope: str) -> ClientIdentity:
    """The client identity of a web app (a loopback one for development without ``client_id``)."""
    if not isinstance(redirect_uri, str):
        raise InvalidArgumentError("redirect_uri must be a str")
    if client_id is not None:
        if not isinstance(client_id, str) or not client_id.startswith(("https://", "http://")):
            raise InvalidArgumentError("client_id must be the URL of the client metadata document")
        return ClientIdentity(client_id=client_id, redirect_uri=redirect_uri, scope=scope)
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port is None:
        raise InvalidArgumentError(
            "without client_id, redirect_uri must be http://127.0.0.1:<port>/... (a loopback"
            " development client); a deployed web app passes its client metadata URL as client_id"
        )
    if parts.query or parts.fragment:
        raise InvalidArgumentError("redirect_uri must have no query or fragment")
    return loopback_client(parts.port, scope=scope, path=parts.path or "/")


class AsyncOAuthLogin:
    """Signing in with atproto OAuth (mixed into the core client)."""

    _http: httpx.AsyncClient
    _egress: AsyncEgress
    _base_url: str | None
    _resolver: AsyncIdentityResolver

    @property
    def _oauth(self) -> OAuthSessionHolder:
        raise NotImplementedError  # the core client makes it on first use

    def _install_oauth(self, session: OAuthSession, *, notify: bool) -> None:
        raise NotImplementedError  # the core client installs sessions

    @property
    def _private_ok(self) -> bool:
        """The client's ``allow_private_hosts`` (local development)."""
        return self._egress.policy.allow_private_hosts

    # -- the session -------------------------------------------------------

    @property
    def oauth_session(self) -> OAuthSession | None:
        """The OAuth session in use (``None`` with a password session or none).

        Its ``scope`` is what the server granted, which may be less than asked.
        """
        return self._oauth.session

    # -- identity helpers ----------------------------------------------------

    def _lookup(self, allow: bool) -> SimpleIdentityLookup:
        from .._oauth.identity import SimpleIdentityLookup

        plc_url = getattr(self._resolver, "plc_url", None) or "https://plc.directory"
        return SimpleIdentityLookup(
            plc_url=plc_url, handle_service=self._base_url, allow_private_hosts=allow
        )

    async def _discover(self, identifier: str) -> tuple[ServerInfo, str | None, str | None]:
        """identifier → (the authorization server, the expected DID, the login hint)."""
        allow = self._private_ok
        from .._oauth import flow

        if not isinstance(identifier, str) or not identifier.strip():
            raise InvalidArgumentError("identifier must be a handle, a DID or a server URL")
        identifier = identifier.strip()
        if identifier.startswith(("https://", "http://")):
            self._egress.trust(identifier)  # a server the user names is their choice
            info = await _run_flow(
                flow.discover_from_server(identifier, allow_private_hosts=allow), self._egress
            )
            return info, None, None
        hint = identifier.removeprefix("@")
        if not (is_valid_did(hint) or is_valid_handle(hint)):
            raise InvalidArgumentError(f"{identifier!r} is not a handle, a DID or a server URL")
        if self._base_url is not None:
            # The server the user named answers for its handles; the binding
            # check after sign-in confirms the account really uses it.
            account = await _run_flow(self._lookup(allow).resolve(hint), self._egress)
            did, pds = account.did, account.pds_url
        else:
            identity = await self._resolver.resolve(hint)  # refuses a private PDS itself
            did, pds = identity.did, identity.pds_endpoint
        self._egress.check(pds)
        info = await _run_flow(flow.discover_from_pds(pds, allow_private_hosts=allow), self._egress)
        return info, did, hint

    async def _verified_handle(self, session: OAuthSession, pending: PendingAuthorization) -> str:
        """The account's handle, checked both ways (``handle.invalid`` when it does not verify)."""
        hint = pending.login_hint
        if hint and pending.expected_did == session.did and is_valid_handle(hint):
            return hint.lower()
        lookup = self._lookup(self._private_ok)
        try:
            doc = await _run_flow(lookup.resolve_did(session.did), self._egress)
            handle = doc.handle
            if not handle:
                return "handle.invalid"
            if self._base_url is not None:
                back = await _run_flow(lookup.resolve_handle(handle), self._egress)
            else:
                back = await self._resolver.resolve_handle(handle)
        except AtmosphereError:
            return "handle.invalid"
        return handle.lower() if back == session.did else "handle.invalid"

    # -- the web app's two steps ---------------------------------------------

    async def oauth_start(
        self,
        identifier: str,
        *,
        redirect_uri: str,
        client_id: str | None = None,
        scope: str = DEFAULT_SCOPE,
    ) -> PendingAuthorization:
        """Start signing in: push the authorization request; send the user to ``pending.url``.

        Args:
            identifier: a handle, a DID, or a PDS/entryway URL (then whoever signs in).
            redirect_uri: where the server sends the browser back (your callback route).
            client_id: the URL of your client metadata document. Without it the
                client is a loopback development client, and ``redirect_uri``
                must be ``http://127.0.0.1:<port>/...``.
            scope: the scopes to ask for (must include ``atproto``).

        Returns the pending authorization. Keep it server-side until the callback
        (``pending.to_dict()`` is JSON, with secrets: never put it in a cookie or
        URL); look it up by ``pending.state``.
        """
        from .._oauth import flow

        client = _web_client(redirect_uri, client_id, scope)
        info, did, hint = await self._discover(identifier)
        return await _run_flow(
            flow.start_authorization(
                client, info, nonces=self._oauth.nonces, login_hint=hint, expected_did=did
            ),
            self._egress,
        )

    async def oauth_finish(
        self,
        params: Mapping[str, str],
        pending: PendingAuthorization | Mapping[str, Any],
    ) -> OAuthSession:
        """Finish signing in with the callback's query parameters; the client is then signed in.

        Checks ``state`` and ``iss``, trades the code for tokens, and checks that
        the account's PDS really uses this authorization server (else the tokens
        are revoked and :class:`~atmosphere.errors.OAuthIdentityError` raised).
        A denied consent raises :class:`~atmosphere.errors.OAuthCallbackError`
        (``error == "access_denied"``). Returns the session (``scope`` is what was granted).
        """
        from .._oauth import flow
        from .._oauth.authorization import PendingAuthorization

        allow = self._private_ok
        if not isinstance(pending, PendingAuthorization):
            pending = PendingAuthorization.from_dict(dict(pending), allow_private_hosts=allow)
        session = await _run_flow(
            flow.finish_authorization(
                pending, dict(params), nonces=self._oauth.nonces, identity=self._lookup(allow)
            ),
            self._egress,
        )
        session = replace(session, handle=await self._verified_handle(session, pending))
        self._install_oauth(session, notify=True)
        log.info("signed in with OAuth as %s (scope %s)", session.did, session.scope)
        return session

    # -- the loopback flow (scripts, notebooks, the CLI) -----------------------

    async def login_oauth(
        self,
        identifier: str,
        *,
        scope: str = DEFAULT_SCOPE,
        open_browser: bool | BrowserOpener = True,
        show_url: Callable[[str], object] | None = _show_url,
        timeout: float = 300.0,
    ) -> OAuthSession:
        """Sign in with OAuth in a browser, for scripts, notebooks and the command line.

        Listens once on ``http://127.0.0.1:<free port>/`` for the redirect,
        opens the authorization URL with :func:`webbrowser.open` (``BROWSER`` is
        honoured) and prints it to stderr for a machine without a browser.

        Args:
            identifier: a handle, a DID, or a PDS/entryway URL.
            scope: the scopes to ask for; the default lets the usual record and
                blob calls work. The granted scope is in the returned session.
            open_browser: ``False`` to only show the URL, or a callable to open it.
            show_url: called with the URL (prints to stderr by default; ``None``: silent).
            timeout: seconds to wait for the browser to come back.

        Raises:
            OAuthUnavailableError: the ``oauth`` extra is not installed.
            OAuthCallbackError: consent denied, a wrong ``state``, or no callback in time.
            OAuthIdentityError: the server signed in another account, or is not the account's.
        """
        from .._oauth import flow
        from .._oauth.keys import require_cryptography
        from .._oauth.loopback import CallbackServer

        require_cryptography()
        info, did, hint = await self._discover(identifier)
        with CallbackServer() as callback:
            pending = await _run_flow(
                flow.start_authorization(
                    callback.client(scope),
                    info,
                    nonces=self._oauth.nonces,
                    login_hint=hint,
                    expected_did=did,
                ),
                self._egress,
            )
            if show_url is not None:
                show_url(pending.url)
            # A browser command may run until the user is done (``BROWSER=...``):
            # off the event loop in the asyncio client.
            if callable(open_browser):
                await to_thread(open_browser, pending.url)
            elif open_browser:
                import webbrowser  # here: it loads subprocess, and only this path needs it

                await to_thread(webbrowser.open, pending.url)
            params = await to_thread(callback.wait, timeout)
        return await self.oauth_finish(params, pending)
