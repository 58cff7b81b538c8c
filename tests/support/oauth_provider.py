"""Drive the reference authorization server's sign-in and consent without a browser.

The provider's own UI calls a small JSON API (``/@atproto/oauth-provider/~api``);
this helper calls it the same way (see ../shared OAUTH-TESTING.md): load the
authorize page as a top-level navigation to get the device cookies and the
CSRF token, sign in, then consent (or reject), and follow the redirect
endpoint to the 303 that points at the client's ``redirect_uri``.

Cookies are kept by hand: the CSRF cookie is ``Secure`` and Python's cookie
jar would not send it back over ``http://localhost``.
"""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from tests.support.pds import Account

API_PATH = "/@atproto/oauth-provider/~api"

_NAVIGATE = {
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Accept": "text/html",
}


class ProviderError(AssertionError):
    """The provider refused a step of the sign-in (the test then fails)."""


class ProviderSession:
    """One browser-like visit to the authorization page."""

    def __init__(self, authorize_url: str, *, timeout: float = 30.0) -> None:
        """Prepare a visit to ``authorize_url`` (nothing is sent yet)."""
        parts = urlsplit(authorize_url)
        self.authorize_url = authorize_url
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.cookies: dict[str, str] = {}
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        """Release the HTTP client."""
        self._http.close()

    def __enter__(self) -> ProviderSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _keep_cookies(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def _cookie_header(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def open_page(self) -> httpx.Response:
        """GET the authorize URL as a top-level navigation (sets dev-id, ses-id, csrf-token)."""
        response = self._http.get(
            self.authorize_url,
            headers={**_NAVIGATE, "Sec-Fetch-Site": "none", **self._cookie_header()},
        )
        self._keep_cookies(response)
        if response.status_code != 200:
            raise ProviderError(
                f"authorize page answered {response.status_code}: {response.text[:300]}"
            )
        if "csrf-token" not in self.cookies:
            raise ProviderError(
                f"no csrf-token cookie after the authorize page: {sorted(self.cookies)}"
            )
        return response

    def api(self, endpoint: str, body: dict[str, Any], *, bearer: str | None = None) -> Any:
        """POST to the provider's UI API the way its page does."""
        headers = {
            "Sec-Fetch-Mode": "same-origin",
            "Sec-Fetch-Site": "same-origin",
            "Sec-Fetch-Dest": "empty",
            "Referer": self.authorize_url,
            "Origin": self.origin,
            "X-CSRF-Token": self.cookies.get("csrf-token", ""),
            "Accept": "application/json",
            **self._cookie_header(),
        }
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        response = self._http.post(f"{self.origin}{API_PATH}{endpoint}", json=body, headers=headers)
        self._keep_cookies(response)
        if response.status_code != 200:
            raise ProviderError(
                f"{endpoint} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json()

    def follow_redirect(self, url: str) -> str:
        """GET the provider's ``/oauth/authorize/redirect`` URL; the 303's ``Location``."""
        response = self._http.get(
            url,
            headers={
                **_NAVIGATE,
                "Sec-Fetch-Site": "same-origin",
                "Referer": self.authorize_url,
                **self._cookie_header(),
            },
        )
        self._keep_cookies(response)
        if response.status_code not in (302, 303):
            raise ProviderError(
                f"redirect endpoint answered {response.status_code}: {response.text[:300]}"
            )
        return response.headers["location"]

    def sign_in(self, username: str, password: str, *, remember: bool = False) -> dict[str, Any]:
        """Sign in; the answer has ``account`` and (unless remembered) ``ephemeralToken``."""
        answer = self.api(
            "/sign-in",
            {"locale": "en", "username": username, "password": password, "remember": remember},
        )
        assert isinstance(answer, dict)
        return answer

    def approve(self, username: str, password: str, *, scope: str | None = None) -> str:
        """Sign in and consent (optionally to a narrower ``scope``): the callback URL."""
        self.open_page()
        signed_in = self.sign_in(username, password)
        body: dict[str, Any] = {"did": signed_in["account"]["did"]}
        if scope is not None:
            body["scope"] = scope
        consent = self.api("/consent", body, bearer=signed_in.get("ephemeralToken"))
        return self.follow_redirect(consent["url"])

    def reject(self) -> str:
        """Deny the request ("Deny access"): the callback URL carrying ``error``."""
        self.open_page()
        answer = self.api("/reject", {})
        return self.follow_redirect(answer["url"])


def approve(authorize_url: str, username: str, password: str, *, scope: str | None = None) -> str:
    """Sign in and consent through the provider's API; the URL it redirects the browser to."""
    with ProviderSession(authorize_url) as visit:
        return visit.approve(username, password, scope=scope)


def reject(authorize_url: str) -> str:
    """Deny consent through the provider's API; the URL it redirects the browser to."""
    with ProviderSession(authorize_url) as visit:
        return visit.reject()


def consent(account: Account, *, scope: str | None = None) -> Callable[[str], None]:
    """An ``open_browser`` for ``login_oauth``: sign in as ``account``, consent, and
    follow the redirect to the client's loopback callback server, as a browser would."""

    def open_browser(url: str) -> None:
        redirect = approve(url, account.handle, account.password, scope=scope)
        page = httpx.get(redirect, trust_env=False, timeout=30)
        assert page.status_code == 200
        assert "You may close this window" in page.text

    return open_browser
